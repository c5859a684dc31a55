/**
 * Pieces the baselines share: a catalogue with dense item indices (so scores live in typed arrays),
 * per-user seen sets, a bounded top-k selection and recency-decayed popularity.
 */

import type { EventType, ItemEvent } from '../../../streams/model/events.js';

/** Interaction types that express dislike; with `learnFrom: 'positive'` a baseline skips them. */
const NEGATIVE_TYPES: ReadonlySet<EventType> = new Set<EventType>(['dislike', 'skip']);

export type LearnFrom = 'all' | 'positive';

export function learnsFrom(learnFrom: LearnFrom, type: EventType): boolean {
  return learnFrom === 'all' || !NEGATIVE_TYPES.has(type);
}

const HOUR_MS = 3_600_000;

/** Item ids ↔ dense indices, plus availability. */
export class ItemCatalogue {
  readonly ids: string[] = [];
  private readonly indices = new Map<string, number>();
  private availableFlags = new Uint8Array(1024);

  get size(): number {
    return this.ids.length;
  }

  indexOf(itemId: string): number | undefined {
    return this.indices.get(itemId);
  }

  /** The item's index; an item first met in a click exists, so it joins the catalogue as available. */
  ensure(itemId: string): number {
    const known = this.indices.get(itemId);
    if (known !== undefined) return known;
    const index = this.ids.length;
    this.ids.push(itemId);
    this.indices.set(itemId, index);
    if (index >= this.availableFlags.length) {
      const grown = new Uint8Array(this.availableFlags.length * 2);
      grown.set(this.availableFlags);
      this.availableFlags = grown;
    }
    this.availableFlags[index] = 1;
    return index;
  }

  apply(event: ItemEvent): number {
    const index = this.ensure(event.itemId);
    this.availableFlags[index] = event.op === 'upsert' && event.available ? 1 : 0;
    return index;
  }

  isAvailable(index: number): boolean {
    return this.availableFlags[index] === 1;
  }
}

/** Every item each user interacted with, as catalogue indices. */
export class SeenItems {
  private readonly users = new Map<string, Set<number>>();
  private static readonly EMPTY: ReadonlySet<number> = new Set();

  of(userId: string): ReadonlySet<number> {
    return this.users.get(userId) ?? SeenItems.EMPTY;
  }

  add(userId: string, index: number): void {
    let seen = this.users.get(userId);
    if (seen === undefined) {
      seen = new Set();
      this.users.set(userId, seen);
    }
    seen.add(index);
  }
}

/**
 * The `k` best (index, score) pairs offered, kept in a size-k min-heap: O(n log k) over n offers.
 * Ties go to the lower index (catalogue order), so lists are deterministic.
 */
export class TopK {
  private indices: Int32Array;
  private scores: Float64Array;
  private count = 0;
  private k: number;

  constructor(k: number) {
    this.k = k;
    this.indices = new Int32Array(Math.max(1, k));
    this.scores = new Float64Array(Math.max(1, k));
  }

  reset(k: number): void {
    this.k = k;
    this.count = 0;
    if (k > this.indices.length) {
      this.indices = new Int32Array(k);
      this.scores = new Float64Array(k);
    }
  }

  get size(): number {
    return this.count;
  }

  /** True when (a) ranks below (b). */
  private worse(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
    return scoreA < scoreB || (scoreA === scoreB && indexA > indexB);
  }

  offer(index: number, score: number): void {
    if (this.k <= 0) return;
    const indices = this.indices;
    const scores = this.scores;
    if (this.count < this.k) {
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, index, scores[parent]!, indices[parent]!)) break;
        indices[i] = indices[parent]!;
        scores[i] = scores[parent]!;
        i = parent;
      }
      indices[i] = index;
      scores[i] = score;
      return;
    }
    if (this.worse(score, index, scores[0]!, indices[0]!)) return;
    let i = 0;
    const n = this.count;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child =
        right < n && this.worse(scores[right]!, indices[right]!, scores[left]!, indices[left]!)
          ? right
          : left;
      if (!this.worse(scores[child]!, indices[child]!, score, index)) break;
      indices[i] = indices[child]!;
      scores[i] = scores[child]!;
      i = child;
    }
    indices[i] = index;
    scores[i] = score;
  }

  /** The kept indices, best first. */
  sorted(): number[] {
    const order = Array.from({ length: this.count }, (_, i) => i);
    order.sort((a, b) => this.scores[b]! - this.scores[a]! || this.indices[a]! - this.indices[b]!);
    return order.map((i) => this.indices[i]!);
  }
}

/**
 * Exponential decay over event time at a half-life, in O(1) per update: each increment is inflated
 * by 2^((t − t₀)/halfLife) against a shared reference t₀, so relative order is exact without touching
 * older values; they are rescaled (through `onRebase`) only when the inflation grows large.
 * A half-life of 0 means no decay.
 */
export class DecayClock {
  private reference: number | null = null;
  private readonly halfLifeMs: number;
  private readonly listeners: ((factor: number) => void)[] = [];

  constructor(halfLifeHours: number) {
    this.halfLifeMs = halfLifeHours * HOUR_MS;
  }

  /** `listener(factor)` must multiply every value inflated by this clock by `factor`. */
  onRebase(listener: (factor: number) => void): void {
    this.listeners.push(listener);
  }

  /** The multiplier an increment at `time` gets. */
  inflation(time: number): number {
    if (this.halfLifeMs <= 0) return 1;
    if (this.reference === null) this.reference = time;
    let exponent = (time - this.reference) / this.halfLifeMs;
    if (exponent > 64) {
      for (const listener of this.listeners) listener(2 ** -exponent);
      this.reference = time;
      exponent = 0;
    }
    return 2 ** Math.max(exponent, -64);
  }
}

/** Per-item sums decayed by a DecayClock; values are on the clock's current inflated scale. */
export class DecayedScores {
  private values = new Float64Array(1024);
  private readonly clock: DecayClock;

  constructor(halfLifeHours: number) {
    this.clock = new DecayClock(halfLifeHours);
    this.clock.onRebase((factor) => this.scale(factor));
  }

  scale(factor: number): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] = this.values[i]! * factor;
  }

  add(index: number, amount: number, time: number): void {
    const inflated = amount * this.clock.inflation(time);
    if (index >= this.values.length) {
      const grown = new Float64Array(Math.max(index + 1, this.values.length * 2));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[index] = this.values[index]! + inflated;
  }

  /** Comparable across items at any moment (not across rebases). */
  get(index: number): number {
    return this.values[index] ?? 0;
  }
}

/** The top `k` available items by score that the user has not seen (nor in `skip`). */
export function topByScore(
  catalogue: ItemCatalogue,
  scores: DecayedScores,
  seen: ReadonlySet<number>,
  k: number,
  heap: TopK,
  skip?: ReadonlySet<number>,
): number[] {
  heap.reset(k);
  for (let i = 0; i < catalogue.size; i++) {
    if (!catalogue.isAvailable(i) || seen.has(i) || skip?.has(i)) continue;
    heap.offer(i, scores.get(i));
  }
  return heap.sorted();
}

/** Throws when a string setting (from a grid or tuned file) is not one of its allowed values. */
export function checkOneOf(setting: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) {
    throw new RangeError(`${setting} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
}

import { topIndicesByValue } from '../util/top-k.js';
import type { ModelConfig } from './model-config.js';

/**
 * Trending popularity with exponential time decay, O(1) per event: instead of decaying every
 * item at every step, each increment is inflated by 2^((t − t₀)/halfLife) against a shared
 * reference time t₀. Relative order is then exact without touching other items; the reference
 * is moved (one pass over all items) only when the inflation factor grows large.
 */
export class Trending {
  private readonly scores = new Map<string, number>();
  private referenceTime: number | null = null;
  private maxScore = 0;
  /**
   * The `size` most popular items, best first (ties by id), kept exact as each event arrives: with
   * forward decay an increment moves one item only, so it is placed by binary search instead of
   * selecting over the catalogue. Only a change that could let an outsider in (a score going down,
   * a removal, a restore) asks for a full selection, on the next read.
   */
  private readonly top: string[] = [];
  private readonly inTop = new Set<string>();
  private topStale = false;

  constructor(private readonly config: ModelConfig['trending']) {}

  get size(): number {
    return this.scores.size;
  }

  record(itemId: string, amount: number, time: number): void {
    if (this.referenceTime === null) this.referenceTime = time;
    let exponent = (time - this.referenceTime) / this.config.halfLifeMs;
    if (exponent > 64) {
      this.rebase(time);
      exponent = 0;
    }
    const inflated = amount * 2 ** Math.max(exponent, -64);
    const previous = this.scores.get(itemId);
    const score = (previous ?? 0) + inflated;
    this.scores.set(itemId, score);
    if (score > this.maxScore) this.maxScore = score;
    // A new item enters the ranking whatever its score, like one whose score went up.
    if (inflated >= 0 || previous === undefined) this.promote(itemId, score);
    // A score going down can let an outsider in; outside a full list it changes nothing.
    else if (this.inTop.has(itemId) || this.top.length < this.config.size) this.topStale = true;
  }

  /** Places an item whose score went up (or stayed) in the top list, if it belongs there now. */
  private promote(itemId: string, score: number): void {
    if (this.topStale) return;
    const top = this.top;
    if (this.inTop.has(itemId)) {
      top.splice(top.indexOf(itemId), 1);
    } else if (top.length >= this.config.size) {
      const last = top[top.length - 1];
      if (last === undefined || !this.ranksBefore(itemId, score, last)) return;
      top.pop();
      this.inTop.delete(last);
    }
    // Binary search for the first entry that the item ranks before.
    let low = 0;
    let high = top.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.ranksBefore(itemId, score, top[middle]!)) high = middle;
      else low = middle + 1;
    }
    top.splice(low, 0, itemId);
    this.inTop.add(itemId);
  }

  private ranksBefore(itemId: string, score: number, other: string): boolean {
    const otherScore = this.scores.get(other) ?? 0;
    return score > otherScore || (score === otherScore && itemId < other);
  }

  private rebase(time: number): void {
    const shrink = 2 ** (-(time - (this.referenceTime ?? time)) / this.config.halfLifeMs);
    for (const [id, score] of this.scores) this.scores.set(id, score * shrink);
    this.maxScore *= shrink;
    this.referenceTime = time;
    // Every score shrank by the same factor; rounding may still have made two of them equal.
    this.topStale = true;
  }

  /** Popularity relative to the most popular item, in [0, 1]. */
  relative(itemId: string): number {
    return this.maxScore > 0 ? (this.scores.get(itemId) ?? 0) / this.maxScore : 0;
  }

  /** Raw inflated score, for snapshots. */
  rawScore(itemId: string): number {
    return this.scores.get(itemId) ?? 0;
  }

  get reference(): number {
    return this.referenceTime ?? 0;
  }

  restore(itemId: string, rawScore: number, referenceTime: number): void {
    if (this.referenceTime === null) this.referenceTime = referenceTime;
    const shifted = rawScore * 2 ** ((referenceTime - this.referenceTime) / this.config.halfLifeMs);
    this.scores.set(itemId, shifted);
    if (shifted > this.maxScore) this.maxScore = shifted;
    this.topStale = true;
  }

  remove(itemId: string): void {
    this.scores.delete(itemId);
    this.topStale = true;
  }

  /** The `size` most popular items, best first (ties by id); exact after every event. */
  topItems(): readonly string[] {
    if (this.topStale) {
      const selected = selectTop(this.scores, this.config.size);
      this.top.length = 0;
      this.inTop.clear();
      for (const itemId of selected) {
        this.top.push(itemId);
        this.inTop.add(itemId);
      }
      this.topStale = false;
    }
    return this.top;
  }
}

/** Top-`k` keys by value (desc, ties by key asc). */
export function selectTop(scores: ReadonlyMap<string, number>, k: number): string[] {
  return selectTopOf([...scores.keys()], [...scores.values()], scores.size, k);
}

/**
 * Top-`k` of the first `n` of `ids` by `values` (desc, ties by id asc); the inputs are left as they
 * are (callers reuse them as scratch).
 */
export function selectTopOf(
  ids: readonly string[],
  values: ArrayLike<number>,
  n: number,
  k: number,
): string[] {
  const size = Math.min(k, n);
  if (size <= 0) return [];
  const order = new Int32Array(size);
  const count = topIndicesByValue(values, ids, n, k, order);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = ids[order[i]!]!;
  return out;
}

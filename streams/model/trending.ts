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
  private top: string[] = [];
  private eventsSinceRefresh = Number.POSITIVE_INFINITY;

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
    const score = (this.scores.get(itemId) ?? 0) + inflated;
    this.scores.set(itemId, score);
    if (score > this.maxScore) this.maxScore = score;
    this.eventsSinceRefresh++;
  }

  private rebase(time: number): void {
    const shrink = 2 ** (-(time - (this.referenceTime ?? time)) / this.config.halfLifeMs);
    for (const [id, score] of this.scores) this.scores.set(id, score * shrink);
    this.maxScore *= shrink;
    this.referenceTime = time;
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
    this.eventsSinceRefresh = Number.POSITIVE_INFINITY;
  }

  remove(itemId: string): void {
    this.scores.delete(itemId);
    this.eventsSinceRefresh = Number.POSITIVE_INFINITY;
  }

  /**
   * The most popular items, best first (ties by id). Recomputed at most every `refreshEveryEvents`
   * events with a bounded selection (O(items · log size)), not a full sort.
   */
  topItems(): readonly string[] {
    if (this.eventsSinceRefresh >= this.config.refreshEveryEvents) {
      this.top = selectTop(this.scores, this.config.size);
      this.eventsSinceRefresh = 0;
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

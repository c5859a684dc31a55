import { topK } from '../util/top-k.js';

export interface Scored {
  readonly score: number;
  readonly item: { readonly itemId: string };
}

/**
 * Maximal Marginal Relevance: repeatedly take the candidate maximising
 * λ·relevance − (1−λ)·(max similarity to what is already picked), over the `poolSize` best
 * candidates. Relevance is min-max scaled within the pool so λ means the same for every user.
 * Ties go to the smaller item id, so the result is deterministic.
 */
export interface DiversityOptions {
  readonly size: number;
  readonly lambda: number;
  readonly poolSize: number;
  readonly dimension: number;
}

export function diversify<C extends Scored>(
  candidates: Iterable<C>,
  { size, lambda, poolSize, dimension }: DiversityOptions,
  vectorOf: (candidate: C, out: Float32Array) => Float32Array,
): C[] {
  const pool = best(
    Array.isArray(candidates) ? (candidates as C[]) : [...candidates],
    Math.max(poolSize, size),
  );
  if (pool.length === 0 || size <= 0) return [];
  if (lambda >= 1) return pool.slice(0, size);

  const n = pool.length;
  const s = scratchFor(n, dimension);
  // The pool's vectors in one reused buffer, row i at i * dimension.
  const rows = s.rows;
  for (let i = 0; i < n; i++) rows.set(vectorOf(pool[i]!, s.vector), i * dimension);
  const top = pool[0]!.score;
  const bottom = pool[n - 1]!.score;
  const span = top - bottom;
  const relevance = s.relevance;
  for (let i = 0; i < n; i++) relevance[i] = span > 0 ? (pool[i]!.score - bottom) / span : 1;
  /** Max similarity of each pool member to the picked set so far (−1 = nothing picked yet). */
  const maxSimilarity = s.maxSimilarity;
  maxSimilarity.fill(-1, 0, n);
  const taken = s.taken;
  taken.fill(0, 0, n);
  const picked: C[] = [];

  while (picked.length < size && picked.length < n) {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const redundancy = picked.length === 0 ? 0 : Math.max(0, maxSimilarity[i]!);
      const value = lambda * relevance[i]! - (1 - lambda) * redundancy;
      if (value > bestValue || (value === bestValue && pool[i]!.item.itemId < pool[best]!.item.itemId)) {
        best = i;
        bestValue = value;
      }
    }
    taken[best] = 1;
    picked.push(pool[best]!);
    if (picked.length === size) break;
    const chosen = best * dimension;
    for (let i = 0, row = 0; i < n; i++, row += dimension) {
      if (taken[i]) continue;
      // Summed in `dot`'s order, so similarities (and lists) do not depend on the buffer layout.
      let similarity = 0;
      for (let j = 0; j < dimension; j++) similarity += rows[row + j]! * rows[chosen + j]!;
      if (similarity > maxSimilarity[i]!) maxSimilarity[i] = similarity;
    }
  }
  return picked;
}

interface DiversityScratch {
  rows: Float32Array;
  vector: Float32Array;
  relevance: Float64Array;
  maxSimilarity: Float64Array;
  taken: Uint8Array;
}

let scratch: DiversityScratch | null = null;

/**
 * Buffers for a pool of `n` vectors of `dimension`, reused from list to list (MMR runs once per
 * list, synchronously, so one set serves every caller in the thread).
 */
function scratchFor(n: number, dimension: number): DiversityScratch {
  if (scratch === null || scratch.relevance.length < n || scratch.vector.length !== dimension) {
    const capacity = Math.max(n, scratch?.relevance.length ?? 0, 64);
    scratch = {
      rows: new Float32Array(capacity * dimension),
      vector: new Float32Array(dimension),
      relevance: new Float64Array(capacity),
      maxSimilarity: new Float64Array(capacity),
      taken: new Uint8Array(capacity),
    };
  }
  return scratch;
}

function byScore(a: Scored, b: Scored): number {
  return b.score - a.score || (a.item.itemId < b.item.itemId ? -1 : a.item.itemId > b.item.itemId ? 1 : 0);
}

/** The `m` best by score (ties by id), best first; as given when they already are (as Eddy's pool is). */
function best<C extends Scored>(all: readonly C[], m: number): C[] {
  if (all.length <= m && isRanked(all)) return all as C[];
  return topK(all.length, m, (a, b) => byScore(all[a]!, all[b]!)).map((i) => all[i]!);
}

function isRanked(all: readonly Scored[]): boolean {
  for (let i = 1; i < all.length; i++) if (byScore(all[i - 1]!, all[i]!) > 0) return false;
  return true;
}

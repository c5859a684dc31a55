import { dot } from '../model/vector-math.js';
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
  const pool = best([...candidates], Math.max(poolSize, size));
  if (pool.length === 0 || size <= 0) return [];
  if (lambda >= 1) return pool.slice(0, size);

  const first = pool[0]!;
  // One buffer for the pool's vectors, each a view of its own row.
  const rows = new Float32Array(pool.length * dimension);
  const vectors = pool.map((c, i) => vectorOf(c, rows.subarray(i * dimension, (i + 1) * dimension)));
  const top = first.score;
  const bottom = pool[pool.length - 1]!.score;
  const span = top - bottom;
  const relevance = pool.map((c) => (span > 0 ? (c.score - bottom) / span : 1));
  /** Max similarity of each pool member to the picked set so far (−1 = nothing picked yet). */
  const maxSimilarity = new Float64Array(pool.length).fill(-1);
  const taken = new Uint8Array(pool.length);
  const picked: C[] = [];

  while (picked.length < size && picked.length < pool.length) {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < pool.length; i++) {
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
    const chosen = vectors[best]!;
    for (let i = 0; i < pool.length; i++) {
      if (taken[i]) continue;
      const s = dot(vectors[i]!, chosen);
      if (s > maxSimilarity[i]!) maxSimilarity[i] = s;
    }
  }
  return picked;
}

function byScore(a: Scored, b: Scored): number {
  return b.score - a.score || (a.item.itemId < b.item.itemId ? -1 : a.item.itemId > b.item.itemId ? 1 : 0);
}

/** The `m` best by score (ties by id), best first. */
function best<C extends Scored>(all: readonly C[], m: number): C[] {
  return topK(all.length, m, (a, b) => byScore(all[a]!, all[b]!)).map((i) => all[i]!);
}

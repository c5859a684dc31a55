import { dot } from '../model/vector-math.js';

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
  return b.score - a.score || (a.item.itemId < b.item.itemId ? -1 : 1);
}

/**
 * The `m` best by score (ties by id), best first: what sorting everything and keeping `m` gives,
 * through a size-m heap, since the pool is a small part of the candidates.
 */
function best<C extends Scored>(all: C[], m: number): C[] {
  if (all.length <= m) return all.sort(byScore);
  // A min-heap on the order: its root is the worst of the m kept.
  const heap: C[] = all.slice(0, m);
  for (let i = (m >> 1) - 1; i >= 0; i--) siftDown(heap, i);
  for (let i = m; i < all.length; i++) {
    const c = all[i]!;
    if (byScore(c, heap[0]!) < 0) {
      heap[0] = c;
      siftDown(heap, 0);
    }
  }
  return heap.sort(byScore);
}

function siftDown<C extends Scored>(heap: C[], start: number): void {
  let i = start;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) return;
    const r = l + 1;
    // The worse child (later in the order) goes up.
    let m = l;
    if (r < heap.length && byScore(heap[r]!, heap[l]!) > 0) m = r;
    if (byScore(heap[m]!, heap[i]!) <= 0) return;
    const t = heap[i]!;
    heap[i] = heap[m]!;
    heap[m] = t;
    i = m;
  }
}

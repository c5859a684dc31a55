/**
 * The `k` first of `n` entries (0 … n−1) in the order `compare` defines (negative: `a` first), in
 * that order: what sorting all of them and keeping `k` gives, in O(n log k) through a size-k heap
 * whose root is the last of those kept. `compare` must be a total order for the result to be
 * deterministic (callers break score ties by id).
 */
export function topK(n: number, k: number, compare: (a: number, b: number) => number): number[] {
  const size = Math.min(k, n);
  if (size <= 0) return [];
  const heap = new Int32Array(size);
  let count = 0;
  for (let e = 0; e < n; e++) {
    if (count < size) {
      let i = count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const p = heap[parent]!;
        if (compare(e, p) <= 0) break;
        heap[i] = p;
        i = parent;
      }
      heap[i] = e;
    } else if (compare(e, heap[0]!) < 0) {
      siftDown(heap, count, e, compare);
    }
  }
  return Array.from(heap).sort(compare);
}

/** Replaces the heap's root (its last-ordered entry) with `entry` and restores the heap. */
function siftDown(
  heap: Int32Array,
  count: number,
  entry: number,
  compare: (a: number, b: number) => number,
): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= count) break;
    const r = l + 1;
    let m = l;
    if (r < count && compare(heap[r]!, heap[l]!) > 0) m = r;
    if (compare(heap[m]!, entry) <= 0) break;
    heap[i] = heap[m]!;
    i = m;
  }
  heap[i] = entry;
}

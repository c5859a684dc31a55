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

/**
 * The indices of the `k` largest of `values[0 … n−1]` (ties: smaller id first), best first, written
 * to `out`; returns how many. `topK` with the comparison inlined: callers on the hot path select
 * from thousands of scores per list, where calling a comparator closure per step costs more than
 * the selection itself. `out` must hold at least min(k, n) entries.
 */
export function topIndicesByValue(
  values: ArrayLike<number>,
  ids: readonly string[],
  n: number,
  k: number,
  out: Int32Array,
): number {
  const size = Math.min(k, n);
  if (size <= 0) return 0;
  // A heap whose root is the worst kept entry ("worse": lower value, or equal value and larger id).
  let count = 0;
  for (let e = 0; e < n; e++) {
    const value = values[e]!;
    if (count < size) {
      let i = count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const p = out[parent]!;
        if (!isWorse(value, ids[e]!, values[p]!, ids[p]!)) break;
        out[i] = p;
        i = parent;
      }
      out[i] = e;
      continue;
    }
    const root = out[0]!;
    if (isWorse(values[root]!, ids[root]!, value, ids[e]!)) replaceRoot(values, ids, out, count, e);
  }
  // Heap-sort in place: repeatedly move the worst to the end, leaving the best first.
  for (let end = count - 1; end > 0; end--) {
    const last = out[end]!;
    out[end] = out[0]!;
    replaceRoot(values, ids, out, end, last);
  }
  return count;
}

/** Puts `entry` in place of the root of the heap `out[0 … count−1]` and sifts it down. */
function replaceRoot(
  values: ArrayLike<number>,
  ids: readonly string[],
  out: Int32Array,
  count: number,
  entry: number,
): void {
  const value = values[entry]!;
  const id = ids[entry]!;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= count) break;
    const r = l + 1;
    let m = l;
    if (r < count && isWorse(values[out[r]!]!, ids[out[r]!]!, values[out[l]!]!, ids[out[l]!]!)) m = r;
    const child = out[m]!;
    if (!isWorse(values[child]!, ids[child]!, value, id)) break;
    out[i] = child;
    i = m;
  }
  out[i] = entry;
}

function isWorse(value: number, id: string, than: number, thanId: string): boolean {
  return value < than || (value === than && id > thanId);
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { topIndicesByValue, topK } from '../../streams/util/top-k.js';

test('topK equals sorting everything and keeping the first k, ties included', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 70 }),
      (values, k) => {
        // Descending value, ties by index: a total order, as the callers' (value, id) orders are.
        const compare = (a: number, b: number): number => values[b]! - values[a]! || a - b;
        const all = values.map((_, i) => i).sort(compare);
        assert.deepEqual(topK(values.length, k, compare), all.slice(0, k));
      },
    ),
    { numRuns: 300 },
  );
});

test('topIndicesByValue equals sorting by value (desc) then id (asc) and keeping the first k', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')), {
        maxLength: 60,
      }),
      fc.integer({ min: 0, max: 70 }),
      (entries, k) => {
        const values = Float64Array.from(entries, ([v]) => v);
        const ids = entries.map(([, id]) => id);
        const expected = entries
          .map((_, i) => i)
          .sort((a, b) => values[b]! - values[a]! || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0))
          .slice(0, k)
          .map((i) => [values[i], ids[i]]);
        const out = new Int32Array(Math.max(1, Math.min(k, entries.length)));
        const count = topIndicesByValue(values, ids, entries.length, k, out);
        // Equal (value, id) pairs are interchangeable, so compare the pairs, not the indices.
        assert.deepEqual(
          Array.from(out.subarray(0, count), (i) => [values[i], ids[i]]),
          expected,
        );
      },
    ),
    { numRuns: 500 },
  );
});

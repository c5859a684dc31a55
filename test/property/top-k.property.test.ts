import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { topK } from '../../streams/util/top-k.js';

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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Trending } from '../../streams/model/trending.js';

const HOUR = 3_600_000;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

type Step =
  | { readonly kind: 'record'; readonly itemId: string; readonly amount: number; readonly hours: number }
  | { readonly kind: 'remove'; readonly itemId: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('record' as const),
      itemId: fc.constantFrom(...IDS),
      // Negative amounts (a type configured to lower popularity) and far jumps (rebases) included.
      amount: fc.constantFrom(1, 1, 2, 0.5, -1),
      hours: fc.constantFrom(0, 0, 1, 5, 24 * 70),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('remove' as const), itemId: fc.constantFrom(...IDS) }),
  },
);

test('trending: the incrementally kept top list equals selecting over every score after each step', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 80 }), fc.integer({ min: 1, max: 5 }), (steps, size) => {
      const trending = new Trending({ halfLifeMs: 24 * HOUR, size });
      const known = new Set<string>();
      let time = 0;
      for (const s of steps) {
        if (s.kind === 'remove') {
          trending.remove(s.itemId);
          known.delete(s.itemId);
        } else {
          time += s.hours * HOUR;
          trending.record(s.itemId, s.amount, time);
          known.add(s.itemId);
        }
        const expected = [...known]
          .sort((x, y) => trending.rawScore(y) - trending.rawScore(x) || (x < y ? -1 : 1))
          .slice(0, size);
        assert.deepEqual([...trending.topItems()], expected);
      }
    }),
    { numRuns: 400 },
  );
});

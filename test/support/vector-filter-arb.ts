import fc from 'fast-check';
import type { FieldMatch, VectorFilter } from '../../streams/ports/vector-store.js';

/**
 * Any filter the vector-store port accepts, or none: excluded ids (as a Set or an array, some of
 * them unknown) and up to two `must` / `mustNot` conditions drawn from `condition`.
 */
export function vectorFilterArb(
  ids: readonly string[],
  condition: fc.Arbitrary<FieldMatch>,
): fc.Arbitrary<VectorFilter | undefined> {
  return fc.option(
    fc.record(
      {
        excludeIds: fc
          .tuple(fc.subarray([...ids, 'unknown']), fc.boolean())
          .map(([excluded, asSet]): ReadonlySet<string> | readonly string[] =>
            asSet ? new Set(excluded) : excluded,
          ),
        must: fc.array(condition, { maxLength: 2 }),
        mustNot: fc.array(condition, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  );
}

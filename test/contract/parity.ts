/**
 * The parity check shared by the contract test (qdrant-parity.contract.test.ts) and the live test
 * against a real Qdrant (test/qdrant-live): random scenarios, and a comparison of rankings that
 * tolerates float32 rounding and ties (see assertSameRanking).
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExactVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import type {
  Distance,
  FieldMatch,
  Payload,
  Point,
  ScoredPoint,
  VectorQuery,
  VectorStore,
} from '../../streams/ports/vector-store.js';
import { vectorFilterArb } from '../support/vector-filter-arb.js';

export const IDS = [
  ...['a', 'b', 'c', 'd', 'aa', 'B', 'é', '', '😀', 'z'],
  ...Array.from({ length: 10 }, (_, i) => `item-${i + 1}`),
];
const component = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }) },
);
const vectorOf = (d: number): fc.Arbitrary<Float32Array> =>
  fc.array(component, { minLength: d, maxLength: d }).map((v) => Float32Array.from(v));
const payloadArb: fc.Arbitrary<Payload> = fc.record(
  {
    available: fc.boolean(),
    categories: fc.subarray(['x', 'y', 'z']),
    n: fc.integer({ min: 0, max: 2 }),
    w: fc.constantFrom(0.5, 1, 1.5),
  },
  { requiredKeys: [] },
);
const conditionArb: fc.Arbitrary<FieldMatch> = fc.record({
  key: fc.constantFrom('available', 'categories', 'n', 'w', 'missing'),
  value: fc.constantFrom<FieldMatch['value']>(true, false, 'x', 'y', 0, 1, 2, 0.5, 1.5),
});
const filterArb = vectorFilterArb(IDS, conditionArb);

export const scenarioArb = fc
  .record({
    dimension: fc.integer({ min: 1, max: 6 }),
    distance: fc.constantFrom<Distance>('cosine', 'dot', 'euclid'),
  })
  .chain(({ dimension, distance }) =>
    fc.record({
      dimension: fc.constant(dimension),
      distance: fc.constant(distance),
      points: fc.array(
        fc.record({ id: fc.constantFrom(...IDS), vector: vectorOf(dimension), payload: payloadArb }),
        {
          maxLength: 40,
        },
      ),
      deleted: fc.subarray([...IDS, 'unknown'], { maxLength: 4 }),
      queries: fc.array(
        fc.record({ vector: vectorOf(dimension), limit: fc.integer({ min: 0, max: 14 }), filter: filterArb }),
        { minLength: 1, maxLength: 5 },
      ),
    }),
  );

function tolerance(score: number): number {
  return 1e-5 * Math.max(1, Math.abs(score));
}

/**
 * Same ranking up to float32 rounding and ties: the same length, scores equal within float32
 * tolerance rank by rank, and the same id at every rank except where the id returned instead
 * scores (exactly, per `allScores`) within that tolerance of the expected one — a tie or near-tie,
 * whose order a real Qdrant does not guarantee.
 */
export function assertSameRanking(
  expected: ScoredPoint[],
  actual: ScoredPoint[],
  allScores: ReadonlyMap<string, number>,
): void {
  assert.equal(actual.length, expected.length, 'same number of results');
  assert.equal(new Set(actual.map((p) => p.id)).size, actual.length, 'no duplicates');
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = actual[i]!;
    assert.ok(
      Math.abs(got.score - want.score) <= tolerance(want.score),
      `rank ${i}: score ${got.score} vs ${want.score}`,
    );
    if (got.id !== want.id) {
      const trueScore = allScores.get(got.id);
      assert.ok(
        trueScore !== undefined && Math.abs(trueScore - want.score) <= tolerance(want.score),
        `rank ${i}: ${JSON.stringify(got.id)} instead of ${JSON.stringify(want.id)} without a tie`,
      );
    }
  }
}

export interface Scenario {
  readonly dimension: number;
  readonly distance: Distance;
  readonly points: readonly Point[];
  readonly deleted: readonly string[];
  readonly queries: readonly VectorQuery[];
}

const TINY_PAYLOAD = { available: true, categories: [] };

/**
 * Cosine vectors whose float32 sum of squares is below float32 epsilon: Qdrant stores and queries
 * them as they are instead of normalising, so unless the adapter normalises them first, the first
 * point scores 1e-5 against the first query instead of 1 and ranks below the second.
 */
export const TINY_COSINE_SCENARIO: Scenario = {
  dimension: 2,
  distance: 'cosine',
  points: [
    { id: IDS[0]!, vector: Float32Array.of(1e-5, 0), payload: TINY_PAYLOAD },
    { id: IDS[1]!, vector: Float32Array.of(0.6, 0.8), payload: TINY_PAYLOAD },
    { id: IDS[2]!, vector: Float32Array.of(-3e-6, 1e-6), payload: TINY_PAYLOAD },
    { id: IDS[3]!, vector: Float32Array.of(0, 0), payload: TINY_PAYLOAD },
  ],
  deleted: [],
  queries: [
    { vector: Float32Array.of(1, 0), limit: 4 },
    { vector: Float32Array.of(2e-5, 1e-5), limit: 4 },
    { vector: Float32Array.of(-1e-6, 0), limit: 2 },
  ],
};

/**
 * Applies one scenario to `store` and to a fresh ExactVectorIndex under collection `name`, and
 * checks counts and rankings agree; returns how many ranks matched exactly and how many there were.
 */
export async function checkParity(
  store: VectorStore,
  name: string,
  { dimension, distance, points, deleted, queries }: Scenario,
): Promise<{ exact: number; ranks: number }> {
  const local = new ExactVectorIndex();
  const spec = { name, dimension, distance, indexedFields: ['available', 'categories'] };
  await local.ensureCollection(spec);
  await store.ensureCollection(spec);
  await local.upsert(name, points);
  await store.upsert(name, points);
  await local.delete(name, deleted);
  await store.delete(name, deleted);
  assert.equal(await store.count(name), await local.count(name));

  const expected = await local.queryBatch(name, queries);
  const actual = await store.queryBatch(name, queries);
  const all = await local.queryBatch(
    name,
    queries.map((q) => ({ ...q, limit: IDS.length })),
  );
  let exact = 0;
  let ranks = 0;
  for (let i = 0; i < queries.length; i++) {
    assertSameRanking(expected[i]!, actual[i]!, new Map(all[i]!.map((p) => [p.id, p.score])));
    ranks += expected[i]!.length;
    exact += expected[i]!.filter((p, r) => actual[i]![r]?.id === p.id).length;
  }
  return { exact, ranks };
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ExactVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import type {
  Distance,
  FieldMatch,
  Payload,
  ScoredPoint,
  VectorFilter,
  VectorQuery,
} from '../../streams/ports/vector-store.js';
import { Random } from '../../streams/util/random.js';
import { vectorFilterArb } from '../support/vector-filter-arb.js';

/**
 * The reference scores with the same floating-point recipe the index documents (float32 storage,
 * cosine via unit vectors, double accumulation in four fixed lanes), so scores can be compared exactly
 * and tie-breaking is tested rather than blurred by rounding.
 */
function unit(v: Float32Array): Float32Array {
  let sum = 0;
  for (let j = 0; j < v.length; j++) sum += v[j]! * v[j]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  for (let j = 0; j < v.length; j++) out[j] = norm > 0 ? v[j]! / norm : 0;
  return out;
}

function referenceScore(distance: Distance, query: Float32Array, point: Float32Array): number {
  const q = distance === 'cosine' ? unit(query) : query;
  const x = distance === 'cosine' ? unit(point) : point;
  const term = (j: number): number => (distance === 'euclid' ? (q[j]! - x[j]!) ** 2 : q[j]! * x[j]!);
  // The index's summation order: lane j % 4 for the first multiple of 4 components, the rest in lane 0.
  const lanes = [0, 0, 0, 0];
  const unrolled = q.length - (q.length % 4);
  for (let j = 0; j < q.length; j++) lanes[j < unrolled ? j % 4 : 0]! += term(j);
  const sum = lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!);
  return distance === 'euclid' ? 0 - Math.sqrt(sum) : sum;
}

function matches(payload: Payload, condition: FieldMatch): boolean {
  const field = payload[condition.key];
  return typeof field === 'object' ? field.some((e) => e === condition.value) : field === condition.value;
}

function passes(id: string, payload: Payload, filter: VectorFilter | undefined): boolean {
  if (filter === undefined) return true;
  const excluded = filter.excludeIds === undefined ? [] : [...filter.excludeIds];
  if (excluded.includes(id)) return false;
  if (!(filter.must ?? []).every((c) => matches(payload, c))) return false;
  return !(filter.mustNot ?? []).some((c) => matches(payload, c));
}

interface StoredPoint {
  vector: Float32Array;
  payload: Payload;
}

function bruteForce(distance: Distance, points: Map<string, StoredPoint>, query: VectorQuery): ScoredPoint[] {
  const scored: ScoredPoint[] = [];
  for (const [id, point] of points) {
    if (passes(id, point.payload, query.filter)) {
      scored.push({ id, score: referenceScore(distance, query.vector, point.vector) });
    }
  }
  scored.sort((a, b) => (a.score !== b.score ? b.score - a.score : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return scored.slice(0, query.limit);
}

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'aa', 'B', 'é', ''];
const FIELD_VALUES = ['x', 'y', 'z', 'p', 'q', 'r', 0, 1, 2, true, false] as const;

const component = fc.oneof(
  // Few distinct values make exact score ties (and so the id tie-break) common.
  fc.constantFrom(-1, 0, 0.5, 1, 2),
  fc.float({ min: -100, max: 100, noNaN: true }),
);
const vectorOf = (dimension: number): fc.Arbitrary<Float32Array> =>
  fc.array(component, { minLength: dimension, maxLength: dimension }).map((v) => Float32Array.from(v));
const payloadArb: fc.Arbitrary<Payload> = fc.record(
  {
    cat: fc.constantFrom('x', 'y', 'z'),
    tags: fc.subarray(['p', 'q', 'r']),
    n: fc.integer({ min: 0, max: 2 }),
    flag: fc.boolean(),
  },
  { requiredKeys: [] },
);
const conditionArb: fc.Arbitrary<FieldMatch> = fc.record({
  key: fc.constantFrom('cat', 'tags', 'n', 'flag', 'missing'),
  value: fc.constantFrom(...FIELD_VALUES),
});
const filterArb = vectorFilterArb(IDS, conditionArb);

type Op =
  | { kind: 'upsert'; points: { id: string; vector: Float32Array; payload: Payload }[] }
  | { kind: 'delete'; ids: string[] };

const scenarioArb = fc
  .record({
    dimension: fc.integer({ min: 1, max: 5 }),
    distance: fc.constantFrom<Distance>('cosine', 'dot', 'euclid'),
  })
  .chain(({ dimension, distance }) =>
    fc.record({
      dimension: fc.constant(dimension),
      distance: fc.constant(distance),
      ops: fc.array(
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc
              .array(
                fc.record({ id: fc.constantFrom(...IDS), vector: vectorOf(dimension), payload: payloadArb }),
                {
                  maxLength: 8,
                },
              )
              .map((points): Op => ({ kind: 'upsert', points })),
          },
          {
            weight: 1,
            arbitrary: fc.subarray([...IDS, 'unknown']).map((ids): Op => ({ kind: 'delete', ids })),
          },
        ),
        { maxLength: 8 },
      ),
      queries: fc.array(
        fc.record({
          vector: fc.oneof(vectorOf(dimension), fc.constant(new Float32Array(dimension))),
          limit: fc.integer({ min: 0, max: 14 }),
          filter: filterArb,
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  );

function toQuery(q: { vector: Float32Array; limit: number; filter: VectorFilter | undefined }): VectorQuery {
  return q.filter === undefined ? { vector: q.vector, limit: q.limit } : q;
}

describe('ExactVectorIndex against a brute-force reference', () => {
  test('results equal the sorted, filtered, truncated brute force after any upserts and deletes', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ dimension, distance, ops, queries }) => {
        const index = new ExactVectorIndex();
        await index.ensureCollection({ name: 'items', dimension, distance });
        const model = new Map<string, StoredPoint>();
        for (const op of ops) {
          if (op.kind === 'upsert') {
            await index.upsert('items', op.points);
            for (const p of op.points) model.set(p.id, { vector: p.vector, payload: p.payload });
          } else {
            await index.delete('items', op.ids);
            for (const id of op.ids) model.delete(id);
          }
        }
        assert.equal(await index.count('items'), model.size);

        const vectorQueries = queries.map(toQuery);
        const results = await index.queryBatch('items', vectorQueries);
        assert.equal(results.length, vectorQueries.length);
        vectorQueries.forEach((query, i) => {
          const result = results[i]!;
          assert.deepStrictEqual(result, bruteForce(distance, model, query));
          const passing = [...model].filter(([id, p]) => passes(id, p.payload, query.filter)).length;
          assert.equal(result.length, Math.min(query.limit, passing));
          const excluded = new Set(query.filter?.excludeIds ?? []);
          for (const { id, score } of result) {
            const point = model.get(id);
            assert.ok(point !== undefined, `${id} was deleted or never upserted`);
            assert.ok(!excluded.has(id), `${id} is excluded`);
            assert.ok(
              (query.filter?.must ?? []).every((c) => matches(point.payload, c)),
              `${id} fails must`,
            );
            assert.ok(
              !(query.filter?.mustNot ?? []).some((c) => matches(point.payload, c)),
              `${id} hits mustNot`,
            );
            assert.ok(!Number.isNaN(score));
          }
        });
      }),
      { numRuns: 400 },
    );
  });

  test('queried between every change, results stay right through upserts, deletes and growth', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (scenario, seed) => {
        const { dimension, distance, ops, queries } = scenario;
        const index = new ExactVectorIndex();
        await index.ensureCollection({ name: 'items', dimension, distance });
        const model = new Map<string, StoredPoint>();
        const vectorQueries = queries.map(toQuery);
        const check = async (): Promise<void> => {
          const results = await index.queryBatch('items', vectorQueries);
          vectorQueries.forEach((query, i) => {
            assert.deepStrictEqual(results[i], bruteForce(distance, model, query));
          });
        };
        // A first query keeps the filters' conditions before any point exists.
        await check();
        const rng = new Random(seed);
        for (const op of ops) {
          if (op.kind === 'upsert') {
            await index.upsert('items', op.points);
            for (const p of op.points) model.set(p.id, { vector: p.vector, payload: p.payload });
          } else {
            await index.delete('items', op.ids);
            for (const id of op.ids) model.delete(id);
          }
          await check();
          // Past the initial capacity, so the kept results grow with the collection.
          if (rng.next() < 0.2) {
            const many = Array.from({ length: 80 }, (_, i) => ({
              id: `bulk-${i}`,
              vector: Float32Array.from({ length: dimension }, () => rng.normal()),
              payload: {
                cat: ['x', 'y', 'z'][i % 3]!,
                tags: i % 2 === 0 ? ['p'] : ['q', 'r'],
                n: i % 3,
                flag: i % 2 === 0,
              },
            }));
            await index.upsert('items', many);
            for (const p of many) model.set(p.id, { vector: p.vector, payload: p.payload });
            await check();
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  test('larger collections, heap eviction and swap-remove agree with the reference', async () => {
    const rng = new Random(7);
    for (const distance of ['cosine', 'dot', 'euclid'] as const) {
      const index = new ExactVectorIndex();
      const dimension = 8;
      await index.ensureCollection({ name: 'c', dimension, distance });
      const model = new Map<string, StoredPoint>();
      const points = Array.from({ length: 3000 }, (_, i) => ({
        id: `item-${i}`,
        vector: Float32Array.from({ length: dimension }, () => Math.round(rng.normal() * 4) / 4),
        payload: { cat: `c${i % 5}`, tags: [`t${i % 3}`, `t${i % 7}`] },
      }));
      for (let i = 0; i < points.length; i += 250) await index.upsert('c', points.slice(i, i + 250));
      for (const p of points) model.set(p.id, p);
      const deleted = points.filter((_, i) => i % 6 === 0).map((p) => p.id);
      await index.delete('c', deleted);
      for (const id of deleted) model.delete(id);
      // Overwrites move neither slot nor count.
      const overwrite = points.slice(1, 200).map((p) => ({ ...p, vector: p.vector.map((x) => -x) }));
      await index.upsert('c', overwrite);
      for (const p of overwrite) model.set(p.id, p);
      assert.equal(await index.count('c'), model.size);

      const queries: VectorQuery[] = Array.from({ length: 20 }, (_, i) => ({
        vector: Float32Array.from({ length: dimension }, () => rng.normal()),
        limit: [1, 10, 100, 5000][i % 4]!,
        filter: {
          excludeIds: points.slice(0, 500).map((p) => p.id),
          must: i % 2 === 0 ? [{ key: 'tags', value: 't1' }] : [],
          mustNot: i % 3 === 0 ? [{ key: 'cat', value: 'c0' }] : [],
        },
      }));
      const results = await index.queryBatch('c', queries);
      for (const [i, query] of queries.entries()) {
        assert.deepStrictEqual(results[i], bruteForce(distance, model, query));
      }
    }
  });
});

describe('ExactVectorIndex on collections large enough to sample a threshold first', () => {
  // From 512 points a selection starts from a threshold estimated on a sample of the scores; it must
  // still return exactly the full selection, whatever the exclusions, conditions, ties and limits.
  test('paired and single queries equal the brute-force reference', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          size: fc.integer({ min: 512, max: 2500 }),
          dimension: fc.constantFrom(4, 6, 8),
          distance: fc.constantFrom<Distance>('cosine', 'dot'),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          coarse: fc.boolean(),
          limits: fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 })),
          excludedShare: fc.constantFrom(0, 0.01, 0.2, 0.7),
          must: fc.constantFrom<FieldMatch[]>(
            [],
            [{ key: 'cat', value: 'c1' }],
            [{ key: 'live', value: true }],
          ),
          mustNot: fc.constantFrom<FieldMatch[]>([], [{ key: 'cat', value: 'c0' }]),
        }),
        async (scenario) => {
          const { size, dimension, distance, seed, coarse, limits, excludedShare, must, mustNot } = scenario;
          const rng = new Random(seed);
          // Coarse components make many exact ties, so the threshold often lands on one.
          const component = (): number => (coarse ? Math.round(rng.normal() * 2) / 2 : rng.normal());
          const index = new ExactVectorIndex();
          await index.ensureCollection({ name: 'c', dimension, distance });
          const model = new Map<string, StoredPoint>();
          const points = Array.from({ length: size }, (_, i) => ({
            id: `p${i}`,
            vector: Float32Array.from({ length: dimension }, component),
            payload: { cat: `c${i % 3}`, live: rng.next() < 0.9 },
          }));
          await index.upsert('c', points);
          for (const p of points) model.set(p.id, p);
          const excludeIds = new Set(points.filter(() => rng.next() < excludedShare).map((p) => p.id));
          const filter: VectorFilter = { excludeIds, must, mustNot };
          const queries: VectorQuery[] = limits.map((limit) => ({
            vector: Float32Array.from({ length: dimension }, component),
            limit,
            filter,
          }));
          const paired = await index.queryBatch('c', queries);
          const single = await index.queryBatch('c', [queries[0]!]);
          for (const [i, query] of queries.entries()) {
            assert.deepStrictEqual(paired[i], bruteForce(distance, model, query));
          }
          assert.deepStrictEqual(single[0], paired[0]);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('ExactVectorIndex validation and edge cases', () => {
  test('wrong dimensions and conflicting collection specs throw, naming collection and dimensions', async () => {
    const index = new ExactVectorIndex();
    await index.ensureCollection({ name: 'items', dimension: 3, distance: 'cosine' });
    await index.ensureCollection({ name: 'items', dimension: 3, distance: 'cosine', indexedFields: ['cat'] });
    await assert.rejects(
      index.ensureCollection({ name: 'items', dimension: 4, distance: 'cosine' }),
      /items already exists with dimension 3 and distance cosine/,
    );
    await assert.rejects(index.ensureCollection({ name: 'items', dimension: 3, distance: 'dot' }), /items/);
    await assert.rejects(
      index.upsert('items', [{ id: 'a', vector: new Float32Array(2), payload: {} }]),
      /collection items has dimension 3, but point a has a vector of dimension 2/,
    );
    await assert.rejects(
      index.queryBatch('items', [{ vector: new Float32Array(5), limit: 1 }]),
      /collection items has dimension 3, but query has a vector of dimension 5/,
    );
    await assert.rejects(
      index.upsert('items', [
        { id: 'ok', vector: new Float32Array(3), payload: {} },
        { id: 'nan', vector: Float32Array.of(1, Number.NaN, 0), payload: {} },
      ]),
      /non-finite/,
    );
    assert.equal(await index.count('items'), 0, 'a rejected upsert stores nothing');
    await assert.rejects(index.count('other'), /unknown collection other/);
    await assert.rejects(index.queryBatch('items', [{ vector: new Float32Array(3), limit: -1 }]), /limit/);
  });

  test('a zero query scores every point 0, in id order; cosine stores unit vectors', async () => {
    const index = new ExactVectorIndex();
    await index.ensureCollection({ name: 'items', dimension: 2, distance: 'cosine' });
    await index.upsert('items', [
      { id: 'c', vector: Float32Array.of(3, 4), payload: {} },
      { id: 'a', vector: Float32Array.of(-1, 0), payload: {} },
      { id: 'b', vector: Float32Array.of(0, 0), payload: {} },
    ]);
    const [zero, parallel] = await index.queryBatch('items', [
      { vector: Float32Array.of(0, 0), limit: 10 },
      { vector: Float32Array.of(6, 8), limit: 10 },
    ]);
    assert.deepStrictEqual(zero, [
      { id: 'a', score: 0 },
      { id: 'b', score: 0 },
      { id: 'c', score: 0 },
    ]);
    assert.deepStrictEqual(
      parallel?.map((p) => p.id),
      ['c', 'b', 'a'],
    );
    assert.ok(Math.abs(parallel![0]!.score - 1) < 1e-6);
    assert.ok(Math.abs(parallel![2]!.score + 0.6) < 1e-6);
  });

  test('payloads are stored as given and array fields match any element', async () => {
    const index = new ExactVectorIndex();
    await index.ensureCollection({ name: 'items', dimension: 1, distance: 'dot' });
    await index.upsert('items', [
      { id: 'a', vector: Float32Array.of(1), payload: { tags: ['x', 'y'], n: 1 } },
      { id: 'b', vector: Float32Array.of(2), payload: { tags: ['z'], n: '1' } },
    ]);
    const [tagged, numeric] = await index.queryBatch('items', [
      { vector: Float32Array.of(1), limit: 5, filter: { must: [{ key: 'tags', value: 'y' }] } },
      { vector: Float32Array.of(1), limit: 5, filter: { must: [{ key: 'n', value: 1 }] } },
    ]);
    assert.deepStrictEqual(tagged, [{ id: 'a', score: 1 }]);
    assert.deepStrictEqual(numeric, [{ id: 'a', score: 1 }], 'matching is type-strict');
  });
});

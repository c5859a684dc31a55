import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ExactVectorIndex, InMemoryVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import type { Point, ScoredPoint, VectorQuery } from '../../streams/ports/vector-store.js';
import { Random } from '../../streams/util/random.js';

const DIMENSION = 8;

function randomVector(random: Random, centre?: Float32Array): Float32Array {
  return Float32Array.from({ length: DIMENSION }, (_, j) => (centre?.[j] ?? 0) + random.normal());
}

function clusteredPoints(random: Random, count: number): Point[] {
  const centres = Array.from({ length: 6 }, () => randomVector(random));
  return Array.from({ length: count }, (_, i) => ({
    id: `p${i}`,
    vector: randomVector(random, centres[random.int(centres.length)]),
    payload: { available: random.next() < 0.9 },
  }));
}

async function bothIndexes(points: readonly Point[]): Promise<[ExactVectorIndex, InMemoryVectorIndex]> {
  const exact = new ExactVectorIndex();
  const graph = new InMemoryVectorIndex({ approximateFrom: 1, efSearch: 64 });
  for (const index of [exact, graph]) {
    await index.ensureCollection({ name: 'items', dimension: DIMENSION, distance: 'cosine' });
    // A query after the first chunk builds the graph; the rest of the points then join it one by one.
    for (let i = 0; i < points.length; i += 50) {
      await index.upsert('items', points.slice(i, i + 50));
      if (i === 0) await index.queryBatch('items', [{ vector: points[0]!.vector, limit: 1 }]);
    }
  }
  return [exact, graph];
}

function checkAgainstExact(exact: ScoredPoint[], approximate: ScoredPoint[], query: VectorQuery): number {
  const scores = new Map(exact.map((p) => [p.id, p.score]));
  const excluded = new Set(query.filter?.excludeIds ?? []);
  for (let i = 0; i < approximate.length; i++) {
    const hit = approximate[i]!;
    assert.ok(!excluded.has(hit.id), `${hit.id} is excluded by the query`);
    if (i > 0) assert.ok(approximate[i - 1]!.score >= hit.score, 'best first');
  }
  let found = 0;
  for (const hit of approximate) {
    const score = scores.get(hit.id);
    if (score === undefined) continue;
    found++;
    // The graph scores with the scan's kernel: a point both return has the same score in both.
    assert.equal(hit.score, score);
  }
  return found;
}

describe('InMemoryVectorIndex through its HNSW graph', () => {
  test('finds what the exact scan finds (recall ≥ 0.9), with its filters and scores', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const random = new Random(seed);
        const points = clusteredPoints(random, 400);
        const [exact, graph] = await bothIndexes(points);
        const unavailable = new Set(points.filter((p) => p.payload.available === false).map((p) => p.id));
        let wanted = 0;
        let found = 0;
        for (let q = 0; q < 10; q++) {
          const query: VectorQuery = {
            vector: randomVector(random),
            limit: 20,
            filter: {
              excludeIds: new Set(Array.from({ length: 30 }, () => `p${random.int(points.length)}`)),
              must: [{ key: 'available', value: true }],
            },
          };
          const [want] = await exact.queryBatch('items', [query]);
          const [got] = await graph.queryBatch('items', [query]);
          assert.ok(graph.isApproximate('items'), 'the first query built the graph');
          for (const hit of got!) assert.ok(!unavailable.has(hit.id), `${hit.id} is unavailable`);
          wanted += want!.length;
          found += checkAgainstExact(want!, got!, query);
        }
        assert.ok(found / wanted >= 0.9, `recall ${found / wanted}`);
      }),
      { numRuns: 8 },
    );
  });

  test('deleted points are never returned and updated vectors are searched by their new value', async () => {
    const random = new Random(11);
    const points = clusteredPoints(random, 300);
    const [exact, graph] = await bothIndexes(points);
    const deleted = points.slice(0, 100).map((p) => p.id);
    assert.ok(graph.isApproximate('items'));
    await exact.delete('items', deleted);
    await graph.delete('items', deleted);
    assert.ok(graph.isApproximate('items'), 'still past half the threshold: the graph stays');
    assert.equal(await graph.count('items'), 200);
    // Move a point next to a query direction: both must now rank it first.
    const direction = randomVector(random);
    const moved: Point = { id: 'p150', vector: direction, payload: { available: true } };
    await exact.upsert('items', [moved]);
    await graph.upsert('items', [moved]);
    const query: VectorQuery = { vector: direction, limit: 10 };
    const [want] = await exact.queryBatch('items', [query]);
    const [got] = await graph.queryBatch('items', [query]);
    assert.equal(got![0]!.id, 'p150');
    assert.deepEqual(got![0], want![0]);
    const gone = new Set(deleted);
    for (const hit of got!) assert.ok(!gone.has(hit.id), `${hit.id} was deleted`);
    assert.ok(checkAgainstExact(want!, got!, query) >= 9);
  });

  test('below half the threshold after deletes, the collection is scanned exactly again', async () => {
    const index = new InMemoryVectorIndex({ approximateFrom: 100 });
    await index.ensureCollection({ name: 'items', dimension: DIMENSION, distance: 'cosine' });
    const points = clusteredPoints(new Random(5), 120);
    await index.upsert('items', points);
    assert.ok(!index.isApproximate('items'), 'written, never queried: no graph yet');
    await index.queryBatch('items', [{ vector: points[0]!.vector, limit: 5 }]);
    assert.ok(index.isApproximate('items'));
    await index.delete(
      'items',
      points.slice(0, 80).map((p) => p.id),
    );
    assert.ok(!index.isApproximate('items'));
    const [hits] = await index.queryBatch('items', [{ vector: points[100]!.vector, limit: 5 }]);
    assert.equal(hits![0]!.id, 'p100');
  });
});

// The Qdrant adapter against the contract server (the Qdrant 1.19 OpenAPI spec + an in-memory
// model). Skipped with a message when the spec is not at ../shared/qdrant/openapi-1.19.json.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { uuidV5 } from '../../streams/adapters/qdrant/point-ids.js';
import {
  QdrantCollectionMismatchError,
  QdrantRequestError,
} from '../../streams/adapters/qdrant/qdrant-errors.js';
import { EDDY_ID_FIELD } from '../../streams/adapters/qdrant/qdrant-vector-store.js';
import { EddyError } from '../../streams/errors.js';
import type { Point } from '../../streams/ports/vector-store.js';
import { QdrantContractServer, specUnavailable } from './qdrant-contract-server.js';
import { assertNoViolations, storeOn } from './support.js';

const skip = specUnavailable();

function point(id: string, vector: number[], payload: Point['payload'] = {}): Point {
  return { id, vector: Float32Array.from(vector), payload };
}

describe('QdrantVectorStore against the Qdrant 1.19 contract', { skip }, () => {
  let server: QdrantContractServer;
  before(async () => {
    server = await QdrantContractServer.start();
  });
  after(async () => {
    await server?.close();
  });

  test('ensureCollection creates the collection and its payload indexes once, then only checks', async () => {
    const store = storeOn(server, { collectionPrefix: 'ens_' });
    const spec = {
      name: 'items',
      dimension: 4,
      distance: 'cosine',
      indexedFields: ['available', 'categories'],
    } as const;
    const before = new Map(server.requests);
    await store.ensureCollection(spec);
    await store.ensureCollection(spec);
    const delta = (op: string): number => (server.requests.get(op) ?? 0) - (before.get(op) ?? 0);
    assert.equal(delta('create_collection'), 1);
    assert.equal(delta('create_field_index'), 2);
    assert.equal(delta('get_collection'), 2);
    const c = server.model.collections.get('ens_items');
    assert.ok(c);
    assert.equal(c.size, 4);
    assert.equal(c.distance, 'Cosine');
    assert.deepEqual(Object.fromEntries(c.payloadIndexes), { available: 'bool', categories: 'keyword' });

    // A second process finds the collection as created by the first.
    const other = storeOn(server, { collectionPrefix: 'ens_' });
    await other.ensureCollection(spec);
    assert.equal(delta('create_collection'), 1);
    await store.close();
    await other.close();
    assertNoViolations(server);
  });

  test('concurrent ensureCollection from two processes: one creates, the other accepts the result', async () => {
    const a = storeOn(server, { collectionPrefix: 'race_' });
    const b = storeOn(server, { collectionPrefix: 'race_' });
    const spec = { name: 'users', dimension: 3, distance: 'dot' } as const;
    await Promise.all([a.ensureCollection(spec), b.ensureCollection(spec)]);
    assert.equal(server.model.collections.get('race_users')?.distance, 'Dot');
    await a.close();
    await b.close();
    // The loser's 409 is a spec-conform answer, not a violation.
    assertNoViolations(server);
  });

  test('an existing collection with another dimension or distance is a clear start-up error', async () => {
    const store = storeOn(server, { collectionPrefix: 'mis_' });
    await store.ensureCollection({ name: 'items', dimension: 8, distance: 'cosine' });
    await assert.rejects(
      store.ensureCollection({ name: 'items', dimension: 16, distance: 'cosine' }),
      (error) => {
        assert.ok(error instanceof QdrantCollectionMismatchError);
        assert.equal(error.collection, 'mis_items');
        assert.equal(error.expected, 'dimension 16 and distance Cosine');
        assert.equal(error.actual, 'dimension 8 and distance Cosine');
        assert.match(error.message, /mis_items.*dimension 8 and distance Cosine.*needs dimension 16/);
        return true;
      },
    );
    await assert.rejects(
      store.ensureCollection({ name: 'items', dimension: 8, distance: 'euclid' }),
      (error) =>
        error instanceof QdrantCollectionMismatchError && error.actual === 'dimension 8 and distance Cosine',
    );
    // A payload index of another type is a mismatch too; an unknown indexed field a configuration error.
    server.model.collection('mis_items').payloadIndexes.set('available', 'keyword');
    await assert.rejects(
      store.ensureCollection({
        name: 'items',
        dimension: 8,
        distance: 'cosine',
        indexedFields: ['available'],
      }),
      (error) =>
        error instanceof QdrantCollectionMismatchError &&
        /bool index on payload field available/.test(error.message),
    );
    await assert.rejects(
      store.ensureCollection({ name: 'other', dimension: 8, distance: 'cosine', indexedFields: ['colour'] }),
      /no payload index type configured for field "colour"/,
    );
    await store.close();
    assertNoViolations(server);
  });

  test('upsert in batches, replace, delete and count', async () => {
    const store = storeOn(server, { collectionPrefix: 'crud_', upsertBatchSize: 64 });
    await store.ensureCollection({
      name: 'items',
      dimension: 3,
      distance: 'dot',
      indexedFields: ['available'],
    });
    const upsertsBefore = server.requests.get('upsert_points') ?? 0;
    const points = Array.from({ length: 300 }, (_, i) =>
      point(`item-${i}`, [i, 1, -i], { available: i % 2 === 0 }),
    );
    await store.upsert('items', points);
    assert.equal(
      (server.requests.get('upsert_points') ?? 0) - upsertsBefore,
      5,
      '300 points in requests of ≤ 64',
    );
    assert.equal(await store.count('items'), 300);

    // Upserting an existing id replaces it: same count, new vector and payload.
    await store.upsert('items', [point('item-7', [0, 0, 1], { available: true, categories: ['x'] })]);
    assert.equal(await store.count('items'), 300);
    const stored = server.model.collection('crud_items').points.get(`u:${uuidV5('item-7')}`);
    assert.deepEqual(Array.from(stored?.vector ?? []), [0, 0, 1]);
    assert.deepEqual(stored?.payload, { available: true, categories: ['x'], [EDDY_ID_FIELD]: 'item-7' });

    await store.delete('items', ['item-1', 'item-2', 'item-2', 'never-there']);
    assert.equal(await store.count('items'), 298);
    assert.equal(server.eddyPoints('crud_items').has('item-1'), false);
    await store.delete('items', []);
    await store.upsert('items', []);
    await store.close();
    assertNoViolations(server);
  });

  test('filtered batch queries: excluded ids, must, must-not, array fields, floats, limits', async () => {
    const store = storeOn(server, { collectionPrefix: 'q_' });
    await store.ensureCollection({
      name: 'items',
      dimension: 2,
      distance: 'cosine',
      indexedFields: ['available', 'categories'],
    });
    await store.upsert('items', [
      point('a', [1, 0], { available: true, categories: ['x'], weight: 0.5 }),
      point('b', [1, 0.1], { available: true, categories: ['y'], weight: 1 }),
      point('c', [1, 0.2], { available: false, categories: ['x', 'y'], weight: 0.5 }),
      point('d', [0, 1], { available: true, categories: [], weight: 2 }),
      point('e', [-1, 0], { available: true, categories: ['z'] }),
    ]);
    const q = Float32Array.of(1, 0);
    const ids = (results: { id: string }[][]): string[][] => results.map((r) => r.map((p) => p.id));
    const before = server.requests.get('query_batch_points') ?? 0;
    const results = await store.queryBatch('items', [
      { vector: q, limit: 10 },
      {
        vector: q,
        limit: 10,
        filter: { excludeIds: new Set(['a', 'missing']), must: [{ key: 'available', value: true }] },
      },
      { vector: q, limit: 2, filter: { must: [{ key: 'categories', value: 'x' }] } },
      {
        vector: q,
        limit: 10,
        filter: {
          mustNot: [
            { key: 'categories', value: 'y' },
            { key: 'weight', value: 0.5 },
          ],
        },
      },
      { vector: q, limit: 10, filter: { must: [{ key: 'weight', value: 0.5 }], excludeIds: ['c', 'c'] } },
      { vector: q, limit: 0 },
    ]);
    assert.equal(
      (server.requests.get('query_batch_points') ?? 0) - before,
      1,
      'one request for the whole batch',
    );
    assert.deepEqual(ids(results), [
      ['a', 'b', 'c', 'd', 'e'],
      ['b', 'd', 'e'],
      ['a', 'c'],
      ['d', 'e'],
      ['a'],
      [],
    ]);
    assert.ok(Math.abs(results[0]![0]!.score - 1) < 1e-6);
    assert.ok(Math.abs(results[0]![4]!.score + 1) < 1e-6);
    assert.deepEqual(await store.queryBatch('items', []), []);
    assert.equal((server.requests.get('query_batch_points') ?? 0) - before, 1, 'no request for no queries');
    await store.close();
    assertNoViolations(server);
  });

  test('euclid scores are negated distances; ties come back ordered by id', async () => {
    const store = storeOn(server, { collectionPrefix: 'eu_' });
    await store.ensureCollection({ name: 'items', dimension: 2, distance: 'euclid' });
    await store.upsert('items', [
      point('z', [3, 4]),
      point('m', [0, 0]),
      point('b', [1, 1]),
      point('a', [1, 1]),
      point('é', [1, 1]),
    ]);
    const [hits] = await store.queryBatch('items', [{ vector: Float32Array.of(0, 0), limit: 5 }]);
    assert.deepEqual(
      hits?.map((h) => h.id),
      ['m', 'a', 'b', 'é', 'z'],
    );
    assert.equal(hits?.[0]?.score, 0);
    assert.ok(Math.abs((hits?.[1]?.score ?? 0) + Math.SQRT2) < 1e-6);
    assert.ok(Math.abs((hits?.[4]?.score ?? 0) + 5) < 1e-6);
    await store.close();
    assertNoViolations(server);
  });

  test('invalid input fails before any request; unknown collections and closed stores fail clearly', async () => {
    const store = storeOn(server, { collectionPrefix: 'bad_' });
    await store.ensureCollection({ name: 'items', dimension: 2, distance: 'dot' });
    const sent = [...server.requests.values()].reduce((a, b) => a + b, 0);
    await assert.rejects(
      store.upsert('items', [point('a', [1, 2, 3])]),
      /dimension 2, but point a has a vector of dimension 3/,
    );
    await assert.rejects(
      store.upsert('items', [point('a', [1, Number.NaN])]),
      /non-finite component at index 1/,
    );
    await assert.rejects(store.upsert('items', [point('a', [1, 2], { [EDDY_ID_FIELD]: 'x' })]), /reserved/);
    await assert.rejects(store.upsert('items', [point('\uD800', [1, 2])]), /well-formed/);
    await assert.rejects(store.queryBatch('items', [{ vector: Float32Array.of(1), limit: 1 }]), /dimension/);
    await assert.rejects(store.queryBatch('items', [{ vector: Float32Array.of(1, 2), limit: -1 }]), /limit/);
    await assert.rejects(store.count('nope'), /unknown collection nope: call ensureCollection first/);
    assert.equal(
      [...server.requests.values()].reduce((a, b) => a + b, 0),
      sent,
    );
    await store.close();
    await assert.rejects(store.count('items'), (e) => e instanceof EddyError && /closed/.test(e.message));
    assertNoViolations(server);
  });

  test('a request Qdrant refuses (4xx) surfaces at once as QdrantRequestError, not retried', async () => {
    const store = storeOn(server, { collectionPrefix: 'rej_' });
    await store.ensureCollection({ name: 'items', dimension: 2, distance: 'dot' });
    // The collection disappears behind Eddy's back: Qdrant answers 404.
    server.model.collections.delete('rej_items');
    const before = server.requests.get('upsert_points') ?? 0;
    await assert.rejects(store.upsert('items', [point('a', [1, 2])]), (error) => {
      assert.ok(error instanceof QdrantRequestError);
      assert.equal(error.status, 404);
      assert.match(
        error.message,
        /upsert_points failed with HTTP 404: Not found: Collection `rej_items` doesn't exist!/,
      );
      return true;
    });
    assert.equal((server.requests.get('upsert_points') ?? 0) - before, 1);
    await store.close();
    assertNoViolations(server);
  });

  test('the API key is sent when configured', async () => {
    const secured = await QdrantContractServer.start({ apiKey: 'sesame' });
    try {
      const warn = console.warn;
      // The client warns once about a key over plain http, which is what a local test uses.
      console.warn = () => {};
      try {
        const good = storeOn(secured, { apiKey: 'sesame' });
        await good.ensureCollection({ name: 'items', dimension: 2, distance: 'dot' });
        assert.equal(await good.count('items'), 0);
        await good.close();
      } finally {
        console.warn = warn;
      }
      const anonymous = storeOn(secured);
      await assert.rejects(
        anonymous.ensureCollection({ name: 'items', dimension: 2, distance: 'dot' }),
        (e) => e instanceof QdrantRequestError && e.status === 401,
      );
      await anonymous.close();
      assertNoViolations(secured);
    } finally {
      await secured.close();
    }
  });

  test('the contract server itself flags requests outside the spec (and the 1.18 client’s removed endpoints)', async () => {
    const probe = await QdrantContractServer.start();
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${probe.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      assert.equal((await post('/collections/x/points/nonsense', {})).status, 404);
      const invalid = await post('/collections/x/points/query/batch', {
        searches: [{ query: [1, 2], limit: 0 }],
      });
      assert.equal(invalid.status, 400);
      const unknownField = await post('/collections/x/points/count', { filter: { colour: 'red' } });
      assert.equal(unknownField.status, 400);
      // Qdrant 1.19 no longer has POST /points/search, which the 1.18 client still offers as search():
      // the reason the adapter uses the query API.
      const client = new QdrantClient({ url: probe.url, checkCompatibility: false });
      await assert.rejects(client.search('x', { vector: [1, 2], limit: 1 }));
      assert.deepEqual(
        probe.violations.map((v) => `${v.kind} ${v.path}`),
        [
          'unknown_operation /collections/x/points/nonsense',
          'invalid_request /collections/x/points/query/batch',
          'invalid_request /collections/x/points/count',
          'unknown_operation /collections/x/points/search',
        ],
      );
    } finally {
      await probe.close();
    }
  });

  test('zero spec violations over the whole suite', () => {
    assertNoViolations(server);
  });
});

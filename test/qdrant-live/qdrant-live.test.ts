// The Qdrant adapter against a real Qdrant: `QDRANT_URL=http://localhost:6333 npm run test:qdrant`
// (infra/docker-compose.yml has a `qdrant` service). Skipped when QDRANT_URL is unset, so `npm test`
// stays green without one. Every collection gets a unique prefix and is deleted afterwards.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import fc from 'fast-check';
import { QdrantCollectionMismatchError } from '../../streams/adapters/qdrant/qdrant-errors.js';
import { QdrantVectorStore } from '../../streams/adapters/qdrant/qdrant-vector-store.js';
import type { Point } from '../../streams/ports/vector-store.js';
import { checkParity, scenarioArb, TINY_COSINE_SCENARIO } from '../contract/parity.js';

const url = process.env.QDRANT_URL?.trim();
const apiKey = process.env.QDRANT_API_KEY?.trim();
const skip = url
  ? false
  : 'QDRANT_URL not set: start Qdrant (docker compose -f infra/docker-compose.yml up -d qdrant)';

const prefix = `eddy_it_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}_`;

function store(options: { exact?: boolean } = {}): QdrantVectorStore {
  return new QdrantVectorStore({
    url: url ?? '',
    ...(apiKey ? { apiKey } : {}),
    collectionPrefix: prefix,
    exact: options.exact ?? true,
    timeoutMs: 10_000,
    // A wrong URL should fail the run, not wait for a Qdrant that never comes.
    giveUpAfterMs: 10_000,
    upsertBatchSize: 50,
  });
}

function point(id: string, vector: number[], payload: Point['payload'] = {}): Point {
  return { id, vector: Float32Array.from(vector), payload };
}

describe('QdrantVectorStore against a real Qdrant', { skip }, () => {
  after(async () => {
    if (!url) return;
    const client = new QdrantClient({ url, ...(apiKey ? { apiKey } : {}), checkCompatibility: false });
    const { collections } = await client.getCollections();
    for (const { name } of collections) if (name.startsWith(prefix)) await client.deleteCollection(name);
  });

  test('the server answers with a compatible version (client 1.18: server 1.17–1.19)', async () => {
    const s = store();
    const version = await s.serverVersion();
    const [major, minor] = version.split('.').map(Number);
    assert.equal(major, 1, version);
    assert.ok(minor !== undefined && Math.abs(minor - 18) <= 1, `server ${version} vs client 1.18`);
    await s.close();
  });

  test('ensureCollection is idempotent and refuses another layout', async () => {
    const s = store();
    const spec = {
      name: 'items',
      dimension: 4,
      distance: 'cosine',
      indexedFields: ['available', 'categories'],
    } as const;
    await s.ensureCollection(spec);
    await s.ensureCollection(spec);
    await store().ensureCollection(spec);
    await assert.rejects(
      s.ensureCollection({ ...spec, dimension: 5 }),
      (e) => e instanceof QdrantCollectionMismatchError && e.actual === 'dimension 4 and distance Cosine',
    );
    await assert.rejects(s.ensureCollection({ ...spec, distance: 'dot' }), QdrantCollectionMismatchError);
    await s.close();
  });

  test('upsert in batches, replace, delete, count and filtered queries', async () => {
    const s = store();
    await s.ensureCollection({
      name: 'crud',
      dimension: 2,
      distance: 'cosine',
      indexedFields: ['available', 'categories'],
    });
    const many = Array.from({ length: 120 }, (_, i) => point(`bulk-${i}`, [1, i + 1], { available: false }));
    await s.upsert('crud', many);
    await s.upsert('crud', [
      point('a', [1, 0], { available: true, categories: ['x'], weight: 0.5 }),
      point('b', [1, 0.1], { available: true, categories: ['y'], weight: 1 }),
      point('c', [1, 0.2], { available: false, categories: ['x', 'y'], weight: 0.5 }),
      point('d', [0, 1], { available: true, categories: [], weight: 2 }),
      point('e', [-1, 0], { available: true, categories: ['z'] }),
    ]);
    assert.equal(await s.count('crud'), 125);
    await s.delete(
      'crud',
      many.map((p) => p.id),
    );
    assert.equal(await s.count('crud'), 5);
    const q = Float32Array.of(1, 0);
    const results = await s.queryBatch('crud', [
      { vector: q, limit: 10 },
      {
        vector: q,
        limit: 10,
        filter: { excludeIds: new Set(['a']), must: [{ key: 'available', value: true }] },
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
      { vector: q, limit: 0 },
    ]);
    assert.deepEqual(
      results.map((r) => r.map((p) => p.id)),
      [['a', 'b', 'c', 'd', 'e'], ['b', 'd', 'e'], ['a', 'c'], ['d', 'e'], []],
    );
    await s.close();
  });

  test('parity with the in-process index (exact search) on random data', async () => {
    const s = store({ exact: true });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        await checkParity(s, `parity${run++}`, scenario);
      }),
      { numRuns: 25 },
    );
    await s.close();
  });

  test('cosine vectors too small for Qdrant to normalise rank as in the in-process index', async () => {
    const s = store({ exact: true });
    await checkParity(s, 'tiny', TINY_COSINE_SCENARIO);
    await s.close();
  });
});

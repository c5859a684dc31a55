import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OpenAPIBackend } from 'openapi-backend';
import { type EmbeddedEddy, MODEL_VERSION } from '../../streams/app/embedded.js';
import { SCHEMAS_DIR } from '../../streams/codec/avro.js';
import { startHttpServer } from '../../streams/observe/http-server.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import {
  EVERYTHING_LOCAL,
  type Ownership,
  type RecommendationsBody,
  UserQueries,
  type UserStateBody,
} from '../../streams/serve/user-queries.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { partitionForKey } from '../../streams/util/murmur2.js';
import { runPrefed, TEST_NOW, testOptions } from '../support/embedded-run.js';

/**
 * Interactive queries over HTTP against the real model after a real run, every answer held to
 * docs/openapi.json: 200 for an owned user, 404 for an unknown one, 400 for a bad limit, 503 while
 * not ready or with no known owner, 307 to the owner's address when another instance owns the user.
 */

const OPENAPI_PATH = join(SCHEMAS_DIR, '..', 'docs', 'openapi.json');
const PARTITIONS = 4;

describe('interactive queries (/v1/users/{userId}/…)', () => {
  let api: OpenAPIBackend;
  let eddy: EmbeddedEddy;
  let ready = true;
  /** Partitions that "another instance" owns in this test, and whether its owner is known. */
  const remote = new Map<number, string | null>();
  let base: string;
  let close: () => Promise<void>;

  before(async () => {
    api = new OpenAPIBackend({
      definition: JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as ConstructorParameters<
        typeof OpenAPIBackend
      >[0]['definition'],
      strict: true,
      validate: true,
    });
    await api.init();
    eddy = await runPrefed(
      syntheticStream({
        seed: 5,
        users: 60,
        items: 150,
        categories: 6,
        events: 2_500,
        startTime: TEST_NOW - 86_400_000,
      }),
      testOptions({ partitions: PARTITIONS }),
    );
    const local = EVERYTHING_LOCAL(PARTITIONS);
    const queries = new UserQueries({
      model: eddy.model,
      recommender: eddy.pipeline.context.recommender,
      ownership: {
        partitions: local.partitions,
        ownerOf: (partition): Ownership => {
          if (!remote.has(partition)) return { kind: 'local' };
          const endpoint = remote.get(partition);
          return endpoint ? { kind: 'remote', endpoint } : { kind: 'unknown' };
        },
      },
      ready: () => ready,
      modelVersion: MODEL_VERSION,
      clock: () => TEST_NOW,
    });
    const http = await startHttpServer(
      0,
      new EddyMetrics({ processMetrics: false }).registry,
      {
        live: () => true,
        ready: () => ready,
      },
      queries,
    );
    base = `http://127.0.0.1:${http.port}`;
    close = http.close;
  });

  after(async () => {
    await close?.();
  });

  /** GET `path`, checked against the OpenAPI document for `operationId` and the answer's status. */
  async function get(
    path: string,
    operationId: string,
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const response = await fetch(`${base}${path}`, { redirect: 'manual' });
    const body: unknown = await response.json();
    const check = api.validator.validateResponse(body, operationId, response.status);
    assert.deepEqual(check.errors ?? [], [], `${response.status} ${path}: ${JSON.stringify(body)}`);
    return { status: response.status, body, headers: response.headers };
  }

  function activeUsers(): string[] {
    return [...eddy.users.entries()].map(([id]) => id).sort();
  }

  test('an owned user: their current list (no seen or unavailable item, ranks 1..n) and their state', async () => {
    const [userId] = activeUsers();
    assert.ok(userId);
    const user = eddy.users.get(userId)!;
    const lists = await get(`/v1/users/${encodeURIComponent(userId)}/recommendations`, 'getRecommendations');
    assert.equal(lists.status, 200);
    const body = lists.body as RecommendationsBody;
    assert.equal(body.userId, userId);
    assert.equal(body.modelVersion, MODEL_VERSION);
    assert.ok(body.items.length > 0 && body.items.length <= eddy.model.config.ranking.listSize);
    assert.deepEqual(
      body.items.map((i) => i.rank),
      body.items.map((_, i) => i + 1),
    );
    for (const item of body.items) {
      assert.ok(!user.seen.has(item.itemId), `${item.itemId} was seen`);
      assert.equal(eddy.model.items.get(item.itemId)?.available, true);
      assert.equal(item.title, eddy.model.items.get(item.itemId)?.title);
    }
    const three = await get(
      `/v1/users/${encodeURIComponent(userId)}/recommendations?limit=3`,
      'getRecommendations',
    );
    assert.equal((three.body as RecommendationsBody).items.length, 3);

    const state = await get(`/v1/users/${encodeURIComponent(userId)}/state`, 'getUserState');
    assert.equal(state.status, 200);
    const summary = state.body as UserStateBody;
    assert.equal(summary.events, user.events);
    assert.deepEqual(
      summary.recent.map((r) => r.itemId),
      user.recent.map((r) => r.itemId),
    );
    assert.deepEqual(summary.lastList?.itemIds, user.lastList);
  });

  test('asking does not teach the ranking: the learner keeps the pool of the list the stream emitted', async () => {
    const [, userId] = activeUsers();
    const before = eddy.model.ranking.poolOf(userId!);
    await get(`/v1/users/${encodeURIComponent(userId!)}/recommendations?limit=5`, 'getRecommendations');
    assert.equal(eddy.model.ranking.poolOf(userId!), before);
  });

  test('an unknown user is 404, a bad limit 400', async () => {
    const unknown = await get('/v1/users/nobody-at-all/recommendations', 'getRecommendations');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { error: string }).error, 'unknown_user');
    assert.equal((await get('/v1/users/nobody-at-all/state', 'getUserState')).status, 404);
    for (const limit of ['0', '101', '2.5', 'ten']) {
      const bad = await get(`/v1/users/u1/recommendations?limit=${limit}`, 'getRecommendations');
      assert.equal(bad.status, 400, limit);
    }
  });

  test('another instance owns the user: 307 to the same request at its address; no known owner: 503', async () => {
    const [userId] = activeUsers();
    const partition = partitionForKey(userId!, PARTITIONS);
    remote.set(partition, 'http://eddy-2.internal:9464');
    try {
      const path = `/v1/users/${encodeURIComponent(userId!)}/recommendations?limit=4`;
      const moved = await get(path, 'getRecommendations');
      assert.equal(moved.status, 307);
      assert.equal(moved.headers.get('location'), `http://eddy-2.internal:9464${path}`);
      assert.deepEqual(moved.body, { error: 'not_owner', owner: 'http://eddy-2.internal:9464', partition });
      remote.set(partition, null);
      const unknown = await get(path, 'getRecommendations');
      assert.equal(unknown.status, 503);
      assert.equal(unknown.headers.get('retry-after'), '1');
    } finally {
      remote.clear();
    }
  });

  test('not ready (restoring): 503 for every query', async () => {
    ready = false;
    try {
      const [userId] = activeUsers();
      assert.equal((await get(`/v1/users/${userId}/recommendations`, 'getRecommendations')).status, 503);
      assert.equal((await get(`/v1/users/${userId}/state`, 'getUserState')).status, 503);
    } finally {
      ready = true;
    }
  });
});

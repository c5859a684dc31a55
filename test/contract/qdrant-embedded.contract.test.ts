// End to end: the real embedded pipeline (EmbeddedEddy, prefed like the e2e tests) with the Qdrant
// adapter against the contract server in place of the in-process index, and Qdrant going down for
// ~1 s mid-stream. The pipeline must wait it out and process every event: the same lists as an
// undisturbed run, the same vectors in Qdrant.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { QdrantVectorStore } from '../../streams/adapters/qdrant/qdrant-vector-store.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { emittedLists, runPrefed, testOptions } from '../support/embedded-run.js';
import { QdrantContractServer, specUnavailable } from './qdrant-contract-server.js';
import { assertNoViolations, metricValue, storeOn } from './support.js';

const skip = specUnavailable();

const STREAM = { seed: 5, users: 120, items: 250, categories: 8, events: 2_500 } as const;
const PIPELINE = { partitions: 2, batchSize: 25 } as const;
/** The requests the pipeline makes once running (ensureCollection's are before it starts). */
const RUNTIME_OPERATIONS = ['upsert_points', 'delete_points', 'query_batch_points'];

function clicksIn(stream: Iterable<{ kind: string }>): number {
  let n = 0;
  for (const e of stream) if (e.kind === 'click') n++;
  return n;
}

function storedVectors(server: QdrantContractServer, collection: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const point of server.model.collection(collection).points.values()) {
    out.set(String(point.payload.eddy_id), Array.from(point.vector));
  }
  return out;
}

describe('embedded pipeline on Qdrant (contract server)', { skip }, () => {
  let server: QdrantContractServer;
  before(async () => {
    server = await QdrantContractServer.start();
  });
  after(async () => {
    await server?.close();
  });

  test('a ~1 s Qdrant outage mid-stream: the pipeline waits, recovers, and processes every event', async () => {
    const runtimeRequests = (): number =>
      RUNTIME_OPERATIONS.reduce((sum, op) => sum + (server.requests.get(op) ?? 0), 0);

    const undisturbedStore = storeOn(server, { collectionPrefix: 'calm_' });
    const before = runtimeRequests();
    const undisturbed = await runPrefed(
      syntheticStream(STREAM),
      testOptions({ ...PIPELINE, vectorStore: undisturbedStore }),
    );
    const requestsPerRun = runtimeRequests() - before;
    const expected = await emittedLists(undisturbed);
    assert.ok(
      expected.length > 200 && requestsPerRun > 20,
      `${expected.length} lists, ${requestsPerRun} requests`,
    );

    const metrics = new EddyMetrics({ processMetrics: false });
    const store: QdrantVectorStore = storeOn(
      server,
      { collectionPrefix: 'storm_', breakerFailureThreshold: 3, breakerCooldownMs: 100 },
      metrics,
    );
    // Down for 1 s once 40 % of the run's requests have gone through.
    server.inject({
      fault: { kind: 'down', ms: 1_000 },
      afterRequests: Math.floor(requestsPerRun * 0.4),
      operations: RUNTIME_OPERATIONS,
    });
    const states = new Set<string>();
    const watch = setInterval(() => states.add(store.circuitState), 1);
    let eddy: Awaited<ReturnType<typeof runPrefed>>;
    try {
      eddy = await runPrefed(syntheticStream(STREAM), testOptions({ ...PIPELINE, vectorStore: store }));
    } finally {
      clearInterval(watch);
    }
    await server.outage;
    assert.equal(server.faultsApplied.down, 1, 'the outage happened');
    assert.ok(states.has('open'), 'the breaker opened during the outage');
    assert.equal(store.circuitState, 'closed');
    assert.ok((await metricValue(metrics, 'eddy_vector_store_retries_total')) > 0);

    // Every event processed: everything committed, every click counted, the same lists as undisturbed.
    assert.equal(eddy.lag(), 0);
    assert.equal(eddy.stats.summary().clicks, clicksIn(syntheticStream(STREAM)));
    assert.equal(eddy.stats.summary().deadLetters, 0);
    const lists = await emittedLists(eddy);
    assert.equal(lists.length, expected.length);
    assert.deepEqual(lists, expected);
    // No write lost: Qdrant holds the same item and user vectors as after the undisturbed run.
    for (const name of ['eddy_items', 'eddy_users']) {
      assert.deepEqual(storedVectors(server, `storm_${name}`), storedVectors(server, `calm_${name}`), name);
    }

    // The same stream on the in-process index: one list per trigger either way. Item choice can
    // differ only where float32 scores in Qdrant reorder near-ties among the vector candidates.
    const inProcess = await emittedLists(await runPrefed(syntheticStream(STREAM), testOptions(PIPELINE)));
    assert.deepEqual(
      lists.map((l) => l.listId),
      inProcess.map((l) => l.listId),
    );
    const same = lists.filter(
      (l, i) =>
        JSON.stringify(l.items.map((x) => x.itemId)) ===
        JSON.stringify(inProcess[i]!.items.map((x) => x.itemId)),
    ).length;
    console.log(`embedded on Qdrant vs in-process: ${same} of ${lists.length} lists identical`);

    await undisturbedStore.close();
    await store.close();
    assertNoViolations(server);
  });
});

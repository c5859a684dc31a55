// Failure handling against the contract server's fault injection: timeouts, 5xx, 429, connection
// resets and refused connections are retried; a longer outage opens the circuit breaker, calls wait
// instead of failing, and once Qdrant is back everything completes with no write lost.
// Behaviour is asserted, never durations.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { QdrantRequestError, QdrantUnavailableError } from '../../streams/adapters/qdrant/qdrant-errors.js';
import { QdrantVectorStore } from '../../streams/adapters/qdrant/qdrant-vector-store.js';
import { createLogger } from '../../streams/observe/logger.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import type { Point } from '../../streams/ports/vector-store.js';
import { QdrantContractServer, specUnavailable } from './qdrant-contract-server.js';
import { assertNoViolations, metricValue, storeOn, until } from './support.js';

const skip = specUnavailable();

const BREAKER = 'eddy_circuit_breaker_state';
const RETRIES = 'eddy_vector_store_retries_total';
const REQUESTS = 'eddy_vector_store_request_seconds';
const ERRORS = 'eddy_vector_store_errors_total';
const OPEN = 2;

function points(prefix: string, n: number): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    vector: Float32Array.of(1, i, -i),
    payload: { available: true },
  }));
}

describe('Qdrant adapter under injected faults', { skip }, () => {
  let server: QdrantContractServer;
  before(async () => {
    server = await QdrantContractServer.start();
  });
  after(async () => {
    await server?.close();
  });

  async function fresh(prefix: string, options: Parameters<typeof storeOn>[1] = {}) {
    const metrics = new EddyMetrics({ processMetrics: false });
    const store = storeOn(server, { collectionPrefix: `${prefix}_`, ...options }, metrics);
    await store.ensureCollection({
      name: 'items',
      dimension: 3,
      distance: 'dot',
      indexedFields: ['available'],
    });
    return { store, metrics, collection: `${prefix}_items` };
  }

  test('a request that times out is aborted and retried', async () => {
    const { store, metrics, collection } = await fresh('timeout', { timeoutMs: 300 });
    server.inject({ fault: { kind: 'delay', ms: 1_500 }, count: 2, operations: ['upsert_points'] });
    await store.upsert('items', points('t', 10));
    assert.equal(server.eddyPoints(collection).size, 10);
    // At least the two delayed attempts timed out (a slow machine may add more); one succeeded.
    const retries = await metricValue(metrics, RETRIES, { operation: 'upsert', reason: 'timeout' });
    assert.ok(retries >= 2, `${retries} retries`);
    assert.equal(await metricValue(metrics, ERRORS, { operation: 'upsert' }), retries);
    assert.equal(await metricValue(metrics, `${REQUESTS}_count`, { operation: 'upsert', outcome: 'ok' }), 1);
    assert.equal(
      await metricValue(metrics, `${REQUESTS}_count`, { operation: 'upsert', outcome: 'error' }),
      retries,
    );
    await store.close();
  });

  test('5xx answers and rate limiting (429 with Retry-After) are retried', async () => {
    const { store, metrics } = await fresh('status');
    server.inject({ fault: { kind: 'status', status: 503 }, count: 2, operations: ['query_batch_points'] });
    server.inject({ fault: { kind: 'status', status: 500 }, count: 1, operations: ['query_batch_points'] });
    server.inject({
      fault: { kind: 'status', status: 429, retryAfterSeconds: 0.01 },
      count: 1,
      operations: ['count_points'],
    });
    await store.upsert('items', points('s', 3));
    const [hits] = await store.queryBatch('items', [{ vector: Float32Array.of(0, 1, 0), limit: 2 }]);
    assert.deepEqual(
      hits?.map((h) => h.id),
      ['s-2', 's-1'],
    );
    assert.equal(await store.count('items'), 3);
    assert.equal(
      await metricValue(metrics, RETRIES, { operation: 'query_batch', reason: 'server_error' }),
      3,
    );
    assert.equal(await metricValue(metrics, RETRIES, { operation: 'count', reason: 'rate_limited' }), 1);
    assert.equal(await metricValue(metrics, BREAKER, { dependency: 'vector_store' }), 0);
    await store.close();
  });

  test('connection resets, before and after the request took effect, are retried without loss or duplicates', async () => {
    const { store, metrics, collection } = await fresh('reset');
    server.inject({ fault: { kind: 'reset' }, count: 2, operations: ['upsert_points'] });
    server.inject({ fault: { kind: 'reset', afterApplying: true }, count: 1, operations: ['upsert_points'] });
    server.inject({ fault: { kind: 'reset', afterApplying: true }, count: 1, operations: ['delete_points'] });
    await store.upsert('items', points('r', 20));
    await store.delete('items', ['r-0', 'r-1']);
    assert.equal(server.eddyPoints(collection).size, 18);
    assert.equal(await store.count('items'), 18);
    assert.equal(await metricValue(metrics, RETRIES, { operation: 'upsert', reason: 'connection' }), 3);
    assert.equal(await metricValue(metrics, RETRIES, { operation: 'delete', reason: 'connection' }), 1);
    await store.close();
  });

  test('an outage opens the breaker; calls wait, then all complete when Qdrant is back, no write lost', async () => {
    const { store, metrics, collection } = await fresh('outage', {
      breakerFailureThreshold: 3,
      breakerCooldownMs: 50,
    });
    await server.stopListening();
    // Writers in flight during the outage, as concurrent as the pipeline could ever be and more.
    let settled = 0;
    let rejected = 0;
    const writers = Array.from({ length: 8 }, (_, w) =>
      store.upsert('items', points(`w${w}`, 25)).then(
        () => settled++,
        () => rejected++,
      ),
    );
    await until('the breaker to open', () => store.circuitState === 'open');
    assert.equal(await metricValue(metrics, BREAKER, { dependency: 'vector_store' }), OPEN);
    // Probes keep failing against the closed port: still nothing fails, nothing completes.
    const retriesAtOpen = await metricValue(metrics, RETRIES, { operation: 'upsert' });
    while ((await metricValue(metrics, RETRIES, { operation: 'upsert' })) < retriesAtOpen + 3) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(rejected, 0, 'no call fails while Qdrant is down');
    assert.equal(settled, 0, 'every call waits for Qdrant');
    await server.listenAgain();
    await Promise.all(writers);
    assert.equal(rejected, 0);
    assert.equal(settled, 8);
    assert.equal(store.circuitState, 'closed');
    assert.equal(await metricValue(metrics, BREAKER, { dependency: 'vector_store' }), 0);
    assert.ok((await metricValue(metrics, RETRIES, { operation: 'upsert', reason: 'connection' })) > 0);
    const stored = server.eddyPoints(collection);
    for (let w = 0; w < 8; w++) {
      for (let i = 0; i < 25; i++) assert.ok(stored.has(`w${w}-${i}`), `w${w}-${i} written`);
    }
    assert.equal(await store.count('items'), 200);
    await store.close();
  });

  test('a write answered wait_timeout (HTTP 200, not yet applied) is retried until completed, then searchable', async () => {
    const { store, metrics, collection } = await fresh('waittimeout');
    server.inject({ fault: { kind: 'wait_timeout' }, count: 2, operations: ['upsert_points'] });
    server.inject({ fault: { kind: 'wait_timeout' }, count: 1, operations: ['delete_points'] });
    await store.upsert('items', points('wt', 5));
    // Read-your-writes: once upsert resolves, every point is there.
    assert.equal(server.eddyPoints(collection).size, 5);
    const [hits] = await store.queryBatch('items', [{ vector: Float32Array.of(0, 1, 0), limit: 1 }]);
    assert.deepEqual(
      hits?.map((h) => h.id),
      ['wt-4'],
    );
    await store.delete('items', ['wt-4']);
    assert.equal(server.eddyPoints(collection).has('wt-4'), false);
    assert.equal(server.faultsApplied.waitTimeout, 3);
    assert.equal(await metricValue(metrics, RETRIES, { operation: 'upsert', reason: 'not_applied' }), 2);
    assert.equal(await metricValue(metrics, RETRIES, { operation: 'delete', reason: 'not_applied' }), 1);
    await store.close();
  });

  test('readiness follows an outage from the first failed call to the first answer; the breaker and the outage are logged', async () => {
    const lines: { level: string; msg: string; state?: string }[] = [];
    const logger = createLogger({
      level: 'debug',
      format: 'json',
      write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }),
    });
    const { store } = await fresh('ready', {
      breakerFailureThreshold: 3,
      breakerCooldownMs: 30,
      logger,
    });
    assert.equal(store.healthy, true);
    await server.stopListening();
    const write = store.upsert('items', points('ready', 3));
    await until('the first failure', () => !store.healthy);
    // Sampled through the outage, probes in flight included: never ready while Qdrant is down.
    const samples: boolean[] = [];
    const sampler = setInterval(() => samples.push(store.healthy), 1);
    const opened = (): number => lines.filter((l) => l.msg.includes('circuit breaker opened')).length;
    // Opened, probed (half-open) and re-opened: the outage has outlived a probe.
    await until('a failed probe', () => opened() >= 2);
    clearInterval(sampler);
    assert.ok(samples.length > 0);
    assert.deepEqual(new Set(samples), new Set([false]), 'not ready at any point of the outage');
    await server.listenAgain();
    await write;
    assert.equal(store.healthy, true);
    const messages = lines.map((l) => `${l.level} ${l.msg}`);
    const first = (text: string): number => messages.findIndex((m) => m.includes(text));
    assert.ok(first('warn Qdrant call failed') >= 0, messages.join('\n'));
    assert.ok(first('warn Qdrant circuit breaker opened') > first('Qdrant call failed'));
    assert.ok(first('Qdrant circuit breaker half-open') > first('circuit breaker opened'));
    assert.ok(first('info Qdrant circuit breaker closed') > first('half-open'));
    assert.ok(first('info Qdrant answers again') > first('circuit breaker opened'));
    await store.close();
  });

  test('with a give-up time, a call fails with QdrantUnavailableError once it has passed', async () => {
    const { store } = await fresh('giveup', { giveUpAfterMs: 150, breakerCooldownMs: 20 });
    server.inject({ fault: { kind: 'status', status: 503 }, forMs: 60_000, operations: ['count_points'] });
    await assert.rejects(store.count('items'), (error) => {
      assert.ok(error instanceof QdrantUnavailableError);
      assert.match(
        error.message,
        /count_points did not complete: still failing after \d+ ms \(last: .*HTTP 503/,
      );
      return true;
    });
    server.clearFaults();
    await store.close();
  });

  test('close() releases calls waiting on an open breaker', async () => {
    const { store } = await fresh('close', { breakerFailureThreshold: 1, breakerCooldownMs: 60_000 });
    server.inject({ fault: { kind: 'reset' }, forMs: 60_000, operations: ['count_points'] });
    const waiting = store.count('items');
    await until('the breaker to open', () => store.circuitState === 'open');
    await store.close();
    await assert.rejects(waiting, QdrantUnavailableError);
    server.clearFaults();
  });

  test('start-up gives up on an unreachable Qdrant with a clear error; an unusable URL fails at once', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = new QdrantVectorStore({
      url: `http://127.0.0.1:${port}`,
      startupGiveUpAfterMs: 200,
      retryMaxMs: 20,
    });
    await assert.rejects(
      unreachable.ensureCollection({ name: 'items', dimension: 2, distance: 'dot' }),
      (error) => error instanceof QdrantUnavailableError && /ECONNREFUSED/.test(error.message),
    );
    await unreachable.close();
    // Port 1 is one fetch refuses to use: a configuration error, not an outage to wait out.
    const unusable = new QdrantVectorStore({ url: 'http://127.0.0.1:1' });
    await assert.rejects(
      unusable.serverVersion(),
      (error) => error instanceof QdrantRequestError && /bad port/.test(error.message),
    );
    await unusable.close();
  });

  test('zero spec violations under faults', () => {
    assertNoViolations(server);
  });
});

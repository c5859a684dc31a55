import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import { EmbeddedEddy } from '../../streams/app/embedded.js';
import { DEAD_LETTER_REASONS } from '../../streams/errors.js';
import { EddyModel } from '../../streams/model/eddy-model.js';
import { EVENT_TYPES } from '../../streams/model/events.js';
import type { UserPreferences } from '../../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../../streams/model/user-state-serde.js';
import { instrumentVectorStore } from '../../streams/observe/instrumented-vector-store.js';
import {
  EddyMetrics,
  FRESHNESS_SLO_SECONDS,
  ITEM_OPERATIONS,
  KAFKA_OPERATIONS,
  REQUEST_OUTCOMES,
  VECTOR_STORE_OPERATIONS,
} from '../../streams/observe/metrics.js';
import { PIPELINE_STAGES } from '../../streams/pipeline/pipeline-observer.js';
import { restoreModel } from '../../streams/pipeline/restore.js';
import { DEAD_LETTER_HEADERS } from '../../streams/pipeline/topics.js';
import type { VectorStore } from '../../streams/ports/vector-store.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { readTopic, runPrefed, testOptions } from '../support/embedded-run.js';
import { type Family, parseExposition, type Sample } from '../support/prometheus.js';

/**
 * The numbers on /metrics are the numbers of the run: counters agree with what reached the output
 * topics, series with known label values exist from the start, and gauges read at scrape time
 * reflect the state at that moment.
 */

const STREAM = { seed: 5, users: 60, items: 120, events: 3_000 } as const;

async function exposition(metrics: EddyMetrics): Promise<Map<string, Family>> {
  return parseExposition(await metrics.registry.metrics());
}

function samples(families: ReadonlyMap<string, Family>, family: string, name = family): Sample[] {
  const f = families.get(family);
  assert.ok(f, `${family} is exported`);
  return f.samples.filter((s) => s.name === name);
}

function total(list: readonly Sample[], where: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of list) if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}

test('series with known label values are exported at 0 before anything happens', async () => {
  const f = await exposition(new EddyMetrics({ processMetrics: false }));
  const has = (family: string, name: string, labels: Readonly<Record<string, string>>): void => {
    const found = samples(f, family, name).find((s) =>
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    assert.ok(found, `${name}${JSON.stringify(labels)} is exported`);
    assert.equal(found.value, 0, `${name}${JSON.stringify(labels)} starts at 0`);
  };
  for (const reason of DEAD_LETTER_REASONS)
    has('eddy_dead_letters_total', 'eddy_dead_letters_total', { reason });
  for (const type of EVENT_TYPES)
    has('eddy_events_total', 'eddy_events_total', { kind: 'click', type, outcome: 'processed' });
  for (const type of ITEM_OPERATIONS)
    has('eddy_events_total', 'eddy_events_total', { kind: 'item', type, outcome: 'processed' });
  for (const kind of ['click', 'item'])
    has('eddy_events_total', 'eddy_events_total', { kind, type: 'unknown', outcome: 'dead_lettered' });
  for (const stage of PIPELINE_STAGES) has('eddy_stage_seconds', 'eddy_stage_seconds_count', { stage });
  for (const operation of VECTOR_STORE_OPERATIONS) {
    has('eddy_vector_store_errors_total', 'eddy_vector_store_errors_total', { operation });
    for (const outcome of REQUEST_OUTCOMES)
      has('eddy_vector_store_request_seconds', 'eddy_vector_store_request_seconds_count', {
        operation,
        outcome,
      });
  }
  for (const operation of KAFKA_OPERATIONS) {
    has('eddy_kafka_errors_total', 'eddy_kafka_errors_total', { operation });
    for (const outcome of REQUEST_OUTCOMES)
      has('eddy_kafka_request_seconds', 'eddy_kafka_request_seconds_count', { operation, outcome });
  }
  has('eddy_ready', 'eddy_ready', {});
  has('eddy_restore_records_total', 'eddy_restore_records_total', {});
});

test('the freshness objective is a bucket boundary of eddy_freshness_seconds', async () => {
  const f = await exposition(new EddyMetrics({ processMetrics: false }));
  const bounds = samples(f, 'eddy_freshness_seconds', 'eddy_freshness_seconds_bucket').map((s) =>
    Number(s.labels.le),
  );
  assert.ok(bounds.includes(FRESHNESS_SLO_SECONDS), `buckets ${bounds.join(', ')}`);
});

test('counters agree with the output topics, by event type and by dead-letter reason', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  const options = testOptions({ metrics });
  const events: StreamEvent[] = [...syntheticStream(STREAM)];
  const bad = [
    { topic: 'eddy.clicks', key: 'user-x', value: Uint8Array.from([0xc3, 0x01, 9, 9]) },
    { topic: 'eddy.clicks', key: 'user-y', value: null },
    { topic: 'eddy.items', key: 'item-x', value: Uint8Array.from([42]) },
  ];
  const eddy = await runPrefed(events, options, bad);
  const f = await exposition(metrics);

  const lists = await readTopic(eddy, eddy.topics.recommendations);
  assert.ok(lists.length > 0);
  assert.equal(total(samples(f, 'eddy_lists_emitted_total')), lists.length);
  assert.equal(total(samples(f, 'eddy_freshness_seconds', 'eddy_freshness_seconds_count')), lists.length);

  const events_ = samples(f, 'eddy_events_total');
  for (const type of EVENT_TYPES) {
    const produced = events.filter((e) => e.kind === 'click' && e.event.type === type).length;
    assert.equal(total(events_, { kind: 'click', type, outcome: 'processed' }), produced, type);
  }
  const upserts = events.filter((e) => e.kind === 'item' && e.event.op === 'upsert').length;
  assert.equal(total(events_, { kind: 'item', type: 'upsert', outcome: 'processed' }), upserts);

  const deadLetters = await readTopic(eddy, eddy.topics.deadLetters);
  assert.equal(deadLetters.length, bad.length);
  assert.equal(total(events_, { outcome: 'dead_lettered', kind: 'click' }), 2);
  assert.equal(total(events_, { outcome: 'dead_lettered', kind: 'item' }), 1);
  const byReason = new Map<string, number>();
  for (const r of deadLetters) {
    const reason = r.headers[DEAD_LETTER_HEADERS.reason] ?? '?';
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  for (const s of samples(f, 'eddy_dead_letters_total'))
    assert.equal(s.value, byReason.get(s.labels.reason ?? '') ?? 0, `reason ${s.labels.reason}`);

  // Live quality: the counters are the evaluator's totals; K is the list size.
  const q = eddy.stats.quality;
  const k = { k: String(eddy.model.config.ranking.listSize) };
  assert.ok(q.evaluated > 0);
  assert.equal(total(samples(f, 'eddy_live_evaluations_total'), k), q.evaluated);
  assert.equal(total(samples(f, 'eddy_live_hits_total'), k), q.totalHits);
  assert.ok(Math.abs(total(samples(f, 'eddy_live_ndcg_total'), k) - q.totalGain) < 1e-6);
  const snapshot = q.snapshot();
  assert.equal(total(samples(f, 'eddy_live_hit_rate'), k), snapshot.recentHitRate);
  assert.equal(total(samples(f, 'eddy_live_ndcg'), k), snapshot.recentNdcg);
  const coverage = total(samples(f, 'eddy_catalog_coverage_ratio'));
  assert.ok(coverage > 0 && coverage <= 1, `coverage ${coverage}`);

  // Drained: nothing in flight, no partition held back, no lag; state gauges match the model.
  assert.equal(total(samples(f, 'eddy_in_flight_batches')), 0);
  assert.equal(total(samples(f, 'eddy_paused_partitions')), 0);
  assert.equal(total(samples(f, 'eddy_consumer_lag_records')), 0);
  assert.equal(total(samples(f, 'eddy_state_users')), eddy.users.size);
  assert.equal(total(samples(f, 'eddy_state_items')), eddy.model.items.size);
  assert.ok(eddy.model.sessions.size > 0);
  assert.equal(total(samples(f, 'eddy_state_sessions')), eddy.model.sessions.size);
  // The in-process index is timed like any vector store; it has no breaker to open.
  assert.ok(
    total(samples(f, 'eddy_vector_store_request_seconds', 'eddy_vector_store_request_seconds_count'), {
      operation: 'query_batch',
      outcome: 'ok',
    }) > 0,
  );
  assert.equal(total(samples(f, 'eddy_circuit_breaker_state'), { dependency: 'vector_store' }), 0);
});

test('consumer lag is read at scrape time, so it grows while nothing is consumed', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  const eddy = new EmbeddedEddy(testOptions({ metrics }));
  const produce = (n: number, offset: number): void => {
    const events: StreamEvent[] = [...syntheticStream({ ...STREAM, events: n + offset })].slice(-n);
    eddy.log.produce(events.map((e) => eddy.encode(e)));
  };
  produce(100, 0);
  const before = total(samples(await exposition(metrics), 'eddy_consumer_lag_records'));
  assert.equal(before, 100);
  produce(50, 100);
  const after = total(samples(await exposition(metrics), 'eddy_consumer_lag_records'));
  assert.equal(after, 150);
});

test('eddy_ready follows the readiness function on every scrape', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  let ready = false;
  metrics.readinessFrom(() => ready);
  assert.equal(total(samples(await exposition(metrics), 'eddy_ready')), 0);
  ready = true;
  assert.equal(total(samples(await exposition(metrics), 'eddy_ready')), 1);
});

test('a failing vector-store call is timed with outcome error, counted, and rethrown', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  const broken = new Error('connection refused');
  const store: VectorStore = {
    ensureCollection: async () => {},
    upsert: async () => {
      throw broken;
    },
    delete: async () => {},
    queryBatch: async () => [],
    count: async () => 0,
    close: async () => {},
  };
  const timed = instrumentVectorStore(store, metrics);
  await timed.queryBatch('items', []);
  await assert.rejects(timed.upsert('items', []), (error) => error === broken);
  const f = await exposition(metrics);
  const requests = samples(f, 'eddy_vector_store_request_seconds', 'eddy_vector_store_request_seconds_count');
  assert.equal(total(requests, { operation: 'upsert', outcome: 'error' }), 1);
  assert.equal(total(requests, { operation: 'query_batch', outcome: 'ok' }), 1);
  assert.equal(total(samples(f, 'eddy_vector_store_errors_total'), { operation: 'upsert' }), 1);
  assert.equal(total(samples(f, 'eddy_vector_store_errors_total'), { operation: 'query_batch' }), 0);
});

test('restore progress adds up to the records restored, and its duration is reported', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  const live = await runPrefed(syntheticStream(STREAM), testOptions());
  const fresh = new EmbeddedEddy(testOptions({ metrics }));
  const model = new EddyModel(
    live.model.config,
    new MemoryStateStore<UserPreferences>({
      name: 'restored',
      changelogTopic: live.topics.userChangelog,
      serde: userPreferencesSerde,
    }),
  );
  let progress = 0;
  const report = await restoreModel(model, live.log, live.topics, live.groupId, (records) => {
    progress += records;
    fresh.stats.restoring(records);
  });
  fresh.stats.restored(report, 0.25);
  assert.ok(report.records > 0);
  assert.equal(progress, report.records);
  const f = await exposition(metrics);
  assert.equal(total(samples(f, 'eddy_restore_records_total')), report.records);
  assert.equal(total(samples(f, 'eddy_restore_seconds')), 0.25);
});

/**
 * Eddy through a real Kafka broker, measured in one run against the ceiling the client imposes:
 *
 *   1  raw consume        a kafkajs consumer group reads the prefed clicks topic, doing nothing per
 *                         record (eachBatch, no commits): the most the client gets out of the broker
 *   2  raw consume+decode the same, Avro-decoding every record
 *   3  Eddy exactly-once  KafkaEddy over the same prefed input (catalog + clicks), transactions on:
 *                         input records per second from its first fetch to its last commit
 *   4  Eddy at-least-once the same without transactions (the cost of exactly-once)
 *   5  latency            clicks produced at a steady rate while Eddy runs; a read_committed consumer
 *                         of the lists records when each arrives: event → list latency per list
 *                         (produce acknowledged → list readable), p50/p99
 *
 * Every variant gets its own consumer group and output topics; the inputs are produced once.
 * Nothing is asserted: the numbers are printed (stdout) and optionally written as JSON.
 *
 *   infra/kafka/start.sh && npm run build && node dist/bench/kafka.bench.js [--help]
 */

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka, parseBrokers } from '../streams/adapters/kafka/kafka-client.js';
import type { DeliveryMode } from '../streams/adapters/kafka/kafka-sink.js';
import { ensureTopics } from '../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs, KafkaEddy } from '../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../streams/app/kafka-feed.js';
import { EDDY_SETTINGS } from '../streams/cli/eddy-settings.js';
import { codecs } from '../streams/codec/avro.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import { EddyMetrics } from '../streams/observe/metrics.js';
import { nullObserver } from '../streams/pipeline/pipeline-observer.js';
import { type TopicNames, topicNames } from '../streams/pipeline/topics.js';
import { syntheticStream } from '../streams/sources/synthetic.js';
import { formatCount, formatFixed, integerFlag, markdownTable, progress, UsageError } from './support.js';

const USAGE = `Usage: node dist/bench/kafka.bench.js [options]

Measures, in one run against a real broker (start one with infra/kafka/start.sh):
  1 raw kafkajs consume rate of the prefed clicks topic (the ceiling), 2 the same with Avro decoding,
  3 Eddy end to end (exactly-once), 4 Eddy end to end (at-least-once), 5 event → list latency
  p50/p99 at a steady input rate. Results on stdout, progress on stderr.

Options:
  --brokers <list>     host:port,... (default: $KAFKA_BROKERS or 127.0.0.1:9092)
  --events <n>         synthetic clicks prefed for 1–4 (default 50,000)
  --users <n>          synthetic users (default 2,000)
  --items <n>          synthetic catalog size (default 3,000)
  --partitions <n>     partitions of every topic (default ${EDDY_SETTINGS.partitions.default}, as eddy)
  --batch-size <n>     Eddy's records per batch (default ${EDDY_SETTINGS.batchSize.default}, as eddy)
  --coalesce <ms>      Eddy's coalescing window (default ${EDDY_SETTINGS.coalesceMs.default}, as eddy)
  --rate <n>           clicks per second for 5 (default: half of what 3 measured)
  --latency-events <n> clicks produced for 5 (default 10,000; 0 skips 5)
  --item-checkpoint-every <n>  input records between item-model checkpoints (default 20,000, as
                       eddy; 1 = a checkpoint in every transaction)
  --keep               keep the benchmark topics (default: delete them)
  --json <file>        also write the results as JSON
  --help               show this text`;

interface Settings {
  readonly brokers: string[];
  readonly events: number;
  readonly users: number;
  readonly items: number;
  readonly partitions: number;
  readonly batchSize: number;
  readonly coalesceMs: number;
  readonly rate: number | null;
  readonly latencyEvents: number;
  readonly itemCheckpointEvery: number;
  readonly keep: boolean;
  readonly json: string | null;
}

interface Throughput {
  readonly records: number;
  readonly seconds: number;
  readonly perSecond: number;
}

interface EddyRun extends Throughput {
  readonly startupSeconds: number;
  readonly lists: number;
  /** Records Eddy wrote (lists, changelogs, checkpoints) and their value bytes. */
  readonly written: { readonly records: number; readonly mb: number; readonly itemCheckpointRecords: number };
  readonly batchLatencyMs: { readonly p50: number; readonly p99: number };
  /** Commits (transactions, exactly-once) and the commit units (batches) they carried. */
  readonly commits: { readonly commits: number; readonly units: number };
}

interface LatencyRun {
  readonly rate: number;
  readonly clicks: number;
  readonly lists: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Commits (transactions) and the commit units (batches) they carried. */
  readonly commits: { readonly commits: number; readonly units: number };
}

function parse(argv: readonly string[]): Settings | null {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      brokers: { type: 'string' },
      events: { type: 'string' },
      users: { type: 'string' },
      items: { type: 'string' },
      partitions: { type: 'string' },
      'batch-size': { type: 'string' },
      coalesce: { type: 'string' },
      rate: { type: 'string' },
      'latency-events': { type: 'string' },
      'item-checkpoint-every': { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return null;
  return {
    brokers: parseBrokers(values.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'),
    events: integerFlag('events', values.events, 50_000, 1),
    users: integerFlag('users', values.users, 2_000, 1),
    items: integerFlag('items', values.items, 3_000, 10),
    partitions: integerFlag('partitions', values.partitions, EDDY_SETTINGS.partitions.default, 1),
    batchSize: integerFlag('batch-size', values['batch-size'], EDDY_SETTINGS.batchSize.default, 1),
    coalesceMs: integerFlag('coalesce', values.coalesce, EDDY_SETTINGS.coalesceMs.default, 0),
    rate: values.rate === undefined ? null : integerFlag('rate', values.rate, 0, 1),
    latencyEvents: integerFlag('latency-events', values['latency-events'], 10_000, 0),
    itemCheckpointEvery: integerFlag('item-checkpoint-every', values['item-checkpoint-every'], 20_000, 1),
    keep: values.keep === true,
    json: values.json ?? null,
  };
}

/** Inputs shared by all variants; outputs and changelogs per variant. */
function variantTopics(inputs: TopicNames, prefix: string): TopicNames {
  const own = topicNames(prefix);
  return { ...own, clicks: inputs.clicks, items: inputs.items };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A consumer group reading `topic` from the beginning until every partition reached `ends`. */
async function rawConsume(kafka: Kafka, admin: Admin, topic: string, decode: boolean): Promise<Throughput> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
  const groupId = `eddy-bench-raw-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  let records = 0;
  let started = 0;
  let finished = 0;
  let sink = 0;
  // From the first fetch request (the group is joined by then) to the last record handed over.
  consumer.on(consumer.events.FETCH_START, () => {
    if (started === 0) started = performance.now();
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (Number(e.payload.lastOffset) + 1 >= (ends.get(e.payload.partition) ?? 0))
      pending.delete(e.payload.partition);
    if (pending.size === 0 && finished === 0) finished = performance.now();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      records += batch.messages.length;
      if (decode) for (const m of batch.messages) sink += codecs.clickEvent.decode(m.value!).eventTime & 1;
    },
  });
  while (pending.size > 0) await sleep(10);
  await consumer.disconnect();
  await admin.deleteGroups([groupId]).catch(() => {});
  void sink;
  const seconds = (finished - started) / 1000;
  return { records, seconds, perSecond: records / seconds };
}

async function eddyRun(
  settings: Settings,
  inputs: TopicNames,
  prefix: string,
  delivery: DeliveryMode,
  total: number,
): Promise<EddyRun> {
  const topics = variantTopics(inputs, prefix);
  let processed = 0;
  let firstFetch = 0;
  let lastCommit = 0;
  let writtenRecords = 0;
  let writtenBytes = 0;
  let checkpointRecords = 0;
  const eddy = new KafkaEddy({
    brokers: settings.brokers,
    groupId: prefix,
    instanceId: 'bench',
    topics,
    partitions: settings.partitions,
    replicationFactor: 1,
    model: DEFAULT_MODEL_CONFIG,
    batchSize: settings.batchSize,
    lingerMs: settings.coalesceMs,
    delivery,
    itemCheckpointEveryEvents: settings.itemCheckpointEvery,
    // As `eddy` runs: with its Prometheus registry.
    metrics: new EddyMetrics(),
    observers: [
      {
        ...nullObserver,
        fetched: () => {
          if (firstFetch === 0) firstFetch = performance.now();
        },
        committed: (batch) => {
          processed += batch.batch.records.length;
          lastCommit = performance.now();
          for (const r of batch.outputRecords) {
            writtenRecords++;
            writtenBytes += r.value?.length ?? 0;
            if (r.topic === topics.itemChangelog) checkpointRecords++;
          }
        },
      },
    ],
  });
  const t0 = performance.now();
  const { running } = await eddy.start();
  while (processed < total) await sleep(5);
  const startupSeconds = (firstFetch - t0) / 1000;
  await eddy.stop();
  await running;
  const summary = eddy.stats.summary();
  const commits = eddy.sink.committed;
  const seconds = (lastCommit - firstFetch) / 1000;
  return {
    records: processed,
    seconds,
    perSecond: processed / seconds,
    startupSeconds,
    lists: summary.lists,
    written: { records: writtenRecords, mb: writtenBytes / 1e6, itemCheckpointRecords: checkpointRecords },
    batchLatencyMs: { p50: summary.latencyMs.p50, p99: summary.latencyMs.p99 },
    commits,
  };
}

async function latencyRun(
  settings: Settings,
  kafka: Kafka,
  inputs: TopicNames,
  prefix: string,
  rate: number,
): Promise<LatencyRun> {
  const topics = variantTopics(inputs, prefix);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, eddyTopicSpecs(topics, settings.partitions), { replicationFactor: 1 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const reader = kafka.consumer({ groupId: `${prefix}-reader`, readUncommitted: false, maxWaitTimeInMs: 50 });
  await reader.connect();
  await reader.subscribe({ topics: [topics.recommendations], fromBeginning: true });
  await reader.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const list = codecs.recommendationList.decode(m.value!);
        const sent = sentAt.get(list.triggeringEventId);
        if (sent !== undefined) latencies.push(now - sent);
      }
    },
  });
  const eddy = new KafkaEddy({
    brokers: settings.brokers,
    groupId: prefix,
    instanceId: 'bench',
    topics,
    partitions: settings.partitions,
    replicationFactor: 1,
    model: DEFAULT_MODEL_CONFIG,
    batchSize: settings.batchSize,
    lingerMs: settings.coalesceMs,
    metrics: new EddyMetrics(),
  });
  // The group starts at the end of the prefed input: only the clicks produced below are timed.
  for (const topic of [inputs.clicks, inputs.items]) {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId: prefix,
      topic,
      partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })),
    });
  }
  const { running } = await eddy.start();
  while (!eddy.ready()) await sleep(10);
  // Fresh clicks with their own event ids, over the same user and item ids as the prefed stream.
  const clicks = [
    ...syntheticStream({
      seed: 7,
      users: settings.users,
      items: settings.items,
      events: settings.latencyEvents,
    }),
  ]
    .filter((e) => e.kind === 'click')
    .map((e) =>
      e.kind === 'click' ? { ...e, event: { ...e.event, eventId: `lat-${e.event.eventId}` } } : e,
    );
  const producer = feedProducer(kafka);
  await producer.connect();
  await feed(producer, clicks, {
    encode: singleObjectEncoder(topics),
    rate,
    onSent: (events, at) => {
      for (const e of events) if (e.kind === 'click') sentAt.set(e.event.eventId, at);
    },
  });
  await producer.disconnect();
  const deadline = Date.now() + 60_000;
  let lists = eddy.stats.summary().lists;
  // Until the lists stop coming (Eddy caught up and the reader read them).
  for (;;) {
    await sleep(1_000);
    const now = eddy.stats.summary().lists;
    if (now === lists && latencies.length >= now) break;
    lists = now;
    if (Date.now() > deadline) break;
  }
  await eddy.stop();
  await running;
  const commits = eddy.sink.committed;
  await reader.disconnect();
  await admin.deleteGroups([`${prefix}-reader`]).catch(() => {});
  await admin.disconnect();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    rate,
    clicks: clicks.length,
    lists: latencies.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    commits,
  };
}

async function main(): Promise<void> {
  const settings = parse(process.argv.slice(2));
  if (settings === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const run = `eddy-bench-${Date.now().toString(36)}`;
  const inputs = topicNames(`${run}.in`);
  const kafka = createKafka({ brokers: settings.brokers, clientId: 'eddy-bench' });
  const admin = kafka.admin();
  await admin.connect();
  const created: string[] = [];
  try {
    await ensureTopics(admin, eddyTopicSpecs(inputs, settings.partitions), { replicationFactor: 1 });
    created.push(...Object.values(inputs));
    const events = [
      ...syntheticStream({
        seed: 42,
        users: settings.users,
        items: settings.items,
        events: settings.events,
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    progress(
      `producing ${formatCount(events.length)} records (${formatCount(settings.events)} clicks) to ${inputs.clicks} / ${inputs.items} ...`,
    );
    const producer = feedProducer(kafka);
    await producer.connect();
    const produced = await feed(producer, events, { encode: singleObjectEncoder(inputs) });
    await producer.disconnect();
    const total = produced.clicks + produced.items;
    progress(`  ${formatCount(total / produced.seconds)} records/s produced`);

    progress('1 raw kafkajs consume ...');
    const raw = await rawConsume(kafka, admin, inputs.clicks, false);
    progress('2 raw kafkajs consume + Avro decode ...');
    const rawDecode = await rawConsume(kafka, admin, inputs.clicks, true);
    const variants: [string, DeliveryMode][] = [
      ['3 Eddy exactly-once', 'exactly-once'],
      ['4 Eddy at-least-once', 'at-least-once'],
    ];
    const eddyRuns: EddyRun[] = [];
    for (const [label, delivery] of variants) {
      progress(`${label} ...`);
      const prefix = `${run}.${delivery}`;
      created.push(
        ...Object.values(variantTopics(inputs, prefix)).filter(
          (t) => t !== inputs.clicks && t !== inputs.items,
        ),
      );
      eddyRuns.push(await eddyRun(settings, inputs, prefix, delivery, total));
    }
    const rate = settings.rate ?? Math.max(1, Math.round(eddyRuns[0]!.perSecond / 2 / 100) * 100);
    let latency: LatencyRun | null = null;
    if (settings.latencyEvents > 0) {
      progress(`5 latency at ${formatCount(rate)} clicks/s ...`);
      const latencyPrefix = `${run}.latency`;
      created.push(
        ...Object.values(variantTopics(inputs, latencyPrefix)).filter(
          (t) => t !== inputs.clicks && t !== inputs.items,
        ),
      );
      latency = await latencyRun(settings, kafka, inputs, latencyPrefix, rate);
    }

    const rows = [
      [
        '1 raw kafkajs consume (clicks)',
        formatCount(raw.records),
        formatFixed(raw.seconds, 2),
        formatCount(raw.perSecond),
        '',
        '',
      ],
      [
        '2 raw consume + Avro decode',
        formatCount(rawDecode.records),
        formatFixed(rawDecode.seconds, 2),
        formatCount(rawDecode.perSecond),
        '',
        '',
      ],
      ...eddyRuns.map((r, i) => [
        variants[i]![0],
        formatCount(r.records),
        formatFixed(r.seconds, 2),
        formatCount(r.perSecond),
        formatCount(r.lists),
        `${formatFixed(r.batchLatencyMs.p50, 1)} / ${formatFixed(r.batchLatencyMs.p99, 1)}`,
        `${formatCount(r.written.records)} / ${formatFixed(r.written.mb, 1)} (${formatCount(r.written.itemCheckpointRecords)})`,
        formatCommits(r.commits),
      ]),
    ];
    const out = [
      `Kafka benchmark: ${formatCount(settings.events)} synthetic clicks (+${formatCount(produced.items)} catalog records), ${settings.users} users, ${settings.items} items,`,
      `${settings.partitions} partitions, batch ${settings.batchSize}, coalesce ${settings.coalesceMs} ms, item checkpoint every ${formatCount(settings.itemCheckpointEvery)} records; broker ${settings.brokers.join(',')}`,
      '',
      markdownTable(
        [
          'variant',
          'records',
          'seconds',
          'records/s',
          'lists',
          'fetch→commit p50 / p99 ms',
          'written records / MB (item checkpoints)',
          'commits (batches each)',
        ],
        rows,
      ),
      '',
      `Eddy start-up (topics checked, item checkpoint + catalog read, group joined) to first fetch: ${formatFixed(eddyRuns[0]!.startupSeconds, 2)} s`,
      ...(latency === null ? [] : ['', latencyTable(latency)]),
    ].join('\n');
    process.stdout.write(`${out}\n`);
    if (settings.json) {
      writeFileSync(
        settings.json,
        `${JSON.stringify({ settings, produced, raw, rawDecode, eddy: eddyRuns, latency }, null, 2)}\n`,
      );
    }
  } finally {
    if (!settings.keep && created.length > 0)
      await admin.deleteTopics({ topics: created, timeout: 60_000 }).catch(() => {});
    await admin.disconnect();
  }
}

/** "transactions (batches each)". */
function formatCommits({ commits, units }: { readonly commits: number; readonly units: number }): string {
  return `${formatCount(commits)} (${formatFixed(units / Math.max(1, commits), 2)})`;
}

function latencyTable(latency: LatencyRun): string {
  return markdownTable(
    [
      '5 event → list latency',
      'clicks',
      'lists',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'commits (batches each)',
    ],
    [
      [
        `${formatCount(latency.rate)} clicks/s, exactly-once`,
        formatCount(latency.clicks),
        formatCount(latency.lists),
        formatFixed(latency.p50Ms, 0),
        formatFixed(latency.p90Ms, 0),
        formatFixed(latency.p99Ms, 0),
        formatFixed(latency.maxMs, 0),
        formatCommits(latency.commits),
      ],
    ],
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`kafka.bench: ${error.message}\nRun with --help for the options.\n`);
      process.exit(2);
    }
    process.stderr.write(
      `kafka.bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

/**
 * How long what one instance learns about items takes to reach the others through Kafka (issue
 * 14): N KafkaEddy instances in one consumer group on a real broker, fed synthetic clicks at a
 * fixed rate; every item-updates record applied by an instance other than its writer is timed from
 * its append (the writing batch's commit) to its application. Runs in one process, so the
 * instances share this machine's cores with each other and the broker.
 *
 *   npm run kafka:start && npm run bench:item-propagation [-- --help]
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createKafka } from '../streams/adapters/kafka/kafka-client.js';
import { ensureTopics } from '../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs, KafkaEddy } from '../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../streams/app/kafka-feed.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import { nullObserver } from '../streams/pipeline/pipeline-observer.js';
import { topicNames } from '../streams/pipeline/topics.js';
import { syntheticStream } from '../streams/sources/synthetic.js';
import {
  formatCount,
  formatFixed,
  integerFlag,
  markdownTable,
  parseFlags,
  progress,
  settingsOrExitCode,
} from './support.js';

const USAGE = `Usage: node dist/bench/item-propagation.bench.js [options]

Propagation of the shared item model through Kafka (results on stdout, progress on stderr).

Options:
  --brokers <list>   bootstrap brokers (default 127.0.0.1:9092)
  --instances <n>    KafkaEddy instances in the group (default 2)
  --events <n>       synthetic clicks (default 20,000)
  --rate <n>         clicks per second fed (default 1,000)
  --partitions <n>   partitions of the input topics (default 4)
  --help             show this text`;

interface Settings {
  readonly brokers: string[];
  readonly instances: number;
  readonly events: number;
  readonly rate: number;
  readonly partitions: number;
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      options: {
        brokers: { type: 'string' },
        instances: { type: 'string' },
        events: { type: 'string' },
        rate: { type: 'string' },
        partitions: { type: 'string' },
        help: { type: 'boolean' },
      },
    }),
  );
  if (values.help === true) return null;
  return {
    brokers: (values.brokers ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
    instances: integerFlag('instances', values.instances, 2),
    events: integerFlag('events', values.events, 20_000),
    rate: integerFlag('rate', values.rate, 1_000),
    partitions: integerFlag('partitions', values.partitions, 4),
  };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(() => parseSettings(process.argv.slice(2)), USAGE);
  if (typeof settings === 'number') return settings;
  const prefix = `bench-propagation-${Date.now()}`;
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: settings.brokers, clientId: 'eddy-bench-propagation' });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, eddyTopicSpecs(topics, settings.partitions), { replicationFactor: 1 });
  const events = [
    ...syntheticStream({
      seed: 42,
      events: settings.events,
      contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
    }),
  ];
  const catalog = events.filter((e) => e.kind === 'item');
  const clicks = events.filter((e) => e.kind === 'click');
  const producer = feedProducer(kafka);
  await producer.connect();
  const encode = singleObjectEncoder(topics);
  await feed(producer, catalog, { encode });

  /** Milliseconds from append to application, of records written by another instance. */
  const delays: number[] = [];
  const instances: KafkaEddy[] = [];
  const running: Promise<void>[] = [];
  for (let i = 0; i < settings.instances; i++) {
    const instanceId = `i${i}`;
    const eddy = new KafkaEddy({
      brokers: settings.brokers,
      groupId: prefix,
      instanceId,
      topics,
      partitions: settings.partitions,
      replicationFactor: 1,
      model: DEFAULT_MODEL_CONFIG,
      batchSize: 100,
      lingerMs: 20,
      metrics: null,
      observers: [
        {
          ...nullObserver,
          itemModelApplied: (source, _time, _increments, _behind, appendedAt) => {
            if (source !== instanceId && appendedAt !== undefined) delays.push(Date.now() - appendedAt);
          },
        },
      ],
    });
    instances.push(eddy);
    running.push((await eddy.start()).running);
  }
  const assigned = Date.now() + 120_000;
  while (instances.some((eddy) => eddy.source.assignment().length === 0 || !eddy.ready())) {
    if (Date.now() > assigned) throw new Error('instances did not all get partitions within 120 s');
    await sleep(50);
  }
  progress(
    `item-propagation: ${settings.instances} instances ready; feeding ${formatCount(clicks.length)} clicks at ${formatCount(settings.rate)}/s`,
  );
  const started = performance.now();
  await feed(producer, clicks, { encode, rate: settings.rate });
  const done = Date.now() + 300_000;
  for (;;) {
    const offsets = await admin.fetchOffsets({ groupId: prefix, topics: [topics.clicks] });
    const ends = await admin.fetchTopicOffsets(topics.clicks);
    const lag = ends.reduce((sum, end) => {
      const committed = offsets[0]?.partitions.find((p) => p.partition === end.partition)?.offset ?? '0';
      return sum + Math.max(0, Number(end.offset) - Math.max(0, Number(committed)));
    }, 0);
    if (lag === 0) break;
    if (Date.now() > done) throw new Error(`still ${lag} clicks behind after 300 s`);
    await sleep(200);
  }
  const updatesEnd = Number((await admin.fetchTopicOffsets(topics.itemUpdates))[0]?.offset ?? 0);
  while (instances.some((eddy) => (eddy.pipeline.context.replica?.appliedOffset ?? 0) < updatesEnd)) {
    if (Date.now() > done) throw new Error('replicas did not apply the whole item-updates topic');
    await sleep(50);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const eddy of instances) await eddy.stop();
  await Promise.all(running);
  await producer.disconnect();
  await admin.deleteTopics({ topics: Object.values(topics), timeout: 30_000 }).catch(() => {});
  await admin.disconnect();

  delays.sort((a, b) => a - b);
  process.stdout.write(
    `${markdownTable(
      [
        'instances',
        'clicks',
        'rate fed /s',
        'item-updates end offset',
        'records applied by others',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'seconds',
      ],
      [
        [
          String(settings.instances),
          formatCount(clicks.length),
          formatCount(settings.rate),
          formatCount(updatesEnd),
          formatCount(delays.length),
          formatFixed(quantile(delays, 0.5), 0),
          formatFixed(quantile(delays, 0.9), 0),
          formatFixed(quantile(delays, 0.99), 0),
          formatFixed(delays[delays.length - 1] ?? Number.NaN, 0),
          formatFixed(seconds, 1),
        ],
      ],
    )}\n`,
  );
  return 0;
}

process.exitCode = await main();

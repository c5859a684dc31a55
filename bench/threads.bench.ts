/**
 * `eddy --threads N` against `--threads 1` on a real broker, side by side in one run: the `eddy`
 * command (Kafka mode, exactly-once) consumes the same synthetic input once per round and thread
 * count, alternating, each run on topics and a consumer group of its own. The input is produced
 * only once every thread has joined the group (so the window measures processing, not joining or
 * the rebalance after it), and the rate is input records per second from the group's first
 * committed offset to its last, read from the broker, so the process is measured from outside as
 * an operator would see it.
 *
 *   infra/kafka/start.sh && npm run build && node dist/bench/threads.bench.js [--help]
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { createKafka, parseBrokers } from '../streams/adapters/kafka/kafka-client.js';
import { ensureTopics } from '../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../streams/app/kafka-feed.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import { topicNames } from '../streams/pipeline/topics.js';
import type { StreamEvent } from '../streams/sources/stream-event.js';
import { syntheticStream } from '../streams/sources/synthetic.js';
import {
  formatCount,
  formatFixed,
  integerFlag,
  markdownTable,
  progress,
  repositoryRoot,
  UsageError,
} from './support.js';

const USAGE = `Usage: node dist/bench/threads.bench.js [options]

Runs the eddy command in Kafka mode (exactly-once) with --threads 1 and --threads N, alternating
them --repeat times; each run gets fresh topics, waits until every thread has joined the group,
then produces the same synthetic input. Prints input records per second (first to last committed
offset of the group) per thread count, median [min–max], and the ratio within each round. Needs a
broker (infra/kafka/start.sh). Results on stdout, progress on stderr.

With --embedded, runs the embedded eddy command instead (no broker): the same synthetic replay
with each thread count, the rate read from its "finished" line (clicks / seconds from the start of
processing), and the whole process's wall time beside it. --ceiling adds, per thread count N > 1,
N independent single-thread processes run at once (each replaying the whole stream, sharing
nothing): their summed rate is what this machine gives N-way parallel work, the ceiling for N
threads.

Options:
  --embedded           the embedded command (in-process log) instead of Kafka mode
  --ceiling            with --embedded: also N independent processes at once (see above)
  --brokers <list>     host:port,... (default: $KAFKA_BROKERS or 127.0.0.1:9092)
  --threads <list>     thread counts compared (default 1,2)
  --events <n>         synthetic clicks per run (default 40,000)
  --users <n>          synthetic users (default 2,000)
  --items <n>          synthetic catalog size (default 3,000)
  --partitions <n>     partitions of every topic (default 8)
  --repeat <r>         rounds (default 2)
  --json <file>        also write the results as JSON
  --help               show this text`;

interface Settings {
  readonly brokers: string[];
  readonly threads: number[];
  readonly events: number;
  readonly users: number;
  readonly items: number;
  readonly partitions: number;
  readonly repeat: number;
  readonly json: string | null;
  readonly embedded: boolean;
  readonly ceiling: boolean;
}

function parse(argv: readonly string[]): Settings | null {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      brokers: { type: 'string' },
      threads: { type: 'string' },
      events: { type: 'string' },
      users: { type: 'string' },
      items: { type: 'string' },
      partitions: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean' },
      embedded: { type: 'boolean' },
      ceiling: { type: 'boolean' },
    },
  });
  if (values.help) return null;
  const threads = (values.threads ?? '1,2').split(',').map((t) => integerFlag('threads', t.trim(), 1, 1));
  return {
    brokers: parseBrokers(values.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'),
    threads,
    events: integerFlag('events', values.events, 40_000, 1),
    users: integerFlag('users', values.users, 2_000, 1),
    items: integerFlag('items', values.items, 3_000, 10),
    partitions: integerFlag('partitions', values.partitions, 8, 1),
    repeat: integerFlag('repeat', values.repeat, 2, 1),
    json: values.json ?? null,
    embedded: values.embedded === true,
    ceiling: values.ceiling === true,
  };
}

interface Run {
  readonly threads: number;
  readonly records: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Embedded runs: the process from spawn to exit. */
  readonly wallSeconds?: number;
}

/** The embedded command over the synthetic replay; the rate from its "finished" line. */
async function runEmbeddedOnce(settings: Settings, threads: number): Promise<Run> {
  const eddyBin = join(repositoryRoot(), 'dist', 'streams', 'cli', 'eddy.js');
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('EDDY_') || key === 'KAFKA_BROKERS') delete env[key];
  const args = [
    eddyBin,
    ...['--threads', String(threads), '--events', String(settings.events)],
    ...['--users', String(settings.users), '--items', String(settings.items)],
    ...['--partitions', String(settings.partitions), '--http-port', '0', '--log-format', 'json'],
    ...['--summary-every', '1h', '--examples', '0'],
  ];
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallSeconds = (performance.now() - started) / 1000;
  const finished = stderr
    .split('\n')
    .filter((line) => line.includes('"finished: '))
    .map((line) => JSON.parse(line) as { msg: string })[0];
  const match = /^finished: ([\d,]+) events in ([\d.]+)s$/.exec(finished?.msg ?? '');
  if (code !== 0 || match === null) throw new Error(`eddy --threads ${threads} failed (${code}):\n${stderr}`);
  const records = Number(match[1]!.replaceAll(',', ''));
  const seconds = Number(match[2]);
  return { threads, records, seconds, perSecond: records / seconds, wallSeconds };
}

async function committed(admin: Admin, group: string, topics: readonly string[]): Promise<number> {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
  return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

async function runOnce(
  settings: Settings,
  kafka: ReturnType<typeof createKafka>,
  admin: Admin,
  events: readonly StreamEvent[],
  threads: number,
): Promise<Run> {
  const prefix = `bench-threads-${threads}-${randomUUID().slice(0, 8)}`;
  const topics = topicNames(prefix);
  await ensureTopics(admin, eddyTopicSpecs(topics, settings.partitions), { replicationFactor: 1 });
  const eddyBin = join(repositoryRoot(), 'dist', 'streams', 'cli', 'eddy.js');
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('EDDY_') || key === 'KAFKA_BROKERS') delete env[key];
  const child = spawn(
    process.execPath,
    [
      eddyBin,
      '--kafka-brokers',
      settings.brokers.join(','),
      '--topic-prefix',
      prefix,
      '--group-id',
      prefix,
      '--partitions',
      String(settings.partitions),
      '--threads',
      String(threads),
      '--http-port',
      '0',
      '--log-format',
      'json',
      '--summary-every',
      '1h',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const input = [topics.clicks, topics.items];
  try {
    // Every thread in the group before any input: the window measures processing, not joining.
    const joined = performance.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`eddy exited (${child.exitCode}):\n${stderr}`);
      const { groups } = await admin.describeGroups([prefix]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === threads) break;
      if (performance.now() > joined) throw new Error(`${threads} threads did not join within 2 minutes`);
      await sleep(100);
    }
    const producer = feedProducer(kafka);
    await producer.connect();
    const fed = await feed(producer, events, { encode: singleObjectEncoder(topics) });
    await producer.disconnect();
    const total = fed.clicks + fed.items;
    let first: number | null = null;
    let firstAt = 0;
    const deadline = performance.now() + 900_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`eddy exited (${child.exitCode}):\n${stderr}`);
      const done = await committed(admin, prefix, input).catch(() => 0);
      const now = performance.now();
      if (first === null && done > 0) {
        first = done;
        firstAt = now;
      }
      if (done >= total && first !== null) {
        const records = done - first;
        const seconds = (now - firstAt) / 1000;
        return { threads, records, seconds, perSecond: records / seconds };
      }
      if (now > deadline) throw new Error(`eddy --threads ${threads} did not catch up within 15 minutes`);
      await sleep(50);
    }
  } finally {
    await stop(child);
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  }
}

/** Runs every thread count once per round, alternating the order, and prints the comparison. */
async function compare(settings: Settings, runOne: (threads: number) => Promise<Run>): Promise<number> {
  return compareVariants(
    settings,
    settings.threads.map((threads) => ({
      label: `--threads ${threads}`,
      threads,
      run: () => runOne(threads),
    })),
  );
}

interface Variant {
  readonly label: string;
  run(): Promise<Run>;
}

/** N independent single-thread processes at once; their rates summed. */
async function independentProcesses(settings: Settings, processes: number): Promise<Run> {
  const runs = await Promise.all(Array.from({ length: processes }, () => runEmbeddedOnce(settings, 1)));
  const records = runs.reduce((total, run) => total + run.records, 0);
  const perSecond = runs.reduce((total, run) => total + run.perSecond, 0);
  const wallSeconds = Math.max(...runs.map((run) => run.wallSeconds ?? 0));
  return { threads: processes, records, seconds: records / perSecond, perSecond, wallSeconds };
}

async function compareVariants(settings: Settings, variants: readonly Variant[]): Promise<number> {
  const runs: (Run & { readonly label: string })[] = [];
  for (let round = 0; round < settings.repeat; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const run = { ...(await variant.run()), label: variant.label };
      progress(
        `round ${round + 1}: ${variant.label}: ${formatCount(run.records)} records in ${formatFixed(run.seconds, 1)}s = ${formatCount(Math.round(run.perSecond))}/s${run.wallSeconds === undefined ? '' : ` (process ${formatFixed(run.wallSeconds, 1)}s)`}`,
      );
      runs.push(run);
    }
  }
  const base = variants[0]!.label;
  const rows = variants.map(({ label }) => {
    const rates = runs.filter((r) => r.label === label).map((r) => r.perSecond);
    const ratios = [];
    for (let round = 0; round < settings.repeat; round++) {
      const mine = runs.filter((r) => r.label === label)[round]!.perSecond;
      const theirs = runs.filter((r) => r.label === base)[round]!.perSecond;
      ratios.push(mine / theirs);
    }
    return [
      label,
      `${formatCount(Math.round(median(rates)))} [${formatCount(Math.round(Math.min(...rates)))}–${formatCount(Math.round(Math.max(...rates)))}]`,
      `${formatFixed(median(ratios), 2)}× [${formatFixed(Math.min(...ratios), 2)}–${formatFixed(Math.max(...ratios), 2)}]`,
    ];
  });
  process.stdout.write(
    `${markdownTable(['threads', 'records/s median [range]', `vs ${base}, per round`], rows)}\n`,
  );
  if (settings.json) writeFileSync(settings.json, `${JSON.stringify({ settings, runs }, null, 2)}\n`);
  return 0;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(argv: readonly string[]): Promise<number> {
  let settings: Settings | null;
  try {
    settings = parse(argv);
  } catch (error) {
    if (error instanceof UsageError || error instanceof TypeError) {
      process.stderr.write(`threads.bench: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (settings === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (settings.embedded) {
    const variants: Variant[] = settings.threads.map((threads) => ({
      label: `--threads ${threads}`,
      run: () => runEmbeddedOnce(settings, threads),
    }));
    if (settings.ceiling) {
      for (const threads of settings.threads.filter((n) => n > 1)) {
        variants.push({
          label: `${threads} × --threads 1, independent`,
          run: () => independentProcesses(settings, threads),
        });
      }
    }
    return compareVariants(settings, variants);
  }
  const kafka = createKafka({ brokers: settings.brokers, clientId: 'eddy-bench-threads' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const events = [
      ...syntheticStream({
        seed: 42,
        users: settings.users,
        items: settings.items,
        events: settings.events,
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    return await compare(settings, (threads) => runOnce(settings, kafka, admin, events, threads));
  } finally {
    await admin.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `threads.bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

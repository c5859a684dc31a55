/**
 * What Prometheus metrics cost on the hot path: the embedded pipeline with an EddyMetrics registry
 * (counters, histograms, default process metrics, and a scrape at a fixed interval as Prometheus
 * would do) against the same pipeline with `metrics: null`, on the same prefed synthetic input, in
 * one process, alternating the two (rotating which goes first) so a noisy machine affects both.
 * The ratio is taken within a round; the table reports median [min–max] over the rounds.
 *
 *   npm run build && node dist/bench/metrics-overhead.bench.js [--help]
 */

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EmbeddedEddy } from '../streams/app/embedded.js';
import { EDDY_SETTINGS } from '../streams/cli/eddy-settings.js';
import { codecs } from '../streams/codec/avro.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import { EddyMetrics } from '../streams/observe/metrics.js';
import { nullObserver, type PipelineObserver } from '../streams/pipeline/pipeline-observer.js';
import { topicNames } from '../streams/pipeline/topics.js';
import type { OutgoingRecord } from '../streams/ports/event-log.js';
import { DEFAULT_SYNTHETIC_OPTIONS, syntheticStream } from '../streams/sources/synthetic.js';
import {
  formatCount,
  formatFixed,
  formatSpread,
  garbageCollector,
  integerFlag,
  markdownTable,
  parseFlags,
  progress,
  type Spread,
  spread,
  UsageError,
} from './support.js';

const USAGE = `Usage: node dist/bench/metrics-overhead.bench.js [options]

Runs the embedded pipeline on one prefed synthetic input with metrics on (EddyMetrics, scraped
every --scrape-every) and off (metrics: null), alternating --repeat times in one process, and
prints median [min–max] per variant and the on/off ratio within each round, for events per second
of wall time and per second of the process's CPU time (results on stdout, progress on stderr).

Options:
  --events <n>         synthetic click events (default ${formatCount(100_000)})
  --repeat <r>         rounds; each runs both variants once, alternating which goes first (default 5),
                       after one untimed warm-up run of each
  --partitions <n>     partitions of the input topics (default ${EDDY_SETTINGS.partitions.default}, as eddy)
  --batch-size <n>     records per batch (default ${EDDY_SETTINGS.batchSize.default}, as eddy)
  --scrape-every <ms>  how often the "on" variant renders /metrics, 0 = never (default 1000); taken
                       at the first commit after each interval
  --json <file>        also write the results as JSON
  --help               show this text

Events are input records (catalog and clicks); wall time runs from the first fetch to the last
commit. CPU time (process.cpuUsage, user + system) is the steadier figure on a shared machine: other
processes slow the wall clock of both variants, but not the CPU this one spends per event.`;

interface Settings {
  readonly events: number;
  readonly repeat: number;
  readonly partitions: number;
  readonly batchSize: number;
  readonly scrapeEveryMs: number;
  readonly json: string | null;
}

type VariantId = 'on' | 'off';

interface Sample {
  readonly round: number;
  readonly variant: VariantId;
  readonly events: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
  readonly cpuSeconds: number;
  /** Events per second of this process's CPU time (user + system): less sensitive to other load. */
  readonly eventsPerCpuSecond: number;
  readonly scrapes: number;
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() => parseOptions(argv));
  if (values.help === true) return null;
  return {
    events: integerFlag('events', values.events, 100_000, 1),
    repeat: integerFlag('repeat', values.repeat, 5, 1),
    partitions: integerFlag('partitions', values.partitions, EDDY_SETTINGS.partitions.default, 1),
    batchSize: integerFlag('batch-size', values['batch-size'], EDDY_SETTINGS.batchSize.default, 1),
    scrapeEveryMs: integerFlag('scrape-every', values['scrape-every'], 1000, 0),
    json: values.json ?? null,
  };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      events: { type: 'string' },
      repeat: { type: 'string' },
      partitions: { type: 'string' },
      'batch-size': { type: 'string' },
      'scrape-every': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}

/** One run of the pipeline over the prefed input; returns what it processed and how long it took. */
async function runOnce(
  records: readonly OutgoingRecord[],
  settings: Settings,
  variant: VariantId,
): Promise<{ events: number; elapsedMs: number; cpuSeconds: number; scrapes: number }> {
  const metrics = variant === 'on' ? new EddyMetrics() : null;
  let scrapes = 0;
  const pending: Promise<string>[] = [];
  // A prefed run never yields to the timers phase (the source is re-pumped from microtasks), so a
  // setInterval scraper would never fire: the scrape is taken from the commit hook instead.
  let lastScrape = performance.now();
  const scraper: PipelineObserver = {
    ...nullObserver,
    committed: () => {
      if (metrics === null || settings.scrapeEveryMs === 0) return;
      const now = performance.now();
      if (now - lastScrape < settings.scrapeEveryMs) return;
      lastScrape = now;
      scrapes++;
      pending.push(metrics.registry.metrics());
    },
  };
  const eddy = new EmbeddedEddy({
    model: DEFAULT_MODEL_CONFIG,
    partitions: settings.partitions,
    batchSize: settings.batchSize,
    // Prefed: every batch but a partition's last is full, so a coalescing window never applies.
    lingerMs: 0,
    metrics,
    observers: metrics ? [scraper] : [],
  });
  eddy.log.produce(records);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await eddy.runToCompletion([]);
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await Promise.all(pending);
  const s = eddy.stats.summary();
  const events = s.clicks + s.items + s.deadLetters;
  if (events !== records.length) progress(`warning: processed ${events} of ${records.length} records`);
  return { events, elapsedMs, cpuSeconds, scrapes };
}

async function main(argv: readonly string[]): Promise<number> {
  let settings: Settings | null;
  try {
    settings = parseSettings(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`metrics-overhead: ${error.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (settings === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const label =
    `synthetic (seed ${DEFAULT_SYNTHETIC_OPTIONS.seed}, ${DEFAULT_SYNTHETIC_OPTIONS.users} users, ` +
    `${DEFAULT_SYNTHETIC_OPTIONS.items} items, ${formatCount(settings.events)} clicks)`;
  progress(`encoding ${label}…`);
  // Encoded once, as any producer writes them; both variants replay the same buffers.
  const topics = topicNames();
  const records: OutgoingRecord[] = [...syntheticStream({ events: settings.events })].map((e) =>
    e.kind === 'click'
      ? { topic: topics.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
      : { topic: topics.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) },
  );

  const gc = garbageCollector();
  if (gc === null) progress('note: no garbage collector access; variants start from an unsettled heap');
  // One untimed pass of each first: the first runs in a process pay for JIT compilation.
  for (const variant of ['on', 'off'] as const) {
    const { elapsedMs } = await runOnce(records, settings, variant);
    progress(`[warm-up] metrics ${variant}: ${formatFixed(elapsedMs / 1000, 2)} s (not counted)`);
  }
  const samples: Sample[] = [];
  for (let round = 1; round <= settings.repeat; round++) {
    const order: VariantId[] = round % 2 === 1 ? ['on', 'off'] : ['off', 'on'];
    for (const variant of order) {
      gc?.();
      const { events, elapsedMs, cpuSeconds, scrapes } = await runOnce(records, settings, variant);
      const eventsPerSecond = events / (elapsedMs / 1000);
      const eventsPerCpuSecond = events / cpuSeconds;
      samples.push({
        round,
        variant,
        events,
        elapsedMs,
        eventsPerSecond,
        cpuSeconds,
        eventsPerCpuSecond,
        scrapes,
      });
      progress(
        `[round ${round}/${settings.repeat}] metrics ${variant}: ${formatCount(eventsPerSecond)} events/s, ` +
          `${formatCount(eventsPerCpuSecond)} events/CPU-s (${formatFixed(elapsedMs / 1000, 2)} s wall, ` +
          `${formatFixed(cpuSeconds, 2)} s CPU${variant === 'on' ? `, ${scrapes} scrapes` : ''})`,
      );
    }
  }

  const of = (variant: VariantId): Sample[] => samples.filter((s) => s.variant === variant);
  const ratios = (measure: (s: Sample) => number): number[] =>
    of('on').map((on) => {
      const off = of('off').find((s) => s.round === on.round);
      return off ? measure(on) / measure(off) : Number.NaN;
    });
  const percent = (v: number): string => `${formatFixed((1 - v) * 100, 1)} %`;
  // Lost throughput is 1 − ratio, so its range runs from the largest ratio to the smallest.
  const lost = (r: Spread): Spread => ({ median: r.median, min: r.max, max: r.min });
  const rows: string[][] = [];
  const result: Record<string, { off: Spread; on: Spread; ratio: Spread }> = {};
  for (const [unit, measure] of [
    ['events/s (wall clock)', (s: Sample) => s.eventsPerSecond],
    ['events per CPU-second', (s: Sample) => s.eventsPerCpuSecond],
  ] as const) {
    const off = spread(of('off').map(measure));
    const on = spread(of('on').map(measure));
    const ratio = spread(ratios(measure));
    result[unit] = { off, on, ratio };
    rows.push([
      unit,
      formatSpread(off, formatCount),
      formatSpread(on, formatCount),
      formatSpread(ratio, (v) => v.toFixed(3)),
      formatSpread(lost(ratio), percent),
    ]);
  }
  const scraped = settings.scrapeEveryMs > 0 ? `, scraped every ${settings.scrapeEveryMs} ms` : '';
  const table = markdownTable(
    [
      'measure',
      'metrics off (null)',
      `metrics on (EddyMetrics${scraped})`,
      'on ÷ off, per round',
      'throughput lost',
    ],
    rows,
  );
  const command = `node dist/bench/metrics-overhead.bench.js ${argv.join(' ')}`.trim();
  process.stdout.write(
    [
      `Input: ${label}, ${formatCount(records.length)} records; ${settings.partitions} partitions, batch size ${settings.batchSize}; ${settings.repeat} rounds, alternating.`,
      `Node ${process.version}, ${process.platform}/${process.arch}. Command: ${command}`,
      '',
      table,
      '',
    ].join('\n'),
  );
  if (settings.json !== null) {
    writeFileSync(settings.json, `${JSON.stringify({ settings, label, samples, result }, null, 2)}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `metrics-overhead: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

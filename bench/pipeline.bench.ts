/**
 * Pipeline throughput benchmark: the embedded pipeline against the ceiling its transport and codec
 * impose, measured side by side in one process so a noisy machine affects every variant alike.
 *
 *   A  log + decode       the in-memory log source replays the input, every record is Avro-decoded,
 *                         every batch released: no model, no lists
 *   B  model only         every decoded event applied to an EddyModel synchronously: no log, no
 *                         retrieval, no commit (the per-event update cost)
 *   C  full pipeline      EmbeddedEddy end to end (decode → learn → refresh → recommend → commit)
 *   D  full, batch size 1 C with one record per batch: one list per click, nothing coalesced
 *
 * All variants replay the same encoded records (generated once). Rounds alternate the variants
 * (rotating which goes first); ratios are taken within a round. Events are input records (catalog
 * and clicks); C and D are prefed (all input in the log before the timer starts, as the tests'
 * `runPrefed` does), so every batch is full and the figures do not depend on a producer's pace.
 *
 *   npm run build && node dist/bench/pipeline.bench.js [--dataset synthetic|movielens] [--help]
 */

import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { InMemoryLog } from '../streams/adapters/memory/in-memory-log.js';
import { MemoryStateStore } from '../streams/adapters/memory/memory-state-store.js';
import { EmbeddedEddy } from '../streams/app/embedded.js';
import { EDDY_SETTINGS } from '../streams/cli/eddy-settings.js';
import { codecs } from '../streams/codec/avro.js';
import { EddyModel } from '../streams/model/eddy-model.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import type { UserPreferences } from '../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../streams/model/user-state-serde.js';
import { topicNames } from '../streams/pipeline/topics.js';
import type { OutgoingRecord } from '../streams/ports/event-log.js';
import { loadMovieLens } from '../streams/sources/movielens.js';
import type { StreamEvent } from '../streams/sources/stream-event.js';
import { DEFAULT_SYNTHETIC_OPTIONS, syntheticStream } from '../streams/sources/synthetic.js';
import {
  formatCount,
  formatFixed,
  formatSpread,
  garbageCollector,
  integerFlag,
  MB,
  markdownTable,
  parseFlags,
  progress,
  RssSampler,
  repositoryRoot,
  type Spread,
  settingsOrExitCode,
  spread,
  UsageError,
} from './support.js';

const USAGE = `Usage: node dist/bench/pipeline.bench.js [options]

Replays one input through seven variants, alternating them --repeat times in one process, and
prints median [min–max] per variant (results on stdout, progress on stderr):
  A  log + decode          in-memory log source + Avro decoding, batches released (the ceiling)
  B  model only            every event applied to an EddyModel synchronously (no retrieval)
  C  full pipeline         EmbeddedEddy end to end, prefed
  D  full, batch size 1    C with one record per batch: one list per click, no coalescing
  E  C, fixed ranking      C without learned ranking weights and the next-item signal (their price)
  F  C, short context      C with 10 co-visitation seeds, window 10, untimed pairs (the price of 20)
  G  D, no session-kNN     D with the session-kNN signal off (its price per list: G against D)

Options:
  --dataset <name>     synthetic (default) or movielens
  --path <dir>         MovieLens directory (default: ../shared/datasets/ml-100k from the repository root)
  --events <n>         synthetic: click events to generate (default ${formatCount(100_000)});
                       movielens: keep only the first n clicks in time order (default: all)
  --repeat <r>         rounds; each runs every variant once (default 3)
  --variants <list>    comma-separated subset of A,B,C,D,E,F,G (default: all)
  --partitions <n>     partitions of the input topics (default ${EDDY_SETTINGS.partitions.default}, as eddy)
  --batch-size <n>     records per batch for A and C (default ${EDDY_SETTINGS.batchSize.default}, as eddy)
  --json <file>        also write the results as JSON
  --help               show this text

Events are input records (catalog and clicks). Latency is fetch → commit of the batch behind each
list (RunStats, most recent 16,384 lists). Peak RSS is sampled while a variant runs (every 10 ms, and
every 4,096 events in B's synchronous loop); "heap after GC" is measured once the variant's objects
are unreachable, so growth across rounds would point to a leak.`;

type VariantId = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G';
const VARIANT_IDS: readonly VariantId[] = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];

interface Settings {
  readonly dataset: 'synthetic' | 'movielens';
  readonly path: string;
  readonly events: number | null;
  readonly repeat: number;
  readonly variants: readonly VariantId[];
  readonly partitions: number;
  readonly batchSize: number;
  readonly json: string | null;
}

interface BenchInput {
  readonly label: string;
  /** Encoded once, replayed by every variant; the log keeps these buffers without copying. */
  readonly records: readonly OutgoingRecord[];
  readonly clicks: number;
  readonly items: number;
}

/** What one variant reports for one round. */
interface Measured {
  readonly elapsedMs: number;
  readonly events: number;
  readonly lists: number | null;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
  /** Anything that makes the round suspect (records lost, dead letters). */
  readonly notes: readonly string[];
}

interface Sample extends Measured {
  readonly round: number;
  readonly eventsPerSecond: number;
  readonly listsPerSecond: number | null;
  readonly rssStartMb: number;
  readonly rssPeakMb: number;
  /**
   * Heap and external (Buffer) memory after a full GC while the variant's state (log, model,
   * pipeline) is still reachable: what a finished run holds. The log's record bytes are external.
   */
  readonly liveHeapMb: number;
  readonly liveExternalMb: number;
  /** Heap, external memory and RSS after a full GC once that state is unreachable. */
  readonly heapAfterGcMb: number;
  readonly externalAfterGcMb: number;
  readonly rssAfterGcMb: number;
}

/** A round's figures plus the state it built, kept reachable until its live size is measured. */
interface Outcome {
  readonly measured: Measured;
  readonly state: unknown;
}

interface Variant {
  readonly id: VariantId;
  readonly name: string;
  run(input: BenchInput, settings: Settings, sampler: RssSampler): Promise<Outcome>;
}

const TOPICS = topicNames();
const MODEL = DEFAULT_MODEL_CONFIG;
/** E's model: the ranking as before learned weights and the next-item signal, to price them side by side. */
const FIXED_RANKING_MODEL: typeof MODEL = {
  ...MODEL,
  ranking: {
    ...MODEL.ranking,
    weights: { ...MODEL.ranking.weights, nextItem: 0 },
    learning: { ...MODEL.ranking.learning, rate: 0 },
  },
};
/** F's model: the co-visitation context before time-aware seeds (10 seeds, window 10, pairs untimed). */
const SHORT_CONTEXT_MODEL: typeof MODEL = {
  ...MODEL,
  coVisitation: { ...MODEL.coVisitation, window: 10, pairHalfLifeMs: 0 },
  retrieval: { ...MODEL.retrieval, coVisitationSeeds: 10 },
};

/** G's model: session-kNN switched off (neither retrieved nor scored), to price it per list against D. */
const NO_SESSION_KNN_MODEL: typeof MODEL = {
  ...MODEL,
  ranking: { ...MODEL.ranking, weights: { ...MODEL.ranking.weights, sessionKnn: 0 } },
};

// ---------------------------------------------------------------------------------------------
// Input

function encode(e: StreamEvent): OutgoingRecord {
  // As EmbeddedEddy.encode (and any producer) writes them: clicks keyed by user, items by item.
  return e.kind === 'click'
    ? { topic: TOPICS.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
    : { topic: TOPICS.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) };
}

function encodeAll(label: string, stream: Iterable<StreamEvent>, maxClicks: number): BenchInput {
  const records: OutgoingRecord[] = [];
  let clicks = 0;
  let items = 0;
  for (const e of stream) {
    if (e.kind === 'click') {
      if (clicks >= maxClicks) continue;
      clicks++;
    } else {
      items++;
    }
    records.push(encode(e));
  }
  return { label, records, clicks, items };
}

function decode(record: OutgoingRecord): StreamEvent {
  const bytes = record.value ?? new Uint8Array(0);
  return record.topic === TOPICS.items
    ? { kind: 'item', event: codecs.itemEvent.decode(bytes) }
    : { kind: 'click', event: codecs.clickEvent.decode(bytes) };
}

// ---------------------------------------------------------------------------------------------
// Variants

const logAndDecode: Variant = {
  id: 'A',
  name: 'log + decode',
  async run(input, settings) {
    const log = new InMemoryLog();
    log.createTopics([
      { name: TOPICS.items, partitions: settings.partitions },
      { name: TOPICS.clicks, partitions: settings.partitions },
    ]);
    log.produce(input.records);
    const source = log.source({
      groupId: 'bench',
      topics: [TOPICS.items, TOPICS.clicks],
      maxBatchSize: settings.batchSize,
      lingerMs: 0,
      follow: false,
    });
    let decoded = 0;
    let checksum = 0;
    const started = performance.now();
    await new Promise<void>((done, fail) => {
      source.batches().subscribe({
        next: (batch) => {
          const itemTopic = batch.topic === TOPICS.items;
          for (const record of batch.records) {
            if (record.value === null) continue;
            checksum += itemTopic
              ? codecs.itemEvent.decode(record.value).updatedAt
              : codecs.clickEvent.decode(record.value).eventTime;
            decoded++;
          }
          batch.release();
        },
        error: fail,
        complete: done,
      });
    });
    const elapsedMs = performance.now() - started;
    const notes: string[] = [];
    if (decoded !== input.records.length) notes.push(`decoded ${decoded} of ${input.records.length} records`);
    if (!Number.isFinite(checksum)) notes.push('checksum is not finite');
    return { measured: { elapsedMs, events: decoded, lists: null, latencyMs: null, notes }, state: log };
  },
};

const modelOnly: Variant = {
  id: 'B',
  name: 'model only',
  async run(input, _settings, sampler) {
    // Decoded before the timer: B isolates the model update, and A already measures decoding.
    const events = input.records.map(decode);
    const users = new MemoryStateStore<UserPreferences>({
      name: 'user-preferences',
      changelogTopic: TOPICS.userChangelog,
      serde: userPreferencesSerde,
    });
    const model = new EddyModel(MODEL, users);
    sampler.sample();
    const started = performance.now();
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.kind === 'click') model.applyClick(e.event);
      else model.applyItem(e.event);
      if ((i & 4095) === 4095) sampler.sample();
    }
    const elapsedMs = performance.now() - started;
    const notes = model.users.size === 0 && input.clicks > 0 ? ['no user state after the run'] : [];
    return {
      measured: { elapsedMs, events: events.length, lists: null, latencyMs: null, notes },
      state: model,
    };
  },
};

function fullPipeline(
  id: VariantId,
  name: string,
  batchSizeOf: (settings: Settings) => number,
  model = MODEL,
): Variant {
  return {
    id,
    name,
    async run(input, settings) {
      const eddy = new EmbeddedEddy({
        model,
        partitions: settings.partitions,
        batchSize: batchSizeOf(settings),
        // Prefed: every batch but a partition's last is full, so a coalescing window never applies.
        lingerMs: 0,
        metrics: null,
      });
      eddy.log.produce(input.records);
      const started = performance.now();
      await eddy.runToCompletion([]);
      const elapsedMs = performance.now() - started;
      const s = eddy.stats.summary();
      const processed = s.clicks + s.items + s.deadLetters;
      const notes: string[] = [];
      if (processed !== input.records.length) {
        notes.push(`processed ${processed} of ${input.records.length} records`);
      }
      if (s.deadLetters > 0) notes.push(`${s.deadLetters} dead letters`);
      return {
        measured: { elapsedMs, events: processed, lists: s.lists, latencyMs: s.latencyMs, notes },
        state: eddy,
      };
    },
  };
}

const VARIANTS: Readonly<Record<VariantId, Variant>> = {
  A: logAndDecode,
  B: modelOnly,
  C: fullPipeline('C', 'full pipeline', (s) => s.batchSize),
  D: fullPipeline('D', 'full pipeline, batch size 1', () => 1),
  E: fullPipeline('E', 'C, fixed weights, no next-item', (s) => s.batchSize, FIXED_RANKING_MODEL),
  F: fullPipeline('F', 'C, 10 seeds, window 10', (s) => s.batchSize, SHORT_CONTEXT_MODEL),
  G: fullPipeline('G', 'D without session-kNN', () => 1, NO_SESSION_KNN_MODEL),
};

// ---------------------------------------------------------------------------------------------
// Arguments

/** The parsed settings, or null when `--help` was asked for. */
function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() => parseOptions(argv));
  if (values.help === true) return null;
  const dataset = values.dataset ?? 'synthetic';
  if (dataset !== 'synthetic' && dataset !== 'movielens') {
    throw new UsageError(`--dataset must be synthetic or movielens, got ${JSON.stringify(dataset)}`);
  }
  if (values.path !== undefined && dataset !== 'movielens') {
    throw new UsageError('--path applies to --dataset movielens only');
  }
  const variants = (values.variants ?? VARIANT_IDS.join(','))
    .split(',')
    .map((v) => v.trim().toUpperCase())
    .filter((v) => v !== '');
  for (const v of variants) {
    if (!(VARIANT_IDS as readonly string[]).includes(v)) {
      throw new UsageError(
        `--variants takes a comma-separated subset of A,B,C,D,E,F, got ${JSON.stringify(v)}`,
      );
    }
  }
  if (variants.length === 0) throw new UsageError('--variants is empty');
  return {
    dataset,
    path:
      values.path !== undefined
        ? resolve(values.path)
        : resolve(repositoryRoot(), '../shared/datasets/ml-100k'),
    events:
      values.events === undefined
        ? dataset === 'synthetic'
          ? 100_000
          : null
        : integerFlag('events', values.events, 0),
    repeat: integerFlag('repeat', values.repeat, 3),
    variants: VARIANT_IDS.filter((id) => variants.includes(id)),
    partitions: integerFlag('partitions', values.partitions, EDDY_SETTINGS.partitions.default),
    batchSize: integerFlag('batch-size', values['batch-size'], EDDY_SETTINGS.batchSize.default),
    json: values.json ?? null,
  };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      dataset: { type: 'string' },
      path: { type: 'string' },
      events: { type: 'string' },
      repeat: { type: 'string' },
      variants: { type: 'string' },
      partitions: { type: 'string' },
      'batch-size': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}

/** The input, or a reason to skip the run. */
function loadInput(settings: Settings): BenchInput | { skipped: string } {
  if (settings.dataset === 'synthetic') {
    const events = settings.events ?? 100_000;
    const label = `synthetic (seed ${DEFAULT_SYNTHETIC_OPTIONS.seed}, ${DEFAULT_SYNTHETIC_OPTIONS.users} users, ${DEFAULT_SYNTHETIC_OPTIONS.items} items, ${formatCount(events)} clicks)`;
    return encodeAll(label, syntheticStream({ events }), Number.POSITIVE_INFINITY);
  }
  if (!existsSync(settings.path)) {
    return {
      skipped:
        `MovieLens dataset not found at ${settings.path}. It is not redistributable, so it is not in ` +
        'the repository: unpack ml-100k there (https://grouplens.org/datasets/movielens/) or pass --path.',
    };
  }
  const data = loadMovieLens({ path: settings.path });
  const stream = (function* (): Generator<StreamEvent> {
    for (const event of data.items) yield { kind: 'item', event };
    for (const event of data.clicks) yield { kind: 'click', event };
  })();
  const maxClicks = settings.events ?? Number.POSITIVE_INFINITY;
  const shown = relative(process.cwd(), settings.path) || '.';
  const input = encodeAll(`${data.format} at ${shown}`, stream, maxClicks);
  return { ...input, label: `${input.label} (${formatCount(input.clicks)} ratings)` };
}

// ---------------------------------------------------------------------------------------------
// Running and reporting

interface VariantResult {
  readonly id: VariantId;
  readonly name: string;
  readonly samples: Sample[];
}

function roundOrder(variants: readonly VariantId[], round: number): VariantId[] {
  const k = round % variants.length;
  return [...variants.slice(k), ...variants.slice(0, k)];
}

/** One variant once: its figures, peak RSS and live heap (its state is dropped when this returns). */
async function measureOnce(
  variant: Variant,
  input: BenchInput,
  settings: Settings,
  gc: (() => void) | null,
): Promise<{
  measured: Measured;
  rssStart: number;
  rssPeak: number;
  liveHeap: number;
  liveExternal: number;
}> {
  gc?.();
  const sampler = new RssSampler();
  const outcome = await variant.run(input, settings, sampler);
  const rssPeak = sampler.stop();
  gc?.();
  const live = process.memoryUsage();
  const liveHeap = gc === null ? Number.NaN : live.heapUsed;
  const liveExternal = gc === null ? Number.NaN : live.external;
  // A separate function on purpose: an async function's suspended frame can keep an awaited value
  // alive after the variable holding it is cleared, so the state is only released by returning.
  return { measured: outcome.measured, rssStart: sampler.startBytes, rssPeak, liveHeap, liveExternal };
}

async function runAll(input: BenchInput, settings: Settings): Promise<VariantResult[]> {
  const gc = garbageCollector();
  if (gc === null) progress('note: no garbage collector access; variants start from an unsettled heap');
  const results = new Map<VariantId, VariantResult>(
    settings.variants.map((id) => [id, { id, name: VARIANTS[id].name, samples: [] }]),
  );
  for (let round = 0; round < settings.repeat; round++) {
    for (const id of roundOrder(settings.variants, round)) {
      const variant = VARIANTS[id];
      const { measured, rssStart, rssPeak, liveHeap, liveExternal } = await measureOnce(
        variant,
        input,
        settings,
        gc,
      );
      // One macrotask turn first: a finished in-memory source may still have its yielding pump
      // queued (setImmediate), which keeps the whole run reachable until it fires.
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      const memory = process.memoryUsage();
      const seconds = measured.elapsedMs / 1000;
      const sample: Sample = {
        ...measured,
        round: round + 1,
        eventsPerSecond: measured.events / seconds,
        listsPerSecond: measured.lists === null ? null : measured.lists / seconds,
        rssStartMb: rssStart / MB,
        rssPeakMb: rssPeak / MB,
        liveHeapMb: liveHeap / MB,
        liveExternalMb: liveExternal / MB,
        heapAfterGcMb: memory.heapUsed / MB,
        externalAfterGcMb: memory.external / MB,
        rssAfterGcMb: memory.rss / MB,
      };
      results.get(id)!.samples.push(sample);
      const lists = sample.listsPerSecond === null ? '' : `, ${formatCount(sample.listsPerSecond)} lists/s`;
      const latency =
        sample.latencyMs === null
          ? ''
          : `, latency p50 ${formatFixed(sample.latencyMs.p50, 2)} ms p99 ${formatFixed(sample.latencyMs.p99, 2)} ms`;
      progress(
        `[round ${round + 1}/${settings.repeat}] ${id} ${variant.name}: ${formatCount(sample.eventsPerSecond)} events/s` +
          `${lists}${latency} (${formatFixed(seconds, 2)} s), peak RSS ${formatFixed(sample.rssPeakMb, 0)} MB, ` +
          `live heap ${formatFixed(sample.liveHeapMb, 1)} MB + external ${formatFixed(sample.liveExternalMb, 1)} MB, ` +
          `heap after GC ${formatFixed(sample.heapAfterGcMb, 1)} MB` +
          (sample.notes.length > 0 ? ` — ${sample.notes.join('; ')}` : ''),
      );
    }
  }
  return settings.variants.map((id) => results.get(id)!);
}

/** Per-round ratio of this variant's throughput to A's in the same round. */
function ratiosToA(result: VariantResult, results: readonly VariantResult[]): number[] {
  const a = results.find((r) => r.id === 'A');
  if (a === undefined) return [];
  return result.samples.map((s) => {
    const base = a.samples.find((b) => b.round === s.round);
    return base === undefined ? Number.NaN : s.eventsPerSecond / base.eventsPerSecond;
  });
}

interface VariantSummary {
  readonly id: VariantId;
  readonly name: string;
  readonly eventsPerSecond: Spread;
  readonly ratioToA: Spread;
  readonly listsPerSecond: Spread;
  readonly listsPerClick: number | null;
  readonly latencyP50Ms: Spread;
  readonly latencyP99Ms: Spread;
  readonly rssPeakMb: Spread;
  readonly heapAfterGcMb: Spread;
}

function summarise(
  input: BenchInput,
  result: VariantResult,
  results: readonly VariantResult[],
): VariantSummary {
  const s = result.samples;
  const first = s[0];
  return {
    id: result.id,
    name: result.name,
    eventsPerSecond: spread(s.map((x) => x.eventsPerSecond)),
    ratioToA: spread(ratiosToA(result, results)),
    listsPerSecond: spread(s.map((x) => x.listsPerSecond ?? Number.NaN)),
    listsPerClick: first?.lists == null ? null : first.lists / input.clicks,
    latencyP50Ms: spread(s.map((x) => x.latencyMs?.p50 ?? Number.NaN)),
    latencyP99Ms: spread(s.map((x) => x.latencyMs?.p99 ?? Number.NaN)),
    rssPeakMb: spread(s.map((x) => x.rssPeakMb)),
    heapAfterGcMb: spread(s.map((x) => x.heapAfterGcMb)),
  };
}

function report(input: BenchInput, settings: Settings, results: readonly VariantResult[]): string {
  const summaries = results.map((r) => summarise(input, r, results));
  const count = (v: number): string => formatCount(v);
  const ms = (v: number): string => formatFixed(v, 2);
  const ratio = (v: number): string => (Number.isFinite(v) ? v.toPrecision(3) : '–');
  const mb = (v: number): string => formatFixed(v, 0);
  const throughput = markdownTable(
    [
      'variant',
      'events/s',
      '× A',
      'lists/s',
      'lists/click',
      'latency p50 ms',
      'latency p99 ms',
      'peak RSS MB',
    ],
    summaries.map((s) => [
      `${s.id} ${s.name}`,
      formatSpread(s.eventsPerSecond, count),
      formatSpread(s.ratioToA, ratio),
      formatSpread(s.listsPerSecond, count),
      s.listsPerClick === null ? '–' : formatFixed(s.listsPerClick, 3),
      formatSpread(s.latencyP50Ms, ms),
      formatSpread(s.latencyP99Ms, ms),
      formatSpread(s.rssPeakMb, mb),
    ]),
  );
  const perRound = (r: VariantResult, f: (s: Sample) => number, digits: number): string =>
    r.samples.map((s) => formatFixed(f(s), digits)).join(' → ');
  const memory = markdownTable(
    ['variant', 'RSS at start MB', 'peak RSS MB', 'live heap MB', 'live external MB', 'heap after GC MB'],
    results.map((r) => [
      `${r.id} ${r.name}`,
      perRound(r, (s) => s.rssStartMb, 0),
      perRound(r, (s) => s.rssPeakMb, 0),
      perRound(r, (s) => s.liveHeapMb, 1),
      perRound(r, (s) => s.liveExternalMb, 1),
      perRound(r, (s) => s.heapAfterGcMb, 1),
    ]),
  );
  const notes = results.flatMap((r) =>
    r.samples.flatMap((s) => s.notes.map((n) => `- ${r.id} round ${s.round}: ${n}`)),
  );
  return [
    `input: ${input.label}: ${count(input.records.length)} records (${count(input.items)} catalog, ${count(input.clicks)} clicks)`,
    `partitions ${settings.partitions}, batch size ${settings.batchSize} (D: 1), ${settings.repeat} rounds, ` +
      `default model config (dimension ${MODEL.dimension}, list size ${MODEL.ranking.listSize}); ` +
      `node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} CPUs`,
    '',
    'median [min–max] over rounds; × A is the per-round ratio to A',
    '',
    throughput,
    '',
    'memory per round, in run order (live: after a full GC with the run’s log, model and pipeline still',
    'reachable; heap after GC: once released, the baseline the next variant starts from)',
    '',
    memory,
    ...(notes.length > 0 ? ['', 'anomalies:', ...notes] : []),
    '',
  ].join('\n');
}

function writeJson(
  file: string,
  settings: Settings,
  input: BenchInput | null,
  results: readonly VariantResult[],
  skipped: string | null,
): void {
  const document = {
    benchmark: 'pipeline',
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    settings,
    skipped,
    input:
      input === null
        ? null
        : { label: input.label, records: input.records.length, clicks: input.clicks, items: input.items },
    variants:
      input === null ? [] : results.map((r) => ({ ...summarise(input, r, results), samples: r.samples })),
  };
  // NaN (a figure a variant does not have) becomes null in JSON.
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  progress(`wrote ${file}`);
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(() => parseSettings(process.argv.slice(2)), USAGE);
  if (typeof settings === 'number') return settings;
  progress(`preparing input (${settings.dataset})…`);
  const prepared = performance.now();
  const input = loadInput(settings);
  if ('skipped' in input) {
    progress(`skipped: ${input.skipped}`);
    if (settings.json !== null) writeJson(settings.json, settings, null, [], input.skipped);
    return 0;
  }
  progress(
    `${formatCount(input.records.length)} records encoded in ${formatFixed((performance.now() - prepared) / 1000, 1)} s; ` +
      `running ${settings.variants.join(', ')} × ${settings.repeat}`,
  );
  const results = await runAll(input, settings);
  process.stdout.write(report(input, settings, results));
  if (settings.json !== null) writeJson(settings.json, settings, input, results, null);
  return 0;
}

process.exitCode = await main();

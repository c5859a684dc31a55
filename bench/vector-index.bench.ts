/**
 * In-process vector index benchmark: the exact scan and the HNSW graph of `InMemoryVectorIndex`
 * (the embedded vector store) on the query Eddy actually sends — top-100 by cosine, the user's ~100 seen items excluded by id, `available = true`
 * required (true for ~95 % of items) — in batches of 64 queries, at 10K, 100K and 1M items of
 * dimension 64.
 *
 * Per catalog size: build time, memory (RSS and heap after GC, as deltas over the process before
 * the index existed), and latency per batch over repeated batches (median, p99, max), each batch
 * with fresh query vectors and fresh seen sets. A batch of 2 (one list with batch size 1: the
 * user's long- and short-term vectors) is measured too, because the latency objective is per list.
 *
 *   npm run build && node --expose-gc dist/bench/vector-index.bench.js [--help]
 */

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  DEFAULT_EF_SEARCH,
  ExactVectorIndex,
  InMemoryVectorIndex,
} from '../streams/adapters/memory/exact-vector-index.js';
import type { Point, VectorQuery } from '../streams/ports/vector-store.js';
import { Random } from '../streams/util/random.js';
import {
  formatCount,
  formatFixed,
  garbageCollector,
  integerFlag,
  MB,
  markdownTable,
  progress,
} from './support.js';

const USAGE = `Usage: node --expose-gc dist/bench/vector-index.bench.js [options]

Measures the in-process vector store on Eddy's retrieval query: top-K by cosine, S seen ids
excluded, available = true required (on a share A of the items), in batches of B queries, and in
batches of 2 (one list); the exact scan and the HNSW graph (what the index switches to from
--approximate-from items on), with the graph's recall@K against the exact results of the same
queries. Results on stdout (Markdown), progress on stderr.

Options:
  --sizes <list>        catalog sizes (default 10000,100000,1000000)
  --indexes <list>      exact, hnsw or both (default exact,hnsw)
  --clusters <n>        draw vectors around n Gaussian centres, as learned embeddings cluster
                        (default 0: isotropic Gaussian, the hardest case for a graph)
  --ef <n>              the graph's search beam width (default ${DEFAULT_EF_SEARCH})
  --dimension <d>       vector dimension (default 64)
  --batch <b>           queries per batch (default 64)
  --limit <k>           top-K per query (default 100)
  --seen <s>            excluded ids per query (default 100)
  --available <share>   share of items with available = true (default 0.95)
  --repeats <r>         measured batches per size (default 200 / 100 / 30 for ≤10K / ≤100K / more)
  --lists <r>           measured 2-query batches per size (default 10 × repeats)
  --seed <n>            seed of the synthetic data (default 7)
  --json <file>         also write the results as JSON
  --help                show this text

Latency is the wall time of each queryBatch call, one call at a time in an otherwise idle process.
p99 is the nearest-rank 99th percentile of the repeats (with fewer than 100 repeats, the maximum).
Memory is read after a full GC; run with --expose-gc (otherwise it is switched on at run time).`;

interface Latency {
  readonly median: number;
  readonly p99: number;
  readonly max: number;
}

type IndexKind = 'exact' | 'hnsw';

interface SizeResult {
  readonly index: IndexKind;
  readonly items: number;
  /** Share of the exact top-K the index returned, over the list queries (1 for the exact scan). */
  readonly recall: number;
  readonly buildSeconds: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly batches: number;
  readonly batchMs: Latency;
  readonly perQueryUs: number;
  readonly lists: number;
  readonly listMs: Latency;
  readonly meanReturned: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function latency(values: readonly number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1]! };
}

function gaussian(random: Random, dimension: number): Float32Array {
  const v = new Float32Array(dimension);
  for (let j = 0; j < dimension; j++) v[j] = random.normal();
  return v;
}

interface Options {
  readonly sizes: readonly number[];
  readonly dimension: number;
  readonly batch: number;
  readonly limit: number;
  readonly seen: number;
  readonly available: number;
  readonly repeats: number | undefined;
  readonly lists: number | undefined;
  readonly seed: number;
  readonly indexes: readonly IndexKind[];
  readonly clusters: number;
  readonly ef: number;
}

/** The exact top-K ids of the recall queries, per catalog size (filled by the exact run). */
const exactAnswers = new Map<number, string[][]>();

async function measure(kind: IndexKind, items: number, o: Options, settle: () => void): Promise<SizeResult> {
  const repeats = o.repeats ?? (items <= 10_000 ? 200 : items <= 100_000 ? 100 : 30);
  const listRepeats = o.lists ?? 10 * repeats;
  const random = new Random(o.seed);
  settle();
  const rss0 = process.memoryUsage.rss();
  const heap0 = process.memoryUsage().heapUsed;

  progress(`${formatCount(items)} items, ${kind}: building`);
  const index =
    kind === 'exact'
      ? new ExactVectorIndex()
      : new InMemoryVectorIndex({ approximateFrom: 1, efSearch: o.ef });
  const centres = Array.from({ length: o.clusters }, () => gaussian(random, o.dimension));
  const point = (): Float32Array => {
    const v = gaussian(random, o.dimension);
    if (centres.length === 0) return v;
    const centre = centres[random.int(centres.length)]!;
    for (let j = 0; j < v.length; j++) v[j] = centre[j]! + 0.8 * v[j]!;
    return v;
  };
  const ids: string[] = new Array(items);
  const started = performance.now();
  await index.ensureCollection({
    name: 'items',
    dimension: o.dimension,
    distance: 'cosine',
    indexedFields: ['available'],
  });
  for (let start = 0; start < items; start += 10_000) {
    const points: Point[] = [];
    for (let i = start; i < Math.min(items, start + 10_000); i++) {
      ids[i] = `item-${i}`;
      points.push({
        id: ids[i]!,
        vector: point(),
        // The payload the pipeline writes (refreshVectors): availability and categories.
        payload: { available: random.next() < o.available, categories: [`c${random.int(20)}`] },
      });
    }
    await index.upsert('items', points);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  settle();
  const rssMb = (process.memoryUsage.rss() - rss0) / MB;
  const heapMb = (process.memoryUsage().heapUsed - heap0) / MB;

  const query = (): VectorQuery => {
    const excluded = new Set<string>();
    while (excluded.size < Math.min(o.seen, items)) excluded.add(ids[random.int(items)]!);
    return {
      vector: point(),
      limit: o.limit,
      filter: { excludeIds: excluded, must: [{ key: 'available', value: true }] },
    };
  };
  let returned = 0;
  const timed = async (size: number): Promise<number> => {
    // Queries are built before the clock starts: only the index is timed.
    const queries = Array.from({ length: size }, query);
    const t = performance.now();
    const results = await index.queryBatch('items', queries);
    const ms = performance.now() - t;
    for (const r of results) returned += r.length;
    return ms;
  };

  // Warm-up: the scoring loops are optimized before anything is timed.
  const warmup = Math.max(3, Math.min(50, Math.floor(5e6 / items)));
  for (let w = 0; w < warmup; w++) await timed(o.batch);
  returned = 0;

  const batchTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    batchTimes.push(await timed(o.batch));
    if ((r + 1) % Math.max(1, Math.floor(repeats / 4)) === 0) {
      progress(`${formatCount(items)} items: ${r + 1}/${repeats} batches of ${o.batch}`);
    }
  }
  const meanReturned = returned / (repeats * o.batch);
  const listTimes: number[] = [];
  for (let r = 0; r < listRepeats; r++) listTimes.push(await timed(2));
  progress(`${formatCount(items)} items: ${listRepeats} batches of 2`);
  // Recall: 200 queries from their own seed, the same for every index at this size.
  const recallRandom = new Random(o.seed + items);
  const recallQueries = Array.from({ length: 200 }, (): VectorQuery => {
    const excluded = new Set<string>();
    while (excluded.size < Math.min(o.seen, items)) excluded.add(ids[recallRandom.int(items)]!);
    const v = gaussian(recallRandom, o.dimension);
    if (centres.length > 0) {
      const centre = centres[recallRandom.int(centres.length)]!;
      for (let j = 0; j < v.length; j++) v[j] = centre[j]! + 0.8 * v[j]!;
    }
    return {
      vector: v,
      limit: o.limit,
      filter: { excludeIds: excluded, must: [{ key: 'available', value: true }] },
    };
  });
  const answers = (await index.queryBatch('items', recallQueries)).map((r) => r.map((p) => p.id));
  let recall = 1;
  if (kind === 'exact') exactAnswers.set(items, answers);
  else {
    const exact = exactAnswers.get(items);
    if (exact === undefined) recall = Number.NaN;
    else {
      let found = 0;
      let wanted = 0;
      answers.forEach((ids, q) => {
        const want = new Set(exact[q]);
        wanted += want.size;
        for (const id of ids) if (want.has(id)) found++;
      });
      recall = found / Math.max(1, wanted);
    }
  }
  await index.close();
  const batchMs = latency(batchTimes);
  return {
    index: kind,
    items,
    recall,
    buildSeconds,
    rssMb,
    heapMb,
    batches: repeats,
    batchMs,
    perQueryUs: (batchMs.median / o.batch) * 1000,
    lists: listRepeats,
    listMs: latency(listTimes),
    meanReturned,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let options: Options;
  try {
    const available = Number(values.available);
    if (!(available >= 0 && available <= 1))
      throw new Error(`--available must be in [0, 1], got ${values.available}`);
    options = {
      sizes: values.sizes.split(',').map((s) => integerFlag('sizes', s.trim(), undefined)!),
      dimension: integerFlag('dimension', values.dimension, undefined)!,
      batch: integerFlag('batch', values.batch, undefined)!,
      limit: integerFlag('limit', values.limit, undefined)!,
      seen: integerFlag('seen', values.seen, undefined)!,
      available,
      repeats: integerFlag('repeats', values.repeats, undefined),
      lists: integerFlag('lists', values.lists, undefined),
      seed: integerFlag('seed', values.seed, undefined)!,
      indexes: values.indexes.split(',').map((name) => {
        const kind = name.trim();
        if (kind !== 'exact' && kind !== 'hnsw') throw new Error(`--indexes: exact or hnsw, got ${kind}`);
        return kind;
      }),
      clusters: integerFlag('clusters', values.clusters, undefined, 0)!,
      ef: integerFlag('ef', values.ef, undefined)!,
    };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }

  const gc = garbageCollector();
  const settle = (): void => {
    gc?.();
    gc?.();
  };
  progress(
    `in-process vector index (${options.indexes.join(', ')}): dimension ${options.dimension}, top-${options.limit}, ${options.seen} excluded ids, ` +
      `available on ${options.available * 100} %, batches of ${options.batch}; node ${process.version}` +
      (gc ? '' : ' (no GC control: memory figures are rough)'),
  );
  const results: SizeResult[] = [];
  for (const items of options.sizes) {
    for (const kind of options.indexes) results.push(await measure(kind, items, options, settle));
  }

  const ms = (v: number): string => formatFixed(v, v < 10 ? 2 : 1);
  process.stdout.write(
    `${markdownTable(
      [
        'items',
        'index',
        'recall@K',
        'build s',
        'RSS Δ MB',
        'heap Δ MB',
        `batch of ${options.batch}: median ms`,
        'p99 ms',
        'max ms',
        'per query µs',
        'batch of 2: median ms',
        'p99 ms',
        'max ms',
      ],
      results.map((r) => [
        formatCount(r.items),
        r.index,
        formatFixed(r.recall, 4),
        formatFixed(r.buildSeconds, 2),
        formatFixed(r.rssMb, 0),
        formatFixed(r.heapMb, 0),
        ms(r.batchMs.median),
        ms(r.batchMs.p99),
        ms(r.batchMs.max),
        formatFixed(r.perQueryUs, 0),
        ms(r.listMs.median),
        ms(r.listMs.p99),
        ms(r.listMs.max),
      ]),
    )}\n\nRepeats: ${results.map((r) => `${formatCount(r.items)}: ${r.batches} batches, ${r.lists} lists`).join('; ')}. ` +
      `Mean results per query: ${results.map((r) => formatFixed(r.meanReturned, 1)).join(', ')}.\n`,
  );
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify({ node: process.version, options, results }, null, 2)}\n`);
    progress(`wrote ${values.json}`);
  }
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '10000,100000,1000000' },
      dimension: { type: 'string', default: '64' },
      batch: { type: 'string', default: '64' },
      limit: { type: 'string', default: '100' },
      seen: { type: 'string', default: '100' },
      available: { type: 'string', default: '0.95' },
      repeats: { type: 'string' },
      lists: { type: 'string' },
      seed: { type: 'string', default: '7' },
      indexes: { type: 'string', default: 'exact,hnsw' },
      clusters: { type: 'string', default: '0' },
      ef: { type: 'string', default: String(DEFAULT_EF_SEARCH) },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
}

process.exitCode = await main(process.argv.slice(2));

/**
 * The in-process vector store behind embedded mode. Below `approximateFrom` points a collection is
 * searched exactly, by a tight scan over one contiguous Float32Array: at the catalogue sizes embedded
 * mode mostly serves that is fast and exact, which also makes `ExactVectorIndex` the reference the
 * Qdrant adapter is checked against. From `approximateFrom` points on, a (cosine or dot) collection
 * is searched through an HNSW graph (`HnswGraph`), built by the first query past the threshold and
 * kept up to date by every upsert and delete after that; the crossover and the recall are measured in
 * BENCHMARKS.md § Vector index.
 */

import { EddyError } from '../../errors.js';
import type {
  CollectionSpec,
  Distance,
  FieldMatch,
  Payload,
  Point,
  ScoredPoint,
  VectorFilter,
  VectorQuery,
  VectorStore,
} from '../../ports/vector-store.js';
import { DEFAULT_HNSW_PARAMETERS, HnswGraph, type HnswParameters } from './hnsw-graph.js';
import { dotScores, dotScoresPair, euclidScores } from './scan-kernels.js';
import { createScanKernel, type ScanKernel } from './simd-scan.js';

const INITIAL_CAPACITY = 64;
const WASM_PAGE_BYTES = 65_536;
/** Verdicts of a filter's conditions on a point (0: not yet known). */
const PASSES = 1;
const FAILS = 2;
const MAX_CACHED_FILTERS = 16;
const NO_CONDITIONS: readonly FieldMatch[] = [];

class Collection {
  /** Slot `s` holds its vector at `vectors[s * dimension ..]`; slots `0..size-1` are all live. */
  vectors: Float32Array;
  readonly ids: string[] = [];
  readonly payloads: Payload[] = [];
  readonly slots = new Map<string, number>();
  /** Per-slot exclusion marks, set and cleared around each query, so excluded ids cost no lookup per point. */
  excluded: Uint8Array;
  /** The slots the current query marked in `excluded`, to clear them without another id lookup. */
  excludedSlots: Int32Array;
  /** Per-slot scores of the current query: scoring all slots first keeps the scoring loop branch-free. */
  scores: Float64Array;
  /** The second query's scores when two are scored in one pass. */
  secondScores: Float64Array;
  /** Query scratch, reused because a query never yields between filling and reading them. */
  readonly query: Float32Array;
  readonly secondQuery: Float32Array;
  heapSlots = new Int32Array(16);
  heapScores = new Float64Array(16);
  /**
   * Per filter (its conditions, as `conditionKey` writes them), each slot's verdict: 0 not yet
   * known, PASSES or FAILS. Reading a payload field by a key known only at run time is a slow,
   * megamorphic lookup, and the same few filters (Eddy sends one) are asked of the same points
   * query after query; a slot's verdicts are forgotten when its payload changes.
   */
  readonly verdicts = new Map<string, Uint8Array>();
  /** Scratch of `sampledThreshold` and `selectInto`. */
  samples = new Float64Array(0);
  gathered = new Int32Array(0);
  /** The approximate index once the collection is large enough; node ↔ slot maps beside it. */
  graph: HnswGraph | null = null;
  nodeOfSlot: Int32Array<ArrayBuffer> = new Int32Array(0);
  slotOfNode: Int32Array<ArrayBuffer> = new Int32Array(0);
  /**
   * The SIMD dot-product kernel, whose memory holds the vectors, both queries (widened to float64)
   * and both score arrays, so a scan copies nothing; null where it does not apply (euclid, a
   * dimension that is not a multiple of 4, no SIMD), and the JavaScript kernels score instead.
   */
  private readonly kernel: ScanKernel | null;
  private wideQuery = new Float64Array(0);
  private wideSecondQuery = new Float64Array(0);
  private scoresAt = 0;
  private secondScoresAt = 0;

  constructor(
    readonly name: string,
    readonly dimension: number,
    readonly distance: Distance,
  ) {
    this.kernel = distance !== 'euclid' && dimension % 4 === 0 ? createScanKernel() : null;
    this.vectors = new Float32Array(0);
    this.excluded = new Uint8Array(0);
    this.excludedSlots = new Int32Array(0);
    this.scores = new Float64Array(0);
    this.secondScores = new Float64Array(0);
    this.query = new Float32Array(dimension);
    this.secondQuery = new Float32Array(dimension);
    this.reserve(INITIAL_CAPACITY);
  }

  get size(): number {
    return this.ids.length;
  }

  reserve(size: number): void {
    const capacity = this.excluded.length;
    if (size <= capacity) return;
    const next = Math.max(size, capacity * 2);
    this.excluded = new Uint8Array(next);
    this.excludedSlots = new Int32Array(next);
    for (const [key, verdicts] of this.verdicts) {
      const grown = new Uint8Array(next);
      grown.set(verdicts);
      this.verdicts.set(key, grown);
    }
    if (this.kernel === null) {
      const vectors = new Float32Array(next * this.dimension);
      vectors.set(this.vectors.subarray(0, this.size * this.dimension));
      this.vectors = vectors;
      this.scores = new Float64Array(next);
      this.secondScores = new Float64Array(next);
      return;
    }
    // Layout: both queries, then the vectors, then both score arrays. The vectors never move (they
    // grow into the old scores, which are scratch), so growing copies nothing.
    const memory = this.kernel.memory;
    const vectorsAt = 16 * this.dimension;
    this.scoresAt = vectorsAt + 4 * this.dimension * next;
    this.secondScoresAt = this.scoresAt + 8 * next;
    const bytes = this.secondScoresAt + 8 * next;
    const pages = Math.ceil(bytes / WASM_PAGE_BYTES) - memory.buffer.byteLength / WASM_PAGE_BYTES;
    if (pages > 0) {
      try {
        memory.grow(pages);
      } catch (error) {
        // A WebAssembly memory stops at 4 GiB (about 29 million vectors of dimension 32).
        throw new EddyError(
          `collection ${this.name}: the in-process index cannot hold ${next.toLocaleString('en')} vectors ` +
            `of dimension ${this.dimension.toLocaleString('en')} (${(bytes / 2 ** 30).toFixed(1)} GiB); use Qdrant (--qdrant-url) at this size`,
          { cause: error },
        );
      }
    }
    // Growing detaches the old buffer: every view is made anew.
    const buffer = memory.buffer;
    this.wideQuery = new Float64Array(buffer, 0, this.dimension);
    this.wideSecondQuery = new Float64Array(buffer, 8 * this.dimension, this.dimension);
    this.vectors = new Float32Array(buffer, vectorsAt, next * this.dimension);
    this.scores = new Float64Array(buffer, this.scoresAt, next);
    this.secondScores = new Float64Array(buffer, this.secondScoresAt, next);
  }

  /**
   * The verdicts of the filter's conditions (a new filter starts with none known), or null when it
   * has none. Looked up once per query: the key is a string built from the conditions.
   */
  verdictsOf(filter: VectorFilter | undefined): Uint8Array | null {
    const must = filter?.must ?? NO_CONDITIONS;
    const mustNot = filter?.mustNot ?? NO_CONDITIONS;
    if (must.length === 0 && mustNot.length === 0) return null;
    const key = conditionKey(must, mustNot);
    let verdicts = this.verdicts.get(key);
    if (verdicts === undefined) {
      // Bounded: a caller sending ever new filters gets a cache that starts over, not one that grows.
      if (this.verdicts.size >= MAX_CACHED_FILTERS) this.verdicts.clear();
      verdicts = new Uint8Array(this.excluded.length);
      this.verdicts.set(key, verdicts);
    }
    return verdicts;
  }

  /** Forgets the verdicts of `slot` (its payload changed), or moves `from`'s there (swap-remove). */
  resetVerdicts(slot: number, from = -1): void {
    for (const verdicts of this.verdicts.values()) {
      verdicts[slot] = from < 0 ? 0 : verdicts[from]!;
      if (from >= 0) verdicts[from] = 0;
    }
  }

  /** Dot products of every live vector with `q`, into `scores`. */
  scoreDot(q: Float32Array): void {
    if (this.kernel === null) {
      dotScores(this.vectors, q, this.dimension, this.size, this.scores);
      return;
    }
    this.wideQuery.set(q);
    this.kernel.dot(16 * this.dimension, 0, this.dimension / 4, this.size, this.scoresAt);
  }

  /** `scoreDot` for two queries in one pass, into `scores` and `secondScores`. */
  scoreDotPair(q1: Float32Array, q2: Float32Array): void {
    if (this.kernel === null) {
      dotScoresPair(this.vectors, q1, q2, this.dimension, this.size, this.scores, this.secondScores);
      return;
    }
    this.wideQuery.set(q1);
    this.wideSecondQuery.set(q2);
    this.kernel.dotPair(
      16 * this.dimension,
      0,
      8 * this.dimension,
      this.dimension / 4,
      this.size,
      this.scoresAt,
      this.secondScoresAt,
    );
  }
}

export interface InMemoryVectorIndexOptions {
  /**
   * Points from which a cosine or dot collection is searched through an HNSW graph instead of a
   * full scan (Infinity: always exact). Default: the measured crossover, `DEFAULT_APPROXIMATE_FROM`.
   */
  readonly approximateFrom?: number;
  readonly hnsw?: HnswParameters;
  /** Beam width of an approximate search (at least the query's limit). */
  readonly efSearch?: number;
}

/** Where the graph's search becomes cheaper than the scan (BENCHMARKS.md § Vector index). */
export const DEFAULT_APPROXIMATE_FROM = 50_000;
export const DEFAULT_EF_SEARCH = 200;

export class InMemoryVectorIndex implements VectorStore {
  private readonly collections = new Map<string, Collection>();
  private closed = false;
  private readonly approximateFrom: number;
  private readonly hnsw: HnswParameters;
  private readonly efSearch: number;

  constructor(options: InMemoryVectorIndexOptions = {}) {
    this.approximateFrom = options.approximateFrom ?? DEFAULT_APPROXIMATE_FROM;
    this.hnsw = options.hnsw ?? DEFAULT_HNSW_PARAMETERS;
    this.efSearch = options.efSearch ?? DEFAULT_EF_SEARCH;
    if (!(this.approximateFrom >= 1)) {
      throw new EddyError(`approximateFrom must be a number ≥ 1 (or Infinity), got ${this.approximateFrom}`);
    }
    if (!Number.isInteger(this.efSearch) || this.efSearch < 1) {
      throw new EddyError(`efSearch must be a positive integer, got ${this.efSearch}`);
    }
  }

  /**
   * Whether `collection` is searched through its HNSW graph (for tests and benchmarks): true from the
   * first query at or past the threshold on.
   */
  isApproximate(collection: string): boolean {
    return this.collection(collection).graph !== null;
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    this.checkOpen();
    if (typeof spec.name !== 'string' || spec.name === '') {
      throw new EddyError(`collection name must be a non-empty string, got ${JSON.stringify(spec.name)}`);
    }
    if (!Number.isInteger(spec.dimension) || spec.dimension < 1) {
      throw new EddyError(
        `collection ${spec.name}: dimension must be a positive integer, got ${spec.dimension}`,
      );
    }
    if (spec.distance !== 'cosine' && spec.distance !== 'dot' && spec.distance !== 'euclid') {
      throw new EddyError(
        `collection ${spec.name}: distance must be 'cosine', 'dot' or 'euclid', got ${String(spec.distance)}`,
      );
    }
    const existing = this.collections.get(spec.name);
    if (existing === undefined) {
      this.collections.set(spec.name, new Collection(spec.name, spec.dimension, spec.distance));
      return;
    }
    if (existing.dimension !== spec.dimension || existing.distance !== spec.distance) {
      throw new EddyError(
        `collection ${spec.name} already exists with dimension ${existing.dimension} and distance ` +
          `${existing.distance}; cannot ensure it with dimension ${spec.dimension} and distance ${spec.distance}`,
      );
    }
  }

  /** Inserts or replaces points, all or none (every point is validated first). Payloads are kept as given. */
  async upsert(collection: string, points: readonly Point[]): Promise<void> {
    const c = this.collection(collection);
    for (const point of points) {
      if (typeof point.id !== 'string') {
        throw new EddyError(`collection ${c.name}: point id must be a string, got ${typeof point.id}`);
      }
      checkVector(c, point.vector, `point ${point.id}`);
    }
    c.reserve(c.size + points.length);
    const dimension = c.dimension;
    const vectors = c.vectors;
    for (const point of points) {
      let slot = c.slots.get(point.id);
      if (slot === undefined) {
        slot = c.size;
        c.slots.set(point.id, slot);
        c.ids.push(point.id);
        c.payloads.push(point.payload);
      } else {
        c.payloads[slot] = point.payload;
      }
      c.resetVerdicts(slot);
      const base = slot * dimension;
      const vector = point.vector;
      if (c.distance === 'cosine') {
        // Stored unit-length (as Qdrant does) so a cosine query is a plain dot product; a zero vector
        // stays zero and scores 0 against everything rather than NaN.
        const norm = l2(vector);
        for (let j = 0; j < dimension; j++) vectors[base + j] = norm > 0 ? vector[j]! / norm : 0;
      } else {
        vectors.set(vector, base);
      }
      if (c.graph !== null) this.indexSlot(c, slot);
    }
  }

  private buildGraph(c: Collection): void {
    c.graph = new HnswGraph(c.dimension, this.hnsw);
    c.nodeOfSlot = new Int32Array(c.excluded.length).fill(-1);
    c.slotOfNode = new Int32Array(Math.max(64, c.size));
    for (let slot = 0; slot < c.size; slot++) this.indexSlot(c, slot);
  }

  /** Adds the point in `slot` to the graph, or re-links it there with its new vector. */
  private indexSlot(c: Collection, slot: number): void {
    const graph = c.graph!;
    const vector = c.vectors.subarray(slot * c.dimension, (slot + 1) * c.dimension);
    if (c.nodeOfSlot.length < c.excluded.length)
      c.nodeOfSlot = grownInt32(c.nodeOfSlot, c.excluded.length, -1);
    const known = c.nodeOfSlot[slot]!;
    if (known >= 0) {
      graph.update(known, vector);
      return;
    }
    const node = graph.add(vector);
    if (node >= c.slotOfNode.length) c.slotOfNode = grownInt32(c.slotOfNode, node * 2 + 1, -1);
    c.nodeOfSlot[slot] = node;
    c.slotOfNode[node] = slot;
  }

  async delete(collection: string, ids: readonly string[]): Promise<void> {
    const c = this.collection(collection);
    const dimension = c.dimension;
    for (const id of ids) {
      const slot = c.slots.get(id);
      if (slot === undefined) continue;
      // Swap-remove keeps live slots contiguous, so the scan never has to skip holes.
      const last = c.size - 1;
      if (c.graph !== null) {
        const node = c.nodeOfSlot[slot]!;
        c.graph.remove(node);
        c.slotOfNode[node] = -1;
        if (slot !== last) {
          const movedNode = c.nodeOfSlot[last]!;
          c.nodeOfSlot[slot] = movedNode;
          c.slotOfNode[movedNode] = slot;
        }
        c.nodeOfSlot[last] = -1;
      }
      if (slot !== last) {
        const moved = c.ids[last]!;
        c.vectors.copyWithin(slot * dimension, last * dimension, (last + 1) * dimension);
        c.ids[slot] = moved;
        c.payloads[slot] = c.payloads[last]!;
        c.resetVerdicts(slot, last);
        c.slots.set(moved, slot);
      }
      c.ids.pop();
      c.payloads.pop();
      c.slots.delete(id);
    }
    const graph = c.graph;
    if (graph !== null) {
      // Removed nodes stay as waypoints; once they outnumber the live ones, rebuild (or fall back to
      // the scan below the threshold).
      if (c.size < this.approximateFrom / 2) c.graph = null;
      else if (graph.nodes > 2 * graph.size) this.buildGraph(c);
    }
  }

  async queryBatch(collection: string, queries: readonly VectorQuery[]): Promise<ScoredPoint[][]> {
    const c = this.collection(collection);
    // The graph is built by the first query that finds the collection past the threshold, so a
    // collection that is only written (the user vectors, kept for downstream readers) never pays
    // for one.
    if (c.graph === null && c.distance !== 'euclid' && c.size >= this.approximateFrom) this.buildGraph(c);
    const results: ScoredPoint[][] = new Array(queries.length);
    for (let i = 0; i < queries.length; ) {
      const query = queries[i]!;
      const next = queries[i + 1];
      // A user's long- and short-term queries share their filter object: one pass over the
      // vectors scores both, and the exclusions are marked once.
      if (c.graph !== null) {
        results[i] = searchGraph(c, query, this.efSearch);
        i += 1;
      } else if (next !== undefined && next.filter === query.filter && c.distance !== 'euclid') {
        const pair = searchPair(c, query, next);
        results[i] = pair[0];
        results[i + 1] = pair[1];
        i += 2;
      } else {
        results[i] = search(c, query);
        i += 1;
      }
    }
    return results;
  }

  async count(collection: string): Promise<number> {
    return this.collection(collection).size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.collections.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new EddyError('ExactVectorIndex is closed');
  }

  private collection(name: string): Collection {
    this.checkOpen();
    const c = this.collections.get(name);
    if (c === undefined) throw new EddyError(`unknown collection ${name}: call ensureCollection first`);
    return c;
  }
}

function checkVector(c: Collection, vector: Float32Array, what: string): void {
  if (!(vector instanceof Float32Array)) {
    throw new EddyError(`collection ${c.name}: ${what} vector must be a Float32Array`);
  }
  if (vector.length !== c.dimension) {
    throw new EddyError(
      `collection ${c.name} has dimension ${c.dimension}, but ${what} has a vector of dimension ${vector.length}`,
    );
  }
  for (let j = 0; j < vector.length; j++) {
    if (!Number.isFinite(vector[j]!)) {
      throw new EddyError(`collection ${c.name}: ${what} vector has a non-finite component at index ${j}`);
    }
  }
}

function l2(vector: Float32Array): number {
  let sum = 0;
  for (let j = 0; j < vector.length; j++) sum += vector[j]! * vector[j]!;
  return Math.sqrt(sum);
}

/** Validates a query and returns the vector to score with (unit length for a cosine collection). */
function prepareQuery(c: Collection, query: VectorQuery, scratch: Float32Array): Float32Array {
  checkVector(c, query.vector, 'query');
  if (!Number.isInteger(query.limit) || query.limit < 0) {
    throw new EddyError(
      `collection ${c.name}: query limit must be a non-negative integer, got ${query.limit}`,
    );
  }
  if (c.distance !== 'cosine') return query.vector;
  const norm = l2(query.vector);
  for (let j = 0; j < c.dimension; j++) scratch[j] = norm > 0 ? query.vector[j]! / norm : 0;
  return scratch;
}

function search(c: Collection, query: VectorQuery): ScoredPoint[] {
  const q = prepareQuery(c, query, c.query);
  const limit = Math.min(query.limit, c.size);
  if (limit === 0) return [];
  if (c.distance === 'euclid') euclidScores(c.vectors, q, c.dimension, c.size, c.scores);
  else c.scoreDot(q);
  const excludeIds = query.filter?.excludeIds;
  const exclusions = markExcluded(c, excludeIds);
  try {
    return selectBest(c, c.scores, limit, query.filter, c.verdictsOf(query.filter), exclusions);
  } finally {
    clearExcluded(c, exclusions);
  }
}

/** An approximate search through the collection's HNSW graph, with the same filter semantics. */
function searchGraph(c: Collection, query: VectorQuery, efSearch: number): ScoredPoint[] {
  const graph = c.graph!;
  const q = prepareQuery(c, query, c.query);
  const limit = Math.min(query.limit, c.size);
  if (limit === 0) return [];
  const filter = query.filter;
  const must = filter?.must ?? NO_CONDITIONS;
  const mustNot = filter?.mustNot ?? NO_CONDITIONS;
  const verdicts = c.verdictsOf(filter);
  const excludeIds = filter?.excludeIds;
  const exclusions = markExcluded(c, excludeIds);
  const hasExclusions = exclusions > 0;
  if (c.heapSlots.length < limit) {
    c.heapSlots = new Int32Array(limit);
    c.heapScores = new Float64Array(limit);
  }
  const excluded = c.excluded;
  const payloads = c.payloads;
  const slotOfNode = c.slotOfNode;
  try {
    const count = graph.search(
      q,
      limit,
      efSearch,
      (node) => {
        const slot = slotOfNode[node]!;
        if (hasExclusions && excluded[slot] === 1) return false;
        return verdicts === null || passesCached(verdicts, slot, payloads, must, mustNot);
      },
      c.heapSlots,
      c.heapScores,
    );
    const result: ScoredPoint[] = new Array(count);
    for (let i = 0; i < count; i++) {
      result[i] = { id: c.ids[slotOfNode[c.heapSlots[i]!]!]!, score: c.heapScores[i]! };
    }
    // The scan's order: score descending, ties by id.
    return result.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  } finally {
    clearExcluded(c, exclusions);
  }
}

function grownInt32(from: Int32Array, size: number, fill: number): Int32Array<ArrayBuffer> {
  const to = new Int32Array(Math.max(size, from.length * 2)).fill(fill);
  to.set(from);
  return to;
}

/** Two dot-product (or cosine) queries with the same filter, scored in one pass over the vectors. */
function searchPair(c: Collection, first: VectorQuery, second: VectorQuery): [ScoredPoint[], ScoredPoint[]] {
  const q1 = prepareQuery(c, first, c.query);
  const q2 = prepareQuery(c, second, c.secondQuery);
  const size = c.size;
  if (size === 0) return [[], []];
  c.scoreDotPair(q1, q2);
  const excludeIds = first.filter?.excludeIds;
  const exclusions = markExcluded(c, excludeIds);
  // The two queries share their filter (how `queryBatch` pairs them), so its verdicts too.
  const verdicts = c.verdictsOf(first.filter);
  try {
    return [
      selectBest(c, c.scores, Math.min(first.limit, size), first.filter, verdicts, exclusions),
      selectBest(c, c.secondScores, Math.min(second.limit, size), second.filter, verdicts, exclusions),
    ];
  } finally {
    clearExcluded(c, exclusions);
  }
}

/**
 * The `limit` best-scored points that pass `filter` (its `verdicts` cache, `exclusions` slots
 * already marked), best first.
 *
 * On a large collection most points cannot make the top `limit`, yet a heap pass pays a comparison
 * and often a sift for each: a sample of every SAMPLE_STRIDE-th score of the points not excluded
 * first gives a threshold that about twice the points the list needs clear, and only those enter
 * the heap. Exact: if at least `limit` points that pass the filter clear the threshold, the best
 * `limit` all do; if fewer do, the full pass runs instead.
 */
function selectBest(
  c: Collection,
  scores: Float64Array,
  limit: number,
  filter: VectorFilter | undefined,
  verdicts: Uint8Array | null,
  exclusions: number,
): ScoredPoint[] {
  if (limit === 0) return [];
  const size = c.size;
  const eligible = size - exclusions;
  if (eligible >= THRESHOLD_MIN_SIZE && 4 * limit < eligible) {
    const threshold = sampledThreshold(c, scores, size, eligible, 2 * limit, exclusions > 0);
    const selected = selectInto(c, scores, limit, filter, verdicts, exclusions > 0, threshold);
    if (selected.length === limit) return selected;
  }
  return selectInto(c, scores, limit, filter, verdicts, exclusions > 0, Number.NEGATIVE_INFINITY);
}

/** Collections (of points not excluded) from which `selectBest` samples a threshold first. */
const THRESHOLD_MIN_SIZE = 512;
const SAMPLE_STRIDE = 8;

/**
 * A score that about `wanted` of the `eligible` points not excluded reach, estimated from every
 * SAMPLE_STRIDE-th slot's (the order of slots has nothing to do with scores).
 */
function sampledThreshold(
  c: Collection,
  scores: Float64Array,
  size: number,
  eligible: number,
  wanted: number,
  hasExclusions: boolean,
): number {
  const most = Math.ceil(size / SAMPLE_STRIDE);
  if (c.samples.length < most) c.samples = new Float64Array(most * 2);
  const sample = c.samples;
  const excluded = c.excluded;
  let samples = 0;
  for (let slot = 0; slot < size; slot += SAMPLE_STRIDE) {
    if (hasExclusions && excluded[slot] === 1) continue;
    sample[samples++] = scores[slot]!;
  }
  if (samples === 0) return Number.NEGATIVE_INFINITY;
  // The rank among the samples that corresponds to `wanted` among all, plus slack for the sample's noise.
  const rank = Math.min(samples - 1, Math.ceil((wanted * samples) / eligible) + 2);
  return kthLargest(sample, samples, rank);
}

/** The value of rank `k` (0 = largest) among `values[0..n)`, which are reordered (quickselect). */
function kthLargest(values: Float64Array, n: number, k: number): number {
  let low = 0;
  let high = n - 1;
  while (low < high) {
    const pivot = values[(low + high) >>> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else return values[k]!;
  }
  return values[k]!;
}

/** The heap pass of `selectBest` over the points scoring at least `threshold`. */
function selectInto(
  c: Collection,
  scores: Float64Array,
  limit: number,
  filter: VectorFilter | undefined,
  verdicts: Uint8Array | null,
  hasExclusions: boolean,
  threshold: number,
): ScoredPoint[] {
  const must = filter?.must ?? NO_CONDITIONS;
  const mustNot = filter?.mustNot ?? NO_CONDITIONS;
  if (c.heapSlots.length < limit) {
    c.heapSlots = new Int32Array(limit);
    c.heapScores = new Float64Array(limit);
  }
  const heapSlots = c.heapSlots;
  const heapScores = c.heapScores;
  const ids = c.ids;
  const payloads = c.payloads;
  const excluded = c.excluded;
  const size = c.size;

  // First the slots that clear the threshold and are not excluded, in a loop tight enough to run
  // at memory speed; then the heap over those few.
  if (c.gathered.length < size) c.gathered = new Int32Array(Math.max(size, 2 * c.gathered.length));
  const gathered = c.gathered;
  let clearing = 0;
  for (let slot = 0; slot < size; slot++) {
    if (scores[slot]! >= threshold) gathered[clearing++] = slot;
  }

  let count = 0;
  for (let g = 0; g < clearing; g++) {
    const slot = gathered[g]!;
    if (hasExclusions && excluded[slot] === 1) continue;
    const score = scores[slot]!;
    if (count === limit) {
      const worst = heapScores[0]!;
      if (score < worst || (score === worst && ids[slot]! > ids[heapSlots[0]!]!)) continue;
    }
    // The payload check runs only for points that would enter the top-k, which is rarely most of them.
    if (verdicts !== null && !passesCached(verdicts, slot, payloads, must, mustNot)) continue;
    if (count < limit) {
      heapSlots[count] = slot;
      heapScores[count] = score;
      siftUp(heapSlots, heapScores, ids, count);
      count++;
    } else {
      heapSlots[0] = slot;
      heapScores[0] = score;
      siftDown(heapSlots, heapScores, ids, count);
    }
  }

  // The heap's root is the worst kept point, so popping fills the result from the back.
  const result: ScoredPoint[] = new Array(count);
  for (let n = count; n > 0; n--) {
    result[n - 1] = { id: ids[heapSlots[0]!]!, score: heapScores[0]! };
    heapSlots[0] = heapSlots[n - 1]!;
    heapScores[0] = heapScores[n - 1]!;
    siftDown(heapSlots, heapScores, ids, n - 1);
  }
  return result;
}

/**
 * Marks the slots of `excludeIds` in `c.excluded` and remembers them in `c.excludedSlots`, so
 * `clearExcluded` undoes it without looking every id up again; returns how many were marked (an
 * id listed twice counts once, so there are never more than the collection's points).
 */
function markExcluded(c: Collection, excludeIds: VectorFilter['excludeIds']): number {
  if (excludeIds === undefined) return 0;
  const excluded = c.excluded;
  const slots = c.excludedSlots;
  let marked = 0;
  for (const id of excludeIds) {
    const slot = c.slots.get(id);
    if (slot === undefined || excluded[slot] === 1) continue;
    excluded[slot] = 1;
    slots[marked++] = slot;
  }
  return marked;
}

/** Clears the first `marked` slots `markExcluded` remembered. */
function clearExcluded(c: Collection, marked: number): void {
  const slots = c.excludedSlots;
  for (let i = 0; i < marked; i++) c.excluded[slots[i]!] = 0;
}

/** A filter's conditions as a key: equal keys select the same points. */
function conditionKey(must: readonly FieldMatch[], mustNot: readonly FieldMatch[]): string {
  let key = '';
  for (const condition of must) key += `+${conditionPart(condition)}`;
  for (const condition of mustNot) key += `-${conditionPart(condition)}`;
  return key;
}

function conditionPart({ key, value }: FieldMatch): string {
  // Typed and length-prefixed, so no two different conditions write the same text.
  return `${key.length}:${key}${typeof value}:${String(value).length}:${String(value)}`;
}

/** `passes` for the point in `slot`, from its cached verdict when there is one. */
function passesCached(
  verdicts: Uint8Array,
  slot: number,
  payloads: readonly Payload[],
  must: readonly FieldMatch[],
  mustNot: readonly FieldMatch[],
): boolean {
  let verdict = verdicts[slot]!;
  if (verdict === 0) {
    verdict = passes(payloads[slot]!, must, mustNot) ? PASSES : FAILS;
    verdicts[slot] = verdict;
  }
  return verdict === PASSES;
}

function passes(payload: Payload, must: readonly FieldMatch[], mustNot: readonly FieldMatch[]): boolean {
  for (let i = 0; i < must.length; i++) {
    const condition = must[i]!;
    if (!fieldMatches(payload, condition.key, condition.value)) return false;
  }
  for (let i = 0; i < mustNot.length; i++) {
    const condition = mustNot[i]!;
    if (fieldMatches(payload, condition.key, condition.value)) return false;
  }
  return true;
}

/** Qdrant's `match`: equality, or for an array-valued field, equality with any element. */
function fieldMatches(payload: Payload, key: string, value: string | number | boolean): boolean {
  const field = payload[key];
  if (typeof field === 'object') {
    for (let i = 0; i < field.length; i++) if (field[i] === value) return true;
    return false;
  }
  return field === value;
}

/** Whether heap entry `a` ranks below entry `b`: lower score, or equal score and larger id. */
function worse(
  slots: Int32Array,
  scores: Float64Array,
  ids: readonly string[],
  a: number,
  b: number,
): boolean {
  const sa = scores[a]!;
  const sb = scores[b]!;
  return sa < sb || (sa === sb && ids[slots[a]!]! > ids[slots[b]!]!);
}

function swap(slots: Int32Array, scores: Float64Array, a: number, b: number): void {
  const slot = slots[a]!;
  slots[a] = slots[b]!;
  slots[b] = slot;
  const score = scores[a]!;
  scores[a] = scores[b]!;
  scores[b] = score;
}

function siftUp(slots: Int32Array, scores: Float64Array, ids: readonly string[], index: number): void {
  let i = index;
  while (i > 0) {
    const parent = (i - 1) >>> 1;
    if (!worse(slots, scores, ids, i, parent)) return;
    swap(slots, scores, i, parent);
    i = parent;
  }
}

function siftDown(slots: Int32Array, scores: Float64Array, ids: readonly string[], size: number): void {
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let worst = i;
    if (left < size && worse(slots, scores, ids, left, worst)) worst = left;
    if (right < size && worse(slots, scores, ids, right, worst)) worst = right;
    if (worst === i) return;
    swap(slots, scores, i, worst);
    i = worst;
  }
}

/** The in-process index that never approximates: the reference the other stores are checked against. */
export class ExactVectorIndex extends InMemoryVectorIndex {
  constructor() {
    super({ approximateFrom: Number.POSITIVE_INFINITY });
  }
}

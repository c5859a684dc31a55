/**
 * The vector-store port on Qdrant (REST, @qdrant/js-client-rest 1.18; by the client's own rule the
 * server may be 1.17–1.19). Every request is held to the Qdrant 1.19 OpenAPI spec by the contract
 * tests (test/contract).
 *
 * Mapping:
 * - Collection `name` → Qdrant collection `<prefix><name>`, one unnamed dense vector with the spec's
 *   size and distance (cosine → Cosine, dot → Dot, euclid → Euclid).
 * - Point id → the v5 UUID of the Eddy id (see point-ids.ts); the Eddy id is stored in the payload
 *   under `eddy_id` and read back from there, so `with_payload` asks for that one field only.
 * - Filter → `must` / `must_not` of `match: { value }` conditions (a non-integer number, which
 *   `match` cannot carry, becomes the equivalent `range: { gte: v, lte: v }`); excluded ids → one
 *   `must_not: { has_id: [...] }`.
 * - Scores: Qdrant's Euclid score is the distance (smaller is closer); the port wants larger-is-closer,
 *   so it is negated. Each result list is re-sorted by (score desc, id asc): Qdrant does not order
 *   ties, the port promises ties by id. Which of several tied points make the cut-off at `limit` is
 *   still the server's choice, so parity with the in-process index is exact only without ties.
 *
 * Writes and `wait`: every upsert and delete is sent with `wait=true`, i.e. acknowledged only once
 * applied and visible to search. Why: (1) read-your-writes — refreshVectors upserts drifted and new
 * items and deletes removed ones immediately before recommendLists queries, and a removed item must
 * not be served, nor a new one missed, by the very next query; with `wait=false` Qdrant acknowledges
 * after the WAL write and applies later. (2) Backpressure — acknowledgement at apply time makes a
 * slow Qdrant slow the pipeline instead of letting its update queue grow. (3) Ordering — Eddy sends
 * a write only once the previous one is acknowledged as applied, so writes land in the order Eddy
 * issued them. The one exception: an attempt that timed out (its connection is closed) but that
 * Qdrant still applies later, after its own retry and after a newer write to the same point, would
 * bring back the older vector until the point's next write; a retry repeats the same content, so
 * this needs a request to outlive its timeout by a whole pipeline batch. The cost of `wait=true` is
 * the apply time on every write (a few ms a batch).
 *
 * Upserts and deletes are split into requests of at most `upsertBatchSize` points, sent one after
 * another; every point is validated before the first request, but a failure after the first
 * request leaves the earlier ones applied (each is idempotent, so repeating the call is safe).
 *
 * Failures: see resilience.ts. Timeouts, connection errors, 5xx, 408 and 429 are retried (with
 * backoff, behind a circuit breaker, waiting while it is open); other 4xx raise QdrantRequestError.
 * Start-up calls (ensureCollection, serverVersion) give up after `startupGiveUpAfterMs` with
 * QdrantUnavailableError; later calls wait for Qdrant as long as `giveUpAfterMs` allows (default:
 * indefinitely).
 *
 * Metrics (when given EddyMetrics): every HTTP request in `eddy_vector_store_request_seconds`
 * {operation = the port method, outcome = ok/error} and failed ones in
 * `eddy_vector_store_errors_total`; retries in `eddy_vector_store_retries_total` {operation,
 * reason}; the breaker in `eddy_circuit_breaker_state{dependency="vector_store"}`.
 */

import { QdrantClient, QdrantClientResourceExhaustedError, type Schemas } from '@qdrant/js-client-rest';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { EddyMetrics, VectorStoreOperation } from '../../observe/metrics.js';
import type {
  CollectionSpec,
  Distance,
  FieldMatch,
  Point,
  ScoredPoint,
  VectorFilter,
  VectorQuery,
  VectorStore,
} from '../../ports/vector-store.js';
import {
  type CircuitState,
  type FailureClass,
  GaveUpError,
  Resilience,
  ResilienceClosedError,
} from '../../util/resilience.js';
import { isStorableId, PointIds } from './point-ids.js';
import {
  QdrantCollectionMismatchError,
  QdrantRequestError,
  QdrantUnavailableError,
  QdrantWriteNotAppliedError,
} from './qdrant-errors.js';

/** The payload field holding the Eddy id of a point. */
export const EDDY_ID_FIELD = 'eddy_id';

export type PayloadIndexType = 'keyword' | 'bool' | 'integer' | 'float';

/** Index types of the payload fields Eddy filters on (recommender.ts: `available`, `categories`). */
export const DEFAULT_PAYLOAD_INDEX_TYPES: Readonly<Record<string, PayloadIndexType>> = {
  available: 'bool',
  categories: 'keyword',
};

export interface QdrantVectorStoreOptions {
  /** REST endpoint, e.g. http://localhost:6333. */
  readonly url: string;
  readonly apiKey?: string | null;
  /** Prepended to every collection name (default ''). */
  readonly collectionPrefix?: string;
  /** Per-request timeout (default 2000 ms); the request is aborted and retried. */
  readonly timeoutMs?: number;
  /** Max points per upsert or delete request (default 256). */
  readonly upsertBatchSize?: number;
  /** Max queries per batch-query request (default 256). */
  readonly queryBatchSize?: number;
  /** Exact (brute-force) search instead of HNSW: slower, used for parity checks (default false). */
  readonly exact?: boolean;
  /** HNSW beam width for approximate search (default: the collection's). */
  readonly hnswEf?: number | null;
  /** Index type per field named in `CollectionSpec.indexedFields` (default DEFAULT_PAYLOAD_INDEX_TYPES). */
  readonly payloadIndexTypes?: Readonly<Record<string, PayloadIndexType>>;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly breakerFailureThreshold?: number;
  readonly breakerCooldownMs?: number;
  /** A call failing transiently for longer than this rejects with QdrantUnavailableError (default: never). */
  readonly giveUpAfterMs?: number;
  /**
   * The same limit for start-up calls (ensureCollection, serverVersion), default 30 s: with no event
   * in flight yet, a wrong URL or a Qdrant that does not come up is better reported than waited on.
   */
  readonly startupGiveUpAfterMs?: number;
  /** Cached id → point-id mappings (default 100,000 ≈ 15 MB). */
  readonly idCacheSize?: number;
  /** HTTP keep-alive connections (default: the client's, 25). */
  readonly maxConnections?: number;
  /** For tests: the backoff jitter source. */
  readonly random?: () => number;
  /** Where outages are reported: the first failed call, breaker transitions, recovery. */
  readonly logger?: Logger;
}

interface KnownCollection {
  readonly qdrantName: string;
  readonly dimension: number;
  readonly distance: Distance;
}

const QDRANT_DISTANCE: Readonly<Record<Distance, 'Cosine' | 'Dot' | 'Euclid'>> = {
  cosine: 'Cosine',
  dot: 'Dot',
  euclid: 'Euclid',
};

const CONNECTION_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  // A name that does not resolve (yet): a Qdrant service being recreated; start-up gives up in time.
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

type QdrantFilter = Schemas['Filter'];
type QdrantCondition = Schemas['Condition'];
type QdrantQueryRequest = Schemas['QueryRequest'];
type QdrantPointStruct = Schemas['PointStruct'];

export class QdrantVectorStore implements VectorStore {
  private readonly client: QdrantClient;
  private readonly resilience: Resilience;
  private readonly ids: PointIds;
  private readonly collections = new Map<string, KnownCollection>();
  private readonly prefix: string;
  private readonly upsertBatchSize: number;
  private readonly queryBatchSize: number;
  private readonly searchParams: Schemas['SearchParams'] | undefined;
  private readonly payloadIndexTypes: Readonly<Record<string, PayloadIndexType>>;
  /** Qdrant's own deadline for a request, in whole seconds, so it stops work Eddy has given up on. */
  private readonly serverTimeoutSeconds: number;
  private readonly startupGiveUpAfterMs: number;
  private closed = false;

  constructor(
    options: QdrantVectorStoreOptions,
    private readonly metrics: EddyMetrics | null = null,
  ) {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const logger = options.logger ?? silentLogger;
    this.prefix = options.collectionPrefix ?? '';
    this.upsertBatchSize = positiveInteger('upsertBatchSize', options.upsertBatchSize ?? 256);
    this.queryBatchSize = positiveInteger('queryBatchSize', options.queryBatchSize ?? 256);
    this.searchParams = options.exact
      ? { exact: true }
      : options.hnswEf
        ? { hnsw_ef: positiveInteger('hnswEf', options.hnswEf) }
        : undefined;
    this.payloadIndexTypes = options.payloadIndexTypes ?? DEFAULT_PAYLOAD_INDEX_TYPES;
    this.serverTimeoutSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    this.startupGiveUpAfterMs = options.startupGiveUpAfterMs ?? 30_000;
    this.ids = new PointIds(options.idCacheSize ?? 100_000);
    this.client = new QdrantClient({
      url: options.url,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      // The resilience layer owns timeouts and aborts each request through its signal; the client's
      // own timeout (any finite value) would replace that signal with its own.
      timeout: Number.POSITIVE_INFINITY,
      // Its check logs to the console from a request nobody awaits; serverVersion() is the explicit one.
      checkCompatibility: false,
      ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
    });
    this.resilience = new Resilience({
      attemptTimeoutMs: timeoutMs,
      retryBaseMs: options.retryBaseMs ?? 50,
      retryMaxMs: options.retryMaxMs ?? 2_000,
      failureThreshold: options.breakerFailureThreshold ?? 5,
      cooldownMs: options.breakerCooldownMs ?? 1_000,
      ...(options.giveUpAfterMs !== undefined ? { giveUpAfterMs: options.giveUpAfterMs } : {}),
      ...(options.random ? { random: options.random } : {}),
      classify: classifyQdrantError,
      hooks: {
        // Per HTTP request (attempt), so the error ratio counts failed requests, retried or not.
        attempt: (operation, outcome, seconds) => {
          const labels = { operation, outcome: outcome === 'ok' ? 'ok' : 'error' };
          this.metrics?.vectorStoreSeconds.observe(labels, seconds);
          if (outcome !== 'ok') this.metrics?.vectorStoreErrorsTotal.inc({ operation });
        },
        retry: (operation, reason) => this.metrics?.vectorStoreRetriesTotal.inc({ operation, reason }),
        state: (state) => {
          this.metrics?.setBreakerState('vector_store', state);
          const fields = { url: options.url, state };
          if (state === 'open') logger.warn('Qdrant circuit breaker opened: calls wait for Qdrant', fields);
          else
            logger.info(
              `Qdrant circuit breaker ${state === 'closed' ? 'closed' : 'half-open: probing'}`,
              fields,
            );
        },
        health: (healthy, operation, reason) => {
          if (healthy) logger.info('Qdrant answers again', { url: options.url, operation });
          else
            logger.warn('Qdrant call failed; retrying with backoff', { url: options.url, operation, reason });
        },
      },
    });
    this.metrics?.setBreakerState('vector_store', 'closed');
  }

  /** The circuit breaker's state: `open` means Qdrant is considered down and calls are waiting. */
  get circuitState(): CircuitState {
    return this.resilience.breaker.state;
  }

  /**
   * False from the first failed call until a call succeeds again (readiness): the breaker opens
   * only after several failures and lets probes through while open, so its state alone would
   * report an outage late and intermittently.
   */
  get healthy(): boolean {
    return this.resilience.healthy;
  }

  /** The Qdrant collection behind an Eddy collection name. */
  qdrantName(collection: string): string {
    return `${this.prefix}${collection}`;
  }

  /** The server's version (GET /), e.g. for a start-up log line. */
  async serverVersion(): Promise<string> {
    this.checkOpen();
    const response = await this.call('ensure_collection', 'root', (init) => this.client.api().root({}, init));
    return response.data.version;
  }

  /**
   * Creates the collection if it does not exist, then checks its vector layout and creates missing
   * payload indexes. Idempotent; safe to run from several processes at once (a concurrent creation
   * is detected and the existing collection checked like any other).
   */
  async ensureCollection(spec: CollectionSpec): Promise<void> {
    this.checkOpen();
    checkSpec(spec);
    const collection_name = this.qdrantName(spec.name);
    const expected = { dimension: spec.dimension, distance: QDRANT_DISTANCE[spec.distance] };
    const indexes = (spec.indexedFields ?? []).map((field) => {
      const type = this.payloadIndexTypes[field];
      if (type === undefined) {
        throw new EddyError(
          `collection ${spec.name}: no payload index type configured for field ${JSON.stringify(field)} ` +
            `(known: ${Object.keys(this.payloadIndexTypes).join(', ')})`,
        );
      }
      return { field, type };
    });
    const exists = await this.call('ensure_collection', 'collection_exists', (init) =>
      this.client.api().collectionExists({ collection_name }, init),
    );
    if (exists.data.result?.exists !== true) {
      try {
        await this.call('ensure_collection', 'create_collection', (init) =>
          this.client.api().createCollection(
            {
              collection_name,
              timeout: this.serverTimeoutSeconds,
              vectors: { size: spec.dimension, distance: expected.distance },
            },
            init,
          ),
        );
      } catch (error) {
        // 409: another process created it in between; checked below like any existing collection.
        if (!(error instanceof QdrantRequestError && error.status === 409)) throw error;
      }
    }
    const info = await this.call('ensure_collection', 'get_collection', (init) =>
      this.client.api().getCollection({ collection_name }, init),
    );
    const result = info.data.result;
    if (result === undefined)
      throw new QdrantRequestError('get_collection', undefined, 'no result in the response');
    const vectors = singleVector(result.config.params.vectors);
    if (vectors === undefined) {
      throw QdrantCollectionMismatchError.layout(
        collection_name,
        expected,
        'named vectors (Eddy uses one unnamed vector)',
      );
    }
    if (vectors.multivector_config) {
      throw QdrantCollectionMismatchError.layout(
        collection_name,
        expected,
        'multivectors (Eddy uses one dense vector)',
      );
    }
    if (vectors.size !== expected.dimension || vectors.distance !== expected.distance) {
      throw QdrantCollectionMismatchError.layout(collection_name, expected, {
        dimension: vectors.size,
        distance: vectors.distance,
      });
    }
    for (const { field, type } of indexes) {
      const existing = result.payload_schema[field];
      if (existing !== undefined) {
        if (existing.data_type !== type) {
          throw new QdrantCollectionMismatchError(
            collection_name,
            `a ${type} index on payload field ${field}`,
            `a ${existing.data_type} index on it`,
          );
        }
        continue;
      }
      // Not awaited (wait=false): on a large existing collection the build can take minutes, and
      // filters work without the index meanwhile, only slower. On a new collection it is immediate.
      await this.call('ensure_collection', 'create_field_index', (init) =>
        this.client.api().createFieldIndex(
          {
            collection_name,
            wait: false,
            timeout: this.serverTimeoutSeconds,
            field_name: field,
            field_schema: type,
          },
          init,
        ),
      );
    }
    this.collections.set(spec.name, {
      qdrantName: collection_name,
      dimension: spec.dimension,
      distance: spec.distance,
    });
  }

  async upsert(collection: string, points: readonly Point[]): Promise<void> {
    const c = this.collection(collection);
    // Validated in full first, so a bad point fails the call before anything is written.
    const byId = new Map<string, QdrantPointStruct>();
    for (const point of points) {
      if (typeof point.id !== 'string' || !isStorableId(point.id)) {
        throw new EddyError(
          `collection ${collection}: point id must be a well-formed string, got ${JSON.stringify(point.id)}`,
        );
      }
      checkVector(collection, c, point.vector, `point ${point.id}`);
      if (Object.hasOwn(point.payload, EDDY_ID_FIELD)) {
        throw new EddyError(
          `collection ${collection}: payload field ${EDDY_ID_FIELD} is reserved (point ${point.id})`,
        );
      }
      byId.set(point.id, {
        id: this.ids.of(point.id),
        vector: wireVector(c, point.vector),
        payload: { ...point.payload, [EDDY_ID_FIELD]: point.id },
      });
    }
    const structs = [...byId.values()];
    for (let start = 0; start < structs.length; start += this.upsertBatchSize) {
      const batch = structs.slice(start, start + this.upsertBatchSize);
      await this.call('upsert', 'upsert_points', async (init) =>
        applied(
          'upsert_points',
          await this.client.api().upsertPoints(
            {
              collection_name: c.qdrantName,
              wait: true,
              timeout: this.serverTimeoutSeconds,
              points: batch,
            },
            init,
          ),
        ),
      );
    }
  }

  async delete(collection: string, ids: readonly string[]): Promise<void> {
    const c = this.collection(collection);
    // An id that cannot be stored is not in the collection: nothing to delete.
    const pointIds = [...new Set(ids.filter((id) => typeof id === 'string' && isStorableId(id)))].map((id) =>
      this.ids.of(id),
    );
    for (let start = 0; start < pointIds.length; start += this.upsertBatchSize) {
      const batch = pointIds.slice(start, start + this.upsertBatchSize);
      await this.call('delete', 'delete_points', async (init) =>
        applied(
          'delete_points',
          await this.client.api().deletePoints(
            {
              collection_name: c.qdrantName,
              wait: true,
              timeout: this.serverTimeoutSeconds,
              points: batch,
            },
            init,
          ),
        ),
      );
    }
  }

  async queryBatch(collection: string, queries: readonly VectorQuery[]): Promise<ScoredPoint[][]> {
    const c = this.collection(collection);
    const results: ScoredPoint[][] = queries.map(() => []);
    const pending: { index: number; request: QdrantQueryRequest }[] = [];
    // The recommender passes one filter object per user to both of that user's queries.
    const filters = new Map<VectorFilter, QdrantFilter | undefined>();
    for (let i = 0; i < queries.length; i++) {
      const query = queries[i]!;
      checkVector(collection, c, query.vector, 'query');
      if (!Number.isInteger(query.limit) || query.limit < 0) {
        throw new EddyError(
          `collection ${collection}: query limit must be a non-negative integer, got ${query.limit}`,
        );
      }
      // Qdrant's limit is ≥ 1; an empty answer needs no request.
      if (query.limit === 0) continue;
      let filter: QdrantFilter | undefined;
      if (query.filter !== undefined) {
        if (!filters.has(query.filter)) filters.set(query.filter, this.toFilter(query.filter));
        filter = filters.get(query.filter);
      }
      pending.push({
        index: i,
        request: {
          query: wireVector(c, query.vector),
          limit: query.limit,
          with_payload: [EDDY_ID_FIELD],
          with_vector: false,
          ...(filter ? { filter } : {}),
          ...(this.searchParams ? { params: this.searchParams } : {}),
        },
      });
    }
    const negate = c.distance === 'euclid';
    for (let start = 0; start < pending.length; start += this.queryBatchSize) {
      const chunk = pending.slice(start, start + this.queryBatchSize);
      const response = await this.call('query_batch', 'query_batch_points', (init) =>
        this.client.api().queryBatchPoints(
          {
            collection_name: c.qdrantName,
            timeout: this.serverTimeoutSeconds,
            searches: chunk.map((p) => p.request),
          },
          init,
        ),
      );
      const answers = response.data.result ?? [];
      if (answers.length !== chunk.length) {
        throw new QdrantRequestError(
          'query_batch',
          undefined,
          `${chunk.length} queries got ${answers.length} answers`,
        );
      }
      for (let k = 0; k < chunk.length; k++) {
        const hits: ScoredPoint[] = answers[k]!.points.map((hit) => {
          const id = hit.payload?.[EDDY_ID_FIELD];
          if (typeof id !== 'string') {
            throw new EddyError(
              `collection ${c.qdrantName}: point ${String(hit.id)} has no ${EDDY_ID_FIELD} payload; ` +
                'the collection holds points Eddy did not write',
            );
          }
          // `0 -` so a zero distance scores +0 as in the in-process index.
          return { id, score: negate ? 0 - hit.score : hit.score };
        });
        hits.sort(byScoreThenId);
        results[chunk[k]!.index] = hits;
      }
    }
    return results;
  }

  async count(collection: string): Promise<number> {
    const c = this.collection(collection);
    const response = await this.call('count', 'count_points', (init) =>
      this.client
        .api()
        .countPoints(
          { collection_name: c.qdrantName, timeout: this.serverTimeoutSeconds, exact: true },
          init,
        ),
    );
    return response.data.result?.count ?? 0;
  }

  /** Stops: calls waiting on Qdrant (retrying, or held by the open breaker) reject with QdrantUnavailableError. */
  async close(): Promise<void> {
    this.closed = true;
    this.resilience.close();
  }

  private toFilter(filter: VectorFilter): QdrantFilter | undefined {
    const must = (filter.must ?? []).map(toCondition);
    const mustNot = (filter.mustNot ?? []).map(toCondition);
    if (filter.excludeIds !== undefined) {
      const excluded = new Set<string>();
      for (const id of filter.excludeIds) if (isStorableId(id)) excluded.add(this.ids.of(id));
      // Distinct ids map to distinct UUIDs, but has_id requires unique items, so dedupe after mapping.
      if (excluded.size > 0) mustNot.push({ has_id: [...excluded] });
    }
    if (must.length === 0 && mustNot.length === 0) return undefined;
    return {
      ...(must.length > 0 ? { must } : {}),
      ...(mustNot.length > 0 ? { must_not: mustNot } : {}),
    };
  }

  private collection(name: string): KnownCollection {
    this.checkOpen();
    const c = this.collections.get(name);
    if (c === undefined) throw new EddyError(`unknown collection ${name}: call ensureCollection first`);
    return c;
  }

  private checkOpen(): void {
    if (this.closed) throw new EddyError('QdrantVectorStore is closed');
  }

  /**
   * One REST request through the resilience layer, timed and counted under the port `operation`
   * (bounded metric labels); Qdrant's errors become Eddy's, named after the `request`.
   */
  private async call<T>(
    operation: VectorStoreOperation,
    request: string,
    send: (init: { signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const startup = operation === 'ensure_collection';
    try {
      return await this.resilience.execute(
        operation,
        async (signal) => {
          try {
            return await send({ signal });
          } catch (error) {
            throw toRequestError(request, error);
          }
        },
        startup ? { giveUpAfterMs: this.startupGiveUpAfterMs } : {},
      );
    } catch (error) {
      if (error instanceof GaveUpError) {
        const reason = `still failing after ${Math.round(error.elapsedMs)} ms (last: ${describeFailure(error.lastError)})`;
        throw new QdrantUnavailableError(request, reason);
      }
      if (error instanceof ResilienceClosedError)
        throw new QdrantUnavailableError(request, 'the store was closed');
      if (error instanceof EddyError) throw error;
      // Not retryable and not an HTTP answer (e.g. a URL fetch refuses): still Qdrant's call that failed.
      throw new QdrantRequestError(request, httpStatus(error), describeFailure(error), error);
    }
  }
}

/** The collection's vector parameters when it has one unnamed vector (a map of named vectors otherwise). */
function singleVector(config: Schemas['VectorsConfig'] | undefined): Schemas['VectorParams'] | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const { size, distance } = config as { size?: unknown; distance?: unknown };
  return typeof size === 'number' && typeof distance === 'string'
    ? (config as Schemas['VectorParams'])
    : undefined;
}

/**
 * A vector as sent to Qdrant. Cosine vectors go unit-length: Qdrant normalises them itself, except
 * one whose float32 sum of squares is below float32 epsilon (~1.19e-7), which it stores and queries
 * as is; the in-process index normalises every nonzero vector in double precision, and so does this,
 * so both rank alike however small the vector.
 */
function wireVector(c: KnownCollection, vector: Float32Array): number[] {
  const out = Array.from(vector);
  if (c.distance !== 'cosine') return out;
  let sum = 0;
  for (const x of out) sum += x * x;
  if (sum === 0) return out;
  const norm = Math.sqrt(sum);
  for (let j = 0; j < out.length; j++) out[j] = out[j]! / norm;
  return out;
}

/** A write sent with `wait=true` counts as done only when Qdrant says `completed`. */
function applied<T extends { data: { result?: { status: string } | undefined } }>(
  request: string,
  response: T,
): T {
  const status = response.data.result?.status;
  if (status !== 'completed') throw new QdrantWriteNotAppliedError(request, String(status));
  return response;
}

function byScoreThenId(a: ScoredPoint, b: ScoredPoint): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function toCondition(condition: FieldMatch): QdrantCondition {
  const { key, value } = condition;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    // `match` takes strings, integers and booleans only; equality on a float is a closed range.
    return { key, range: { gte: value, lte: value } };
  }
  return { key, match: { value } };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new EddyError(`${name} must be an integer ≥ 1, got ${value}`);
  return value;
}

function checkSpec(spec: CollectionSpec): void {
  if (typeof spec.name !== 'string' || spec.name === '') {
    throw new EddyError(`collection name must be a non-empty string, got ${JSON.stringify(spec.name)}`);
  }
  if (!Number.isInteger(spec.dimension) || spec.dimension < 1) {
    throw new EddyError(
      `collection ${spec.name}: dimension must be a positive integer, got ${spec.dimension}`,
    );
  }
  if (!Object.hasOwn(QDRANT_DISTANCE, spec.distance)) {
    throw new EddyError(
      `collection ${spec.name}: distance must be 'cosine', 'dot' or 'euclid', got ${String(spec.distance)}`,
    );
  }
}

function checkVector(name: string, c: KnownCollection, vector: Float32Array, what: string): void {
  if (!(vector instanceof Float32Array))
    throw new EddyError(`collection ${name}: ${what} vector must be a Float32Array`);
  if (vector.length !== c.dimension) {
    throw new EddyError(
      `collection ${name} has dimension ${c.dimension}, but ${what} has a vector of dimension ${vector.length}`,
    );
  }
  for (let j = 0; j < vector.length; j++) {
    if (!Number.isFinite(vector[j]!)) {
      throw new EddyError(`collection ${name}: ${what} vector has a non-finite component at index ${j}`);
    }
  }
}

/** The HTTP status of a response error from the client (its ApiError is not exported, so duck-typed). */
function httpStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const status = (error as Error & { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

function errorDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const data = (error as Error & { data?: unknown }).data;
  if (typeof data === 'object' && data !== null && 'status' in data) {
    const status = (data as { status?: unknown }).status;
    if (typeof status === 'object' && status !== null && 'error' in status) {
      return String((status as { error?: unknown }).error);
    }
  }
  return error.message;
}

/** Non-transient HTTP errors become QdrantRequestError (with Qdrant's message); others pass unchanged. */
function toRequestError(operation: string, error: unknown): unknown {
  const status = httpStatus(error);
  if (status === undefined || status >= 500 || status === 408 || status === 429) return error;
  return new QdrantRequestError(operation, status, errorDetail(error), error);
}

/** An error's message followed by its causes', e.g. "fetch failed: connect ECONNREFUSED 10.0.0.7:6333". */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    const part = typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
    if (part !== '' && !parts.includes(part)) parts.push(part);
  }
  const status = httpStatus(error);
  return `${parts.join(': ')}${status !== undefined ? ` (HTTP ${status})` : ''}`;
}

/**
 * A connection-level failure: undici reports them as TypeError('fetch failed' / 'terminated') with
 * a coded cause (ECONNREFUSED, UND_ERR_SOCKET, …). Only the codes count: an uncoded cause such as
 * "bad port" is a configuration error that no retry fixes.
 */
function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  }
  return false;
}

export function classifyQdrantError(error: unknown): FailureClass {
  if (error instanceof QdrantRequestError) return { transient: false, reason: 'client_error' };
  if (error instanceof QdrantWriteNotAppliedError) return { transient: true, reason: 'not_applied' };
  if (error instanceof QdrantClientResourceExhaustedError) {
    return { transient: true, reason: 'rate_limited', retryAfterMs: error.retry_after * 1000 };
  }
  const status = httpStatus(error);
  if (status === 429) return { transient: true, reason: 'rate_limited' };
  if (status === 408) return { transient: true, reason: 'timeout' };
  if (status !== undefined && status >= 500) return { transient: true, reason: 'server_error' };
  if (isConnectionError(error)) return { transient: true, reason: 'connection' };
  return { transient: false, reason: 'error' };
}

/**
 * A small in-memory model of the Qdrant operations Eddy uses, behind the contract server
 * (qdrant-contract-server.ts). Request bodies reach it only after they validated against the spec,
 * so it narrows rather than re-validates; anything the spec allows but the model does not implement
 * throws Unsupported, which the server records as a violation (a test relying on it would be testing
 * the model, not the adapter).
 *
 * Search is exact, scores are computed as Qdrant does (float32 vectors, cosine on unit vectors,
 * Euclid scored by distance, smaller first) and rounded to float32 as Qdrant returns them. Ties are
 * broken by the point's `eddy_id` payload (then by point id): a real Qdrant does not order ties at
 * all, so this is the model being deterministic like the in-process index, not a Qdrant guarantee.
 */

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
type JsonObject = { readonly [key: string]: Json };

/** A request the spec allows but this model does not implement. */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
}

/** A request Qdrant itself would refuse, with Qdrant's status code. */
export class QdrantFailure extends Error {
  override readonly name = 'QdrantFailure';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type QdrantDistance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';

interface StoredPoint {
  readonly id: string | number;
  readonly vector: Float32Array;
  readonly payload: JsonObject;
  readonly version: number;
}

export class ModelCollection {
  /** Keyed by `pointKey` (canonical UUID string or integer). */
  readonly points = new Map<string, StoredPoint>();
  readonly payloadIndexes = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly size: number,
    readonly distance: QdrantDistance,
  ) {}
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: Json | undefined): readonly Json[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? (value as readonly Json[]) : [value];
}

/** Qdrant normalizes UUIDs (any accepted spelling) to lower-case hyphenated; integers stay integers. */
export function pointKey(id: Json | undefined): string {
  if (typeof id === 'number') return `n:${id}`;
  if (typeof id === 'string') {
    const hex = id
      .toLowerCase()
      .replace(/^urn:uuid:/, '')
      .replace(/[{}-]/g, '');
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new QdrantFailure(400, `Wrong input: Unable to parse UUID: ${id}`);
    return `u:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new QdrantFailure(400, `Wrong input: invalid point id ${JSON.stringify(id)}`);
}

function outputId(key: string): string | number {
  return key.startsWith('n:') ? Number(key.slice(2)) : key.slice(2);
}

/**
 * Qdrant's cosine preprocessing (segment/src/spaces/simple.rs `cosine_preprocess`), in float32 as
 * the server computes it: a vector whose sum of squares is below float32 epsilon, or already within
 * 1e-6 of unit length, is stored (or queried) as it is; any other is divided by its length. So a
 * tiny nonzero vector is *not* normalised, unlike in the in-process index.
 */
function unit(vector: readonly number[] | Float32Array): Float32Array {
  const out = Float32Array.from(vector);
  let sum = 0;
  for (let j = 0; j < out.length; j++) sum = Math.fround(sum + Math.fround(out[j]! * out[j]!));
  if (sum < FLOAT32_EPSILON || Math.abs(sum - 1) <= 1e-6) return out;
  const length = Math.fround(Math.sqrt(sum));
  for (let j = 0; j < out.length; j++) out[j] = out[j]! / length;
  return out;
}

const FLOAT32_EPSILON = 2 ** -23;

export class QdrantModel {
  readonly collections = new Map<string, ModelCollection>();
  private operationId = 0;
  /** `has_id` lists as key sets, built once per request object rather than once per point. */
  private readonly idSets = new WeakMap<object, ReadonlySet<string>>();

  collection(name: string): ModelCollection {
    const c = this.collections.get(name);
    if (c === undefined) throw new QdrantFailure(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return c;
  }

  nextOperation(): number {
    return this.operationId++;
  }

  createCollection(name: string, body: Json | undefined): void {
    if (this.collections.has(name))
      throw new QdrantFailure(409, `Wrong input: Collection \`${name}\` already exists!`);
    const vectors = isObject(body) ? body.vectors : undefined;
    if (!isObject(vectors) || typeof vectors.size !== 'number' || typeof vectors.distance !== 'string') {
      throw new Unsupported('create_collection: only a single unnamed dense vector is modelled');
    }
    if (vectors.multivector_config !== undefined && vectors.multivector_config !== null) {
      throw new Unsupported('create_collection: multivectors are not modelled');
    }
    this.collections.set(name, new ModelCollection(name, vectors.size, vectors.distance as QdrantDistance));
  }

  createFieldIndex(name: string, body: Json | undefined): void {
    const c = this.collection(name);
    if (!isObject(body) || typeof body.field_name !== 'string')
      throw new Unsupported('create_field_index: no field_name');
    const schema = body.field_schema;
    const type = typeof schema === 'string' ? schema : isObject(schema) ? schema.type : undefined;
    if (typeof type !== 'string')
      throw new Unsupported('create_field_index: field_schema is required by the model');
    c.payloadIndexes.set(body.field_name, type);
  }

  /** Qdrant's CollectionInfo for the collection (checked against the spec by the server). */
  collectionInfo(name: string): JsonObject {
    const c = this.collection(name);
    const payloadSchema: Record<string, Json> = {};
    for (const [field, type] of c.payloadIndexes) {
      let points = 0;
      for (const p of c.points.values()) if (p.payload[field] !== undefined) points++;
      payloadSchema[field] = { data_type: type, points };
    }
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0,
      points_count: c.points.size,
      segments_count: 1,
      config: {
        params: {
          vectors: { size: c.size, distance: c.distance },
          shard_number: 1,
          replication_factor: 1,
          write_consistency_factor: 1,
          on_disk_payload: true,
        },
        hnsw_config: {
          m: 16,
          ef_construct: 100,
          full_scan_threshold: 10_000,
          max_indexing_threads: 0,
          on_disk: false,
        },
        optimizer_config: {
          deleted_threshold: 0.2,
          vacuum_min_vector_number: 1000,
          default_segment_number: 0,
          max_segment_size: null,
          memmap_threshold: null,
          indexing_threshold: 10_000,
          flush_interval_sec: 5,
          max_optimization_threads: null,
        },
        wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
        quantization_config: null,
      },
      payload_schema: payloadSchema,
    };
  }

  upsert(name: string, body: Json | undefined): number {
    const c = this.collection(name);
    if (!isObject(body) || !Array.isArray(body.points))
      throw new Unsupported('upsert_points: only the points-list form is modelled');
    for (const key of ['shard_key', 'update_filter', 'update_mode'] as const) {
      if (body[key] !== undefined && body[key] !== null)
        throw new Unsupported(`upsert_points: ${key} is not modelled`);
    }
    const prepared: [string, Float32Array, JsonObject][] = [];
    for (const point of body.points as readonly Json[]) {
      if (!isObject(point)) throw new Unsupported('upsert_points: a point is not an object');
      const vector = point.vector;
      if (!Array.isArray(vector) || vector.some((x) => typeof x !== 'number')) {
        throw new Unsupported('upsert_points: only dense unnamed vectors are modelled');
      }
      if (vector.length !== c.size) {
        throw new QdrantFailure(
          400,
          `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${vector.length}`,
        );
      }
      const numbers = vector as readonly number[];
      const stored = c.distance === 'Cosine' ? unit(numbers) : Float32Array.from(numbers);
      prepared.push([pointKey(point.id), stored, isObject(point.payload) ? point.payload : {}]);
    }
    // All points are checked before any is written, as Qdrant rejects a malformed batch whole.
    const version = this.nextOperation();
    for (const [key, vector, payload] of prepared) {
      c.points.set(key, { id: outputId(key), vector, payload, version });
    }
    return version;
  }

  delete(name: string, body: Json | undefined): number {
    const c = this.collection(name);
    if (!isObject(body)) throw new Unsupported('delete_points: no body');
    if (body.shard_key !== undefined && body.shard_key !== null)
      throw new Unsupported('delete_points: shard_key');
    if (Array.isArray(body.points)) {
      for (const id of body.points as readonly Json[]) c.points.delete(pointKey(id));
    } else if (isObject(body.filter)) {
      const filter = body.filter;
      for (const [key, p] of c.points) if (this.matchesFilter(key, p, filter)) c.points.delete(key);
    } else {
      throw new Unsupported('delete_points: neither points nor filter');
    }
    return this.nextOperation();
  }

  count(name: string, body: Json | undefined): number {
    const c = this.collection(name);
    const filter = isObject(body) && isObject(body.filter) ? body.filter : undefined;
    if (filter === undefined) return c.points.size;
    let n = 0;
    for (const [key, p] of c.points) if (this.matchesFilter(key, p, filter)) n++;
    return n;
  }

  /** One QueryRequest → Qdrant's QueryResponse. */
  query(name: string, request: Json): JsonObject {
    const c = this.collection(name);
    if (!isObject(request)) throw new Unsupported('query: request is not an object');
    for (const key of ['prefetch', 'using', 'lookup_from', 'shard_key'] as const) {
      if (request[key] !== undefined && request[key] !== null)
        throw new Unsupported(`query: ${key} is not modelled`);
    }
    let vector = request.query;
    if (isObject(vector) && 'nearest' in vector) {
      if (vector.mmr !== undefined && vector.mmr !== null)
        throw new Unsupported('query: mmr is not modelled');
      vector = vector.nearest;
    }
    if (!Array.isArray(vector) || vector.some((x) => typeof x !== 'number')) {
      throw new Unsupported('query: only a nearest query with a dense vector is modelled');
    }
    if (vector.length !== c.size) {
      throw new QdrantFailure(
        400,
        `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${vector.length}`,
      );
    }
    const numbers = vector as readonly number[];
    const q = c.distance === 'Cosine' ? unit(numbers) : Float32Array.from(numbers);
    const filter = isObject(request.filter) ? request.filter : undefined;
    const limit = typeof request.limit === 'number' ? request.limit : 10;
    const offset = typeof request.offset === 'number' ? request.offset : 0;
    const threshold = typeof request.score_threshold === 'number' ? request.score_threshold : undefined;
    const ascending = c.distance === 'Euclid' || c.distance === 'Manhattan';

    const hits: { key: string; point: StoredPoint; score: number; tie: string }[] = [];
    for (const [key, point] of c.points) {
      if (filter !== undefined && !this.matchesFilter(key, point, filter)) continue;
      const score = Math.fround(similarity(c.distance, q, point.vector));
      if (threshold !== undefined && (ascending ? score > threshold : score < threshold)) continue;
      const eddyId = point.payload.eddy_id;
      hits.push({ key, point, score, tie: typeof eddyId === 'string' ? eddyId : key });
    }
    hits.sort((a, b) => {
      if (a.score !== b.score) return ascending ? a.score - b.score : b.score - a.score;
      return a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    });
    const points = hits.slice(offset, offset + limit).map((hit) => {
      const payload = selectPayload(hit.point.payload, request.with_payload);
      const withVector = request.with_vector === true;
      return {
        id: hit.point.id,
        version: hit.point.version,
        score: hit.score,
        ...(payload === undefined ? {} : { payload }),
        ...(withVector ? { vector: Array.from(hit.point.vector) } : {}),
      };
    });
    return { points };
  }

  matchesFilter(key: string, point: StoredPoint, filter: JsonObject): boolean {
    for (const k of Object.keys(filter)) {
      if (k !== 'must' && k !== 'should' && k !== 'must_not' && k !== 'min_should') {
        throw new Unsupported(`filter: ${k}`);
      }
    }
    const holds = (condition: Json): boolean => this.matchesCondition(key, point, condition);
    if (!asArray(filter.must).every(holds)) return false;
    if (asArray(filter.must_not).some(holds)) return false;
    const should = asArray(filter.should);
    if (should.length > 0 && !should.some(holds)) return false;
    const minShould = filter.min_should;
    if (isObject(minShould)) {
      const needed = typeof minShould.min_count === 'number' ? minShould.min_count : 1;
      if (asArray(minShould.conditions).filter(holds).length < needed) return false;
    }
    return true;
  }

  private idSet(ids: Json | undefined): ReadonlySet<string> {
    if (typeof ids !== 'object' || ids === null) return new Set(asArray(ids).map(pointKey));
    let set = this.idSets.get(ids);
    if (set === undefined) {
      set = new Set(asArray(ids).map(pointKey));
      this.idSets.set(ids, set);
    }
    return set;
  }

  private matchesCondition(key: string, point: StoredPoint, condition: Json): boolean {
    if (!isObject(condition)) throw new Unsupported('condition is not an object');
    if ('has_id' in condition) return this.idSet(condition.has_id).has(key);
    if ('key' in condition) return matchesField(point.payload, condition);
    if ('is_empty' in condition || 'is_null' in condition) {
      const field = isObject(condition.is_empty) ? condition.is_empty : condition.is_null;
      if (!isObject(field) || typeof field.key !== 'string')
        throw new Unsupported('is_empty/is_null without key');
      const value = point.payload[simpleKey(field.key)];
      if ('is_null' in condition) return value === null;
      return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
    }
    if ('has_vector' in condition || 'nested' in condition)
      throw new Unsupported(`condition ${Object.keys(condition)[0]}`);
    return this.matchesFilter(key, point, condition);
  }
}

function simpleKey(key: string): string {
  if (/[.[\]]/.test(key)) throw new Unsupported(`nested payload key ${key}`);
  return key;
}

function matchesField(payload: JsonObject, condition: JsonObject): boolean {
  const value = payload[simpleKey(String(condition.key))];
  const values = asArray(value);
  const match = condition.match;
  const range = condition.range;
  const others = Object.keys(condition).filter(
    (k) =>
      k !== 'key' && k !== 'match' && k !== 'range' && condition[k] !== null && condition[k] !== undefined,
  );
  if (others.length > 0) throw new Unsupported(`field condition ${others.join(', ')}`);
  if (isObject(match)) {
    if ('value' in match) return values.some((v) => v === match.value);
    if ('any' in match) return values.some((v) => asArray(match.any).includes(v));
    if ('except' in match) {
      // Qdrant: a field that is absent does not match `except`.
      return values.length > 0 && values.some((v) => !asArray(match.except).includes(v));
    }
    throw new Unsupported(`match ${Object.keys(match).join(', ')}`);
  }
  if (isObject(range)) {
    const { gt, gte, lt, lte } = range;
    return values.some(
      (v) =>
        typeof v === 'number' &&
        (typeof gt !== 'number' || v > gt) &&
        (typeof gte !== 'number' || v >= gte) &&
        (typeof lt !== 'number' || v < lt) &&
        (typeof lte !== 'number' || v <= lte),
    );
  }
  throw new Unsupported('field condition without match or range');
}

function similarity(distance: QdrantDistance, q: Float32Array, x: Float32Array): number {
  let sum = 0;
  if (distance === 'Euclid') {
    for (let j = 0; j < q.length; j++) sum += (q[j]! - x[j]!) ** 2;
    return Math.sqrt(sum);
  }
  if (distance === 'Manhattan') {
    for (let j = 0; j < q.length; j++) sum += Math.abs(q[j]! - x[j]!);
    return sum;
  }
  for (let j = 0; j < q.length; j++) sum += q[j]! * x[j]!;
  return sum;
}

function selectPayload(payload: JsonObject, selector: Json | undefined): JsonObject | undefined {
  if (selector === undefined || selector === null || selector === false) return undefined;
  if (selector === true) return payload;
  const pick = (keys: readonly Json[], keep: boolean): JsonObject => {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(payload)) if (keys.includes(k) === keep) out[k] = v;
    return out;
  };
  if (Array.isArray(selector)) return pick(selector, true);
  if (isObject(selector) && Array.isArray(selector.include)) return pick(selector.include, true);
  if (isObject(selector) && Array.isArray(selector.exclude)) return pick(selector.exclude, false);
  throw new Unsupported(`with_payload ${JSON.stringify(selector)}`);
}

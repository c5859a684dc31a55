/**
 * The vector-store port: named collections of points (id, vector, payload) and batched
 * exact-or-approximate k-NN with filters applied inside the query, as Qdrant does.
 */

export type PayloadValue = string | number | boolean | readonly string[];
export type Payload = Readonly<Record<string, PayloadValue>>;

export interface Point {
  readonly id: string;
  readonly vector: Float32Array;
  readonly payload: Payload;
}

export type Distance = 'cosine' | 'dot' | 'euclid';

export interface CollectionSpec {
  readonly name: string;
  readonly dimension: number;
  readonly distance: Distance;
  /** Payload fields queries filter on (indexed where the store supports it). */
  readonly indexedFields?: readonly string[];
}

/**
 * A payload condition. `match` on an array-valued field is true when any element equals the value,
 * as in Qdrant.
 */
export interface FieldMatch {
  readonly key: string;
  readonly value: string | number | boolean;
}

export interface VectorFilter {
  /** Point ids that must not be returned (e.g. items the user has already seen). */
  readonly excludeIds?: ReadonlySet<string> | readonly string[];
  /** Every condition must hold. */
  readonly must?: readonly FieldMatch[];
  /** No condition may hold. */
  readonly mustNot?: readonly FieldMatch[];
}

export interface VectorQuery {
  readonly vector: Float32Array;
  readonly limit: number;
  readonly filter?: VectorFilter;
}

export interface ScoredPoint {
  readonly id: string;
  /** Similarity: larger is closer (cosine/dot similarity; negated distance for euclid). */
  readonly score: number;
}

export interface VectorStore {
  ensureCollection(spec: CollectionSpec): Promise<void>;
  upsert(collection: string, points: readonly Point[]): Promise<void>;
  delete(collection: string, ids: readonly string[]): Promise<void>;
  /** One result list per query, best first; ties broken by id so results are deterministic. */
  queryBatch(collection: string, queries: readonly VectorQuery[]): Promise<ScoredPoint[][]>;
  count(collection: string): Promise<number>;
  close(): Promise<void>;
}

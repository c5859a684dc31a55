import type { CollectionSpec, Point, ScoredPoint, VectorQuery, VectorStore } from '../ports/vector-store.js';
import type { EddyMetrics } from './metrics.js';

/**
 * A vector store whose every call is timed into `eddy_vector_store_request_seconds` and whose
 * failures count in `eddy_vector_store_errors_total`. For adapters that do not time their own
 * requests (the in-process index); wrapping one that does would count each call twice.
 */
export function instrumentVectorStore(store: VectorStore, metrics: EddyMetrics): VectorStore {
  return {
    ensureCollection: (spec: CollectionSpec) =>
      metrics.timeVectorStore('ensure_collection', () => store.ensureCollection(spec)),
    upsert: (collection: string, points: readonly Point[]) =>
      metrics.timeVectorStore('upsert', () => store.upsert(collection, points)),
    delete: (collection: string, ids: readonly string[]) =>
      metrics.timeVectorStore('delete', () => store.delete(collection, ids)),
    queryBatch: (collection: string, queries: readonly VectorQuery[]): Promise<ScoredPoint[][]> =>
      metrics.timeVectorStore('query_batch', () => store.queryBatch(collection, queries)),
    count: (collection: string) => metrics.timeVectorStore('count', () => store.count(collection)),
    close: () => store.close(),
  };
}

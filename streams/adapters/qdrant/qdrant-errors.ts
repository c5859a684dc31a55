/**
 * What can go wrong between Eddy and Qdrant, each error carrying what an operator needs to act:
 * which collection, what Eddy expected, what Qdrant has.
 */

import { EddyError } from '../../errors.js';

export interface VectorLayout {
  readonly dimension: number;
  /** Qdrant's name: Cosine, Dot, Euclid (or whatever else the server reports). */
  readonly distance: string;
}

/**
 * A collection that already exists with another vector layout (or payload index type) than Eddy
 * needs. Raised at start-up: writing into it would either fail on every request or, worse, be
 * searched with the wrong metric.
 */
export class QdrantCollectionMismatchError extends EddyError {
  override readonly name = 'QdrantCollectionMismatchError';
  constructor(
    readonly collection: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `Qdrant collection ${collection} exists with ${actual}, but Eddy needs ${expected}; ` +
        'delete the collection or choose another QDRANT_COLLECTION_PREFIX',
    );
  }

  static layout(
    collection: string,
    expected: VectorLayout,
    actual: VectorLayout | string,
  ): QdrantCollectionMismatchError {
    const describe = (l: VectorLayout): string => `dimension ${l.dimension} and distance ${l.distance}`;
    return new QdrantCollectionMismatchError(
      collection,
      describe(expected),
      typeof actual === 'string' ? actual : describe(actual),
    );
  }
}

/**
 * Qdrant refused a request for a reason retrying cannot fix (a 4xx other than 408/429): a bug or a
 * misconfiguration, so it surfaces instead of being retried.
 */
export class QdrantRequestError extends EddyError {
  override readonly name = 'QdrantRequestError';
  constructor(
    readonly operation: string,
    readonly status: number | undefined,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(
      `Qdrant ${operation} failed${status === undefined ? '' : ` with HTTP ${status}`}: ${detail}`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** Qdrant stayed unreachable past the configured give-up time, or the store was closed while waiting. */
export class QdrantUnavailableError extends EddyError {
  override readonly name = 'QdrantUnavailableError';
  constructor(
    readonly operation: string,
    readonly reason: string,
  ) {
    super(`Qdrant ${operation} did not complete: ${reason}`);
  }
}

/**
 * Qdrant answered a write sent with `wait=true` with a status other than `completed` (for example
 * `wait_timeout`: its own deadline passed before the change applied). The write is in Qdrant's WAL
 * and will apply, but it is not searchable yet, so the call is retried (upserts and deletes are
 * idempotent) rather than reported done: read-your-writes depends on it.
 */
export class QdrantWriteNotAppliedError extends EddyError {
  override readonly name = 'QdrantWriteNotAppliedError';
  constructor(
    readonly operation: string,
    readonly status: string,
  ) {
    super(`Qdrant ${operation} answered status ${JSON.stringify(status)} instead of "completed"`);
  }
}

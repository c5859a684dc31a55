/**
 * The state-store port, after Kafka Streams: a key-value store whose every change is
 * recorded to a compacted changelog topic, so the store can be rebuilt anywhere from that topic.
 * Writes are cached: `put` only marks the key dirty, `flushChangelog` turns the dirty keys into
 * changelog records that the caller commits in the same unit as the outputs they led to.
 */

import type { OutgoingRecord } from './event-log.js';

export interface Serde<V> {
  serialize(value: V): Uint8Array;
  deserialize(bytes: Uint8Array): V;
}

export interface StateStore<V> {
  readonly name: string;
  /** The compacted topic that records this store's changes. */
  readonly changelogTopic: string;
  get(key: string): V | undefined;
  /** Marks the key dirty; the value object may be mutated in place afterwards until the next flush. */
  put(key: string, value: V): void;
  delete(key: string): void;
  has(key: string): boolean;
  readonly size: number;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
  /** Changelog records for every key changed since the last flush (latest value only; null value = deleted). */
  flushChangelog(): OutgoingRecord[];
  /** Rebuilds the store from changelog records, latest record per key winning. Returns records applied. */
  restore(records: Iterable<{ key: string | null; value: Uint8Array | null }>): number;
}

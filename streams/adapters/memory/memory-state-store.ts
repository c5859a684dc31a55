/**
 * A Map-backed state store: the live copy of a state store whose durable copy is its compacted
 * changelog topic, restored from that topic on start and appended to it with each commit.
 */

import type { OutgoingRecord } from '../../ports/event-log.js';
import type { Serde, StateStore } from '../../ports/state-store.js';

export interface MemoryStateStoreOptions<V> {
  readonly name: string;
  readonly changelogTopic: string;
  readonly serde: Serde<V>;
  /**
   * Changelog partition to write to. Kafka Streams writes a task's changelog to the partition of its
   * input, which the key alone does not always give; absent, the key decides as for any record.
   */
  readonly partition?: number;
}

export class MemoryStateStore<V> implements StateStore<V> {
  readonly name: string;
  readonly changelogTopic: string;
  private readonly serde: Serde<V>;
  private readonly partition: number | undefined;
  private readonly values = new Map<string, V>();
  /** Keys changed since the last flush; a key deleted since then is dirty and absent from `values`. */
  private readonly dirty = new Set<string>();

  constructor(options: MemoryStateStoreOptions<V>) {
    this.name = options.name;
    this.changelogTopic = options.changelogTopic;
    this.serde = options.serde;
    this.partition = options.partition;
  }

  get size(): number {
    return this.values.size;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  put(key: string, value: V): void {
    this.values.set(key, value);
    this.dirty.add(key);
  }

  delete(key: string): void {
    // Deleting an absent key changes nothing, so it needs no tombstone.
    if (this.values.delete(key)) this.dirty.add(key);
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }

  entries(): IterableIterator<[string, V]> {
    return this.values.entries();
  }

  flushChangelog(): OutgoingRecord[] {
    const records: OutgoingRecord[] = new Array(this.dirty.size);
    let i = 0;
    for (const key of this.dirty) {
      // Serialised only now, so values mutated in place after `put` are recorded as they are at flush.
      // `has` rather than `get() === undefined` because V itself may include undefined.
      const bytes = this.values.has(key) ? this.serde.serialize(this.values.get(key) as V) : null;
      records[i++] =
        this.partition === undefined
          ? { topic: this.changelogTopic, key, value: bytes }
          : { topic: this.changelogTopic, key, value: bytes, partition: this.partition };
    }
    this.dirty.clear();
    return records;
  }

  restore(records: Iterable<{ key: string | null; value: Uint8Array | null }>): number {
    let applied = 0;
    for (const record of records) {
      // Changelog records always have keys; a keyless one cannot name the entry it would change.
      if (record.key === null) continue;
      if (record.value === null) this.values.delete(record.key);
      else this.values.set(record.key, this.serde.deserialize(record.value));
      applied++;
    }
    return applied;
  }
}

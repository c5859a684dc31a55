import type { Observable } from 'rxjs';

/**
 * The event-log port: topics split into partitions, records addressed by offset.
 * Kafka and the in-process log both implement it, so the pipeline cannot tell them apart:
 * per-key ordering (same key → same partition), replay from any offset, committed offsets per group.
 */

export type Headers = Readonly<Record<string, string>>;

/** A record as read from the log, with its position. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  /** Null for a tombstone (a deletion on a compacted topic). */
  readonly value: Uint8Array | null;
  /** Broker/log append time in ms since the epoch. */
  readonly timestamp: number;
  readonly headers: Headers;
}

/** A record to append; the log assigns partition (from the key) and offset. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly headers?: Headers;
  /** Explicit partition; when absent the key decides (murmur2, as Kafka's default partitioner). */
  readonly partition?: number;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The next offset to read for a partition (Kafka's committed-offset convention). */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number;
}

/**
 * Records fetched together from one partition. The source fetches no further batch from that
 * partition until `release()` is called, which is how a slow pipeline slows the source
 * (backpressure) instead of buffering without bound.
 */
export interface SourceBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SourceRecord[];
  /** How far behind the end of the partition this batch's last record is (records). */
  readonly lag: number;
  release(): void;
}

export interface TopicSpec {
  readonly name: string;
  /** Partitions of the topic when Eddy creates it (and see `copartitionedWith`). */
  readonly partitions: number;
  /** `compact` keeps the latest record per key (changelogs); `delete` keeps by retention. */
  readonly cleanupPolicy?: 'delete' | 'compact';
  /**
   * Cleanup policies an existing topic may have (default: `cleanupPolicy` only): a catalog keyed
   * by item id may be compacted, say, like a Kafka Streams global table's topic.
   */
  readonly acceptedPolicies?: readonly ('delete' | 'compact' | 'compact,delete')[];
  /**
   * Must have as many partitions as this topic (a changelog and its input: the state of input
   * partition P lives in changelog partition P). Created with that topic's count; every other
   * existing topic is used with whatever count it has.
   */
  readonly copartitionedWith?: string;
}

/** Consumer side: a group's view of some topics. */
export interface EventSource {
  /**
   * Batches from every assigned partition, in offset order within each partition.
   * Completes when the source is bounded and drained (the in-process log with `follow: false`)
   * or after `close()`.
   */
  batches(): Observable<SourceBatch>;
  close(): Promise<void>;
}

/**
 * One atomic unit of output: records to append plus the input offsets they account for.
 * Kafka implements it as a transaction (produce + sendOffsets), the in-process log as one
 * synchronous append + commit, so a crash never separates an output from its input's commit.
 */
export interface CommitUnit {
  readonly records: readonly OutgoingRecord[];
  readonly offsets: readonly TopicPartitionOffset[];
  readonly groupId: string;
}

export interface EventSink {
  /**
   * True when `commit` may be called again before the previous call settled: units are then
   * committed in call order (several may share one transaction), and once one fails every later
   * one is rejected without being committed. The pipeline then builds the next batch while this
   * one is in flight; otherwise it waits for each commit, which costs nothing when commits are
   * in-process.
   */
  readonly ordersCommits?: boolean;
  commit(unit: CommitUnit): Promise<void>;
  close(): Promise<void>;
}

/** Reading a topic from an offset without a group, e.g. to restore a state store from its changelog. */
export interface LogReader {
  /** All records of a partition from `fromOffset` to the current end, in order. */
  readRange(topic: string, partition: number, fromOffset: number): AsyncIterable<readonly SourceRecord[]>;
  partitionsOf(topic: string): Promise<number>;
}

/**
 * Follows one partition from an offset to its ever-moving end, without a consumer group: how every
 * instance applies a replicated table (the item-updates topic) in the topic's one order, as Kafka
 * Streams' global stores do. Only committed records are handed out.
 */
export interface LogFollower {
  /** The records available since the previous call, oldest first, at most `max`. Never waits. */
  poll(max: number): readonly SourceRecord[];
  /** Committed records known to exist beyond the last one `poll` returned. */
  behind(): number;
  /**
   * The next offset to read: everything below it was handed out by `poll` or was never a record
   * to hand out (a transaction marker, an aborted record).
   */
  position(): number;
  close(): Promise<void>;
}

/** A log whose partitions can be followed (see LogFollower). */
export interface FollowableLog {
  follow(topic: string, partition: number, fromOffset: number): LogFollower;
}

/**
 * The EventSink port on a Kafka producer.
 *
 * exactly-once (default): each CommitUnit is one Kafka transaction — the records, then the input
 * offsets (`sendOffsets`), then commit — so a crash either loses the whole unit (aborted, invisible
 * to read_committed readers, the input re-read) or none of it. The transactional id is stable per
 * instance: a restarted instance fences its predecessor and aborts whatever it left open.
 *
 * at-least-once: records are produced (idempotent producer), then the offsets are committed by the
 * consumer. A crash between the two re-processes the batch; the lists come out again with the same
 * list ids (they derive from the triggering record's position), so readers can drop duplicates.
 *
 * Group commit: units handed over while a commit is in flight wait, and then all go out together
 * in the next transaction (their records in order, each partition's highest offset). A unit that
 * finds no commit in flight goes at once, so nothing waits for a group to fill; the busier the
 * pipeline, the more units share each transaction's round trips. A unit that fails fails
 * every unit after it, uncommitted: their state builds on it.
 */

import type { Kafka, Message, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { EddyMetrics } from '../../observe/metrics.js';
import type { CommitUnit, EventSink, OutgoingRecord, TopicPartitionOffset } from '../../ports/event-log.js';
import { describeError, retryRetriable, timed } from './kafka-client.js';

export type DeliveryMode = 'exactly-once' | 'at-least-once';

/**
 * Records of `topic` go to the partition of the unit's input offset on `input` (Kafka Streams
 * writes a task's changelog to its input partition), so the state of the users in input partition
 * P is in changelog partition P whatever partitioner the clicks' producer used.
 */
export interface CoPartitioning {
  readonly topic: string;
  readonly input: string;
}

export interface KafkaSinkOptions {
  readonly kafka: Kafka;
  readonly mode: DeliveryMode;
  /** Required for exactly-once: unique per instance, the same across its restarts. */
  readonly transactionalId?: string;
  /** Longest a transaction may stay open before the broker aborts it (a crashed instance's, say). */
  readonly transactionTimeoutMs?: number;
  readonly copartition?: readonly CoPartitioning[];
  /** at-least-once only: commits the group's offsets once the records are acknowledged. */
  readonly commitOffsets?: (offsets: readonly TopicPartitionOffset[]) => Promise<void>;
  readonly logger?: Logger;
  readonly metrics?: EddyMetrics | null;
}

/** A unit could not be committed; in exactly-once mode its records were aborted. */
export class KafkaCommitError extends EddyError {
  override readonly name = 'KafkaCommitError';
}

/**
 * Bytes of keys and values per produce request. kafkajs puts every message of a partition into one
 * record batch, which the broker rejects above `message.max.bytes` (1 MiB by default): an item
 * checkpoint of a few thousand items (each with up to `maxNeighbours` co-visitation neighbours)
 * is several MiB. Splitting into several sends of the same transaction keeps it atomic.
 */
export const MAX_SEND_BYTES = 512 * 1024;

const FENCED = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

interface QueuedUnit {
  readonly unit: CommitUnit;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class KafkaEventSink implements EventSink {
  readonly producer: Producer;
  readonly ordersCommits = true;
  private readonly logger: Logger;
  private readonly metrics: EddyMetrics | null;
  private readonly copartition: ReadonlyMap<string, string>;
  private connected: Promise<void> | null = null;
  private closed = false;
  /** Units handed over and not yet part of a commit; one commit (one open transaction) at a time. */
  private queued: QueuedUnit[] = [];
  private draining: Promise<void> | null = null;
  /** The first failed commit: every unit after it is rejected. */
  private failure: KafkaCommitError | null = null;
  private commitsDone = 0;
  private unitsDone = 0;

  constructor(private readonly options: KafkaSinkOptions) {
    if (options.mode === 'exactly-once' && !options.transactionalId) {
      throw new EddyError('an exactly-once Kafka sink needs a transactionalId');
    }
    if (options.mode === 'at-least-once' && !options.commitOffsets) {
      throw new EddyError('an at-least-once Kafka sink needs commitOffsets (the consumer commits them)');
    }
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? null;
    this.copartition = new Map((options.copartition ?? []).map((c) => [c.topic, c.input]));
    const exactlyOnce = options.mode === 'exactly-once';
    this.producer = options.kafka.producer({
      // Java's murmur2 partitioner, as the in-process log and other clients use.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      ...(exactlyOnce
        ? {
            transactionalId: options.transactionalId,
            transactionTimeout: options.transactionTimeoutMs ?? 60_000,
          }
        : {}),
      // Right after a commit the coordinator answers CONCURRENT_TRANSACTIONS until its markers are
      // written (a few ms); kafkajs' default 300 ms first back-off made every transaction cost
      // ~300 ms instead of ~10 (measured: 100 transactions in 15.8 s vs 1.0 s).
      retry: { initialRetryTime: 5, maxRetryTime: 2_000, retries: 30 },
    });
  }

  /**
   * Connects and, in exactly-once mode, registers the transactional id: the broker fences any
   * earlier producer with this id and aborts (or completes) its open transaction. Call before
   * the consumer joins, so offsets left pending by a crashed predecessor are settled first.
   */
  connect(): Promise<void> {
    this.connected ??= timed(this.metrics, 'connect', () => this.producer.connect());
    return this.connected;
  }

  /** Commits (transactions, in exactly-once mode) completed, and the units they carried. */
  get committed(): { readonly commits: number; readonly units: number } {
    return { commits: this.commitsDone, units: this.unitsDone };
  }

  commit(unit: CommitUnit): Promise<void> {
    if (this.closed) return Promise.reject(new EddyError('commit on a closed Kafka sink'));
    if (this.failure !== null) return Promise.reject(this.failedEarlier());
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ unit, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    await this.producer.disconnect();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const group = this.takeGroup();
        try {
          await this.commitNow(group.map((queued) => queued.unit));
        } catch (error) {
          this.failure =
            error instanceof KafkaCommitError ? error : new KafkaCommitError(describeError(error));
          for (const queued of group) queued.reject(this.failure);
          for (const queued of this.queued.splice(0)) queued.reject(this.failedEarlier());
          return;
        }
        this.commitsDone++;
        this.unitsDone += group.length;
        for (const queued of group) queued.resolve();
      }
    } finally {
      this.draining = null;
    }
  }

  /** The queued units that can share one commit: the longest prefix with the first one's group id. */
  private takeGroup(): QueuedUnit[] {
    const groupId = this.queued[0]!.unit.groupId;
    let end = 1;
    while (end < this.queued.length && this.queued[end]!.unit.groupId === groupId) end++;
    return this.queued.splice(0, end);
  }

  private failedEarlier(): KafkaCommitError {
    return new KafkaCommitError(
      `not committed: an earlier unit failed, and this one's state builds on it (${this.failure?.message})`,
    );
  }

  private async commitNow(units: readonly CommitUnit[]): Promise<void> {
    const topicMessages = this.group(units);
    const offsets = mergeOffsets(units);
    const records = units.reduce((sum, unit) => sum + unit.records.length, 0);
    if (records === 0 && offsets.length === 0) return;
    const groupId = units[0]!.groupId;
    await this.connect();
    if (this.options.mode === 'at-least-once') {
      await timed(this.metrics, 'commit', async () => {
        for (const chunk of bySize(topicMessages, MAX_SEND_BYTES)) {
          await this.producer.sendBatch({ topicMessages: chunk, acks: -1 });
        }
        if (offsets.length > 0) await this.options.commitOffsets!(offsets);
      }).catch((error: unknown) => {
        throw new KafkaCommitError(`could not commit a batch (at-least-once): ${describeError(error)}`);
      });
      return;
    }
    await timed(this.metrics, 'commit', async () => {
      const transaction = await this.producer.transaction();
      try {
        for (const chunk of bySize(topicMessages, MAX_SEND_BYTES)) {
          await transaction.sendBatch({ topicMessages: chunk, acks: -1 });
        }
        if (offsets.length > 0) {
          const txnOffsets = {
            consumerGroupId: groupId,
            topics: [...groupOffsets(offsets)].map(([topic, partitions]) => ({ topic, partitions })),
          };
          // kafkajs sends AddOffsetsToTxn once, and right after the previous commit the coordinator
          // answers CONCURRENT_TRANSACTIONS until that commit's markers are written (milliseconds):
          // a unit with offsets but no records (a batch of catalog records) failed. The
          // transaction is still open and usable, so it is retried.
          await retryRetriable(() => transaction.sendOffsets(txnOffsets));
        }
        await transaction.commit();
      } catch (error) {
        const fenced = FENCED.has(String((error as { type?: unknown }).type));
        if (!fenced) {
          await transaction.abort().catch((abortError: unknown) =>
            this.logger.warn('kafka transaction abort failed (the broker aborts it on timeout)', {
              error: describeError(abortError),
            }),
          );
        }
        throw new KafkaCommitError(
          fenced
            ? `transaction fenced: another producer uses transactional id ${this.options.transactionalId} (is a second instance running with the same instance id?)`
            : `transaction aborted (${units.length} units, ${records} records, offsets ${describeOffsets(offsets)}): ${describeError(error)}. The in-memory state is now ahead of what was committed, so Eddy must restart from the last commit.`,
        );
      }
    });
  }

  /** Every unit's records by topic, in order, each placed by its own unit (see `toMessage`). */
  private group(units: readonly CommitUnit[]): { topic: string; messages: Message[] }[] {
    const byTopic = new Map<string, Message[]>();
    for (const unit of units) {
      for (const record of unit.records) {
        let messages = byTopic.get(record.topic);
        if (messages === undefined) {
          messages = [];
          byTopic.set(record.topic, messages);
        }
        messages.push(this.toMessage(record, unit));
      }
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  private toMessage(record: OutgoingRecord, unit: CommitUnit): Message {
    const message: Message = {
      key: record.key,
      value: record.value === null ? null : asBuffer(record.value),
    };
    if (record.headers !== undefined && Object.keys(record.headers).length > 0) {
      message.headers = { ...record.headers };
    }
    let partition = record.partition;
    if (partition === undefined) {
      const input = this.copartition.get(record.topic);
      if (input !== undefined) partition = unit.offsets.find((o) => o.topic === input)?.partition;
    }
    if (partition !== undefined) message.partition = partition;
    return message;
  }
}

type TopicMessages = { topic: string; messages: Message[] }[];

/**
 * `topicMessages` in consecutive groups of at most `maxBytes` of keys and values each (a larger
 * message goes alone), keeping each topic's messages in order. Nothing when there are none.
 */
export function* bySize(topicMessages: TopicMessages, maxBytes: number): Generator<TopicMessages> {
  let chunk: TopicMessages = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    let current: Message[] = [];
    for (const message of messages) {
      const size = byteLength(message.key) + byteLength(message.value);
      if (bytes + size > maxBytes && bytes > 0) {
        if (current.length > 0) chunk.push({ topic, messages: current });
        yield chunk;
        chunk = [];
        current = [];
        bytes = 0;
      }
      current.push(message);
      bytes += size;
    }
    if (current.length > 0) chunk.push({ topic, messages: current });
  }
  if (chunk.length > 0) yield chunk;
}

function byteLength(data: Message['key'] | Message['value']): number {
  if (data === null || data === undefined) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The units' offsets, one per partition: the last unit's (units of a partition come in order). */
function mergeOffsets(units: readonly CommitUnit[]): TopicPartitionOffset[] {
  const byPartition = new Map<string, TopicPartitionOffset>();
  for (const unit of units) {
    for (const offset of unit.offsets) byPartition.set(`${offset.topic}\u0000${offset.partition}`, offset);
  }
  return [...byPartition.values()];
}

function groupOffsets(
  offsets: readonly TopicPartitionOffset[],
): Map<string, { partition: number; offset: string }[]> {
  const out = new Map<string, { partition: number; offset: string }[]>();
  for (const { topic, partition, offset } of offsets) {
    const list = out.get(topic) ?? [];
    list.push({ partition, offset: String(offset) });
    out.set(topic, list);
  }
  return out;
}

function describeOffsets(offsets: readonly TopicPartitionOffset[]): string {
  if (offsets.length === 0) return 'none';
  return offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(', ');
}

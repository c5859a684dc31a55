/**
 * The EventSource port on a Kafka consumer group (kafkajs `eachBatch`).
 *
 * Offsets are never committed by the consumer: the sink commits them inside the transaction that
 * carries the batch's outputs. The consumer only tracks how far it has fetched (`resolveOffset`),
 * and only for records the pipeline has released, i.e. committed.
 *
 * Backpressure: `eachBatch` hands the pipeline chunks (≤ maxBatchSize records), at most two of a
 * partition unreleased at a time (one processed while the one before commits), and waits for
 * every `release()` before returning; kafkajs fetches again only when every batch of the previous
 * fetch has returned. So the records in memory are bounded by one fetch response, however far the
 * pipeline falls behind.
 *
 * Assignment: kafkajs reports a new assignment (GROUP_JOIN) after join + sync and before the first
 * fetch for it. Partitions added then are restored by `onAssigned` while their batches wait;
 * partitions gone are handed to `onRevoked`. A rejoin happens only once every batch in flight has
 * returned, and those are committed first, so a revoked partition has no batch in the pipeline.
 */

import type { Consumer, EachBatchPayload, IMemberAssignment, Kafka, PartitionAssigner } from 'kafkajs';
import { Observable, type Subscriber } from 'rxjs';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { EddyMetrics } from '../../observe/metrics.js';
import type {
  EventSource,
  SourceBatch,
  SourceRecord,
  TopicPartition,
  TopicPartitionOffset,
} from '../../ports/event-log.js';
import { describeError, partitionKey, timed, toSourceRecord } from './kafka-client.js';

export interface KafkaSourceOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Records per SourceBatch; larger kafkajs batches are split. */
  readonly maxBatchSize: number;
  /**
   * The coalescing window: a fetch waits up to this long for about a batch's worth of records
   * (Kafka's fetch.min.bytes / fetch.max.wait.ms). 0 returns as soon as any record is there.
   */
  readonly lingerMs: number;
  /** Where a partition without a committed offset starts (default: its beginning). */
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Partitions whose batches may wait in the pipeline at the same time (kafkajs workers). */
  readonly partitionsConsumedConcurrently?: number;
  readonly maxBytesPerPartition?: number;
  /** How partitions are assigned in the group (default: kafkajs' round robin). */
  readonly partitionAssigner?: PartitionAssigner;
  /**
   * Called with partitions newly assigned to this instance before any of their records are handed
   * out (restore their state here); their batches wait until it resolves. A rejection fails the source.
   */
  readonly onAssigned?: (partitions: readonly TopicPartition[]) => Promise<void>;
  /** Called with partitions taken away by a rebalance, after their last batch was committed. */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => Promise<void> | void;
  readonly logger?: Logger;
  readonly metrics?: EddyMetrics | null;
}

/**
 * Chunks of one partition handed to the pipeline before the oldest is committed: two let the
 * pipeline process a chunk while the one before it is in its transaction (the sink orders them).
 */
export const CHUNKS_IN_FLIGHT_PER_PARTITION = 2;
/** Rough Avro click size, to turn a batch size into fetch.min.bytes for the linger. */
const BYTES_PER_RECORD_ESTIMATE = 100;
const REBALANCE_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

type Wait = 'done' | 'aborted';

export class KafkaEventSource implements EventSource {
  readonly consumer: Consumer;
  private readonly logger: Logger;
  private readonly metrics: EddyMetrics | null;
  private readonly heartbeatIntervalMs: number;
  private subscriber: Subscriber<SourceBatch> | null = null;
  private started = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  private starting: Promise<void> = Promise.resolve();
  /** Set when the subscriber went away without a graceful close: waiting batches give up. */
  private aborted = false;
  private readonly abortListeners = new Set<() => void>();
  /** A heartbeat reported a rebalance: hand out nothing more, return, let kafkajs rejoin. */
  private rejoin: Error | null = null;
  private assigned = new Map<string, TopicPartition>();
  /** Per newly assigned partition: its restore, which its batches wait for. */
  private readonly restores = new Map<string, Promise<void>>();
  /** Assignment callbacks run one after another, in rebalance order. */
  private assignmentChain: Promise<void> = Promise.resolve();
  private pendingRestores = 0;
  private joined = false;
  private inFlight = 0;

  constructor(private readonly options: KafkaSourceOptions) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new EddyError(`source maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    }
    if (options.topics.length === 0) throw new EddyError('source needs at least one topic');
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? null;
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(500, Math.floor(sessionTimeout / 10));
    const linger = options.lingerMs > 0;
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      heartbeatInterval: this.heartbeatIntervalMs,
      readUncommitted: false,
      minBytes: linger ? options.maxBatchSize * BYTES_PER_RECORD_ESTIMATE : 1,
      maxWaitTimeInMs: linger ? Math.ceil(options.lingerMs) : 100,
      ...(options.maxBytesPerPartition ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
      // Eddy topics are created explicitly (topic-admin.ts); a typo must not create one.
      allowAutoTopicCreation: false,
      ...(options.partitionAssigner ? { partitionAssigners: [options.partitionAssigner] } : {}),
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) =>
      this.onGroupJoin(event.payload.memberAssignment),
    );
    this.consumer.on(this.consumer.events.FETCH, (event) =>
      this.metrics?.kafkaSeconds.observe(
        { operation: 'fetch', outcome: 'ok' },
        event.payload.duration / 1000,
      ),
    );
    this.consumer.on(this.consumer.events.REQUEST_TIMEOUT, () =>
      this.metrics?.kafkaErrorsTotal.inc({ operation: 'fetch' }),
    );
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.metrics?.kafkaErrorsTotal.inc({ operation: 'fetch' });
      if (restart) {
        this.logger.warn('kafka consumer crashed; kafkajs restarts it', { error: describeError(error) });
        return;
      }
      this.fail(new EddyError(`kafka consumer of group ${options.groupId} failed: ${describeError(error)}`));
    });
  }

  /** True once the group was joined and every assigned partition's state is restored. */
  get ready(): boolean {
    return this.joined && this.pendingRestores === 0 && !this.closing;
  }

  /** Partitions currently assigned to this instance. */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()];
  }

  /** Batches handed out and not yet released. */
  get batchesInFlight(): number {
    return this.inFlight;
  }

  batches(): Observable<SourceBatch> {
    return new Observable<SourceBatch>((subscriber) => {
      if (this.started) {
        subscriber.error(new EddyError('a KafkaEventSource can be subscribed to only once'));
        return;
      }
      this.started = true;
      this.subscriber = subscriber;
      if (this.closing) {
        subscriber.complete();
        return;
      }
      this.starting = this.start().catch((error: unknown) => this.fail(error));
      return () => {
        this.subscriber = null;
        if (!this.closing) {
          // Unsubscribed without close() (the pipeline failed): nothing will release what is in flight.
          this.abort();
          void this.starting.then(() => this.shutdown());
        }
      };
    });
  }

  /** Graceful stop: no new fetches or batches; what is in flight completes (and commits) first. */
  close(): Promise<void> {
    this.closing = true;
    // A stop during start-up waits for the consumer to be running, so stopping it really stops it.
    this.closed ??= this.starting.then(() => this.shutdown()).finally(() => this.subscriber?.complete());
    return this.closed;
  }

  /** Stops fetching these partitions (the batch in flight still completes). */
  pause(partitions: readonly TopicPartition[]): void {
    for (const [topic, list] of groupByTopic(partitions)) this.consumer.pause([{ topic, partitions: list }]);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const [topic, list] of groupByTopic(partitions)) this.consumer.resume([{ topic, partitions: list }]);
  }

  /** Partitions paused with `pause`. */
  paused(): TopicPartition[] {
    return this.consumer
      .paused()
      .flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
  }

  /** The group's offsets outside a transaction (the at-least-once mode of the sink). */
  async commitOffsets(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    await this.consumer.commitOffsets(
      offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
    );
  }

  private async start(): Promise<void> {
    await timed(this.metrics, 'connect', async () => {
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: [...this.options.topics],
        fromBeginning: this.options.fromBeginning ?? true,
      });
    });
    if (this.closing) return;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private async shutdown(): Promise<void> {
    try {
      await this.consumer.stop();
    } finally {
      await this.consumer
        .disconnect()
        .catch((error: unknown) =>
          this.logger.warn('kafka consumer disconnect failed', { error: describeError(error) }),
        );
    }
  }

  private fail(error: unknown): void {
    this.abort();
    const subscriber = this.subscriber;
    this.subscriber = null;
    subscriber?.error(error);
  }

  private abort(): void {
    this.aborted = true;
    for (const wake of [...this.abortListeners]) wake();
  }

  private onGroupJoin(assignment: IMemberAssignment): void {
    this.joined = true;
    this.rejoin = null;
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) next.set(partitionKey(topic, partition), { topic, partition });
    }
    const revokedKeys = [...this.assigned.keys()].filter((key) => !next.has(key));
    const revoked = revokedKeys.map((key) => this.assigned.get(key)!);
    const added = [...next].filter(([key]) => !this.assigned.has(key));
    this.assigned = next;
    for (const key of revokedKeys) this.restores.delete(key);
    this.logger.info('kafka partitions assigned', {
      groupId: this.options.groupId,
      assigned: describePartitions([...next.values()]),
      added: describePartitions(added.map(([, tp]) => tp)),
      revoked: describePartitions(revoked),
    });
    if (revoked.length > 0 && this.options.onRevoked) {
      const onRevoked = this.options.onRevoked;
      this.assignmentChain = this.assignmentChain.then(() => onRevoked(revoked));
    }
    if (added.length === 0) return;
    const onAssigned = this.options.onAssigned;
    this.pendingRestores++;
    const restored = this.assignmentChain.then(() => onAssigned?.(added.map(([, tp]) => tp)));
    const settled = restored.then(
      () => {
        this.pendingRestores--;
      },
      (error: unknown) => {
        this.pendingRestores--;
        this.fail(
          error instanceof EddyError ? error : new EddyError(`restore failed: ${describeError(error)}`),
        );
        throw error;
      },
    );
    this.assignmentChain = settled.catch(() => {});
    for (const [key] of added) this.restores.set(key, settled);
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const restore = this.restores.get(partitionKey(topic, partition));
    if (restore !== undefined) {
      // A failed restore has already failed the source; just stop handing this partition out.
      if ((await this.waitHeartbeating(restore.then(noop, noop), payload)) === 'aborted') return;
      if (this.aborted) return;
      this.restores.delete(partitionKey(topic, partition));
    }
    const messages = batch.messages;
    const high = Number(batch.highWatermark);
    const size = this.options.maxBatchSize;
    // Chunks handed out and not yet released (committed), oldest first.
    const unreleased: { readonly released: Promise<void>; readonly lastOffset: string }[] = [];
    for (let from = 0; from < messages.length; from += size) {
      if (!this.mayHandOut(payload, topic, partition)) break;
      const slice = messages.slice(from, from + size);
      const records = slice.map((m) => toSourceRecord(topic, partition, m));
      const last = records[records.length - 1]!.offset;
      const subscriber = this.subscriber;
      if (subscriber === null) return;
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.inFlight++;
      const chunk = new KafkaSourceBatch(topic, partition, records, Math.max(0, high - (last + 1)), () => {
        this.inFlight--;
        release();
      });
      subscriber.next(chunk);
      unreleased.push({ released, lastOffset: slice[slice.length - 1]!.offset });
      if (unreleased.length >= CHUNKS_IN_FLIGHT_PER_PARTITION) {
        if ((await this.resolveOldest(unreleased, payload)) === 'aborted') return;
      }
    }
    while (unreleased.length > 0) {
      if ((await this.resolveOldest(unreleased, payload)) === 'aborted') return;
    }
    if (this.rejoin !== null) throw this.rejoin;
  }

  /**
   * Waits for the oldest chunk in flight to be released, then lets the consumer fetch past it.
   * Released means committed (kafkajs also skips a trailing transaction marker when this is the
   * batch's last record).
   */
  private async resolveOldest(
    unreleased: { readonly released: Promise<void>; readonly lastOffset: string }[],
    payload: EachBatchPayload,
  ): Promise<Wait> {
    const oldest = unreleased.shift()!;
    if ((await this.waitHeartbeating(oldest.released, payload)) === 'aborted') return 'aborted';
    payload.resolveOffset(oldest.lastOffset);
    return 'done';
  }

  private mayHandOut(payload: EachBatchPayload, topic: string, partition: number): boolean {
    if (this.closing || this.aborted || this.rejoin !== null) return false;
    if (!payload.isRunning() || payload.isStale()) return false;
    return !this.consumer.paused().some((tp) => tp.topic === topic && tp.partitions.includes(partition));
  }

  /**
   * Waits for `done`, heartbeating meanwhile so a slow batch or restore does not cost the group
   * membership. A heartbeat that reports a rebalance is remembered: the batch in flight still
   * completes and commits, then `eachBatch` throws it so kafkajs rejoins.
   */
  private async waitHeartbeating(done: Promise<void>, payload: EachBatchPayload): Promise<Wait> {
    let finished = false;
    const settled = done.then(() => {
      finished = true;
    });
    let onAbort!: () => void;
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
    });
    this.abortListeners.add(onAbort);
    try {
      if (this.aborted) return 'aborted';
      for (;;) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const tick = new Promise<'tick'>((resolve) => {
          timer = setTimeout(() => resolve('tick'), this.heartbeatIntervalMs);
        });
        const outcome = await Promise.race([settled.then(() => 'done' as const), aborted, tick]);
        clearTimeout(timer);
        if (outcome !== 'tick') return outcome;
        if (finished) return 'done';
        try {
          await payload.heartbeat();
        } catch (error) {
          const type = (error as { type?: unknown }).type;
          if (typeof type === 'string' && REBALANCE_ERRORS.has(type)) {
            this.rejoin ??= error instanceof Error ? error : new EddyError(String(error));
          } else {
            this.logger.debug('heartbeat failed; kafkajs retries', { error: describeError(error) });
          }
        }
      }
    } finally {
      this.abortListeners.delete(onAbort);
    }
  }
}

class KafkaSourceBatch implements SourceBatch {
  #released = false;
  readonly #onRelease: () => void;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly records: readonly SourceRecord[],
    readonly lag: number,
    onRelease: () => void,
  ) {
    this.#onRelease = onRelease;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onRelease();
  }
}

function groupByTopic(partitions: readonly TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = out.get(topic);
    if (list) list.push(partition);
    else out.set(topic, [partition]);
  }
  return out;
}

export function describePartitions(partitions: readonly TopicPartition[]): string {
  return [...groupByTopic(partitions)]
    .map(([topic, list]) => `${topic}[${list.sort((a, b) => a - b).join(',')}]`)
    .join(' ');
}

function noop(): void {}

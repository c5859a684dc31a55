/**
 * The LogReader port on Kafka: reads one partition from an offset up to where it ended when the
 * read began, read_committed, e.g. to restore a state store from its changelog or to bootstrap
 * the catalog.
 *
 * kafkajs has no assign(): every read is a short-lived consumer in a group of its own, subscribed
 * from the beginning, with every other partition of the topic paused. The end is the partition's
 * last stable offset (ListOffsets under read_committed), so records of a transaction still open —
 * say, one a crashed instance left behind — are not waited for: they are not committed state.
 */

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { EddyMetrics } from '../../observe/metrics.js';
import type { FollowableLog, LogFollower, LogReader, SourceRecord } from '../../ports/event-log.js';
import { describeError, retryRetriable, timed, toSourceRecord } from './kafka-client.js';
import { KafkaLogFollower } from './kafka-log-follower.js';

export interface KafkaLogReaderOptions {
  readonly kafka: Kafka;
  /** Prefix of the throw-away consumer groups (`<prefix>.<uuid>`), deleted after each read. */
  readonly groupPrefix: string;
  /** A read that makes no progress for this long fails instead of hanging (default 120 s). */
  readonly stallTimeoutMs?: number;
  readonly logger?: Logger;
  readonly metrics?: EddyMetrics | null;
}

/** End offsets of a partition, as ListOffsets reports them under read_committed. */
export interface PartitionEnds {
  readonly low: number;
  /** Last stable offset: everything below it is committed or aborted. */
  readonly end: number;
}

export class KafkaLogReader implements LogReader, FollowableLog {
  private admin: Admin | null = null;
  private connecting: Promise<Admin> | null = null;
  /** Every admin client this reader connected and has not disconnected yet. */
  private readonly admins = new Set<Admin>();
  private closed = false;
  private readonly logger: Logger;
  private readonly metrics: EddyMetrics | null;

  constructor(private readonly options: KafkaLogReaderOptions) {
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? null;
  }

  async partitionsOf(topic: string): Promise<number> {
    const { topics } = await this.withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }));
    const found = topics.find((t) => t.name === topic);
    if (found === undefined) throw new EddyError(`topic ${topic} does not exist`);
    return found.partitions.length;
  }

  async ends(topic: string, partition: number): Promise<PartitionEnds> {
    const offsets = await this.withAdmin((admin) => admin.fetchTopicOffsets(topic));
    const entry = offsets.find((o) => o.partition === partition);
    if (entry === undefined) throw new EddyError(`topic ${topic} has no partition ${partition}`);
    return { low: Number(entry.low), end: Number(entry.offset) };
  }

  async *readRange(
    topic: string,
    partition: number,
    fromOffset: number,
  ): AsyncGenerator<readonly SourceRecord[]> {
    const { low, end } = await this.ends(topic, partition);
    const start = Math.max(fromOffset, low);
    if (start >= end) return;
    const read = new PartitionRead(this.options, topic, partition, start, end);
    const started = performance.now();
    let ok = false;
    try {
      for (;;) {
        const chunk = await read.next();
        if (chunk === null) break;
        yield chunk;
      }
      ok = true;
    } finally {
      await read.close();
      this.metrics?.kafkaSeconds.observe(
        { operation: 'restore', outcome: ok ? 'ok' : 'error' },
        (performance.now() - started) / 1000,
      );
      if (!ok) this.metrics?.kafkaErrorsTotal.inc({ operation: 'restore' });
      await this.deleteGroup(read.groupId);
    }
  }

  /** Follows a partition from `fromOffset` for as long as the follower is open (see KafkaLogFollower). */
  follow(topic: string, partition: number, fromOffset: number): LogFollower {
    return new KafkaLogFollower({
      kafka: this.options.kafka,
      groupPrefix: `${this.options.groupPrefix}.follow`,
      topic,
      partition,
      fromOffset,
      logger: this.logger,
    });
  }

  /**
   * Disconnects, for good: a restore still running when its pipeline stops (a partition assigned
   * a moment before shutdown) gets an error instead of a client that nobody would close, which
   * would keep the process from exiting.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.admin = null;
    this.connecting = null;
    await Promise.all([...this.admins].map((admin) => this.disconnect(admin)));
  }

  /** Drops the current client so the next call connects afresh (a retry after stale metadata). */
  private async reset(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    this.connecting = null;
    if (admin !== null) await this.disconnect(admin);
  }

  private async disconnect(admin: Admin): Promise<void> {
    this.admins.delete(admin);
    await admin.disconnect().catch(() => undefined);
  }

  /**
   * An admin call, retried on retriable errors with a fresh client: kafkajs' fetchTopicOffsets gives
   * up at once on NOT_LEADER_FOR_PARTITION, which a topic created a moment ago answers until its
   * leader is settled, and keeps the stale metadata that led there.
   */
  private withAdmin<T>(call: (admin: Admin) => Promise<T>): Promise<T> {
    return timed(this.metrics, 'admin', () =>
      retryRetriable(async () => call(await this.connect()), { attempts: 12, onRetry: () => this.reset() }),
    );
  }

  private connect(): Promise<Admin> {
    if (this.closed) return Promise.reject(new EddyError('the log reader is closed'));
    this.connecting ??= (async () => {
      const admin = this.options.kafka.admin();
      this.admins.add(admin);
      await timed(this.metrics, 'connect', () => admin.connect());
      if (this.closed) {
        // Closed while connecting: close() could not disconnect a socket that was not open yet.
        await this.disconnect(admin);
        throw new EddyError('the log reader is closed');
      }
      this.admin = admin;
      return admin;
    })();
    return this.connecting;
  }

  private async deleteGroup(groupId: string): Promise<void> {
    try {
      const admin = await this.connect();
      await admin.deleteGroups([groupId]);
    } catch (error) {
      // An empty group without offsets expires on its own; this only keeps the group list tidy.
      this.logger.debug('could not delete a restore consumer group', {
        groupId,
        error: describeError(error),
      });
    }
  }
}

/** One partition read by one throw-away consumer; records come out through `next()`, pulled. */
class PartitionRead {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private readonly chunks: (readonly SourceRecord[])[] = [];
  private waiting: (() => void) | null = null;
  /** eachBatch waits here until its chunk was taken: the reader's pace sets the fetch pace. */
  private taken: (() => void) | null = null;
  private done = false;
  private failure: Error | null = null;
  private lastProgress = Date.now();
  private readonly watchdog: ReturnType<typeof setInterval>;
  private started: Promise<void>;

  constructor(
    options: KafkaLogReaderOptions,
    private readonly topic: string,
    private readonly partition: number,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.groupId = `${options.groupPrefix}.${randomUUID()}`;
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      sessionTimeout: 30_000,
    });
    const stallMs = options.stallTimeoutMs ?? 120_000;
    this.watchdog = setInterval(
      () => {
        if (!this.done && Date.now() - this.lastProgress > stallMs) {
          this.fail(
            new EddyError(
              `reading ${topic}[${partition}] made no progress for ${stallMs} ms (end offset ${end})`,
            ),
          );
        }
      },
      Math.min(1_000, stallMs),
    );
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      // Before the first fetch: only this partition is read, from where the caller asked.
      const assigned = event.payload.memberAssignment[topic] ?? [];
      const others = assigned.filter((p) => p !== partition);
      if (others.length > 0) this.consumer.pause([{ topic, partitions: others }]);
      if (start > 0) this.consumer.seek({ topic, partition, offset: String(start) });
    });
    // Also fires for batches holding only transaction markers or aborted records, which never
    // reach eachBatch: the only way to see that such a tail has been passed.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
      const { topic: t, partition: p, lastOffset } = event.payload;
      if (t === topic && p === partition) this.progress(Number(lastOffset));
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (!event.payload.restart) this.fail(event.payload.error);
    });
    this.started = this.run().catch((error: unknown) => this.fail(error));
  }

  private async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        if (batch.partition !== this.partition || this.done) return;
        const records: SourceRecord[] = [];
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < this.start || offset >= this.end) continue;
          records.push(toSourceRecord(this.topic, this.partition, message));
        }
        if (records.length > 0) {
          const taken = new Promise<void>((resolve) => {
            this.taken = resolve;
          });
          this.push(records);
          await taken;
        }
        this.progress(Number(batch.lastOffset()));
      },
    });
  }

  /** The next chunk, or null once the end offset is reached. */
  async next(): Promise<readonly SourceRecord[] | null> {
    for (;;) {
      const release = this.taken;
      this.taken = null;
      release?.();
      const chunk = this.chunks.shift();
      if (chunk !== undefined) return chunk;
      if (this.failure !== null) throw this.failure;
      if (this.done) return null;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  async close(): Promise<void> {
    this.done = true;
    clearInterval(this.watchdog);
    this.taken?.();
    await this.started;
    await this.consumer.disconnect().catch(() => {});
  }

  private push(records: readonly SourceRecord[]): void {
    this.lastProgress = Date.now();
    this.chunks.push(records);
    this.wake();
  }

  private progress(lastOffset: number): void {
    this.lastProgress = Date.now();
    if (lastOffset + 1 >= this.end && !this.done) {
      this.done = true;
      this.wake();
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new EddyError(String(error));
    this.wake();
  }

  private wake(): void {
    const wake = this.waiting;
    this.waiting = null;
    wake?.();
  }
}

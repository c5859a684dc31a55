/**
 * The LogFollower port on Kafka: one partition followed from an offset for as long as the instance
 * runs, read_committed, without committing anything — how every instance applies the item-updates
 * topic (a replicated table, as Kafka Streams' global stores read their topic).
 *
 * kafkajs has no assign(), so the follower is a consumer in a group of its own (deleted on close),
 * positioned by `seek` when it joins. Fetched records wait in a bounded buffer until the pipeline
 * polls them; a full buffer holds the fetch loop back (kafkajs keeps heartbeating meanwhile).
 */

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Kafka } from 'kafkajs';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { LogFollower, SourceRecord } from '../../ports/event-log.js';
import { describeError, toSourceRecord } from './kafka-client.js';

/** How long `close` waits for a start-up in progress, and for the group deletion. */
const CLOSE_WAIT_MS = 5_000;

export interface KafkaLogFollowerOptions {
  readonly kafka: Kafka;
  /** Prefix of the follower's own consumer group (`<prefix>.<uuid>`). */
  readonly groupPrefix: string;
  readonly topic: string;
  readonly partition: number;
  readonly fromOffset: number;
  /** Records buffered before fetching pauses (default 1,000: a record holds a batch's increments, ~16 KB at batch 100). */
  readonly maxBuffered?: number;
  readonly logger?: Logger;
}

export class KafkaLogFollower implements LogFollower {
  private readonly consumer: Consumer;
  private readonly groupId: string;
  private readonly buffer: SourceRecord[] = [];
  private head = 0;
  /** The next offset to hand out. */
  private handedOut: number;
  /** The next offset to buffer (ahead of `handedOut` by what waits in the buffer). */
  private fetched: number;
  /** The partition's high watermark as of the last fetch. */
  private highWatermark = 0;
  private failure: Error | null = null;
  private closed = false;
  private drained: (() => void) | null = null;
  private readonly maxBuffered: number;
  private readonly logger: Logger;
  private readonly running: Promise<void>;

  constructor(private readonly options: KafkaLogFollowerOptions) {
    this.handedOut = options.fromOffset;
    this.fetched = options.fromOffset;
    this.maxBuffered = options.maxBuffered ?? 1_000;
    this.logger = options.logger ?? silentLogger;
    this.groupId = `${options.groupPrefix}.${randomUUID()}`;
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 50,
      sessionTimeout: 30_000,
    });
    const { topic, partition } = options;
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.consumer.seek({ topic, partition, offset: String(this.fetched) });
    });
    // Also fires for batches of transaction markers or aborted records only, which never reach
    // eachBatch: how the position moves past a transaction's commit marker.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
      const { topic: t, partition: p, lastOffset } = event.payload;
      if (t === topic && p === partition) this.fetched = Math.max(this.fetched, Number(lastOffset) + 1);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (event.payload.restart) return;
      this.failure ??= event.payload.error;
      this.logger.error('the item-updates follower crashed', { error: describeError(event.payload.error) });
    });
    this.running = this.run().catch((error: unknown) => {
      this.failure ??= error instanceof Error ? error : new EddyError(String(error));
    });
  }

  poll(max: number): readonly SourceRecord[] {
    if (this.failure !== null) throw this.failure;
    const available = this.buffer.length - this.head;
    if (available === 0) return [];
    const taken = this.buffer.slice(this.head, this.head + Math.min(max, available));
    this.head += taken.length;
    if (this.head === this.buffer.length) {
      this.buffer.length = 0;
      this.head = 0;
    }
    const last = taken[taken.length - 1];
    if (last !== undefined) this.handedOut = last.offset + 1;
    if (this.buffer.length - this.head < this.maxBuffered) this.release();
    return taken;
  }

  behind(): number {
    return Math.max(0, this.highWatermark - this.position());
  }

  position(): number {
    // With nothing buffered, everything fetched was handed out, markers and aborted records included.
    return this.buffer.length === this.head ? Math.max(this.handedOut, this.fetched) : this.handedOut;
  }

  /**
   * Stops following. Safe at any point of start-up: the consumer may still be connecting or joining
   * its group (a pipeline stopped a moment after it started), and kafkajs does not always settle a
   * join interrupted by a disconnect, so start-up is waited for a bounded time only.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.release();
    await Promise.race([this.running, sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
    await this.consumer.disconnect().catch(() => {});
    // Its own admin, not KafkaLogReader.deleteGroup: the reader may be closed by now, and its
    // connect would open a client nobody closes (the process would not exit).
    const admin = this.options.kafka.admin();
    const deleting = (async () => {
      await admin.connect();
      await admin.deleteGroups([this.groupId]);
    })();
    // Disconnected once the deletion settles, however late: a connect still pending when the wait
    // below gives up would otherwise open a socket nobody closes.
    const disconnected = deleting
      .catch(() => undefined)
      .then(() => admin.disconnect())
      .catch(() => undefined);
    try {
      await Promise.race([
        deleting,
        sleep(CLOSE_WAIT_MS, undefined, { ref: false }).then(() => {
          throw new EddyError(`no answer within ${CLOSE_WAIT_MS} ms`);
        }),
      ]);
      await disconnected;
    } catch (error) {
      // An empty group without offsets expires on its own; this only keeps the group list tidy.
      this.logger.debug('could not delete the follower group', {
        groupId: this.groupId,
        error: describeError(error),
      });
    }
  }

  private async run(): Promise<void> {
    const { topic, partition } = this.options;
    await this.consumer.connect();
    // close() may have disconnected while the connect was pending: disconnect what it opened.
    if (this.closed) return this.consumer.disconnect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true });
    if (this.closed) return this.consumer.disconnect();
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        if (batch.partition !== partition || this.closed) return;
        this.highWatermark = Number(batch.highWatermark);
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < this.fetched) continue;
          this.buffer.push(toSourceRecord(topic, partition, message));
          this.fetched = offset + 1;
        }
        while (!this.closed && this.buffer.length - this.head >= this.maxBuffered) {
          await new Promise<void>((resolve) => {
            this.drained = resolve;
            setTimeout(resolve, 1_000);
          });
          await heartbeat();
        }
      },
    });
  }

  private release(): void {
    const drained = this.drained;
    this.drained = null;
    drained?.();
  }
}

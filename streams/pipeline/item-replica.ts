import { codecs } from '../codec/avro.js';
import type { CatalogChangeRecord, ItemModelIncrementsRecord } from '../codec/state-records.js';
import type { CatalogPosition, EddyModel, ItemModelIncrement } from '../model/eddy-model.js';
import type { ItemEvent } from '../model/events.js';
import type {
  FollowableLog,
  LogFollower,
  LogReader,
  OutgoingRecord,
  SourceRecord,
} from '../ports/event-log.js';

/**
 * Click increments one `catchUp` call applies at most (then it returns; the rest waits for the next
 * call): about a tenth of a second of work, so a replica far behind cannot hold the event loop —
 * and with it the consumer's heartbeats — for long. A record is never split.
 */
const MAX_INCREMENTS_PER_CATCH_UP = 2_000;
/** Records polled at once. */
const POLL_RECORDS = 8;

/** What the replica reports as it applies the topic (metrics). */
export interface ReplicaObserver {
  /**
   * A record from `source` was applied; `lastEventTime` is its newest event time; `appendedAt` its
   * log timestamp when it was applied while following (not during a restore's replay).
   */
  applied(source: string, lastEventTime: number, increments: number, appendedAt?: number): void;
}

/** A catalog change read by this instance, to be forwarded to every replica with its position. */
export interface ForwardedCatalogChange {
  readonly event: ItemEvent;
  readonly position: CatalogPosition;
}

/**
 * The group's item model as a replicated table (Kafka Streams' global store, built on the
 * item-updates topic). Each instance publishes what its batches taught the item model, in the
 * batch's transaction; every instance applies the whole topic — its own records included — in
 * the topic's one order (one partition), so every replica holds the same item model, learned from
 * every click whichever instance consumed it. A checkpoint records the offset it reflects, so a
 * restore is the checkpoint plus a replay from there: nothing lost, nothing applied twice.
 */
export class ItemModelReplica {
  /** The next offset of the topic to apply. */
  private position = 0;
  private follower: LogFollower | null = null;
  /** Items withdrawn by applied catalog changes since the last `takeDeleted`. */
  private readonly deleted: string[] = [];

  constructor(
    private readonly model: EddyModel,
    readonly topic: string,
    /** This instance's name in the records it writes. */
    readonly source: string,
    private readonly observer: ReplicaObserver | null = null,
  ) {}

  /** The next offset to apply: everything before it is in the model. */
  get appliedOffset(): number {
    return this.position;
  }

  /** Records of the topic committed but not yet applied (0 before following). */
  get behind(): number {
    return this.follower?.behind() ?? 0;
  }

  /** Where a restored checkpoint left off: the replay and the following start here. */
  seek(offset: number): void {
    this.position = offset;
  }

  /** Applies the topic from the current position to its end as it is now (restore). */
  async replay(reader: LogReader, onProgress?: (records: number) => void): Promise<number> {
    let records = 0;
    for await (const chunk of reader.readRange(this.topic, 0, this.position)) {
      for (const record of chunk) this.apply(record, false);
      records += chunk.length;
      onProgress?.(chunk.length);
    }
    return records;
  }

  /** Follows the topic from the current position; `catchUp` then applies what arrived. */
  follow(log: FollowableLog): void {
    this.follower = log.follow(this.topic, 0, this.position);
  }

  /**
   * Applies the records that arrived since the last call, up to about MAX_INCREMENTS_PER_CATCH_UP
   * click increments; returns how many records.
   */
  catchUp(): number {
    const follower = this.follower;
    if (follower === null) return 0;
    let applied = 0;
    const before = this.model.incrementsApplied;
    while (this.model.incrementsApplied - before < MAX_INCREMENTS_PER_CATCH_UP) {
      const records = follower.poll(POLL_RECORDS);
      if (records.length === 0) break;
      for (const record of records) this.apply(record, true);
      applied += records.length;
    }
    this.position = Math.max(this.position, follower.position());
    return applied;
  }

  /** Items the applied catalog changes withdrew since the last call (to delete from the vector store). */
  takeDeleted(): string[] {
    return this.deleted.splice(0, this.deleted.length);
  }

  async close(): Promise<void> {
    const follower = this.follower;
    this.follower = null;
    await follower?.close();
  }

  /**
   * The record that publishes a batch's increments and forwarded catalog changes, or null when the
   * batch taught the item model nothing. One partition, so the topic has one order.
   */
  outgoing(
    increments: readonly ItemModelIncrement[],
    catalog: readonly ForwardedCatalogChange[],
  ): OutgoingRecord | null {
    if (increments.length === 0 && catalog.length === 0) return null;
    let lastEventTime = 0;
    for (const increment of increments) lastEventTime = Math.max(lastEventTime, increment.eventTime);
    for (const change of catalog) lastEventTime = Math.max(lastEventTime, change.event.updatedAt);
    const record: ItemModelIncrementsRecord = {
      source: this.source,
      clicks: increments.map((increment) => ({
        itemId: increment.itemId,
        sessionKey: increment.sessionKey,
        eventTime: increment.eventTime,
        engagement: increment.engagement,
        embeddingStrength: increment.embeddingStrength,
        preceding: increment.preceding,
        precedingAgoMs: increment.precedingTimes.map((t) => increment.eventTime - t),
        rankingStep: increment.rankingStep,
        rankingContext: increment.rankingContext,
      })),
      catalog: catalog.map(
        (change): CatalogChangeRecord => ({
          partition: change.position.partition,
          offset: change.position.offset,
          event: codecs.itemEvent.encode(change.event),
        }),
      ),
      lastEventTime,
    };
    return {
      topic: this.topic,
      key: this.source,
      value: codecs.itemModelIncrements.encode(record),
      partition: 0,
    };
  }

  private apply(record: SourceRecord, following: boolean): void {
    this.position = record.offset + 1;
    // Aborted transactions never reach a read_committed reader; a null value is nothing to apply.
    if (record.value === null) return;
    const increments = codecs.itemModelIncrements.decode(record.value);
    for (const change of increments.catalog) {
      const event = codecs.itemEvent.decode(change.event);
      const applied = this.model.applyCatalog(event, { partition: change.partition, offset: change.offset });
      if (applied && event.op === 'delete') this.deleted.push(event.itemId);
    }
    for (const click of increments.clicks) {
      this.model.applyIncrement({
        sessionKey: click.sessionKey,
        itemId: click.itemId,
        eventTime: click.eventTime,
        engagement: click.engagement,
        embeddingStrength: click.embeddingStrength,
        preceding: click.preceding,
        precedingTimes: click.precedingAgoMs.map((ago) => click.eventTime - ago),
        rankingStep: click.rankingStep,
        rankingContext: click.rankingContext,
      });
    }
    this.observer?.applied(
      increments.source,
      increments.lastEventTime,
      increments.clicks.length,
      following ? record.timestamp : undefined,
    );
  }
}

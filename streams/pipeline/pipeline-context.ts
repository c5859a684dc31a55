import type { InvalidRecordError } from '../errors.js';
import type { EddyModel } from '../model/eddy-model.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../model/events.js';
import type { UserPreferences } from '../model/user-preferences.js';
import type { EventSink, SourceRecord } from '../ports/event-log.js';
import type { Point, VectorStore } from '../ports/vector-store.js';
import type { Recommender } from '../recommend/recommender.js';
import type { Clock } from '../util/clock.js';
import type { ItemModelReplica } from './item-replica.js';
import type { PipelineObserver } from './pipeline-observer.js';
import type { TopicNames } from './topics.js';

/** How records become events and lists become bytes; the codec module provides the Avro version. */
export interface PipelineCodecs {
  /** Throws InvalidRecordError when the bytes are not a valid ClickEvent. */
  decodeClick(bytes: Uint8Array): ClickEvent;
  decodeItem(bytes: Uint8Array): ItemEvent;
  encodeList(list: RecommendationList): Uint8Array;
  validateClick(event: ClickEvent, nowMs: number): InvalidRecordError | null;
  validateItem(event: ItemEvent, nowMs: number): InvalidRecordError | null;
  /**
   * Decoding is synchronous; codecs whose writer schemas live elsewhere (a schema registry) fetch
   * the ones `records` need here first. Rejects only when the lookup itself fails (the registry
   * cannot be reached): an unknown schema becomes that record's dead-letter reason instead.
   */
  resolveWriters?(topic: string, records: readonly SourceRecord[]): Promise<void>;
}

export interface VectorCollections {
  readonly items: string;
  readonly users: string;
}

/** Everything the stages share. Built once by the `EddyPipeline` constructor. */
export interface PipelineContext {
  readonly model: EddyModel;
  readonly recommender: Recommender;
  readonly vectorStore: VectorStore;
  readonly collections: VectorCollections;
  readonly codecs: PipelineCodecs;
  readonly sink: EventSink;
  readonly groupId: string;
  readonly topics: TopicNames;
  readonly clock: Clock;
  readonly modelVersion: string;
  /** User vectors are written in batches of this many users (coalesced per user). */
  readonly userRefreshBatch: number;
  /** The item model is checkpointed to its changelog every this many input records (see item-state.ts). */
  readonly itemCheckpointEveryEvents: number;
  readonly observer: PipelineObserver;
  readonly userVectors: UserVectorBuffer;
  /**
   * The group's item model as a replicated table over the item-updates topic, or null when this
   * pipeline learns items alone (a model not in replicated mode).
   */
  readonly replica: ItemModelReplica | null;
  /**
   * Whether this instance writes the item checkpoints (one writer per group, so that a checkpoint
   * is one consistent state at one offset of the item-updates topic).
   */
  readonly writesItemCheckpoints: () => boolean;
}

/** User vectors waiting to be written: the latest per user wins, written as one batch. */
export class UserVectorBuffer {
  private readonly pending = new Map<string, Point>();

  constructor(
    private readonly vectorStore: VectorStore,
    private readonly collection: string,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  add(user: UserPreferences): void {
    this.pending.set(user.userId, {
      id: user.userId,
      vector: Float32Array.from(user.longTerm),
      payload: { events: user.events },
    });
  }

  /** Writes everything pending; returns how many users were written. */
  async flush(): Promise<number> {
    const points = [...this.pending.values()];
    this.pending.clear();
    if (points.length > 0) await this.vectorStore.upsert(this.collection, points);
    return points.length;
  }
}

import { performance } from 'node:perf_hooks';
import { concatMap, identity, type MonoTypeOperatorFunction, map, type OperatorFunction } from 'rxjs';
import { InvalidRecordError } from '../errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../model/events.js';
import { modelCheckpoint } from '../model/item-state.js';
import type { OutgoingRecord, SourceBatch, SourceRecord, TopicPartitionOffset } from '../ports/event-log.js';
import type { Point } from '../ports/vector-store.js';
import { ITEM_AVAILABLE_FIELD, ITEM_CATEGORIES_FIELD } from '../recommend/recommender.js';
import type { ForwardedCatalogChange } from './item-replica.js';
import type { PipelineCodecs, PipelineContext } from './pipeline-context.js';
import type {
  CommittedBatch,
  DecodedBatch,
  DecodedClick,
  LearnedBatch,
  ListedBatch,
  Trigger,
} from './stages.js';
import { DEAD_LETTER_HEADERS } from './topics.js';

/**
 * The pipeline's processors, each a small RxJS operator over one batch (Kafka Streams'
 * source → processors → sink, with the batch as the unit of commit). Synchronous work stays in
 * `map`; I/O is one batched call per stage in `concatMap`.
 */

/**
 * Fetches the writer schemas a batch needs before it is decoded (codecs backed by a schema
 * registry); a no-op stage for self-describing codecs.
 */
export function resolveWriterSchemas(ctx: PipelineContext): MonoTypeOperatorFunction<SourceBatch> {
  const resolve = ctx.codecs.resolveWriters?.bind(ctx.codecs);
  if (resolve === undefined) return identity;
  return concatMap(async (batch) => {
    await resolve(batch.topic, batch.records);
    return batch;
  });
}

/** Bytes → events. Anything that fails to decode or validate is set aside with its reason. */
export function decodeRecords(ctx: PipelineContext): OperatorFunction<SourceBatch, DecodedBatch> {
  return map((batch) => {
    const fetchedAt = performance.now();
    const clicks: DecodedClick[] = [];
    const items: DecodedBatch['items'][number][] = [];
    const itemRecords: SourceRecord[] = [];
    const rejected: DecodedBatch['rejected'][number][] = [];
    const now = ctx.clock.now();
    const isItemTopic = batch.topic === ctx.topics.items;
    for (const record of batch.records) {
      try {
        if (isItemTopic) {
          items.push(decodeItemRecord(ctx.codecs, record, now));
          itemRecords.push(record);
        } else clicks.push({ event: decodeClickRecord(ctx.codecs, record, now), record });
      } catch (error) {
        const invalid =
          error instanceof InvalidRecordError
            ? error
            : new InvalidRecordError('invalid_value', error instanceof Error ? error.message : String(error));
        rejected.push({ record, error: invalid });
        ctx.observer.deadLetter(invalid.reason);
      }
    }
    ctx.observer.stage('decode', (performance.now() - fetchedAt) / 1000);
    return { batch, fetchedAt, clicks, items, itemRecords, rejected };
  });
}

/** A valid click from a clicks-topic record; throws InvalidRecordError with the reason otherwise. */
export function decodeClickRecord(codecs: PipelineCodecs, record: SourceRecord, now: number): ClickEvent {
  const event = codecs.decodeClick(recordValue(record));
  const invalid = codecs.validateClick(event, now) ?? keyMismatch(record.key, event.userId, 'userId');
  if (invalid) throw invalid;
  return event;
}

/**
 * A valid catalog change from an items-topic record; throws InvalidRecordError otherwise. A
 * tombstone (null value) keyed by an item id deletes that item: how a compacted catalog topic says
 * an item is gone.
 */
export function decodeItemRecord(codecs: PipelineCodecs, record: SourceRecord, now: number): ItemEvent {
  if (record.value === null && record.key !== null && record.key !== '')
    return deletion(record.key, record.timestamp);
  const event = codecs.decodeItem(recordValue(record));
  const invalid = codecs.validateItem(event, now) ?? keyMismatch(record.key, event.itemId, 'itemId');
  if (invalid) throw invalid;
  return event;
}

function deletion(itemId: string, timestamp: number): ItemEvent {
  return {
    itemId,
    op: 'delete',
    title: '',
    categories: [],
    tags: [],
    available: false,
    contentVector: null,
    updatedAt: timestamp,
  };
}

function recordValue(record: SourceRecord): Uint8Array {
  if (record.value === null)
    throw new InvalidRecordError('not_avro', 'the record has no value (a tombstone)');
  return record.value;
}

/**
 * The record key must be the id the event is partitioned by: a click keyed by anything but its
 * user lands in another partition than that user's other clicks, so the user's state would live
 * in two changelog partitions (and two instances); a catalog record keyed by anything but its
 * item breaks compaction of the catalog topic. Such records are dead-lettered, never re-keyed:
 * re-keying would have to move the record to another partition, which only its producer can do.
 */
function keyMismatch(key: string | null, id: string, field: string): InvalidRecordError | null {
  if (key === id) return null;
  return new InvalidRecordError(
    'key_mismatch',
    `the record key ${key === null ? 'is null' : JSON.stringify(key)} but ${field} is ${JSON.stringify(id)}; records must be keyed by ${field}`,
  );
}

/**
 * Applies what the item-updates topic brought since the last batch (every instance's increments,
 * this one's included) before the batch is learned from, so its lists rank with the group's
 * item model as of now.
 */
export function applyItemUpdates(ctx: PipelineContext): MonoTypeOperatorFunction<SourceBatch> {
  const replica = ctx.replica;
  if (replica === null) return identity;
  return map((batch) => {
    replica.catchUp();
    return batch;
  });
}

/**
 * Events → model updates, in offset order. Each positive interaction is first scored against the
 * list the user was last served (test, then train). One trigger per user: a burst coalesces.
 * With a replicated item model, the clicks' item increments and the catalog changes are only
 * collected here: they reach the item model through the item-updates topic, on every instance.
 */
export function learnFromEvents(ctx: PipelineContext): OperatorFunction<DecodedBatch, LearnedBatch> {
  return map((decoded) => {
    const started = performance.now();
    const { model, observer } = ctx;
    const deletedItems: string[] = [];
    const forwardedCatalog: ForwardedCatalogChange[] = [];
    for (let i = 0; i < decoded.items.length; i++) {
      const item = decoded.items[i]!;
      const record = decoded.itemRecords[i]!;
      const position = { partition: record.partition, offset: record.offset };
      if (ctx.replica !== null) {
        // Forwarded even when this instance's start-up read applied it: other replicas may not have.
        forwardedCatalog.push({ event: item, position });
      } else if (model.applyCatalog(item, position) && item.op === 'delete') {
        // A change the start-up read applied already is skipped by its position.
        deletedItems.push(item.itemId);
      }
    }
    const triggers = new Map<string, Trigger>();
    for (const click of decoded.clicks) {
      const { event } = click;
      const previous = model.users.get(event.userId);
      if (previous && previous.lastList.length > 0 && model.config.eventWeights[event.type] > 0) {
        observer.liveEvaluation(previous.lastList.indexOf(event.itemId) + 1);
      }
      const user = model.applyClick(event);
      // Delete-then-set keeps the map in order of each user's last event.
      triggers.delete(event.userId);
      triggers.set(event.userId, { user, click });
    }
    observer.stage('learn', (performance.now() - started) / 1000);
    return { ...decoded, triggers: [...triggers.values()], deletedItems, forwardedCatalog };
  });
}

/**
 * Writes drifted item vectors (and catalog changes) to the vector store before retrieval so new
 * items are retrievable at once; user vectors are coalesced per user and written in batches.
 */
export function refreshVectors(ctx: PipelineContext): OperatorFunction<LearnedBatch, LearnedBatch> {
  const itemScratch = new Float32Array(ctx.model.config.dimension);
  return concatMap(async (learned) => {
    const started = performance.now();
    const { model, vectorStore, collections } = ctx;
    const deleted = ctx.replica === null ? learned.deletedItems : ctx.replica.takeDeleted();
    if (deleted.length > 0) await vectorStore.delete(collections.items, deleted);
    const drifted = model.items.takeDrifted();
    if (drifted.length > 0) {
      const points: Point[] = drifted.map((item) => ({
        id: item.itemId,
        vector: item.published ?? model.items.targetVector(item, itemScratch),
        payload: { [ITEM_AVAILABLE_FIELD]: item.available, [ITEM_CATEGORIES_FIELD]: item.categories },
      }));
      await vectorStore.upsert(collections.items, points);
    }
    for (const { user } of learned.triggers) ctx.userVectors.add(user);
    // Caught up with the partition: nothing to coalesce with, so write now rather than let vectors age.
    const usersWritten =
      ctx.userVectors.size >= ctx.userRefreshBatch || learned.batch.lag === 0
        ? await ctx.userVectors.flush()
        : 0;
    if (usersWritten > 0 || drifted.length > 0) ctx.observer.vectorWrite(usersWritten, drifted.length);
    ctx.observer.stage('refresh', (performance.now() - started) / 1000);
    return learned;
  });
}

/** One batched retrieval for every triggered user, then ranking; each list remembers what it served. */
export function recommendLists(ctx: PipelineContext): OperatorFunction<LearnedBatch, ListedBatch> {
  return concatMap(async (learned) => {
    const started = performance.now();
    if (learned.triggers.length === 0) return { ...learned, lists: [] };
    const ranked = await ctx.recommender.recommend(learned.triggers.map((t) => t.user));
    const generatedAt = ctx.clock.now();
    const lists = learned.triggers.map((trigger, i) => {
      const items = ranked[i]!;
      const { record, event } = trigger.click;
      const list: RecommendationList = {
        userId: event.userId,
        // Derived from the triggering record's position, so a replay after a crash emits the same id.
        listId: `${record.topic}-${record.partition}-${record.offset}`,
        triggeringEventId: event.eventId,
        generatedAt,
        modelVersion: ctx.modelVersion,
        items,
      };
      trigger.user.lastList = items.map((item) => item.itemId);
      trigger.user.lastListAt = generatedAt;
      ctx.model.users.put(trigger.user.userId, trigger.user);
      return { list, trigger };
    });
    ctx.observer.stage('recommend', (performance.now() - started) / 1000);
    return { ...learned, lists };
  });
}

/** A batch whose commit unit is built and handed to the sink, its commit maybe still in flight. */
export interface PendingCommit {
  readonly listed: ListedBatch;
  readonly records: readonly OutgoingRecord[];
  /** performance.now() when the unit was built. */
  readonly startedAt: number;
  readonly committing: Promise<void>;
}

/**
 * Lists, dead letters and state changes, plus the input offsets they account for, go out as one
 * commit unit (a transaction on Kafka), handed to the sink without waiting for the commit
 * (`settleCommits` waits). The unit is built before the next batch is processed, so it holds
 * exactly the state changes its own input caused.
 */
export function enqueueCommit(ctx: PipelineContext): OperatorFunction<ListedBatch, PendingCommit> {
  const checkpoints = new CheckpointSchedule(ctx);
  return map((listed) => {
    const startedAt = performance.now();
    const records = commitRecords(ctx, listed, checkpoints);
    const { batch } = listed;
    const offsets: TopicPartitionOffset[] = [];
    const last = batch.records[batch.records.length - 1];
    if (last) offsets.push({ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 });
    const committing = ctx.sink.commit({ records, offsets, groupId: ctx.groupId });
    // Handled here so a unit rejected after an earlier failure (never awaited: the pipeline has
    // already failed) is no unhandled rejection; `settleCommits` still sees the outcome.
    committing.catch(() => {});
    return { listed, records, startedAt, committing };
  });
}

/**
 * Waits for each unit's commit, in order, and only then releases its batch: the source fetches a
 * partition past a batch only once its outputs are committed.
 */
export function settleCommits(ctx: PipelineContext): OperatorFunction<PendingCommit, CommittedBatch> {
  return concatMap(async ({ listed, records, startedAt, committing }) => {
    await committing;
    listed.batch.release();
    const committedAt = performance.now();
    ctx.observer.stage('commit', (committedAt - startedAt) / 1000);
    const committed: CommittedBatch = { ...listed, outputRecords: records, committedAt };
    ctx.observer.committed(committed);
    return committed;
  });
}

function commitRecords(
  ctx: PipelineContext,
  listed: ListedBatch,
  checkpoints: CheckpointSchedule,
): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  for (const { list } of listed.lists) {
    records.push({
      topic: ctx.topics.recommendations,
      key: list.userId,
      value: ctx.codecs.encodeList(list),
    });
  }
  for (const { record, error } of listed.rejected) {
    records.push({
      topic: ctx.topics.deadLetters,
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        [DEAD_LETTER_HEADERS.reason]: error.reason,
        [DEAD_LETTER_HEADERS.detail]: error.detail,
        [DEAD_LETTER_HEADERS.topic]: record.topic,
        [DEAD_LETTER_HEADERS.partition]: String(record.partition),
        [DEAD_LETTER_HEADERS.offset]: String(record.offset),
      },
    });
  }
  for (const change of ctx.model.users.flushChangelog()) records.push(change);
  if (ctx.replica !== null) {
    const increments = ctx.replica.outgoing(ctx.model.takeIncrements(), listed.forwardedCatalog);
    if (increments !== null) records.push(increments);
  }
  for (const change of checkpoints.due()) records.push(change);
  return records;
}

/**
 * When the item model is checkpointed: every `itemCheckpointEveryEvents` increments applied, or
 * after ITEM_CHECKPOINT_MAX_AGE_MS with any increment applied (so that on a quiet stream the
 * item-updates records a restore must replay stay well inside the topic's retention), by the
 * group's one checkpoint writer. A checkpoint holds the items changed since the writer's previous
 * one, so an instance that has just become the writer writes every item once.
 */
class CheckpointSchedule {
  private appliedAtLast: number;
  private lastAt: number;
  private wasWriter = false;

  constructor(private readonly ctx: PipelineContext) {
    this.appliedAtLast = ctx.model.incrementsApplied;
    this.lastAt = ctx.clock.now();
  }

  due(): OutgoingRecord[] {
    const { ctx } = this;
    const writer = ctx.writesItemCheckpoints();
    if (writer && !this.wasWriter) {
      ctx.model.items.markAllChanged();
      ctx.model.sessions.markAllChanged();
    }
    this.wasWriter = writer;
    const applied = ctx.model.incrementsApplied - this.appliedAtLast;
    const now = ctx.clock.now();
    const due =
      applied >= ctx.itemCheckpointEveryEvents ||
      (applied > 0 && now - this.lastAt >= ITEM_CHECKPOINT_MAX_AGE_MS);
    if (!writer || !due) return [];
    this.appliedAtLast = ctx.model.incrementsApplied;
    this.lastAt = now;
    return modelCheckpoint(ctx.model, ctx.topics, ctx.groupId, ctx.replica?.appliedOffset ?? null);
  }
}

/** The longest a checkpoint waits once anything changed (10 minutes). */
export const ITEM_CHECKPOINT_MAX_AGE_MS = 10 * 60_000;

import { performance } from 'node:perf_hooks';
import { concatMap, lastValueFrom, type OperatorFunction, of, pipe, tap } from 'rxjs';
import { EddyError, InvalidRecordError } from '../errors.js';
import type { EddyModel } from '../model/eddy-model.js';
import type { ItemEvent } from '../model/events.js';
import { modelCheckpoint } from '../model/item-state.js';
import type { EventSink, EventSource, FollowableLog, LogReader, SourceBatch } from '../ports/event-log.js';
import type { VectorStore } from '../ports/vector-store.js';
import { Recommender } from '../recommend/recommender.js';
import type { Clock } from '../util/clock.js';
import { ItemModelReplica } from './item-replica.js';
import {
  applyItemUpdates,
  decodeItemRecord,
  decodeRecords,
  enqueueCommit,
  learnFromEvents,
  recommendLists,
  refreshVectors,
  resolveWriterSchemas,
  settleCommits,
} from './operators.js';
import {
  type PipelineCodecs,
  type PipelineContext,
  UserVectorBuffer,
  type VectorCollections,
} from './pipeline-context.js';
import type { PipelineObserver } from './pipeline-observer.js';
import { type RestoreReport, restoreModel } from './restore.js';
import type { CommittedBatch } from './stages.js';
import type { TopicNames } from './topics.js';

export interface PipelineDependencies {
  readonly source: EventSource;
  readonly sink: EventSink;
  readonly vectorStore: VectorStore;
  readonly model: EddyModel;
  readonly codecs: PipelineCodecs;
  readonly topics: TopicNames;
  readonly collections: VectorCollections;
  readonly groupId: string;
  readonly clock: Clock;
  readonly observer: PipelineObserver;
  readonly modelVersion: string;
  readonly userRefreshBatch?: number;
  readonly itemCheckpointEveryEvents?: number;
  /** Rebuilds user and item state from their changelogs before processing (see restore.ts). */
  readonly changelogs?: LogReader;
  /**
   * Reads the catalog topic in full before processing starts, as Kafka Streams bootstraps a global
   * table, so no click is ranked against a catalog that has not been loaded yet.
   */
  readonly catalog?: LogReader;
  /**
   * The item-updates topic this instance publishes its item increments to and follows (with the
   * model in replicated mode): the group's one item model. Without it the pipeline learns items
   * from its own input alone.
   */
  readonly itemUpdates?: ItemUpdatesOptions;
}

export interface ItemUpdatesOptions {
  /** Where the topic is followed (read_committed, from the restored checkpoint's offset). */
  readonly log: FollowableLog;
  /** Reads the topic from the checkpoint's offset at start (the replay). */
  readonly reader: LogReader;
  /** This instance's name in the records it writes. */
  readonly instanceId: string;
  /** Whether this instance is the group's checkpoint writer now (default: always). */
  readonly writesCheckpoints?: () => boolean;
  /** How often an idle pipeline applies what arrived (ms, default 20). */
  readonly catchUpEveryMs?: number;
}

/**
 * The topology: decode → learn → refresh vectors → recommend → commit, applied to one batch at a
 * time. Batches are processed strictly one after another, and each builds its commit unit before
 * the next starts, so a unit holds exactly the state changes its own input caused (what makes a
 * changelog restore land on the committed offsets). With a sink that orders commits, the next
 * batch is processed while the previous unit's commit is in flight; batches are released in order,
 * each once its own unit committed.
 */
export function processBatches(ctx: PipelineContext): OperatorFunction<SourceBatch, CommittedBatch> {
  const process = pipe(
    applyItemUpdates(ctx),
    resolveWriterSchemas(ctx),
    decodeRecords(ctx),
    learnFromEvents(ctx),
    refreshVectors(ctx),
    recommendLists(ctx),
    enqueueCommit(ctx),
  );
  const settle = settleCommits(ctx);
  return pipe(
    // Before concatMap, which queues batches: the observer sees every batch the source let go.
    tap((batch) => ctx.observer.fetched?.(batch)),
    ctx.sink.ordersCommits === true
      ? pipe(
          concatMap((batch) => of(batch).pipe(process)),
          settle,
        )
      : concatMap((batch) => of(batch).pipe(process, settle)),
  );
}

/** What the start-up read of the catalog topic found. */
export interface CatalogReport {
  /** Valid catalog records applied. */
  readonly catalogRecords: number;
  /** Records skipped as invalid (the source dead-letters them when it reaches them). */
  readonly catalogInvalid: number;
  /** Item-updates records replayed on top of the item checkpoint (0 without a shared item model). */
  readonly itemUpdatesReplayed?: number;
  /** The item-updates offset the replica follows from. */
  readonly itemUpdatesOffset?: number;
}

export class EddyPipeline {
  readonly context: PipelineContext;
  private stopping = false;

  constructor(private readonly deps: PipelineDependencies) {
    const updates = deps.itemUpdates;
    if (updates !== undefined && !deps.model.replicatedItems) {
      throw new EddyError('a pipeline with an item-updates topic needs a model in replicated mode');
    }
    const replica =
      updates === undefined
        ? null
        : new ItemModelReplica(deps.model, deps.topics.itemUpdates, updates.instanceId, {
            applied: (source, lastEventTime, increments, appendedAt) =>
              deps.observer.itemModelApplied?.(
                source,
                lastEventTime,
                increments,
                replica?.behind ?? 0,
                appendedAt,
              ),
          });
    this.context = {
      model: deps.model,
      recommender: new Recommender(deps.model, deps.vectorStore, deps.collections.items),
      vectorStore: deps.vectorStore,
      collections: deps.collections,
      codecs: deps.codecs,
      sink: deps.sink,
      groupId: deps.groupId,
      topics: deps.topics,
      clock: deps.clock,
      modelVersion: deps.modelVersion,
      userRefreshBatch: deps.userRefreshBatch ?? 256,
      itemCheckpointEveryEvents: deps.itemCheckpointEveryEvents ?? 20_000,
      observer: deps.observer,
      userVectors: new UserVectorBuffer(deps.vectorStore, deps.collections.users),
      replica,
      writesItemCheckpoints: updates?.writesCheckpoints ?? (() => true),
    };
  }

  /**
   * Restores state from the changelogs, creates the vector collections (idempotent) and loads the
   * catalog; call before `run`.
   */
  async prepare(): Promise<RestoreReport & CatalogReport> {
    const { observer } = this.deps;
    const restoreStarted = performance.now();
    const restored = this.deps.changelogs
      ? await restoreModel(
          this.deps.model,
          this.deps.changelogs,
          this.deps.topics,
          this.deps.groupId,
          (records) => observer.restoring?.(records),
        )
      : { users: 0, items: 0, records: 0 };
    observer.restored?.(restored, (performance.now() - restoreStarted) / 1000);
    const replica = this.context.replica;
    const updates = this.deps.itemUpdates;
    let replayed = 0;
    if (replica !== null && updates !== undefined) {
      if (restored.itemUpdatesOffset !== undefined) replica.seek(restored.itemUpdatesOffset);
      // The checkpoint plus what the group learned since: the same item model every replica holds.
      replayed = await replica.replay(updates.reader, (records) => observer.restoring?.(records));
    }
    const { dimension } = this.deps.model.config;
    await this.deps.vectorStore.ensureCollection({
      name: this.deps.collections.items,
      dimension,
      distance: 'cosine',
      indexedFields: ['available', 'categories'],
    });
    await this.deps.vectorStore.ensureCollection({
      name: this.deps.collections.users,
      dimension,
      distance: 'cosine',
    });
    const catalog = this.deps.catalog
      ? await this.bootstrapCatalog(this.deps.catalog)
      : { catalogRecords: 0, catalogInvalid: 0 };
    if (replica !== null && updates !== undefined) replica.follow(updates.log);
    return {
      ...restored,
      ...catalog,
      ...(replica === null
        ? {}
        : { itemUpdatesReplayed: replayed, itemUpdatesOffset: replica.appliedOffset }),
    };
  }

  /**
   * Applies every valid catalog record, from the beginning of every partition, at every start: the
   * catalog is a global table, so what was withdrawn before a crash is withdrawn after it, whatever
   * offsets the group had committed. Each change is applied with its position, so when the source
   * reads the same records again later (and dead-letters the invalid ones) the model skips what it
   * holds already (`EddyModel.applyCatalog`) instead of undoing newer versions. Writer schemas are
   * resolved before decoding (a registry), and anything but an invalid record fails the start.
   */
  private async bootstrapCatalog(reader: LogReader): Promise<CatalogReport> {
    const { codecs, topics, model, clock } = this.context;
    const partitions = await reader.partitionsOf(topics.items);
    const report = { catalogRecords: 0, catalogInvalid: 0 };
    for (let p = 0; p < partitions; p++) {
      for await (const chunk of reader.readRange(topics.items, p, 0)) {
        await codecs.resolveWriters?.(topics.items, chunk);
        const now = clock.now();
        for (const record of chunk) {
          let event: ItemEvent;
          try {
            event = decodeItemRecord(codecs, record, now);
          } catch (error) {
            if (!(error instanceof InvalidRecordError)) throw error;
            // Left for the source, which dead-letters it with the reason.
            report.catalogInvalid++;
            continue;
          }
          model.applyCatalog(event, { partition: p, offset: record.offset });
          report.catalogRecords++;
        }
      }
    }
    return report;
  }

  /** Processes until the source completes (or `stop()`), then writes pending user vectors. */
  async run(): Promise<void> {
    const replica = this.context.replica;
    // Keeps an idle instance's item model current (batches catch up before they start anyway).
    const catchingUp =
      replica === null
        ? null
        : setInterval(() => replica.catchUp(), this.deps.itemUpdates?.catchUpEveryMs ?? 20);
    try {
      await lastValueFrom(this.deps.source.batches().pipe(processBatches(this.context)), {
        defaultValue: null,
      });
    } finally {
      if (catchingUp !== null) clearInterval(catchingUp);
    }
    // Everything committed so far (its own last batches included) before the last checkpoint.
    while (replica !== null && replica.catchUp() > 0) {
      // Bounded per call; a shutdown takes everything.
    }
    await this.context.userVectors.flush();
    // A last item checkpoint, so a clean shutdown replays nothing at the next start.
    if (!this.context.writesItemCheckpoints()) return;
    const records = modelCheckpoint(
      this.deps.model,
      this.deps.topics,
      this.deps.groupId,
      replica?.appliedOffset ?? null,
    );
    if (records.length > 0) await this.deps.sink.commit({ records, offsets: [], groupId: this.deps.groupId });
  }

  /** Applies what the item-updates topic brought since the last batch (e.g. before an interactive query). */
  catchUp(): number {
    return this.context.replica?.catchUp() ?? 0;
  }

  /** Graceful stop: the source stops fetching, the batch in flight completes and commits. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.deps.source.close();
    await this.context.replica?.close();
  }
}

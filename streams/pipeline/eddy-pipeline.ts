import { performance } from 'node:perf_hooks';
import { concatMap, lastValueFrom, type OperatorFunction, of, pipe, tap } from 'rxjs';
import type { EddyModel } from '../model/eddy-model.js';
import { itemCheckpoint, rankingCheckpoint } from '../model/item-state.js';
import type { EventSink, EventSource, LogReader, SourceBatch } from '../ports/event-log.js';
import type { VectorStore } from '../ports/vector-store.js';
import { Recommender } from '../recommend/recommender.js';
import type { Clock } from '../util/clock.js';
import {
  commitOutputs,
  decodeRecords,
  learnFromEvents,
  recommendLists,
  refreshVectors,
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
}

/**
 * The topology: decode → learn → refresh vectors → recommend → commit, applied to one batch at a
 * time. Batches run strictly one after another, so each commit unit holds exactly the state
 * changes its own input caused (what makes a changelog restore land on the committed offsets).
 */
export function processBatches(ctx: PipelineContext): OperatorFunction<SourceBatch, CommittedBatch> {
  const stages = pipe(
    decodeRecords(ctx),
    learnFromEvents(ctx),
    refreshVectors(ctx),
    recommendLists(ctx),
    commitOutputs(ctx),
  );
  return pipe(
    // Before concatMap, which queues batches: the observer sees every batch the source let go.
    tap((batch) => ctx.observer.fetched?.(batch)),
    concatMap((batch) => of(batch).pipe(stages)),
  );
}

export class EddyPipeline {
  readonly context: PipelineContext;
  private stopping = false;

  constructor(private readonly deps: PipelineDependencies) {
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
    };
  }

  /**
   * Restores state from the changelogs, creates the vector collections (idempotent) and loads the
   * catalog; call before `run`.
   */
  async prepare(): Promise<RestoreReport & { catalogRecords: number }> {
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
    const catalogRecords = this.deps.catalog ? await this.bootstrapCatalog(this.deps.catalog) : 0;
    return { ...restored, catalogRecords };
  }

  /**
   * Applies every valid catalog record. Upserts are idempotent, so the source reading the same
   * records again later (and dead-lettering the invalid ones) changes nothing.
   */
  private async bootstrapCatalog(reader: LogReader): Promise<number> {
    const { codecs, topics, model, clock } = this.context;
    const partitions = await reader.partitionsOf(topics.items);
    let applied = 0;
    for (let p = 0; p < partitions; p++) {
      for await (const chunk of reader.readRange(topics.items, p, 0)) {
        for (const record of chunk) {
          if (record.value === null) continue;
          try {
            const event = codecs.decodeItem(record.value);
            if (codecs.validateItem(event, clock.now()) === null) {
              model.applyItem(event);
              applied++;
            }
          } catch {
            // Left for the source, which dead-letters it with the reason.
          }
        }
      }
    }
    return applied;
  }

  /** Processes until the source completes (or `stop()`), then writes pending user vectors. */
  async run(): Promise<void> {
    await lastValueFrom(this.deps.source.batches().pipe(processBatches(this.context)), {
      defaultValue: null,
    });
    await this.context.userVectors.flush();
    // A last item checkpoint, so a clean shutdown loses no item learning.
    const records = [
      ...itemCheckpoint(this.deps.model, this.deps.topics.itemChangelog),
      ...rankingCheckpoint(this.deps.model, this.deps.topics.rankingChangelog, this.deps.groupId),
    ];
    if (records.length > 0) await this.deps.sink.commit({ records, offsets: [], groupId: this.deps.groupId });
  }

  /** Graceful stop: the source stops fetching, the batch in flight completes and commits. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.deps.source.close();
  }
}

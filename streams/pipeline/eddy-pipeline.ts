import { performance } from 'node:perf_hooks';
import { concatMap, lastValueFrom, type OperatorFunction, of, pipe, tap } from 'rxjs';
import { InvalidRecordError } from '../errors.js';
import type { EddyModel } from '../model/eddy-model.js';
import type { ItemEvent } from '../model/events.js';
import { itemCheckpoint, rankingCheckpoint } from '../model/item-state.js';
import type { EventSink, EventSource, LogReader, SourceBatch } from '../ports/event-log.js';
import type { VectorStore } from '../ports/vector-store.js';
import { Recommender } from '../recommend/recommender.js';
import type { Clock } from '../util/clock.js';
import {
  commitOutputs,
  decodeItemRecord,
  decodeRecords,
  learnFromEvents,
  recommendLists,
  refreshVectors,
  resolveWriterSchemas,
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
    resolveWriterSchemas(ctx),
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

/** What the start-up read of the catalog topic found. */
export interface CatalogReport {
  /** Valid catalog records applied. */
  readonly catalogRecords: number;
  /** Records skipped as invalid (the source dead-letters them when it reaches them). */
  readonly catalogInvalid: number;
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
      catalogLoadedUpTo: new Map(),
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
    return { ...restored, ...catalog };
  }

  /**
   * Applies every valid catalog record, from the beginning of every partition, at every start: the
   * catalog is a global table, so what was withdrawn before a crash is withdrawn after it, whatever
   * offsets the group had committed. Upserts are idempotent, so the source reading the same
   * records again later (and dead-lettering the invalid ones) changes nothing. Writer schemas are
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
          this.context.catalogLoadedUpTo.set(p, record.offset + 1);
          let event: ItemEvent;
          try {
            event = decodeItemRecord(codecs, record, now);
          } catch (error) {
            if (!(error instanceof InvalidRecordError)) throw error;
            // Left for the source, which dead-letters it with the reason.
            report.catalogInvalid++;
            continue;
          }
          model.applyItem(event);
          report.catalogRecords++;
        }
      }
    }
    return report;
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

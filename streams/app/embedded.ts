import { setTimeout as sleep } from 'node:timers/promises';
import { InMemoryVectorIndex } from '../adapters/memory/exact-vector-index.js';
import { InMemoryLog, type InMemorySourceOptions } from '../adapters/memory/in-memory-log.js';
import { MemoryStateStore } from '../adapters/memory/memory-state-store.js';
import { codecs } from '../codec/avro.js';
import { avroPipelineCodecs, type ValidationLimits } from '../codec/pipeline-codecs.js';
import { EddyError } from '../errors.js';
import { EddyModel } from '../model/eddy-model.js';
import type { ModelConfig } from '../model/model-config.js';
import type { UserPreferences } from '../model/user-preferences.js';
import { userPreferencesSerde } from '../model/user-state-serde.js';
import { instrumentVectorStore } from '../observe/instrumented-vector-store.js';
import type { EddyMetrics, PartitionLag } from '../observe/metrics.js';
import { RunStats } from '../observe/run-stats.js';
import { type CatalogReport, EddyPipeline, type ItemUpdatesOptions } from '../pipeline/eddy-pipeline.js';
import { combineObservers, type PipelineObserver } from '../pipeline/pipeline-observer.js';
import type { RestoreReport } from '../pipeline/restore.js';
import { type TopicNames, topicNames } from '../pipeline/topics.js';
import type { EventSink, EventSource, FollowableLog, LogReader, OutgoingRecord } from '../ports/event-log.js';
import type { VectorStore } from '../ports/vector-store.js';
import type { StreamEvent } from '../sources/stream-event.js';
import { type Clock, systemClock } from '../util/clock.js';

export const MODEL_VERSION = 'eddy/0.1.0';

/** The topics of an embedded run, created in its log (existing ones are kept). */
export function createEmbeddedTopics(
  log: InMemoryLog,
  topics: TopicNames,
  partitions: number,
  retentionRecords?: number,
): void {
  const p = partitions;
  const retention = retentionRecords === undefined ? {} : { retentionRecords };
  log.createTopics([
    { name: topics.clicks, partitions: p, ...retention },
    { name: topics.items, partitions: p },
    { name: topics.recommendations, partitions: p, ...retention },
    { name: topics.deadLetters, partitions: p, ...retention },
    { name: topics.userChangelog, partitions: p, cleanupPolicy: 'compact' },
    { name: topics.itemChangelog, partitions: p, cleanupPolicy: 'compact' },
    { name: topics.sessionChangelog, partitions: p, cleanupPolicy: 'compact' },
    { name: topics.rankingChangelog, partitions: 1, cleanupPolicy: 'compact' },
    { name: topics.itemUpdates, partitions: 1, ...retention },
  ]);
}

export interface FeedOptions {
  /** Most records the producer stays ahead of the pipeline (default: two batches per partition). */
  readonly maxLag?: number;
  readonly chunk?: number;
  readonly signal?: AbortSignal;
  /** Encodes each event instead of the Avro encoding (dead-letter tests feed raw bytes). */
  readonly raw?: (e: StreamEvent) => OutgoingRecord;
}

/** A stream event as a producer writes it to the input topics: Avro, keyed by user or item. */
export function encodeEvent(topics: TopicNames, e: StreamEvent): OutgoingRecord {
  return e.kind === 'click'
    ? { topic: topics.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
    : { topic: topics.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) };
}

/**
 * Produces `stream` into the log in chunks, waiting while `lag()` (records produced but not yet
 * committed by the pipelines) exceeds `maxLag`: memory stays flat however long the stream is.
 */
export async function feedLog(
  log: InMemoryLog,
  topics: TopicNames,
  stream: Iterable<StreamEvent>,
  lag: () => number,
  options: FeedOptions & { readonly maxLag: number },
): Promise<number> {
  const chunkSize = options.chunk ?? 1_000;
  const chunk: OutgoingRecord[] = [];
  let produced = 0;
  const flush = async (): Promise<void> => {
    log.produce(chunk);
    produced += chunk.length;
    chunk.length = 0;
    while (lag() > options.maxLag && !options.signal?.aborted) await sleep(1);
  };
  for (const e of stream) {
    if (options.signal?.aborted) break;
    chunk.push(options.raw ? options.raw(e) : encodeEvent(topics, e));
    if (chunk.length >= chunkSize) await flush();
  }
  if (chunk.length > 0) await flush();
  return produced;
}

/** Records of `topics` not yet committed by `groupId`, over `partitions` (default all). */
export function groupLag(
  log: EmbeddedLog,
  groupId: string,
  topics: readonly string[],
  partitionCount: number,
  owned?: readonly number[],
): PartitionLag[] {
  const lags: PartitionLag[] = [];
  for (const topic of topics) {
    for (let partition = 0; partition < partitionCount; partition++) {
      if (owned !== undefined && !owned.includes(partition)) continue;
      const committed = log.committed(groupId, topic, partition) ?? 0;
      lags.push({ topic, partition, lag: log.endOffset(topic, partition) - committed });
    }
  }
  return lags;
}

/**
 * What an embedded instance needs of its log: the `InMemoryLog` itself, or a `PortLog` reaching one
 * owned by another thread (`--threads`).
 */
export interface EmbeddedLog extends LogReader, FollowableLog {
  source(options: InMemorySourceOptions): EventSource;
  sink(): EventSink;
  committed(groupId: string, topic: string, partition: number): number | undefined;
  endOffset(topic: string, partition: number): number;
}

export interface EmbeddedOptions<L extends EmbeddedLog = InMemoryLog> {
  readonly model: ModelConfig;
  readonly partitions: number;
  readonly batchSize: number;
  /** The coalescing window: how long a partition waits to fill a batch. */
  readonly lingerMs: number;
  readonly groupId?: string;
  readonly topics?: TopicNames;
  readonly clock?: Clock;
  readonly metrics?: EddyMetrics | null;
  readonly observers?: readonly PipelineObserver[];
  readonly validation?: Partial<ValidationLimits>;
  /** Replaces the in-process exact index (e.g. with Qdrant); the pipeline is the same either way. */
  readonly vectorStore?: VectorStore;
  /**
   * Records kept per partition of the clicks, recommendations and dead-letter topics (Kafka's
   * retention, by count): bounds the memory of a long or endless run. Default: everything (tests
   * read the whole output). The catalog and the changelogs are compacted tables instead.
   */
  readonly retentionRecords?: number;
  /**
   * Another instance's log to share (several instances in one process, as a consumer group's
   * members share a cluster); default: a log of its own.
   */
  readonly log?: L;
  /** The input partitions this instance consumes (default: all), as a group member's assignment. */
  readonly ownedPartitions?: readonly number[];
  /** This instance's name in the item-updates records it writes (default `embedded-0`). */
  readonly instanceId?: string;
  /**
   * Share the item model with the group's other instances through the item-updates topic
   * (default). `false` learns items from this instance's own input alone: only for measuring
   * what sharing is worth.
   */
  readonly sharedItemModel?: boolean;
}

/**
 * Eddy on in-process adapters: the in-memory log stands in for Kafka, the exact index for Qdrant.
 * The pipeline is the production one; only the adapters differ.
 */
export class EmbeddedEddy<L extends EmbeddedLog = InMemoryLog> {
  readonly log: L;
  readonly vectorStore: VectorStore;
  readonly model: EddyModel;
  readonly users: MemoryStateStore<UserPreferences>;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly stats: RunStats;
  readonly pipeline: EddyPipeline;
  private readonly source;

  constructor(private readonly options: EmbeddedOptions<L>) {
    const clock = options.clock ?? systemClock;
    this.topics = options.topics ?? topicNames();
    this.groupId = options.groupId ?? 'eddy';
    // Without a log given, L is its default, InMemoryLog.
    this.log = options.log ?? (new InMemoryLog({ clock }) as unknown as L);
    this.vectorStore = options.vectorStore ?? new InMemoryVectorIndex();
    // A log owned by another thread was given its topics there.
    if (this.log instanceof InMemoryLog) {
      createEmbeddedTopics(this.log, this.topics, options.partitions, options.retentionRecords);
    }
    this.users = new MemoryStateStore({
      name: 'user-preferences',
      changelogTopic: this.topics.userChangelog,
      serde: userPreferencesSerde,
    });
    const shared = options.sharedItemModel ?? true;
    this.model = new EddyModel(options.model, this.users, { replicatedItems: shared });
    const owned = options.ownedPartitions;
    this.stats = new RunStats(this.model, options.metrics ?? null, this.topics.items);
    this.source = this.log.source({
      groupId: this.groupId,
      topics: [this.topics.items, this.topics.clicks],
      maxBatchSize: options.batchSize,
      lingerMs: options.lingerMs,
      follow: true,
      ...(owned === undefined ? {} : { partitions: owned }),
    });
    const metrics = options.metrics ?? null;
    // A given store (Qdrant) times its own requests and reports its own breaker; the in-process
    // index does neither, and cannot become unreachable, so its breaker is always closed.
    const inProcessIndex = this.vectorStore instanceof InMemoryVectorIndex;
    if (metrics) {
      metrics.consumerLagFrom(() => this.partitionLags());
      if (inProcessIndex) metrics.setBreakerState('vector_store', 'closed');
    }
    this.pipeline = new EddyPipeline({
      source: this.source,
      sink: this.log.sink(),
      vectorStore:
        metrics && inProcessIndex ? instrumentVectorStore(this.vectorStore, metrics) : this.vectorStore,
      model: this.model,
      codecs: avroPipelineCodecs(options.model.dimension, options.validation),
      topics: this.topics,
      collections: { items: 'eddy_items', users: 'eddy_users' },
      groupId: this.groupId,
      clock,
      observer: combineObservers(this.stats, ...(options.observers ?? [])),
      modelVersion: MODEL_VERSION,
      catalog: this.log,
      changelogs: this.log,
      ...(shared ? { itemUpdates: this.itemUpdates(owned) } : {}),
    });
  }

  private itemUpdates(owned: readonly number[] | undefined): ItemUpdatesOptions {
    return {
      log: this.log,
      reader: this.log,
      instanceId: this.options.instanceId ?? 'embedded-0',
      // One checkpoint writer per group: the owner of the first clicks partition.
      writesCheckpoints: () => owned === undefined || owned.includes(0),
    };
  }

  /** Records not yet committed by the pipeline, over its input partitions. */
  lag(): number {
    let lag = 0;
    for (const partition of this.partitionLags()) lag += partition.lag;
    return lag;
  }

  /** `lag()` per input partition this instance owns. */
  partitionLags(): PartitionLag[] {
    const { partitions, ownedPartitions } = this.options;
    return groupLag(
      this.log,
      this.groupId,
      [this.topics.items, this.topics.clicks],
      partitions,
      ownedPartitions,
    );
  }

  /**
   * Produces a stream into the input topics (as Avro, like any producer would), keeping at most
   * `maxLag` records ahead of the pipeline so memory stays flat however long the stream is.
   */
  async feed(stream: Iterable<StreamEvent>, options: FeedOptions = {}): Promise<number> {
    const log = this.log;
    if (!(log instanceof InMemoryLog)) {
      throw new EddyError('feed: the log is owned by another thread; produce into it there');
    }
    // Two batches per partition in the log keeps the pipeline busy without queueing (freshness).
    const maxLag = options.maxLag ?? 2 * this.options.partitions * this.options.batchSize;
    return feedLog(log, this.topics, stream, () => this.lag(), { ...options, maxLag });
  }

  encode(e: StreamEvent): OutgoingRecord {
    return encodeEvent(this.topics, e);
  }

  /** Resolves once everything produced so far is committed. */
  async drained(signal?: AbortSignal): Promise<void> {
    while (this.lag() > 0 && !signal?.aborted) await sleep(2);
  }

  /**
   * Restores state, prepares the vector collections and starts consuming; `running` settles when
   * the pipeline ends.
   */
  async start(): Promise<{ running: Promise<void>; restored: RestoreReport & CatalogReport }> {
    const restored = await this.pipeline.prepare();
    return { running: this.pipeline.run(), restored };
  }

  /** Runs a finite stream end to end: feed, wait until all is committed, stop. */
  async runToCompletion(
    stream: Iterable<StreamEvent>,
    signal?: AbortSignal,
    onStarted?: (restored: RestoreReport & CatalogReport) => void,
  ): Promise<void> {
    const { running, restored } = await this.start();
    onStarted?.(restored);
    // The feeder stops on the caller's signal, and when the pipeline fails: a failed pipeline
    // commits nothing more, so waiting for it to catch up would never end.
    const stopFeeding = new AbortController();
    const onAbort = () => stopFeeding.abort();
    if (signal?.aborted) stopFeeding.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const feeding = (async () => {
      await this.feed(stream, { signal: stopFeeding.signal });
      await this.drained(stopFeeding.signal);
      await this.pipeline.stop();
    })();
    try {
      // A pipeline failure must surface even while the feeder is still waiting for it to catch up.
      await Promise.race([feeding, running.then(() => feeding)]);
      await running;
    } catch (error) {
      stopFeeding.abort();
      await feeding.catch(() => {});
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async stop(): Promise<void> {
    await this.pipeline.stop();
  }
}

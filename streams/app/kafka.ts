import { performance } from 'node:perf_hooks';
import type { Kafka } from 'kafkajs';
import { advertisingAssigner, GroupEndpoints } from '../adapters/kafka/group-endpoints.js';
import { createKafka, describeError } from '../adapters/kafka/kafka-client.js';
import { KafkaLogReader } from '../adapters/kafka/kafka-log-reader.js';
import { type DeliveryMode, KafkaEventSink } from '../adapters/kafka/kafka-sink.js';
import { describePartitions, KafkaEventSource } from '../adapters/kafka/kafka-source.js';
import { RegistryCodecs } from '../adapters/kafka/schema-registry.js';
import { ensureTopics } from '../adapters/kafka/topic-admin.js';
import { InMemoryVectorIndex } from '../adapters/memory/exact-vector-index.js';
import { MemoryStateStore } from '../adapters/memory/memory-state-store.js';
import { avroPipelineCodecs, type ValidationLimits } from '../codec/pipeline-codecs.js';
import { EddyError } from '../errors.js';
import { EddyModel } from '../model/eddy-model.js';
import type { ModelConfig } from '../model/model-config.js';
import type { UserPreferences } from '../model/user-preferences.js';
import { userPreferencesSerde } from '../model/user-state-serde.js';
import { instrumentVectorStore } from '../observe/instrumented-vector-store.js';
import { type Logger, silentLogger } from '../observe/logger.js';
import type { EddyMetrics } from '../observe/metrics.js';
import { RunStats } from '../observe/run-stats.js';
import { EddyPipeline } from '../pipeline/eddy-pipeline.js';
import { combineObservers, nullObserver, type PipelineObserver } from '../pipeline/pipeline-observer.js';
import { restoreItemModel, restoreUsers } from '../pipeline/restore.js';
import type { CommittedBatch } from '../pipeline/stages.js';
import { type TopicNames, topicNames } from '../pipeline/topics.js';
import type { TopicPartition, TopicSpec } from '../ports/event-log.js';
import type { VectorStore } from '../ports/vector-store.js';
import { UserQueries } from '../serve/user-queries.js';
import { type Clock, systemClock } from '../util/clock.js';
import { MODEL_VERSION } from './embedded.js';

export interface KafkaEddyOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly groupId: string;
  /**
   * Names this instance among the group's members: its transactional id is
   * `<groupId>.<instanceId>`, so a restart with the same id fences the crashed predecessor.
   * Two live instances must never share one.
   */
  readonly instanceId: string;
  readonly topics?: TopicNames;
  /** Partitions of topics Eddy creates; existing topics must have as many. */
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly model: ModelConfig;
  readonly batchSize: number;
  /** The coalescing window (see KafkaSourceOptions.lingerMs). */
  readonly lingerMs: number;
  /** exactly-once (Kafka transactions, the default) or at-least-once (idempotent list ids). */
  readonly delivery?: DeliveryMode;
  /** Confluent wire format via this schema registry; unset: Avro single-object encoding. */
  readonly schemaRegistryUrl?: string | null;
  /** How long a registry outage is waited out before failing (default: forever; start-up: 30 s). */
  readonly schemaRegistryGiveUpAfterMs?: number;
  readonly schemaRegistryStartupGiveUpAfterMs?: number;
  /** Defaults to the in-process exact index; a Qdrant adapter plugs in here. */
  readonly vectorStore?: VectorStore;
  readonly sessionTimeoutMs?: number;
  readonly transactionTimeoutMs?: number;
  readonly itemCheckpointEveryEvents?: number;
  readonly clock?: Clock;
  readonly metrics?: EddyMetrics | null;
  readonly observers?: readonly PipelineObserver[];
  readonly validation?: Partial<ValidationLimits>;
  readonly logger?: Logger;
  /**
   * This instance's base URL for interactive queries, advertised to the group (Kafka Streams'
   * `application.server`) so that any instance can send a client to a user's owner. Read at each
   * group join; null advertises nothing (queries for this instance's users then answer 503 elsewhere).
   */
  readonly advertisedEndpoint?: () => string | null;
}

/** What `start` restored before consuming (user state is restored later, per assigned partition). */
export interface KafkaStartReport {
  readonly items: number;
  /** Records read from the item model's changelogs (item state and session index). */
  readonly itemRecords: number;
  /** Sessions the session-kNN index restored from its checkpoint. */
  readonly sessions: number;
  readonly catalogRecords: number;
  /** Item-updates records replayed on top of the item checkpoint, and the offset followed from. */
  readonly itemUpdatesReplayed: number;
  readonly itemUpdatesOffset: number;
  readonly catalogInvalid: number;
  readonly createdTopics: readonly string[];
}

/**
 * Eddy in production: the same pipeline as EmbeddedEddy, with Kafka as the log (consumer group
 * in, transactions out, changelogs restored per assigned partition) and a pluggable vector store.
 */
export class KafkaEddy {
  readonly kafka: Kafka;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly transactionalId: string;
  readonly model: EddyModel;
  readonly users: MemoryStateStore<UserPreferences>;
  readonly stats: RunStats;
  readonly vectorStore: VectorStore;
  readonly source: KafkaEventSource;
  readonly sink: KafkaEventSink;
  readonly reader: KafkaLogReader;
  readonly pipeline: EddyPipeline;
  readonly registry: RegistryCodecs | null;
  /** Interactive queries: a user's current list and state, from this instance or its owner. */
  readonly queries: UserQueries;
  private readonly endpoints: GroupEndpoints;
  private readonly logger: Logger;
  private readonly observer: PipelineObserver;
  /** Users whose state came from (or was last written to) each clicks partition. */
  private readonly usersByPartition = new Map<number, Set<string>>();
  private prepared = false;
  private stopping = false;
  private closed: Promise<void> | null = null;

  constructor(private readonly options: KafkaEddyOptions) {
    const clock = options.clock ?? systemClock;
    const metrics = options.metrics ?? null;
    this.logger = options.logger ?? silentLogger;
    this.topics = options.topics ?? topicNames();
    this.groupId = options.groupId;
    if (!/^[A-Za-z0-9._-]+$/.test(options.instanceId)) {
      throw new EddyError(
        `instance id ${JSON.stringify(options.instanceId)} may use only letters, digits, . _ -`,
      );
    }
    this.transactionalId = `${options.groupId}.${options.instanceId}`;
    this.kafka = createKafka({
      brokers: options.brokers,
      clientId: options.clientId ?? `eddy-${options.instanceId}`,
      logger: this.logger.child({ component: 'kafkajs' }),
    });
    this.users = new MemoryStateStore({
      name: 'user-preferences',
      changelogTopic: this.topics.userChangelog,
      serde: userPreferencesSerde,
    });
    // The item side is the group's: learned from the item-updates topic every instance writes.
    this.model = new EddyModel(options.model, this.users, { replicatedItems: true });
    this.stats = new RunStats(this.model, metrics, this.topics.items);
    const store = options.vectorStore ?? new InMemoryVectorIndex();
    // The Qdrant adapter measures its own requests; only the in-process index needs wrapping.
    this.vectorStore =
      metrics && store instanceof InMemoryVectorIndex ? instrumentVectorStore(store, metrics) : store;
    this.observer = combineObservers(
      this.stats,
      { ...nullObserver, committed: (batch) => this.track(batch) },
      ...(options.observers ?? []),
    );
    this.reader = new KafkaLogReader({
      kafka: this.kafka,
      groupPrefix: `${options.groupId}.restore.${options.instanceId}`,
      logger: this.logger,
      metrics,
    });
    this.source = new KafkaEventSource({
      kafka: this.kafka,
      groupId: options.groupId,
      topics: [this.topics.items, this.topics.clicks],
      maxBatchSize: options.batchSize,
      lingerMs: options.lingerMs,
      ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
      onAssigned: (partitions) => this.onAssigned(partitions),
      onRevoked: (partitions) => this.onRevoked(partitions),
      partitionAssigner: advertisingAssigner(options.advertisedEndpoint ?? (() => null)),
      logger: this.logger,
      metrics,
    });
    this.endpoints = new GroupEndpoints({
      kafka: this.kafka,
      groupId: options.groupId,
      topic: this.topics.clicks,
      partitions: options.partitions,
      owned: () =>
        new Set(
          this.source
            .assignment()
            .filter((tp) => tp.topic === this.topics.clicks)
            .map((tp) => tp.partition),
        ),
      logger: this.logger,
    });
    const delivery = options.delivery ?? 'exactly-once';
    this.sink = new KafkaEventSink({
      kafka: this.kafka,
      mode: delivery,
      transactionalId: this.transactionalId,
      ...(options.transactionTimeoutMs ? { transactionTimeoutMs: options.transactionTimeoutMs } : {}),
      copartition: [{ topic: this.topics.userChangelog, input: this.topics.clicks }],
      commitOffsets: (offsets) => this.source.commitOffsets(offsets),
      logger: this.logger,
      metrics,
    });
    this.registry = options.schemaRegistryUrl
      ? new RegistryCodecs({
          url: options.schemaRegistryUrl,
          topics: this.topics,
          dimension: options.model.dimension,
          ...(options.validation ? { validation: options.validation } : {}),
          ...(options.schemaRegistryGiveUpAfterMs !== undefined
            ? { giveUpAfterMs: options.schemaRegistryGiveUpAfterMs }
            : {}),
          ...(options.schemaRegistryStartupGiveUpAfterMs !== undefined
            ? { startupGiveUpAfterMs: options.schemaRegistryStartupGiveUpAfterMs }
            : {}),
          logger: this.logger.child({ component: 'schema-registry' }),
        })
      : null;
    this.pipeline = new EddyPipeline({
      source: this.source,
      sink: this.sink,
      vectorStore: this.vectorStore,
      model: this.model,
      codecs:
        this.registry?.pipelineCodecs() ?? avroPipelineCodecs(options.model.dimension, options.validation),
      topics: this.topics,
      collections: { items: 'eddy_items', users: 'eddy_users' },
      groupId: options.groupId,
      clock,
      observer: this.observer,
      modelVersion: MODEL_VERSION,
      ...(options.itemCheckpointEveryEvents
        ? { itemCheckpointEveryEvents: options.itemCheckpointEveryEvents }
        : {}),
      // Users are restored per assigned partition (onAssigned), not all at start.
      catalog: this.reader,
      itemUpdates: {
        log: this.reader,
        reader: this.reader,
        instanceId: options.instanceId,
        // One checkpoint writer per group: whoever owns the first clicks partition now.
        writesCheckpoints: () =>
          this.source.assignment().some((tp) => tp.topic === this.topics.clicks && tp.partition === 0),
      },
    });
    this.queries = new UserQueries({
      model: this.model,
      recommender: this.pipeline.context.recommender,
      ownership: this.endpoints,
      ready: () => this.ready(),
      modelVersion: MODEL_VERSION,
      clock: () => clock.now(),
    });
  }

  /** Ready: connected, catalog loaded, and the state of every assigned partition restored. */
  ready(): boolean {
    // A registry outage holds input back (batches wait for their writer schemas): not ready.
    return this.prepared && !this.stopping && this.source.ready && this.registry?.healthy !== false;
  }

  /**
   * Creates or checks the topics, registers the list schema, fences a crashed predecessor (its open
   * transaction is aborted before this instance reads any offset), restores the item checkpoint,
   * loads the catalog, then joins the group. `running` settles when the pipeline ends.
   */
  async start(): Promise<{ running: Promise<void>; report: KafkaStartReport }> {
    const admin = this.kafka.admin();
    await admin.connect();
    let createdTopics: readonly string[];
    let partitions: ReadonlyMap<string, number>;
    try {
      ({ created: createdTopics, partitions } = await ensureTopics(
        admin,
        eddyTopicSpecs(this.topics, this.options.partitions),
        {
          replicationFactor: this.options.replicationFactor,
          logger: this.logger,
          metrics: this.options.metrics ?? null,
        },
      ));
    } finally {
      await admin.disconnect();
    }
    this.endpoints.partitions = partitions.get(this.topics.clicks) ?? this.options.partitions;
    await this.registry?.prepare();
    await this.sink.connect();
    const restoreStarted = performance.now();
    const restored = await restoreItemModel(this.model, this.reader, this.topics, this.options.groupId, (n) =>
      this.observer.restoring?.(n),
    );
    this.observer.restored?.(restored, (performance.now() - restoreStarted) / 1000);
    // prepare() replays the item-updates topic from the checkpoint's offset, then follows it.
    this.pipeline.context.replica?.seek(restored.itemUpdatesOffset);
    const prepared = await this.pipeline.prepare();
    this.prepared = true;
    const running = this.pipeline.run().finally(() => this.close());
    return {
      running,
      report: {
        items: restored.items,
        itemRecords: restored.records,
        sessions: restored.sessions,
        catalogRecords: prepared.catalogRecords,
        itemUpdatesReplayed: prepared.itemUpdatesReplayed ?? 0,
        itemUpdatesOffset: prepared.itemUpdatesOffset ?? 0,
        catalogInvalid: prepared.catalogInvalid,
        createdTopics,
      },
    };
  }

  /** Graceful stop: no new fetches; the batch in flight commits; then the clients disconnect. */
  async stop(): Promise<void> {
    this.stopping = true;
    // A batch waiting on an unreachable registry would hold the stop forever.
    if (this.registry?.healthy === false) this.registry.close();
    await this.pipeline.stop();
  }

  private close(): Promise<void> {
    this.closed ??= (async () => {
      await this.sink
        .close()
        .catch((error: unknown) =>
          this.logger.warn('kafka producer disconnect failed', { error: describeError(error) }),
        );
      await this.reader.close().catch(() => {});
      await this.endpoints.close().catch(() => {});
      await this.vectorStore.close().catch(() => {});
    })();
    return this.closed;
  }

  private async onAssigned(partitions: readonly TopicPartition[]): Promise<void> {
    this.endpoints.invalidate();
    const clicks = partitions.filter((tp) => tp.topic === this.topics.clicks).map((tp) => tp.partition);
    if (clicks.length === 0) return;
    const started = performance.now();
    const report = await restoreUsers(this.model, this.reader, this.topics.userChangelog, clicks, (n) =>
      this.observer.restoring?.(n),
    );
    for (const [partition, users] of report.usersByPartition) {
      const tracked = this.usersByPartition.get(partition);
      if (tracked) for (const user of users) tracked.add(user);
      else this.usersByPartition.set(partition, new Set(users));
    }
    const seconds = (performance.now() - started) / 1000;
    this.observer.restored?.({ users: report.users, items: 0, records: report.records }, seconds);
    this.logger.info('user state restored for assigned partitions', {
      partitions: describePartitions(clicks.map((partition) => ({ topic: this.topics.clicks, partition }))),
      users: report.users,
      changelogRecords: report.records,
      seconds: Math.round(seconds * 1000) / 1000,
    });
  }

  /**
   * Forgets the users of revoked partitions: their new owner restores them from the changelog, and
   * keeping stale copies would only cost memory (a later re-assignment restores them afresh).
   */
  private onRevoked(partitions: readonly TopicPartition[]): void {
    this.endpoints.invalidate();
    let dropped = 0;
    for (const { topic, partition } of partitions) {
      if (topic !== this.topics.clicks) continue;
      const users = this.usersByPartition.get(partition);
      this.usersByPartition.delete(partition);
      if (!users) continue;
      // Applied as changelog tombstones *locally* (restore, not delete): the store must not write
      // tombstones to the changelog, which now belongs to the partition's new owner.
      dropped += this.users.restore([...users].map((key) => ({ key, value: null })));
    }
    this.logger.info('state dropped for revoked partitions', {
      partitions: describePartitions(partitions),
      users: dropped,
    });
  }

  private track(batch: CommittedBatch): void {
    if (batch.batch.topic !== this.topics.clicks || batch.clicks.length === 0) return;
    let users = this.usersByPartition.get(batch.batch.partition);
    if (users === undefined) {
      users = new Set();
      this.usersByPartition.set(batch.batch.partition, users);
    }
    for (const { event } of batch.clicks) users.add(event.userId);
  }
}

/**
 * Every topic Eddy uses. Only the user changelog must be partitioned like the clicks (restore per
 * assigned partition); existing topics keep whatever partition count they have, and `partitions`
 * is what Eddy creates missing ones with. The catalog and the lists may be compacted (tables keyed
 * by item and by user); the clicks and the dead letters are streams of events and may not.
 */
export function eddyTopicSpecs(topics: TopicNames, partitions: number): TopicSpec[] {
  const tableOrStream = ['delete', 'compact', 'compact,delete'] as const;
  return [
    { name: topics.clicks, partitions },
    { name: topics.items, partitions, acceptedPolicies: tableOrStream },
    { name: topics.recommendations, partitions, acceptedPolicies: tableOrStream },
    { name: topics.deadLetters, partitions },
    { name: topics.userChangelog, partitions, cleanupPolicy: 'compact', copartitionedWith: topics.clicks },
    { name: topics.itemChangelog, partitions, cleanupPolicy: 'compact' },
    { name: topics.sessionChangelog, partitions, cleanupPolicy: 'compact' },
    { name: topics.rankingChangelog, partitions, cleanupPolicy: 'compact' },
    // One partition: one order in which every replica applies the group's item increments.
    { name: topics.itemUpdates, partitions: 1 },
  ];
}

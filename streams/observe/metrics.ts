import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../errors.js';
import { EVENT_TYPES, type EventType, type ItemOperation } from '../model/events.js';
import { PIPELINE_STAGES } from '../pipeline/pipeline-observer.js';

/**
 * Eddy's Prometheus metrics, in one registry per pipeline (tests run several pipelines in one
 * process). Every name carries the `eddy_` prefix and a base unit; every label takes values from
 * a closed set declared here (event types, reasons, stages, operations, topics and partitions),
 * never a user or item id. Series whose labels are known up front start at 0, so a dashboard shows
 * "none happened" rather than "no data", and `rate()` sees the first increment.
 */

export const ITEM_OPERATIONS: readonly ItemOperation[] = ['upsert', 'delete'];

/** Calls a vector store receives (the port's methods, snake_case). */
export const VECTOR_STORE_OPERATIONS = [
  'ensure_collection',
  'upsert',
  'delete',
  'query_batch',
  'count',
] as const;
export type VectorStoreOperation = (typeof VECTOR_STORE_OPERATIONS)[number];

/**
 * Calls Eddy makes to Kafka: `fetch` (consumer), `commit` (one commit unit: produce + offsets in a
 * transaction), `restore` (changelog reads), `admin` (topics, offsets), `connect`.
 */
export const KAFKA_OPERATIONS = ['connect', 'fetch', 'commit', 'restore', 'admin'] as const;
export type KafkaOperation = (typeof KAFKA_OPERATIONS)[number];

/** Transient failures a vector-store request is retried after. */
export const VECTOR_STORE_RETRY_REASONS = [
  'timeout',
  'connection',
  'server_error',
  'rate_limited',
  'not_applied',
] as const;

export const REQUEST_OUTCOMES = ['ok', 'error'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Dependencies guarded by a circuit breaker. */
export const BREAKER_DEPENDENCIES = ['vector_store'] as const;
export type BreakerDependency = (typeof BREAKER_DEPENDENCIES)[number];

/** Gauge values of `eddy_circuit_breaker_state`: ordered so that max() is the worst state. */
export const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATE;

/**
 * The freshness objective the alert rules burn against: 99 % of lists committed within this many
 * seconds of their triggering record. It must be a bucket boundary of `eddy_freshness_seconds`.
 */
export const FRESHNESS_SLO_SECONDS = 1;

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

/**
 * prom-client's process collector adds gauges named `*_total`, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them); each is the sum of a per-type gauge it keeps.
 */
const NON_CONFORMING_DEFAULT_METRICS = [
  'active_handles_total',
  'active_requests_total',
  'active_resources_total',
];

export class EddyMetrics {
  readonly registry = new Registry();
  private readiness: () => boolean = () => false;
  private lagReader: (() => Iterable<PartitionLag>) | null = null;
  private coverageReader: (() => number) | null = null;

  // --- Throughput and outcomes ------------------------------------------------------------------

  readonly eventsTotal = new Counter({
    name: 'eddy_events_total',
    help:
      'Input records consumed, by kind (click/item), event type (item: upsert/delete; unknown when ' +
      'dead-lettered) and outcome (processed/dead_lettered).',
    labelNames: ['kind', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deadLettersTotal = new Counter({
    name: 'eddy_dead_letters_total',
    help: 'Input records sent to the dead-letter topic, by reason class.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly listsTotal = new Counter({
    name: 'eddy_lists_emitted_total',
    help: 'Recommendation lists committed to the recommendations topic.',
    registers: [this.registry],
  });

  // --- Latency ----------------------------------------------------------------------------------

  readonly freshnessSeconds = new Histogram({
    name: 'eddy_freshness_seconds',
    help:
      'Per list: from the triggering record’s timestamp (Kafka CreateTime, ≈ event time; append time ' +
      'in-process) to the list being committed.',
    // Dense around the 1 s objective, which must stay a boundary (FRESHNESS_SLO_SECONDS).
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly batchProcessingSeconds = new Histogram({
    name: 'eddy_batch_processing_seconds',
    help: 'Per batch: from entering the pipeline (decode) to its commit unit being written.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'eddy_stage_seconds',
    help: 'Per batch: time spent in each pipeline stage (decode, learn, refresh, recommend, commit).',
    labelNames: ['stage'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  // --- Consumption and backpressure -------------------------------------------------------------

  readonly batchRecords = new Histogram({
    name: 'eddy_batch_records',
    help: 'Records per fetched batch.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: 'eddy_consumer_lag_records',
    help: 'Records in an input partition not yet processed and committed by this consumer group.',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.lagReader) return;
      for (const { topic, partition, lag } of this.lagReader())
        this.consumerLag.set({ topic, partition: String(partition) }, lag);
    },
  });
  readonly inFlightBatches = new Gauge({
    name: 'eddy_in_flight_batches',
    help: 'Batches fetched and not yet committed (bounded by backpressure).',
    registers: [this.registry],
  });
  readonly pausedPartitions = new Gauge({
    name: 'eddy_paused_partitions',
    help: 'Input partitions not being fetched because the pipeline has not caught up with them (backpressure).',
    registers: [this.registry],
  });

  // --- Dependencies -----------------------------------------------------------------------------

  readonly vectorStoreSeconds = new Histogram({
    name: 'eddy_vector_store_request_seconds',
    help: 'Vector-store request latency by operation and outcome (ok/error).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly vectorStoreErrorsTotal = new Counter({
    name: 'eddy_vector_store_errors_total',
    help:
      'Failed vector-store requests by operation: every failed attempt (retried or not) and every call ' +
      'refused by an open circuit breaker.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly vectorStoreRetriesTotal = new Counter({
    name: 'eddy_vector_store_retries_total',
    help:
      'Vector-store requests retried after a transient failure, by operation and reason ' +
      '(timeout/connection/server_error/rate_limited).',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });
  readonly kafkaSeconds = new Histogram({
    name: 'eddy_kafka_request_seconds',
    help: 'Kafka request latency by operation (connect/fetch/commit/restore/admin) and outcome (ok/error).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly kafkaErrorsTotal = new Counter({
    name: 'eddy_kafka_errors_total',
    help: 'Failed Kafka calls by operation.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly circuitBreakerState = new Gauge({
    name: 'eddy_circuit_breaker_state',
    help: 'Circuit-breaker state per dependency: 0 closed, 1 half-open, 2 open.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  // --- State ------------------------------------------------------------------------------------

  readonly users = new Gauge({
    name: 'eddy_state_users',
    help: 'Users held in the preference state store.',
    registers: [this.registry],
  });
  readonly items = new Gauge({
    name: 'eddy_state_items',
    help: 'Items held in the item model (available or not).',
    registers: [this.registry],
  });
  readonly sessions = new Gauge({
    name: 'eddy_state_sessions',
    help: 'Sessions held in the session-kNN index (at most sessionNeighbours.capacity).',
    registers: [this.registry],
  });
  readonly restoreRecordsTotal = new Counter({
    name: 'eddy_restore_records_total',
    help: 'Changelog records applied while restoring state (grows during a restore: its progress).',
    registers: [this.registry],
  });
  readonly restoreSeconds = new Gauge({
    name: 'eddy_restore_seconds',
    help: 'Duration of the last state restore from the changelogs.',
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'eddy_ready',
    help: '1 when ready (state restored, dependencies connected: /readyz answers 200), else 0.',
    registers: [this.registry],
    collect: () => {
      this.ready.set(this.readiness() ? 1 : 0);
    },
  });

  // --- The group's shared item model (the item-updates topic)

  private readonly itemModelNewest = new Map<string, number>();
  readonly itemModelLagSeconds = new Gauge({
    name: 'eddy_item_model_lag_seconds',
    help: "Now minus the event time of the newest item-updates record this instance applied, per writing instance (source): how far this replica of the group's item model trails what each instance learned.",
    labelNames: ['source'] as const,
    registers: [this.registry],
    collect: () => {
      const now = Date.now();
      for (const [source, newest] of this.itemModelNewest) {
        this.itemModelLagSeconds.set({ source }, Math.max(0, (now - newest) / 1000));
      }
    },
  });
  readonly itemModelRecordsBehind = new Gauge({
    name: 'eddy_item_model_records_behind',
    help: 'Records of the item-updates topic committed but not yet applied to this replica of the item model.',
    registers: [this.registry],
  });
  readonly itemModelIncrementsTotal = new Counter({
    name: 'eddy_item_model_increments_applied_total',
    help: 'Click increments applied to this replica of the item model, per writing instance (its own included).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly itemModelPropagationSeconds = new Histogram({
    name: 'eddy_item_model_propagation_seconds',
    help: 'Per item-updates record: from its append to the topic (the writing batch committed) to this replica applying it.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** An item-updates record was applied (see PipelineObserver.itemModelApplied). */
  itemModelApplied(
    source: string,
    lastEventTime: number,
    increments: number,
    behind: number,
    appendedAt?: number,
  ): void {
    if (appendedAt !== undefined) {
      this.itemModelPropagationSeconds.observe(Math.max(0, (Date.now() - appendedAt) / 1000));
    }
    if (lastEventTime > (this.itemModelNewest.get(source) ?? 0))
      this.itemModelNewest.set(source, lastEventTime);
    if (increments > 0) this.itemModelIncrementsTotal.inc({ source }, increments);
    this.itemModelRecordsBehind.set(behind);
  }

  // --- Ranking weights learned online from users' picks

  readonly rankingWeight = new Gauge({
    name: 'eddy_ranking_weight',
    help: 'Current weight of each ranking signal (learned online from picks; the configured value while learning is off).',
    labelNames: ['feature'] as const,
    registers: [this.registry],
  });
  readonly rankingContextWeight = new Gauge({
    name: 'eddy_ranking_context_weight',
    help:
      'Weight of each ranking signal in each ranking context (new or returning user : items in the current session), ' +
      'the shared weight plus the offset learned for the context.',
    labelNames: ['context', 'feature'] as const,
    registers: [this.registry],
  });
  readonly rankingUpdates = new Gauge({
    name: 'eddy_ranking_updates',
    help: 'Picks the current ranking weights have learned from, including those before a restore.',
    registers: [this.registry],
  });

  // --- Live recommendation quality (prequential: each interaction scored against the user's last list)

  readonly liveHitRate = new Gauge({
    name: 'eddy_live_hit_rate',
    help: 'HitRate@k over the last 10,000 positive interactions: share whose item was in the user’s last list.',
    labelNames: ['k'] as const,
    registers: [this.registry],
  });
  readonly liveNdcg = new Gauge({
    name: 'eddy_live_ndcg',
    help: 'NDCG@k over the last 10,000 positive interactions against the user’s last list (one relevant item).',
    labelNames: ['k'] as const,
    registers: [this.registry],
  });
  readonly liveEvaluationsTotal = new Counter({
    name: 'eddy_live_evaluations_total',
    help: 'Positive interactions scored against the user’s last list of k items.',
    labelNames: ['k'] as const,
    registers: [this.registry],
  });
  readonly liveHitsTotal = new Counter({
    name: 'eddy_live_hits_total',
    help: 'Positive interactions whose item was in the user’s last list of k items.',
    labelNames: ['k'] as const,
    registers: [this.registry],
  });
  readonly liveNdcgTotal = new Counter({
    name: 'eddy_live_ndcg_total',
    help: 'Sum of per-interaction NDCG@k; divided by eddy_live_evaluations_total it gives NDCG over any window.',
    labelNames: ['k'] as const,
    registers: [this.registry],
  });
  readonly catalogCoverage = new Gauge({
    name: 'eddy_catalog_coverage_ratio',
    help: 'Share of available items that appeared in at least one list in the last 5 minutes.',
    registers: [this.registry],
    collect: () => {
      if (this.coverageReader) this.catalogCoverage.set(this.coverageReader());
    },
  });
  readonly listDiversity = new Gauge({
    name: 'eddy_list_diversity',
    help: 'Intra-list distance of recent lists (1 − mean pairwise cosine of item vectors), moving average.',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    for (const kind of ['click', 'item'] as const) this.countEvents(kind, 'unknown', 'dead_lettered', 0);
    for (const reason of DEAD_LETTER_REASONS) this.deadLettersTotal.inc({ reason }, 0);
    for (const type of EVENT_TYPES) this.countEvents('click', type, 'processed', 0);
    for (const op of ITEM_OPERATIONS) this.countEvents('item', op, 'processed', 0);
    this.listsTotal.inc(0);
    for (const stage of PIPELINE_STAGES) this.stageSeconds.zero({ stage });
    for (const operation of VECTOR_STORE_OPERATIONS) {
      this.vectorStoreErrorsTotal.inc({ operation }, 0);
      for (const outcome of REQUEST_OUTCOMES) this.vectorStoreSeconds.zero({ operation, outcome });
      for (const reason of VECTOR_STORE_RETRY_REASONS)
        this.vectorStoreRetriesTotal.inc({ operation, reason }, 0);
    }
    // Zero Kafka series while no Kafka is in use are true statements (no calls, no errors), and keep
    // the dependency panels and alert expressions valid on an embedded instance.
    for (const operation of KAFKA_OPERATIONS) {
      this.kafkaErrorsTotal.inc({ operation }, 0);
      for (const outcome of REQUEST_OUTCOMES) this.kafkaSeconds.zero({ operation, outcome });
    }
    this.restoreRecordsTotal.inc(0);
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'eddy_' });
      for (const name of NON_CONFORMING_DEFAULT_METRICS)
        this.registry.removeSingleMetric(`eddy_nodejs_${name}`);
    }
  }

  countEvents(
    kind: 'click' | 'item',
    type: EventType | ItemOperation | 'unknown',
    outcome: 'processed' | 'dead_lettered',
    count: number,
  ): void {
    this.eventsTotal.inc({ kind, type, outcome }, count);
  }

  /** One record dead-lettered: counted as consumed (type unknown) and by its reason. */
  countDeadLetter(kind: 'click' | 'item', reason: DeadLetterReason): void {
    this.countEvents(kind, 'unknown', 'dead_lettered', 1);
    this.deadLettersTotal.inc({ reason });
  }

  /** What `eddy_ready` reports at each scrape: pass the function behind /readyz so the two agree. */
  readinessFrom(ready: () => boolean): void {
    this.readiness = ready;
  }

  /**
   * Reads consumer lag at scrape time (end offset − committed offset), so a stalled pipeline shows
   * lag growing; without a reader the gauge holds the lag each batch reported when it was fetched,
   * which freezes when no batch completes.
   */
  consumerLagFrom(read: () => Iterable<PartitionLag>): void {
    this.lagReader = read;
  }

  /** Computes catalog coverage at scrape time (a pass over the catalog, too costly per batch). */
  coverageFrom(read: () => number): void {
    this.coverageReader = read;
  }

  setBreakerState(dependency: BreakerDependency, state: BreakerState): void {
    this.circuitBreakerState.set({ dependency }, BREAKER_STATE[state]);
  }

  /** Times one vector-store call; a failure is counted and rethrown. */
  timeVectorStore<T>(operation: VectorStoreOperation, call: () => Promise<T>): Promise<T> {
    return timed(call, (seconds, outcome) => {
      this.vectorStoreSeconds.observe({ operation, outcome }, seconds);
      if (outcome === 'error') this.vectorStoreErrorsTotal.inc({ operation });
    });
  }

  /** Times one Kafka call; a failure is counted and rethrown. */
  timeKafka<T>(operation: KafkaOperation, call: () => Promise<T>): Promise<T> {
    return timed(call, (seconds, outcome) => {
      this.kafkaSeconds.observe({ operation, outcome }, seconds);
      if (outcome === 'error') this.kafkaErrorsTotal.inc({ operation });
    });
  }
}

async function timed<T>(
  call: () => Promise<T>,
  record: (seconds: number, outcome: RequestOutcome) => void,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    record((performance.now() - started) / 1000, 'ok');
    return result;
  } catch (error) {
    record((performance.now() - started) / 1000, 'error');
    throw error;
  }
}

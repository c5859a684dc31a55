import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Eddy's Prometheus metrics, in one registry per pipeline (tests run several pipelines in one
 * process). Label values are bounded sets (event types, reasons, stages, topics, partitions),
 * never user or item ids.
 */
export class EddyMetrics {
  readonly registry = new Registry();

  readonly eventsTotal = new Counter({
    name: 'eddy_events_total',
    help: 'Input records by kind (click/item), event type and outcome (processed/dead_lettered).',
    labelNames: ['kind', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deadLettersTotal = new Counter({
    name: 'eddy_dead_letters_total',
    help: 'Records sent to the dead-letter topic, by reason class.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly listsTotal = new Counter({
    name: 'eddy_lists_emitted_total',
    help: 'Recommendation lists emitted.',
    registers: [this.registry],
  });
  readonly processingSeconds = new Histogram({
    name: 'eddy_event_processing_seconds',
    help: 'Time from fetching a record to committing the list it produced.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly freshnessSeconds = new Histogram({
    name: 'eddy_freshness_seconds',
    help: 'Time from a record being appended to the input log to its list being committed.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'eddy_stage_seconds',
    help: 'Time per batch spent in each pipeline stage.',
    labelNames: ['stage'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly batchRecords = new Histogram({
    name: 'eddy_batch_records',
    help: 'Records per fetched batch.',
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 5000],
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: 'eddy_consumer_lag_records',
    help: 'Records between the last fetched offset and the end of the partition.',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly inFlightBatches = new Gauge({
    name: 'eddy_in_flight_batches',
    help: 'Batches fetched and not yet committed (bounded by backpressure).',
    registers: [this.registry],
  });
  readonly vectorStoreSeconds = new Histogram({
    name: 'eddy_vector_store_request_seconds',
    help: 'Vector-store request latency by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly users = new Gauge({
    name: 'eddy_state_users',
    help: 'Users held in the preference state store.',
    registers: [this.registry],
  });
  readonly items = new Gauge({
    name: 'eddy_state_items',
    help: 'Items held in the item model.',
    registers: [this.registry],
  });
  readonly liveHitRate = new Gauge({
    name: 'eddy_live_hit_rate',
    help: 'Share of recent positive interactions whose item was in the user’s last list (sliding window).',
    registers: [this.registry],
  });
  readonly liveNdcg = new Gauge({
    name: 'eddy_live_ndcg',
    help: 'Mean NDCG of recent positive interactions against the user’s last list (sliding window).',
    registers: [this.registry],
  });
  readonly liveEvaluationsTotal = new Counter({
    name: 'eddy_live_evaluations_total',
    help: 'Positive interactions scored against the user’s last list.',
    registers: [this.registry],
  });
  readonly liveHitsTotal = new Counter({
    name: 'eddy_live_hits_total',
    help: 'Positive interactions whose item was in the user’s last list.',
    registers: [this.registry],
  });
  readonly catalogCoverage = new Gauge({
    name: 'eddy_catalog_coverage_ratio',
    help: 'Share of available items that appeared in at least one list during the last summary interval.',
    registers: [this.registry],
  });
  readonly listDiversity = new Gauge({
    name: 'eddy_list_diversity',
    help: 'Mean intra-list distance (1 − mean pairwise cosine) of recent lists.',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'eddy_' });
  }
}

import { performance } from 'node:perf_hooks';
import type { DeadLetterReason } from '../errors.js';
import type { EddyModel } from '../model/eddy-model.js';
import { EVENT_TYPES, type EventType } from '../model/events.js';
import { CONTEXT_NAMES, RANKING_FEATURES } from '../model/ranking-learner.js';
import { dot } from '../model/vector-math.js';
import type { PipelineObserver, PipelineStage } from '../pipeline/pipeline-observer.js';
import type { RestoreReport } from '../pipeline/restore.js';
import type { CommittedBatch } from '../pipeline/stages.js';
import type { SourceBatch } from '../ports/event-log.js';
import { LatencyRecorder } from './latency-recorder.js';
import { LiveQuality, type QualitySnapshot } from './live-quality.js';
import type { EddyMetrics } from './metrics.js';

export interface RunSummary {
  readonly elapsedSeconds: number;
  readonly clicks: number;
  readonly items: number;
  readonly deadLetters: number;
  readonly lists: number;
  readonly eventsPerSecond: number;
  readonly recentEventsPerSecond: number;
  /** Fetch → commit of the batch that produced each list, ms. */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** Append to the input log → list committed, ms. */
  readonly freshnessMs: { readonly p50: number; readonly p99: number };
  readonly quality: QualitySnapshot;
  /** Share of available items recommended at least once since the previous summary. */
  readonly coverage: number;
  readonly diversity: number;
  readonly users: number;
  readonly catalog: number;
}

/** The window of `eddy_catalog_coverage_ratio`. */
export const COVERAGE_WINDOW_MS = 5 * 60_000;

const EVENT_TYPE_INDEX: ReadonlyMap<string, number> = new Map(EVENT_TYPES.map((type, i) => [type, i]));

/**
 * Counts, latencies and live quality of a run; feeds Prometheus (when given) and the terminal
 * summary. Counters reach prom-client once per batch, from tallies, rather than once per event:
 * a labelled `inc` hashes its labels, and per event that would be a measurable share of the work.
 */
export class RunStats implements PipelineObserver {
  private readonly started = performance.now();
  private clicks = 0;
  private items = 0;
  private deadLetters = 0;
  private lists = 0;
  private readonly latency = new LatencyRecorder();
  private readonly freshness = new LatencyRecorder();
  readonly quality = new LiveQuality();
  /** performance.now() of the commit of the last list each item appeared in. */
  private readonly lastRecommendedAt = new Map<string, number>();
  private diversity = 0;
  private lastSummaryAt = performance.now();
  private clicksAtLastSummary = 0;
  private readonly vectorA: Float32Array;
  private readonly vectorB: Float32Array;
  /** Live-quality totals already added to the Prometheus counters. */
  private published = { evaluated: 0, hits: 0, gain: 0 };
  private readonly k: string;
  private readonly clickTypeCounts = new Uint32Array(EVENT_TYPES.length);
  /** Batches fetched and not yet committed, per `topic/partition`. */
  private readonly outstanding = new Map<string, number>();
  private inFlight = 0;

  constructor(
    private readonly model: EddyModel,
    private readonly metrics: EddyMetrics | null,
    private readonly itemsTopic: string,
  ) {
    this.vectorA = new Float32Array(model.config.dimension);
    this.vectorB = new Float32Array(model.config.dimension);
    this.k = String(model.config.ranking.listSize);
    if (metrics) {
      const k = { k: this.k };
      metrics.liveHitRate.set(k, 0);
      metrics.liveNdcg.set(k, 0);
      metrics.liveEvaluationsTotal.inc(k, 0);
      metrics.liveHitsTotal.inc(k, 0);
      metrics.liveNdcgTotal.inc(k, 0);
      metrics.listDiversity.set(0);
      metrics.inFlightBatches.set(0);
      metrics.pausedPartitions.set(0);
      metrics.restoreSeconds.set(0);
      metrics.coverageFrom(() => {
        const now = performance.now();
        this.pruneRecommended(now);
        return this.coverageSince(now - COVERAGE_WINDOW_MS);
      });
    }
  }

  liveEvaluation(rank: number): void {
    this.quality.record(rank);
  }

  deadLetter(_reason: DeadLetterReason): void {
    this.deadLetters++;
  }

  stage(name: PipelineStage, seconds: number): void {
    this.metrics?.stageSeconds.observe({ stage: name }, seconds);
  }

  vectorWrite(): void {}

  fetched(batch: SourceBatch): void {
    const key = `${batch.topic}/${batch.partition}`;
    this.outstanding.set(key, (this.outstanding.get(key) ?? 0) + 1);
    this.inFlight++;
    this.publishBackpressure();
  }

  restoring(records: number): void {
    this.metrics?.restoreRecordsTotal.inc(records);
  }

  restored(_report: RestoreReport, seconds: number): void {
    this.metrics?.restoreSeconds.set(seconds);
  }

  itemModelApplied(
    source: string,
    lastEventTime: number,
    increments: number,
    behind: number,
    appendedAt?: number,
  ): void {
    this.metrics?.itemModelApplied(source, lastEventTime, increments, behind, appendedAt);
  }

  committed(batch: CommittedBatch): void {
    const m = this.metrics;
    this.clicks += batch.clicks.length;
    this.items += batch.items.length;
    const latencyMs = batch.committedAt - batch.fetchedAt;
    const wallNow = Date.now();
    for (const { list, trigger } of batch.lists) {
      this.lists++;
      this.latency.record(latencyMs);
      const freshnessMs = Math.max(0, wallNow - trigger.click.record.timestamp);
      this.freshness.record(freshnessMs);
      for (const item of list.items) this.lastRecommendedAt.set(item.itemId, batch.committedAt);
      m?.freshnessSeconds.observe(freshnessMs / 1000);
      // Diversity costs K² dot products, so it is sampled rather than computed for every list.
      if (this.lists % 16 === 0)
        this.diversity = 0.9 * this.diversity + 0.1 * this.intraListDistance(list.items);
    }
    const key = `${batch.batch.topic}/${batch.batch.partition}`;
    const outstanding = this.outstanding.get(key);
    if (outstanding !== undefined) {
      if (outstanding > 1) this.outstanding.set(key, outstanding - 1);
      else this.outstanding.delete(key);
      this.inFlight--;
    }
    if (m) this.publish(m, batch);
  }

  private publish(m: EddyMetrics, batch: CommittedBatch): void {
    const counts = this.clickTypeCounts;
    counts.fill(0);
    for (const { event } of batch.clicks) {
      const i = EVENT_TYPE_INDEX.get(event.type);
      if (i !== undefined) counts[i]!++;
    }
    for (let i = 0; i < counts.length; i++) {
      if (counts[i]! > 0) m.countEvents('click', EVENT_TYPES[i] as EventType, 'processed', counts[i]!);
    }
    let upserts = 0;
    for (const item of batch.items) if (item.op === 'upsert') upserts++;
    if (upserts > 0) m.countEvents('item', 'upsert', 'processed', upserts);
    if (batch.items.length > upserts)
      m.countEvents('item', 'delete', 'processed', batch.items.length - upserts);
    for (const { record, error } of batch.rejected) {
      m.countDeadLetter(record.topic === this.itemsTopic ? 'item' : 'click', error.reason);
    }
    m.listsTotal.inc(batch.lists.length);
    m.batchRecords.observe(batch.batch.records.length);
    m.batchProcessingSeconds.observe((batch.committedAt - batch.fetchedAt) / 1000);
    m.consumerLag.set(
      { topic: batch.batch.topic, partition: String(batch.batch.partition) },
      batch.batch.lag,
    );
    this.publishBackpressure();

    const q = this.quality;
    const k = { k: this.k };
    const evaluated = q.evaluated - this.published.evaluated;
    if (evaluated > 0) {
      m.liveEvaluationsTotal.inc(k, evaluated);
      m.liveHitsTotal.inc(k, q.totalHits - this.published.hits);
      m.liveNdcgTotal.inc(k, q.totalGain - this.published.gain);
      this.published = { evaluated: q.evaluated, hits: q.totalHits, gain: q.totalGain };
      const recent = q.snapshot();
      m.liveHitRate.set(k, recent.recentHitRate);
      m.liveNdcg.set(k, recent.recentNdcg);
    }
    m.listDiversity.set(this.diversity);
    const ranking = this.model.ranking;
    RANKING_FEATURES.forEach((feature, i) => {
      m.rankingWeight.set({ feature }, ranking.weights[i]!);
    });
    CONTEXT_NAMES.forEach((context, c) => {
      const weights = ranking.weightsIn(c);
      RANKING_FEATURES.forEach((feature, i) => {
        m.rankingContextWeight.set({ context, feature }, weights[i]!);
      });
    });
    m.rankingUpdates.set(ranking.updates);
    m.users.set(this.model.users.size);
    m.items.set(this.model.items.size);
    m.sessions.set(this.model.sessions.size);
  }

  private publishBackpressure(): void {
    if (!this.metrics) return;
    this.metrics.inFlightBatches.set(this.inFlight);
    // A partition with a batch outstanding is not fetched again until that batch commits.
    this.metrics.pausedPartitions.set(this.outstanding.size);
  }

  /** Share of available items recommended in a list committed since `since` (performance.now() time). */
  private coverageSince(since: number): number {
    let available = 0;
    for (const item of this.model.items.values()) if (item.available) available++;
    if (available === 0) return 0;
    let recommended = 0;
    for (const [itemId, at] of this.lastRecommendedAt) {
      if (at >= since && this.model.items.get(itemId)?.available) recommended++;
    }
    return recommended / available;
  }

  /** Forgets items last recommended before both the summary interval and the metric's window began. */
  private pruneRecommended(now: number): void {
    const horizon = Math.min(this.lastSummaryAt, now - COVERAGE_WINDOW_MS);
    for (const [itemId, at] of this.lastRecommendedAt)
      if (at < horizon) this.lastRecommendedAt.delete(itemId);
  }

  private intraListDistance(items: readonly { itemId: string }[]): number {
    let similarity = 0;
    let pairs = 0;
    for (let i = 0; i < items.length; i++) {
      const a = this.model.items.get(items[i]!.itemId);
      if (!a) continue;
      this.model.items.targetVector(a, this.vectorA);
      for (let j = i + 1; j < items.length; j++) {
        const b = this.model.items.get(items[j]!.itemId);
        if (!b) continue;
        similarity += dot(this.vectorA, this.model.items.targetVector(b, this.vectorB));
        pairs++;
      }
    }
    return pairs > 0 ? 1 - similarity / pairs : 0;
  }

  /** A snapshot; also starts a new interval for the interval-based figures (rate, coverage). */
  summary(): RunSummary {
    const now = performance.now();
    const elapsedSeconds = (now - this.started) / 1000;
    const intervalSeconds = (now - this.lastSummaryAt) / 1000;
    const coverage = this.coverageSince(this.lastSummaryAt);
    const [p50, p95, p99] = this.latency.percentiles(50, 95, 99);
    const [f50, f99] = this.freshness.percentiles(50, 99);
    const summary: RunSummary = {
      elapsedSeconds,
      clicks: this.clicks,
      items: this.items,
      deadLetters: this.deadLetters,
      lists: this.lists,
      eventsPerSecond: elapsedSeconds > 0 ? this.clicks / elapsedSeconds : 0,
      recentEventsPerSecond:
        intervalSeconds > 0 ? (this.clicks - this.clicksAtLastSummary) / intervalSeconds : 0,
      latencyMs: { p50: p50!, p95: p95!, p99: p99! },
      freshnessMs: { p50: f50!, p99: f99! },
      quality: this.quality.snapshot(),
      coverage,
      diversity: this.diversity,
      users: this.model.users.size,
      catalog: this.model.items.size,
    };
    this.lastSummaryAt = now;
    this.clicksAtLastSummary = this.clicks;
    this.pruneRecommended(now);
    return summary;
  }
}

/**
 * One summary for pipelines that split the users between them (`--threads`): counts add up, the
 * live quality is weighted by the clicks each thread scored, the rates are over `elapsedSeconds`.
 * What cannot be merged from summaries is bounded instead, and says so: latency and freshness are
 * the slowest thread's percentiles, coverage the widest thread's (the union is at least that), the
 * catalog the largest any thread holds (they share one).
 */
export function mergeSummaries(summaries: readonly RunSummary[], elapsedSeconds: number): RunSummary {
  const sum = (of: (s: RunSummary) => number): number => summaries.reduce((total, s) => total + of(s), 0);
  const max = (of: (s: RunSummary) => number): number => {
    const values = summaries.map(of).filter((value) => !Number.isNaN(value));
    return values.length > 0 ? Math.max(...values) : Number.NaN;
  };
  const clicks = sum((s) => s.clicks);
  const lists = sum((s) => s.lists);
  const evaluated = sum((s) => s.quality.evaluated);
  const weighted = (
    of: (s: RunSummary) => number,
    weight: (s: RunSummary) => number,
    total: number,
  ): number => (total > 0 ? sum((s) => of(s) * weight(s)) / total : 0);
  return {
    elapsedSeconds,
    clicks,
    items: sum((s) => s.items),
    deadLetters: sum((s) => s.deadLetters),
    lists,
    eventsPerSecond: elapsedSeconds > 0 ? clicks / elapsedSeconds : 0,
    recentEventsPerSecond: sum((s) => s.recentEventsPerSecond),
    latencyMs: {
      p50: max((s) => s.latencyMs.p50),
      p95: max((s) => s.latencyMs.p95),
      p99: max((s) => s.latencyMs.p99),
    },
    freshnessMs: { p50: max((s) => s.freshnessMs.p50), p99: max((s) => s.freshnessMs.p99) },
    quality: {
      evaluated,
      hitRate: weighted(
        (s) => s.quality.hitRate,
        (s) => s.quality.evaluated,
        evaluated,
      ),
      ndcg: weighted(
        (s) => s.quality.ndcg,
        (s) => s.quality.evaluated,
        evaluated,
      ),
      recentHitRate: weighted(
        (s) => s.quality.recentHitRate,
        (s) => s.quality.evaluated,
        evaluated,
      ),
      recentNdcg: weighted(
        (s) => s.quality.recentNdcg,
        (s) => s.quality.evaluated,
        evaluated,
      ),
    },
    coverage: max((s) => s.coverage),
    diversity: weighted(
      (s) => s.diversity,
      (s) => s.lists,
      lists,
    ),
    users: sum((s) => s.users),
    catalog: max((s) => s.catalog),
  };
}

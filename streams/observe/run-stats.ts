import { performance } from 'node:perf_hooks';
import type { DeadLetterReason } from '../errors.js';
import type { EddyModel } from '../model/eddy-model.js';
import { dot } from '../model/vector-math.js';
import type { PipelineObserver } from '../pipeline/pipeline-observer.js';
import type { CommittedBatch } from '../pipeline/stages.js';
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

/** Counts, latencies and live quality of a run; feeds Prometheus (when given) and the terminal summary. */
export class RunStats implements PipelineObserver {
  private readonly started = performance.now();
  private clicks = 0;
  private items = 0;
  private deadLetters = 0;
  private lists = 0;
  private readonly latency = new LatencyRecorder();
  private readonly freshness = new LatencyRecorder();
  readonly quality = new LiveQuality();
  private recommendedSinceSummary = new Set<string>();
  private diversity = 0;
  private lastSummaryAt = performance.now();
  private clicksAtLastSummary = 0;
  private readonly vectorA: Float32Array;
  private readonly vectorB: Float32Array;

  constructor(
    private readonly model: EddyModel,
    private readonly metrics: EddyMetrics | null,
    private readonly itemsTopic: string,
  ) {
    this.vectorA = new Float32Array(model.config.dimension);
    this.vectorB = new Float32Array(model.config.dimension);
  }

  liveEvaluation(rank: number): void {
    this.quality.record(rank);
    if (this.metrics) {
      this.metrics.liveEvaluationsTotal.inc();
      if (rank > 0) this.metrics.liveHitsTotal.inc();
    }
  }

  deadLetter(reason: DeadLetterReason): void {
    this.deadLetters++;
    this.metrics?.deadLettersTotal.inc({ reason });
  }

  stage(name: string, seconds: number): void {
    this.metrics?.stageSeconds.observe({ stage: name }, seconds);
  }

  vectorWrite(): void {}

  committed(batch: CommittedBatch): void {
    const m = this.metrics;
    this.clicks += batch.clicks.length;
    this.items += batch.items.length;
    const latencySeconds = (batch.committedAt - batch.fetchedAt) / 1000;
    const wallNow = Date.now();
    for (const { list, trigger } of batch.lists) {
      this.lists++;
      this.latency.record(latencySeconds * 1000);
      const freshnessMs = Math.max(0, wallNow - trigger.click.record.timestamp);
      this.freshness.record(freshnessMs);
      for (const item of list.items) this.recommendedSinceSummary.add(item.itemId);
      if (m) {
        m.processingSeconds.observe(latencySeconds);
        m.freshnessSeconds.observe(freshnessMs / 1000);
      }
      // Diversity costs K² dot products, so it is sampled rather than computed for every list.
      if (this.lists % 16 === 0)
        this.diversity = 0.9 * this.diversity + 0.1 * this.intraListDistance(list.items);
    }
    if (m) {
      for (const { event } of batch.clicks)
        m.eventsTotal.inc({ kind: 'click', type: event.type, outcome: 'processed' });
      for (const item of batch.items)
        m.eventsTotal.inc({ kind: 'item', type: item.op, outcome: 'processed' });
      for (const { record } of batch.rejected) {
        const kind = record.topic === this.itemsTopic ? 'item' : 'click';
        m.eventsTotal.inc({ kind, type: 'unknown', outcome: 'dead_lettered' });
      }
      m.listsTotal.inc(batch.lists.length);
      m.batchRecords.observe(batch.batch.records.length);
      m.consumerLag.set(
        { topic: batch.batch.topic, partition: String(batch.batch.partition) },
        batch.batch.lag,
      );
      const q = this.quality.snapshot();
      m.liveHitRate.set(q.recentHitRate);
      m.liveNdcg.set(q.recentNdcg);
      m.listDiversity.set(this.diversity);
      m.users.set(this.model.users.size);
      m.items.set(this.model.items.size);
    }
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
    let available = 0;
    for (const item of this.model.items.values()) if (item.available) available++;
    // Only items still available count: ones retired since they were recommended would push it over 1.
    let covered = 0;
    for (const itemId of this.recommendedSinceSummary) if (this.model.items.get(itemId)?.available) covered++;
    const coverage = available > 0 ? covered / available : 0;
    this.metrics?.catalogCoverage.set(coverage);
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
    this.recommendedSinceSummary = new Set();
    return summary;
  }
}

import { EmbeddedEddy } from '../../streams/app/embedded.js';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';
import type { ModelConfig } from '../../streams/model/model-config.js';
import { nullObserver, type PipelineObserver } from '../../streams/pipeline/pipeline-observer.js';
import { fixedClock } from '../../streams/util/clock.js';
import type { StreamingMethod } from './harness.js';

/**
 * Past every dataset's event times, so validation never rejects an event as from the future, and
 * fixed, so list timestamps (and hence every output) are reproducible.
 */
const BENCH_NOW = Date.UTC(2100, 0, 1);

/**
 * Eddy as a method under test, driven through the real pipeline: an EmbeddedEddy (the operators
 * `npm start` runs, on the in-process log and vector index) with one partition and batches of one
 * record, so every click is learned and committed before the next one is served — exactly test,
 * then train. `learn` produces the click as Avro into the clicks topic and resolves when the
 * pipeline commits it; `serve` asks the pipeline's own Recommender for a list from the live state.
 */
export class EddyMethod implements StreamingMethod {
  private readonly eddy: EmbeddedEddy;
  private running: Promise<void> | null = null;
  private closing = false;
  private pending: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  private failure: unknown = null;
  /** Records the pipeline dead-lettered: Eddy did not learn from them, so the comparison would be off. */
  deadLetters = 0;

  constructor(
    readonly config: ModelConfig,
    readonly name = 'eddy',
  ) {
    const observer: PipelineObserver = {
      ...nullObserver,
      deadLetter: () => {
        this.deadLetters++;
      },
      committed: () => this.onCommitted(),
    };
    this.eddy = new EmbeddedEddy({
      model: config,
      partitions: 1,
      batchSize: 1,
      lingerMs: 0,
      groupId: 'quality-bench',
      clock: fixedClock(BENCH_NOW),
      metrics: null,
      observers: [observer],
    });
  }

  /** The embedded instance, for inspection (tests). */
  get embedded(): EmbeddedEddy {
    return this.eddy;
  }

  async start(catalog: readonly ItemEvent[]): Promise<void> {
    this.eddy.log.produce(catalog.map((event) => this.eddy.encode({ kind: 'item', event })));
    const { running } = await this.eddy.start();
    this.running = running;
    running.then(
      () => {
        if (!this.closing) this.fail(new Error('the Eddy pipeline stopped before the stream ended'));
      },
      (error: unknown) => this.fail(error),
    );
    // The catalogue is bootstrapped before the first batch, but the source still reads the items
    // topic; waiting keeps those re-applied upserts from interleaving with the first clicks.
    await this.idle();
  }

  async catalog(event: ItemEvent): Promise<void> {
    this.eddy.log.produce([this.eddy.encode({ kind: 'item', event })]);
    await this.idle();
  }

  async serve(userId: string, k: number): Promise<readonly string[]> {
    const user = this.eddy.model.userOrNew(userId);
    const [list] = await this.eddy.pipeline.context.recommender.recommend([user], k);
    return (list ?? []).map((item) => item.itemId);
  }

  async learn(event: ClickEvent): Promise<void> {
    this.eddy.log.produce([this.eddy.encode({ kind: 'click', event })]);
    await this.idle();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.eddy.stop();
    // Rejects when the pipeline failed, during the stream or while shutting down.
    await this.running;
    if (this.failure !== null) throw this.failure;
  }

  /** Resolves once everything produced so far is committed; no timers, the commit observer wakes it. */
  private idle(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.eddy.lag() === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  private onCommitted(): void {
    const pending = this.pending;
    if (pending !== null && this.eddy.lag() === 0) {
      this.pending = null;
      pending.resolve();
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    const pending = this.pending;
    this.pending = null;
    pending?.reject(error);
  }
}

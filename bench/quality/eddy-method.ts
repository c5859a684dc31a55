import { EmbeddedEddy } from '../../streams/app/embedded.js';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';
import type { ModelConfig } from '../../streams/model/model-config.js';
import { nullObserver, type PipelineObserver } from '../../streams/pipeline/pipeline-observer.js';
import { topicNames } from '../../streams/pipeline/topics.js';
import { fixedClock } from '../../streams/util/clock.js';
import { partitionForKey } from '../../streams/util/murmur2.js';
import type { StreamingMethod } from './harness.js';

/**
 * Past every dataset's event times, so validation never rejects an event as from the future, and
 * fixed, so list timestamps (and hence every output) are reproducible.
 */
const BENCH_NOW = Date.UTC(2100, 0, 1);

/** How Eddy is deployed for a quality run. */
export interface EddyDeployment {
  /** Instances, each a real pipeline owning a share of the input partitions (default 1). */
  readonly instances: number;
  /** Input partitions (default 1; with several instances, 8, shared round-robin). */
  readonly partitions?: number;
  /**
   * Whether the instances share one item model through the item-updates topic (default) or each
   * learns items from its own partitions alone (what Eddy did before: the comparison).
   */
  readonly sharedItemModel?: boolean;
}

/**
 * Eddy as a method under test, driven through the real pipeline: EmbeddedEddy instances (the
 * operators `npm start` runs, on the in-process log and vector index) with batches of one record,
 * so every click is learned and committed before the next one is served — exactly test, then
 * train. With several instances they share one in-process log as a consumer group's members share
 * Kafka: each owns a share of the partitions, and the item model travels through the item-updates
 * topic. `learn` produces the click as Avro into the clicks topic and resolves when its owner
 * commits it; `serve` asks the user's owner for a list from its live state, after the owner has
 * applied what the item-updates topic holds (what it does before each batch it processes).
 */
export class EddyMethod implements StreamingMethod {
  private readonly eddies: EmbeddedEddy[] = [];
  private readonly partitions: number;
  private running: Promise<void>[] = [];
  private closing = false;
  private pending: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  private failure: unknown = null;
  /** Records the pipeline dead-lettered: Eddy did not learn from them, so the comparison would be off. */
  deadLetters = 0;

  constructor(
    readonly config: ModelConfig,
    readonly name = 'eddy',
    deployment: EddyDeployment = { instances: 1 },
  ) {
    const { instances } = deployment;
    if (!Number.isInteger(instances) || instances < 1) {
      throw new RangeError(`instances must be a positive integer, got ${instances}`);
    }
    this.partitions = deployment.partitions ?? (instances === 1 ? 1 : 8);
    if (this.partitions < instances) {
      throw new RangeError(`${instances} instances need at least as many partitions, got ${this.partitions}`);
    }
    const observer: PipelineObserver = {
      ...nullObserver,
      deadLetter: () => {
        this.deadLetters++;
      },
      committed: () => this.onCommitted(),
    };
    const shared = deployment.sharedItemModel ?? true;
    for (let i = 0; i < instances; i++) {
      const owned = Array.from({ length: this.partitions }, (_, p) => p).filter((p) => p % instances === i);
      const first = this.eddies[0];
      this.eddies.push(
        new EmbeddedEddy({
          model: config,
          partitions: this.partitions,
          batchSize: 1,
          lingerMs: 0,
          // Without a shared item model each instance is a group (and a model) of its own.
          groupId: shared ? 'quality-bench' : `quality-bench-${i}`,
          clock: fixedClock(BENCH_NOW),
          metrics: null,
          observers: [observer],
          instanceId: `bench-${i}`,
          sharedItemModel: shared,
          ...(instances > 1 ? { ownedPartitions: owned } : {}),
          ...(first === undefined ? {} : { log: first.log }),
          ...(shared || first === undefined ? {} : { topics: topicNames(`eddy-${i}`) }),
        }),
      );
    }
  }

  /** The first embedded instance, for inspection (tests). */
  get embedded(): EmbeddedEddy {
    return this.eddies[0]!;
  }

  async start(catalog: readonly ItemEvent[]): Promise<void> {
    for (const eddy of this.eddies) {
      // Instances of their own (no shared model) have topics of their own: each gets the catalog.
      if (eddy === this.eddies[0] || eddy.topics.items !== this.eddies[0]!.topics.items) {
        eddy.log.produce(catalog.map((event) => eddy.encode({ kind: 'item', event })));
      }
    }
    for (const eddy of this.eddies) {
      const { running } = await eddy.start();
      this.running.push(running);
      running.then(
        () => {
          if (!this.closing) this.fail(new Error('an Eddy pipeline stopped before the stream ended'));
        },
        (error: unknown) => this.fail(error),
      );
    }
    // The catalogue is bootstrapped before the first batch, but the source still reads the items
    // topic; waiting keeps those re-applied upserts from interleaving with the first clicks.
    await this.idle();
  }

  async catalog(event: ItemEvent): Promise<void> {
    for (const eddy of this.instancesWithOwnTopics())
      eddy.log.produce([eddy.encode({ kind: 'item', event })]);
    await this.idle();
  }

  async serve(userId: string, k: number): Promise<readonly string[]> {
    const eddy = this.ownerOf(userId);
    while (eddy.pipeline.catchUp() > 0) {
      // Everything the group committed so far, as before the owner's next batch.
    }
    const user = eddy.model.userOrNew(userId);
    const [list] = await eddy.pipeline.context.recommender.recommend([user], k);
    return (list ?? []).map((item) => item.itemId);
  }

  async learn(event: ClickEvent): Promise<void> {
    const owner = this.ownerOf(event.userId);
    // The click goes to the topic its owner reads (one shared topic, or the owner's own).
    owner.log.produce([owner.encode({ kind: 'click', event })]);
    await this.idle();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const eddy of this.eddies) await eddy.stop();
    // Rejects when a pipeline failed, during the stream or while shutting down.
    await Promise.all(this.running);
    if (this.failure !== null) throw this.failure;
  }

  private ownerOf(userId: string): EmbeddedEddy {
    const partition = partitionForKey(userId, this.partitions);
    return this.eddies[partition % this.eddies.length]!;
  }

  /** One instance per distinct catalog topic: all of them without a shared model, else the first. */
  private instancesWithOwnTopics(): EmbeddedEddy[] {
    const seen = new Set<string>();
    return this.eddies.filter((eddy) => {
      if (seen.has(eddy.topics.items)) return false;
      seen.add(eddy.topics.items);
      return true;
    });
  }

  private lag(): number {
    let lag = 0;
    for (const eddy of this.eddies) lag += eddy.lag();
    return lag;
  }

  /** Resolves once everything produced so far is committed; no timers, the commit observer wakes it. */
  private idle(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.lag() === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  private onCommitted(): void {
    const pending = this.pending;
    if (pending !== null && this.lag() === 0) {
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

import type { ClickEvent, ItemEvent } from '../../../streams/model/events.js';
import type { StreamingMethod } from '../harness.js';
import {
  checkOneOf,
  DecayClock,
  DecayedScores,
  ItemCatalogue,
  type LearnFrom,
  learnsFrom,
  SeenItems,
  TopK,
  topByScore,
} from './common.js';

export interface CoOccurrenceConfig {
  /** The user's last n items: each new item co-occurs with them, and they seed the scoring. */
  readonly n: number;
  /** Seed weight = positionDecay^(p − 1) for the p-th most recent item (1 = all seeds alike). */
  readonly positionDecay: number;
  /** `cosine` divides a pair's weight by √(count(a) · count(b)), damping popular items. */
  readonly normalization: 'none' | 'cosine';
  /** Half-life of co-occurrence weights in hours of event time; 0 = no decay. */
  readonly halfLifeHours: number;
  readonly learnFrom: LearnFrom;
  /** Half-life of the popularity that fills lists beyond the scored neighbours (0 = plain counts). */
  readonly fallbackHalfLifeHours: number;
}

export const DEFAULT_COOCCURRENCE_CONFIG: CoOccurrenceConfig = {
  n: 5,
  positionDecay: 0.7,
  normalization: 'none',
  halfLifeHours: 0,
  learnFrom: 'all',
  fallbackHalfLifeHours: 24,
};

/**
 * Incremental item-to-item co-occurrence over each user's last n items (the session-kNN family):
 * score(c) = Σ over the user's last n items s of positionDecay^(rank of s − 1) · w(s, c), with
 * w the (decayed, optionally cosine-normalised) symmetric co-occurrence weight. Items without any
 * co-occurrence with the user's recent items are ranked by recency-decayed popularity after the
 * scored ones, so a list is never short of items while the catalogue has them.
 */
export class CoOccurrenceMethod implements StreamingMethod {
  private readonly catalogue = new ItemCatalogue();
  private readonly seen = new SeenItems();
  private readonly recent = new Map<string, number[]>();
  /** neighbours[a].get(b) = inflated co-occurrence weight of {a, b}. */
  private readonly neighbours: (Map<number, number> | undefined)[] = [];
  private readonly counts: DecayedScores;
  private readonly clock: DecayClock;
  private readonly popularity: DecayedScores;
  private readonly heap = new TopK(20);
  private readonly scratch = new Map<number, number>();

  constructor(
    private readonly config: CoOccurrenceConfig = DEFAULT_COOCCURRENCE_CONFIG,
    readonly name = 'cooccurrence',
  ) {
    if (!Number.isInteger(config.n) || config.n < 1) throw new RangeError(`n must be >= 1, got ${config.n}`);
    checkOneOf('normalization', config.normalization, ['none', 'cosine']);
    checkOneOf('learnFrom', config.learnFrom, ['all', 'positive']);
    this.clock = new DecayClock(config.halfLifeHours);
    // Counts share the edges' clock so the cosine ratio stays on one scale.
    this.counts = new DecayedScores(0);
    this.clock.onRebase((factor) => {
      for (const edges of this.neighbours) {
        if (edges !== undefined) for (const [b, w] of edges) edges.set(b, w * factor);
      }
      this.counts.scale(factor);
    });
    this.popularity = new DecayedScores(config.fallbackHalfLifeHours);
  }

  start(catalog: readonly ItemEvent[]): void {
    for (const event of catalog) this.catalogue.apply(event);
  }

  catalog(event: ItemEvent): void {
    this.catalogue.apply(event);
  }

  serve(userId: string, k: number): string[] {
    const seen = this.seen.of(userId);
    const recent = this.recent.get(userId);
    const scores = this.scratch;
    scores.clear();
    if (recent !== undefined) {
      const cosine = this.config.normalization === 'cosine';
      let seedWeight = 1;
      for (let r = recent.length - 1; r >= 0; r--) {
        const seed = recent[r]!;
        const edges = this.neighbours[seed];
        if (edges !== undefined) {
          const seedCount = cosine ? this.counts.get(seed) : 1;
          for (const [candidate, weight] of edges) {
            if (seen.has(candidate) || !this.catalogue.isAvailable(candidate)) continue;
            const w = cosine ? weight / Math.sqrt(seedCount * this.counts.get(candidate)) : weight;
            scores.set(candidate, (scores.get(candidate) ?? 0) + seedWeight * w);
          }
        }
        seedWeight *= this.config.positionDecay;
      }
    }
    const heap = this.heap;
    heap.reset(k);
    for (const [candidate, score] of scores) if (score > 0) heap.offer(candidate, score);
    const picked = heap.sorted();
    if (picked.length < k) {
      const taken = new Set(picked);
      for (const i of topByScore(this.catalogue, this.popularity, seen, k - picked.length, heap, taken)) {
        picked.push(i);
      }
    }
    return picked.map((i) => this.catalogue.ids[i]!);
  }

  learn(event: ClickEvent): void {
    const index = this.catalogue.ensure(event.itemId);
    this.seen.add(event.userId, index);
    if (!learnsFrom(this.config.learnFrom, event.type)) return;
    const time = event.eventTime;
    const amount = this.clock.inflation(time);
    this.popularity.add(index, 1, time);
    this.counts.add(index, amount, 0);
    let recent = this.recent.get(event.userId);
    if (recent === undefined) {
      recent = [];
      this.recent.set(event.userId, recent);
    }
    for (const other of recent) {
      if (other === index) continue;
      this.bump(index, other, amount);
      this.bump(other, index, amount);
    }
    const previous = recent.indexOf(index);
    if (previous >= 0) recent.splice(previous, 1);
    recent.push(index);
    if (recent.length > this.config.n) recent.shift();
  }

  private bump(a: number, b: number, amount: number): void {
    let edges = this.neighbours[a];
    if (edges === undefined) {
      edges = new Map();
      this.neighbours[a] = edges;
    }
    edges.set(b, (edges.get(b) ?? 0) + amount);
  }
}

import type { ModelConfig } from './model-config.js';
import { decayFactor } from './vector-math.js';

/** A neighbour's weight as of `time`; decayed lazily when read or bumped. */
interface Edge {
  weight: number;
  time: number;
}

/**
 * Item-to-item co-visitation: how often b follows a in users' sequences, decayed over event time,
 * with at most `maxNeighbours` neighbours per item (the weakest are pruned), so memory is bounded
 * by items × maxNeighbours.
 */
export class CoVisitation {
  private readonly edges = new Map<string, Map<string, Edge>>();
  private readonly halfLifeMs: number;
  private readonly maxNeighbours: number;
  private readonly window: number;
  private readonly reverseWeight: number;
  private readonly proximityDecay: number;
  private readonly decayedScratch: number[] = [];

  constructor(config: ModelConfig['coVisitation']) {
    this.halfLifeMs = config.halfLifeMs;
    this.maxNeighbours = config.maxNeighbours;
    this.window = config.window;
    this.reverseWeight = config.reverseWeight;
    this.proximityDecay = config.proximityDecay;
  }

  get size(): number {
    return this.edges.size;
  }

  /** Records that `itemId` followed the user's preceding items (oldest first) at `time`. */
  record(itemId: string, precedingItemIds: readonly string[], strength: number, time: number): void {
    const start = Math.max(0, precedingItemIds.length - this.window);
    let proximity = strength;
    for (let p = precedingItemIds.length - 1; p >= start; p--, proximity *= this.proximityDecay) {
      const previousId = precedingItemIds[p]!;
      if (previousId === itemId) continue;
      this.bump(previousId, itemId, proximity, time);
      if (this.reverseWeight > 0) this.bump(itemId, previousId, proximity * this.reverseWeight, time);
    }
  }

  private bump(from: string, to: string, amount: number, time: number): void {
    let neighbours = this.edges.get(from);
    if (!neighbours) {
      neighbours = new Map();
      this.edges.set(from, neighbours);
    }
    const edge = neighbours.get(to);
    if (edge) {
      edge.weight = edge.weight * decayFactor(time - edge.time, this.halfLifeMs) + amount;
      if (time > edge.time) edge.time = time;
      return;
    }
    neighbours.set(to, { weight: amount, time });
    // Prune in bulk (to the cap) once 50% over it, so the sort is amortised over many inserts.
    if (neighbours.size > this.maxNeighbours * 1.5) this.prune(neighbours, time);
  }

  private prune(neighbours: Map<string, Edge>, now: number): void {
    const ranked = [...neighbours.entries()]
      .map(([id, edge]) => [id, edge.weight * decayFactor(now - edge.time, this.halfLifeMs)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (let i = this.maxNeighbours; i < ranked.length; i++) neighbours.delete(ranked[i]![0]);
  }

  /** The decayed weight of a → b at `now` (0 when unknown). */
  weight(from: string, to: string, now: number): number {
    const edge = this.edges.get(from)?.get(to);
    return edge ? edge.weight * decayFactor(now - edge.time, this.halfLifeMs) : 0;
  }

  /**
   * Adds `seedWeight ×` the decayed weight of each of `from`'s neighbours into `scores` (the caller
   * aggregates over several seed items), divided by the seed's total neighbour weight raised to
   * `normalization`: 0 adds raw weights, so a busy seed outweighs the others; 1 adds each seed's
   * neighbours as a distribution, so seeds weigh only by `seedWeight`.
   */
  accumulateNeighbours(
    from: string,
    seedWeight: number,
    now: number,
    scores: Map<string, number>,
    normalization = 0,
  ): void {
    const neighbours = this.edges.get(from);
    if (!neighbours) return;
    // Each edge is decayed once, into a reused scratch array, whether or not it is normalised.
    const decayed = this.decayedScratch;
    decayed.length = 0;
    let total = 0;
    for (const edge of neighbours.values()) {
      const w = edge.weight * decayFactor(now - edge.time, this.halfLifeMs);
      decayed.push(w);
      total += w;
    }
    let scale = seedWeight;
    if (normalization > 0) {
      if (total <= 0) return;
      scale /= total ** normalization;
    }
    let i = 0;
    for (const to of neighbours.keys()) {
      scores.set(to, (scores.get(to) ?? 0) + scale * decayed[i++]!);
    }
  }

  neighboursOf(from: string): ReadonlyMap<string, Readonly<Edge>> | undefined {
    return this.edges.get(from);
  }

  /** Replaces an item's neighbours (changelog restore). */
  restoreNeighbours(
    from: string,
    neighbours: Iterable<{ itemId: string; weight: number }>,
    time: number,
  ): void {
    const map = new Map<string, Edge>();
    for (const n of neighbours) map.set(n.itemId, { weight: n.weight, time });
    if (map.size > 0) this.edges.set(from, map);
    else this.edges.delete(from);
  }

  removeItem(itemId: string): void {
    this.edges.delete(itemId);
  }
}

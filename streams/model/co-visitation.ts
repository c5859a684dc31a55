import type { ModelConfig } from './model-config.js';
import { decayFactor } from './vector-math.js';

/** A neighbour's weights as of `time`; decayed lazily when read or bumped. */
interface Edge {
  /** Co-visits anywhere in the window: what users engage with together. */
  weight: number;
  /** Co-visits weighted by closeness in the sequence: what users turn to next. */
  sequential: number;
  time: number;
}

/** Scores accumulated over seed items, one map per kind of co-visitation. */
export interface NeighbourScores {
  readonly window: Map<string, number>;
  readonly sequential: Map<string, number>;
}

/**
 * Item-to-item co-visitation: how often b follows a in users' sequences, decayed over event time,
 * with at most `maxNeighbours` neighbours per item (the weakest are pruned), so memory is bounded
 * by items × maxNeighbours. Each edge keeps two weights from the same pairs: over the whole window
 * (taste: which items go together) and weighted by sequence distance (intent: which item comes
 * next). Which one predicts better depends on the data, so the ranking weighs both.
 */
export class CoVisitation {
  private readonly edges = new Map<string, Map<string, Edge>>();
  private readonly halfLifeMs: number;
  private readonly maxNeighbours: number;
  private readonly window: number;
  private readonly reverseWeight: number;
  private readonly proximityDecay: number;
  private readonly sequenceDecay: number;
  private readonly pairHalfLifeMs: number;
  private readonly windowScratch: number[] = [];
  private readonly sequentialScratch: number[] = [];

  constructor(config: ModelConfig['coVisitation']) {
    this.halfLifeMs = config.halfLifeMs;
    this.maxNeighbours = config.maxNeighbours;
    this.window = config.window;
    this.reverseWeight = config.reverseWeight;
    this.proximityDecay = config.proximityDecay;
    this.sequenceDecay = config.sequenceDecay;
    this.pairHalfLifeMs = config.pairHalfLifeMs;
  }

  get size(): number {
    return this.edges.size;
  }

  /**
   * Records that `itemId` followed the user's preceding items (oldest first) at `time`;
   * `precedingTimes[p]` is when `precedingItemIds[p]` happened (omitted: all at `time`).
   */
  record(
    itemId: string,
    precedingItemIds: readonly string[],
    strength: number,
    time: number,
    precedingTimes?: readonly number[],
  ): void {
    if (precedingTimes !== undefined && precedingTimes.length !== precedingItemIds.length) {
      throw new RangeError(
        `${precedingItemIds.length} preceding items need as many times, got ${precedingTimes.length}`,
      );
    }
    const timed = precedingTimes !== undefined && this.pairHalfLifeMs > 0;
    const start = Math.max(0, precedingItemIds.length - this.window);
    let proximity = strength;
    let closeness = strength;
    for (
      let p = precedingItemIds.length - 1;
      p >= start;
      p--, proximity *= this.proximityDecay, closeness *= this.sequenceDecay
    ) {
      const previousId = precedingItemIds[p]!;
      if (previousId === itemId) continue;
      const apart = timed ? decayFactor(time - precedingTimes[p]!, this.pairHalfLifeMs) : 1;
      const together = proximity * apart;
      const next = closeness * apart;
      this.bump(previousId, itemId, together, next, time);
      if (this.reverseWeight > 0) {
        this.bump(itemId, previousId, together * this.reverseWeight, next * this.reverseWeight, time);
      }
    }
  }

  private bump(from: string, to: string, amount: number, sequential: number, time: number): void {
    let neighbours = this.edges.get(from);
    if (!neighbours) {
      neighbours = new Map();
      this.edges.set(from, neighbours);
    }
    const edge = neighbours.get(to);
    if (edge) {
      const decay = decayFactor(time - edge.time, this.halfLifeMs);
      edge.weight = edge.weight * decay + amount;
      edge.sequential = edge.sequential * decay + sequential;
      if (time > edge.time) edge.time = time;
      return;
    }
    neighbours.set(to, { weight: amount, sequential, time });
    // Prune in bulk (to the cap) once 50% over it, so the sort is amortised over many inserts.
    if (neighbours.size > this.maxNeighbours * 1.5) this.prune(neighbours, time);
  }

  private prune(neighbours: Map<string, Edge>, now: number): void {
    const ranked = [...neighbours.entries()]
      .map(([id, edge]) => [id, edge.weight * decayFactor(now - edge.time, this.halfLifeMs)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (let i = this.maxNeighbours; i < ranked.length; i++) neighbours.delete(ranked[i]![0]);
  }

  /** The decayed window (or sequential) weight of a → b at `now` (0 when unknown). */
  weight(from: string, to: string, now: number, kind: keyof NeighbourScores = 'window'): number {
    const edge = this.edges.get(from)?.get(to);
    if (!edge) return 0;
    return (
      (kind === 'window' ? edge.weight : edge.sequential) * decayFactor(now - edge.time, this.halfLifeMs)
    );
  }

  /**
   * Adds `seedWeight ×` the decayed weights of each of `from`'s neighbours into `scores` (the
   * caller aggregates over several seed items), each kind divided by the seed's total of that kind
   * raised to `normalization`: 0 adds raw weights, so a busy seed outweighs the others; 1 adds each
   * seed's neighbours as a distribution, so seeds weigh only by `seedWeight`.
   */
  accumulateNeighbours(
    from: string,
    seedWeight: number,
    now: number,
    scores: NeighbourScores,
    normalization = 0,
  ): void {
    const neighbours = this.edges.get(from);
    if (!neighbours) return;
    // Each edge is decayed once, into reused scratch arrays, whether or not it is normalised.
    const windowed = this.windowScratch;
    const sequential = this.sequentialScratch;
    windowed.length = 0;
    sequential.length = 0;
    let windowTotal = 0;
    let sequentialTotal = 0;
    for (const edge of neighbours.values()) {
      const decay = decayFactor(now - edge.time, this.halfLifeMs);
      const w = edge.weight * decay;
      const s = edge.sequential * decay;
      windowed.push(w);
      sequential.push(s);
      windowTotal += w;
      sequentialTotal += s;
    }
    const windowScale =
      seedWeight / (normalization > 0 && windowTotal > 0 ? windowTotal ** normalization : 1);
    const sequentialScale =
      seedWeight / (normalization > 0 && sequentialTotal > 0 ? sequentialTotal ** normalization : 1);
    let i = 0;
    for (const to of neighbours.keys()) {
      const w = windowed[i]!;
      const s = sequential[i++]!;
      if (w > 0) scores.window.set(to, (scores.window.get(to) ?? 0) + windowScale * w);
      if (s > 0) scores.sequential.set(to, (scores.sequential.get(to) ?? 0) + sequentialScale * s);
    }
  }

  neighboursOf(from: string): ReadonlyMap<string, Readonly<Edge>> | undefined {
    return this.edges.get(from);
  }

  /** Replaces an item's neighbours (changelog restore). */
  restoreNeighbours(
    from: string,
    neighbours: Iterable<{ itemId: string; weight: number; sequential: number }>,
    time: number,
  ): void {
    const map = new Map<string, Edge>();
    for (const n of neighbours) map.set(n.itemId, { weight: n.weight, sequential: n.sequential, time });
    if (map.size > 0) this.edges.set(from, map);
    else this.edges.delete(from);
  }

  removeItem(itemId: string): void {
    this.edges.delete(itemId);
  }
}

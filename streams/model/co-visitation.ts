import type { ModelConfig } from './model-config.js';
import { decayFactor } from './vector-math.js';

/** A neighbour's weights as of `time`; decayed lazily when read or bumped. */
interface Edge {
  /** Co-visits anywhere in the window: what users engage with together. */
  weight: number;
  /** Co-visits weighted by closeness in the sequence: what users turn to next. */
  sequential: number;
  time: number;
  /** Where scores for the edge's target item accumulate: reached without a lookup by id. */
  readonly target: TargetScores;
}

/**
 * One neighbour item's accumulators while a list is scored. Shared by every edge pointing at the
 * item, so accumulating over a seed's neighbours is arithmetic on objects the edges already hold
 * instead of several string-keyed map operations per edge (the hot path's largest cost).
 * The values are valid for the accumulation whose `round` they carry.
 */
export class TargetScores {
  /** Edges pointing here; the object is forgotten when the last one goes. */
  edges = 0;
  round = 0;
  window = 0;
  sequential = 0;
  /** Whether a positive window (sequential) contribution arrived in this round. */
  inWindow = false;
  inSequential = false;
  /** The sequential score after the first seed alone (the next-item signal), when `inNext`. */
  next = 0;
  inNext = false;

  constructor(readonly itemId: string) {}
}

/**
 * Scores accumulated over seed items, both kinds of co-visitation at once: each touched neighbour
 * once in `touched` (in order of first contribution), its values on its TargetScores. An item
 * counts for a kind only once a positive contribution of that kind arrived.
 */
export class NeighbourScores {
  private static rounds = 0;
  readonly touched: TargetScores[] = [];
  private current = 0;

  constructor() {
    this.reset();
  }

  /** Starts a new accumulation (the TargetScores touched before are left to the next round's reset). */
  reset(): void {
    this.touched.length = 0;
    this.current = ++NeighbourScores.rounds;
  }

  get round(): number {
    return this.current;
  }

  /**
   * The accumulated window (or sequential) scores by item id, for inspection and tests. Valid until
   * another accumulation on the same CoVisitation starts: the accumulators are shared.
   */
  scores(kind: 'window' | 'sequential'): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.touched) {
      if (t.round !== this.current) throw new Error('these scores were overwritten by a later accumulation');
      if (kind === 'window' ? t.inWindow : t.inSequential) {
        out.set(t.itemId, kind === 'window' ? t.window : t.sequential);
      }
    }
    return out;
  }
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
  /** Accumulators of every item some edge points at (bounded like the edges). */
  private readonly targets = new Map<string, TargetScores>();
  private readonly halfLifeMs: number;
  private readonly maxNeighbours: number;
  private readonly window: number;
  private readonly reverseWeight: number;
  private readonly proximityDecay: number;
  private readonly sequenceDecay: number;
  private readonly pairHalfLifeMs: number;

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
    neighbours.set(to, { weight: amount, sequential, time, target: this.targetOf(to) });
    // Prune in bulk (to the cap) once 50% over it, so the sort is amortised over many inserts.
    if (neighbours.size > this.maxNeighbours * 1.5) this.prune(neighbours, time);
  }

  private prune(neighbours: Map<string, Edge>, now: number): void {
    const ranked = [...neighbours.entries()]
      .map(([id, edge]) => [id, edge.weight * decayFactor(now - edge.time, this.halfLifeMs)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (let i = this.maxNeighbours; i < ranked.length; i++) this.dropEdge(neighbours, ranked[i]![0]);
  }

  private targetOf(itemId: string): TargetScores {
    let target = this.targets.get(itemId);
    if (target === undefined) {
      target = new TargetScores(itemId);
      this.targets.set(itemId, target);
    }
    target.edges++;
    return target;
  }

  private dropEdge(neighbours: Map<string, Edge>, to: string): void {
    const edge = neighbours.get(to);
    if (edge === undefined) return;
    neighbours.delete(to);
    this.release(edge.target);
  }

  private release(target: TargetScores): void {
    if (--target.edges === 0) this.targets.delete(target.itemId);
  }

  /** Accumulator objects alive (bounded by the edges; exposed for the memory tests). */
  get targetCount(): number {
    return this.targets.size;
  }

  /** The decayed window (or sequential) weight of a → b at `now` (0 when unknown). */
  weight(from: string, to: string, now: number, kind: 'window' | 'sequential' = 'window'): number {
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
    const round = scores.round;
    const touched = scores.touched;
    if (normalization > 0) {
      // Each kind is divided by the seed's total of that kind: one pass for the totals first.
      let windowTotal = 0;
      let sequentialTotal = 0;
      for (const edge of neighbours.values()) {
        const decay = decayFactor(now - edge.time, this.halfLifeMs);
        windowTotal += edge.weight * decay;
        sequentialTotal += edge.sequential * decay;
      }
      const windowScale = seedWeight / (windowTotal > 0 ? windowTotal ** normalization : 1);
      const sequentialScale = seedWeight / (sequentialTotal > 0 ? sequentialTotal ** normalization : 1);
      for (const edge of neighbours.values()) {
        addEdge(
          edge,
          decayFactor(now - edge.time, this.halfLifeMs),
          windowScale,
          sequentialScale,
          round,
          touched,
        );
      }
    } else {
      for (const edge of neighbours.values()) {
        addEdge(edge, decayFactor(now - edge.time, this.halfLifeMs), seedWeight, seedWeight, round, touched);
      }
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
    this.removeItem(from);
    const map = new Map<string, Edge>();
    for (const n of neighbours) {
      const previous = map.get(n.itemId);
      if (previous !== undefined) this.release(previous.target);
      map.set(n.itemId, {
        weight: n.weight,
        sequential: n.sequential,
        time,
        target: this.targetOf(n.itemId),
      });
    }
    if (map.size > 0) this.edges.set(from, map);
  }

  /** Forgets an item's own neighbours (edges towards it from other items go as those are pruned). */
  removeItem(itemId: string): void {
    const neighbours = this.edges.get(itemId);
    if (neighbours === undefined) return;
    this.edges.delete(itemId);
    for (const edge of neighbours.values()) this.release(edge.target);
  }
}

/** Adds one decayed edge's contributions to its target's accumulators for `round`. */
function addEdge(
  edge: Edge,
  decay: number,
  windowScale: number,
  sequentialScale: number,
  round: number,
  touched: TargetScores[],
): void {
  const w = edge.weight * decay;
  const s = edge.sequential * decay;
  if (!(w > 0) && !(s > 0)) return;
  const t = edge.target;
  if (t.round !== round) {
    t.round = round;
    t.window = 0;
    t.sequential = 0;
    t.inWindow = false;
    t.inSequential = false;
    t.inNext = false;
    touched.push(t);
  }
  if (w > 0) {
    t.window += windowScale * w;
    t.inWindow = true;
  }
  if (s > 0) {
    t.sequential += sequentialScale * s;
    t.inSequential = true;
  }
}

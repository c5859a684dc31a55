import { topIndicesByValue } from '../util/top-k.js';
import type { ModelConfig } from './model-config.js';
import { decayFactor } from './vector-math.js';

/**
 * One item's neighbours as parallel arrays (slot `i`: `targets[i]`, `weights[i]`, `sequential[i]`),
 * so scoring a list walks contiguous numbers instead of one object per edge. Weights are forward
 * decayed: stored inflated by 2^((t − reference) / halfLife) for the time t they were added, against
 * the `CoVisitation`'s shared reference, so reading them at `now` is one factor per item, not an
 * exponential per edge.
 */
class NeighbourList {
  readonly slotOf = new Map<string, number>();
  targets: TargetScores[] = [];
  /** Co-visits anywhere in the window: what users engage with together. */
  weights: Float64Array;
  /** Co-visits weighted by closeness in the sequence: what users turn to next. */
  sequential: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.weights = new Float64Array(capacity);
    this.sequential = new Float64Array(capacity);
  }

  add(target: TargetScores, weight: number, sequential: number, maxCapacity: number): void {
    if (this.size === this.weights.length) {
      const capacity = Math.min(maxCapacity, this.size * 2);
      const weights = new Float64Array(capacity);
      weights.set(this.weights);
      const sequentialWeights = new Float64Array(capacity);
      sequentialWeights.set(this.sequential);
      this.weights = weights;
      this.sequential = sequentialWeights;
    }
    const slot = this.size++;
    this.slotOf.set(target.itemId, slot);
    this.targets[slot] = target;
    this.weights[slot] = weight;
    this.sequential[slot] = sequential;
  }
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
  private readonly lists = new Map<string, NeighbourList>();
  /** Accumulators of every item some edge points at (bounded like the edges). */
  private readonly targets = new Map<string, TargetScores>();
  private readonly halfLifeMs: number;
  private readonly maxNeighbours: number;
  /** A list grows to this many neighbours before it is pruned back to `maxNeighbours`. */
  private readonly pruneAt: number;
  private readonly window: number;
  private readonly reverseWeight: number;
  private readonly proximityDecay: number;
  private readonly sequenceDecay: number;
  private readonly pairHalfLifeMs: number;
  private readonly sessionLengthExponent: number;
  /** Scratch of `prune`: the list's ids, and the order the kept slots are selected into. */
  private readonly pruneIds: string[] = [];
  private pruneOrder = new Int32Array(0);
  /** The time every stored weight is inflated against (forward decay); null until the first weight. */
  private referenceTime: number | null = null;

  /** `sessionGapMs`: the gap that ends a session, for `sessionLengthExponent`. */
  constructor(
    config: ModelConfig['coVisitation'],
    private readonly sessionGapMs = 30 * 60_000,
  ) {
    if (!(config.halfLifeMs > 0)) {
      throw new RangeError(`coVisitation.halfLifeMs must be a positive number, got ${config.halfLifeMs}`);
    }
    this.halfLifeMs = config.halfLifeMs;
    this.maxNeighbours = config.maxNeighbours;
    // Prune in bulk (to the cap) once 50% over it, so the selection is amortised over many inserts.
    this.pruneAt = Math.floor(config.maxNeighbours * 1.5);
    this.window = config.window;
    this.reverseWeight = config.reverseWeight;
    this.proximityDecay = config.proximityDecay;
    this.sequenceDecay = config.sequenceDecay;
    this.pairHalfLifeMs = config.pairHalfLifeMs;
    this.sessionLengthExponent = config.sessionLengthExponent;
  }

  /**
   * The sequential weight's factor for a click whose session holds `sessionLength` clicks up to and
   * including it (see `sessionLengthExponent`); 1 without preceding times.
   */
  private sessionFactor(time: number, precedingTimes: readonly number[] | undefined): number {
    if (this.sessionLengthExponent === 0 || precedingTimes === undefined) return 1;
    let sessionLength = 1;
    let later = time;
    for (let p = precedingTimes.length - 1; p >= 0; p--) {
      const at = precedingTimes[p]!;
      if (later - at > this.sessionGapMs) break;
      sessionLength++;
      later = at;
    }
    return sessionLength ** -this.sessionLengthExponent;
  }

  get size(): number {
    return this.lists.size;
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
    if (start >= precedingItemIds.length) return;
    const inflation = this.inflationAt(time);
    // The clicked item's own list takes every reverse edge: looked up once, not once per pair
    // (prune keeps a list's identity, so the reference stays valid), and only once an edge needs it.
    let own: NeighbourList | null = null;
    let proximity = strength * inflation;
    let closeness = strength * inflation * this.sessionFactor(time, precedingTimes);
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
      this.bump(this.listOf(previousId), itemId, together, next);
      if (this.reverseWeight > 0) {
        own ??= this.listOf(itemId);
        this.bump(own, previousId, together * this.reverseWeight, next * this.reverseWeight);
      }
    }
  }

  /**
   * 2^((time − reference) / halfLife), the factor a weight added at `time` is stored with. The
   * reference moves forward (every stored weight shrunk once, O(edges)) before the factor could
   * overflow: every 2^32-fold, i.e. every 32 half-lives of stream time.
   */
  private inflationAt(time: number): number {
    if (this.referenceTime === null) this.referenceTime = time;
    const exponent = (time - this.referenceTime) / this.halfLifeMs;
    if (exponent <= 32) return 2 ** Math.max(exponent, -1000);
    this.rebase(time);
    return 1;
  }

  private rebase(time: number): void {
    const shrink = 2 ** (-(time - (this.referenceTime ?? time)) / this.halfLifeMs);
    for (const list of this.lists.values()) {
      for (let i = 0; i < list.size; i++) {
        list.weights[i]! *= shrink;
        list.sequential[i]! *= shrink;
      }
    }
    this.referenceTime = time;
  }

  /** 2^((reference − now) / halfLife): turns stored weights into weights as of `now`. */
  private deflationAt(now: number): number {
    return this.referenceTime === null ? 1 : 2 ** ((this.referenceTime - now) / this.halfLifeMs);
  }

  private listOf(from: string): NeighbourList {
    let list = this.lists.get(from);
    if (list === undefined) {
      list = new NeighbourList(8);
      this.lists.set(from, list);
    }
    return list;
  }

  private bump(list: NeighbourList, to: string, amount: number, sequential: number): void {
    const slot = list.slotOf.get(to);
    if (slot !== undefined) {
      list.weights[slot]! += amount;
      list.sequential[slot]! += sequential;
      return;
    }
    list.add(this.targetOf(to), amount, sequential, this.pruneAt + 1);
    if (list.size > this.pruneAt) this.prune(list);
  }

  /** Keeps the `maxNeighbours` strongest (window weight, ties by id), in their slot order. */
  private prune(list: NeighbourList): void {
    const weights = list.weights;
    const targets = list.targets;
    const ids = this.pruneIds;
    for (let slot = 0; slot < list.size; slot++) ids[slot] = targets[slot]!.itemId;
    if (this.pruneOrder.length < this.maxNeighbours) this.pruneOrder = new Int32Array(this.maxNeighbours);
    const keptCount = topIndicesByValue(weights, ids, list.size, this.maxNeighbours, this.pruneOrder);
    const kept = new Uint8Array(list.size);
    for (let i = 0; i < keptCount; i++) kept[this.pruneOrder[i]!] = 1;
    let next = 0;
    for (let slot = 0; slot < list.size; slot++) {
      const target = targets[slot]!;
      if (kept[slot] === 0) {
        list.slotOf.delete(target.itemId);
        this.release(target);
        continue;
      }
      if (next !== slot) {
        targets[next] = target;
        weights[next] = weights[slot]!;
        list.sequential[next] = list.sequential[slot]!;
        list.slotOf.set(target.itemId, next);
      }
      next++;
    }
    targets.length = next;
    list.size = next;
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

  private release(target: TargetScores): void {
    if (--target.edges === 0) this.targets.delete(target.itemId);
  }

  /** Accumulator objects alive (bounded by the edges; exposed for the memory tests). */
  get targetCount(): number {
    return this.targets.size;
  }

  /** `itemId`'s accumulators if the accumulation `scores` reached it (undefined otherwise). */
  accumulated(itemId: string, scores: NeighbourScores): TargetScores | undefined {
    const target = this.targets.get(itemId);
    return target !== undefined && target.round === scores.round ? target : undefined;
  }

  /** Neighbours `from` has (0 when unknown). */
  neighbourCount(from: string): number {
    return this.lists.get(from)?.size ?? 0;
  }

  /** The decayed window (or sequential) weight of a → b at `now` (0 when unknown). */
  weight(from: string, to: string, now: number, kind: 'window' | 'sequential' = 'window'): number {
    const list = this.lists.get(from);
    const slot = list?.slotOf.get(to);
    if (list === undefined || slot === undefined) return 0;
    return (kind === 'window' ? list.weights[slot]! : list.sequential[slot]!) * this.deflationAt(now);
  }

  /** `from`'s neighbours with their weights as of `now`, strongest first (ties by id): checkpoints. */
  neighboursAt(from: string, now: number): { itemId: string; weight: number; sequential: number }[] {
    const list = this.lists.get(from);
    if (list === undefined) return [];
    const deflation = this.deflationAt(now);
    const out: { itemId: string; weight: number; sequential: number }[] = [];
    for (let i = 0; i < list.size; i++) {
      out.push({
        itemId: list.targets[i]!.itemId,
        weight: list.weights[i]! * deflation,
        sequential: list.sequential[i]! * deflation,
      });
    }
    return out.sort((a, b) => b.weight - a.weight || (a.itemId < b.itemId ? -1 : 1));
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
    const list = this.lists.get(from);
    if (list === undefined) return;
    const size = list.size;
    const weights = list.weights;
    const sequential = list.sequential;
    const deflation = this.deflationAt(now);
    let windowScale = seedWeight * deflation;
    let sequentialScale = windowScale;
    if (normalization > 0) {
      // Each kind is divided by the seed's total of that kind (as of now).
      let windowTotal = 0;
      let sequentialTotal = 0;
      for (let i = 0; i < size; i++) {
        windowTotal += weights[i]!;
        sequentialTotal += sequential[i]!;
      }
      windowTotal *= deflation;
      sequentialTotal *= deflation;
      if (windowTotal > 0) windowScale /= windowTotal ** normalization;
      if (sequentialTotal > 0) sequentialScale /= sequentialTotal ** normalization;
    }
    const round = scores.round;
    const touched = scores.touched;
    const targets = list.targets;
    for (let i = 0; i < size; i++) {
      const w = weights[i]!;
      const s = sequential[i]!;
      if (!(w > 0) && !(s > 0)) continue;
      const t = targets[i]!;
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
  }

  /** Replaces an item's neighbours (changelog restore): `neighbours` are weights as of `time`. */
  restoreNeighbours(
    from: string,
    neighbours: Iterable<{ itemId: string; weight: number; sequential: number }>,
    time: number,
  ): void {
    this.removeItem(from);
    const inflation = this.inflationAt(time);
    const list = new NeighbourList(8);
    for (const n of neighbours) {
      const slot = list.slotOf.get(n.itemId);
      if (slot !== undefined) {
        list.weights[slot] = n.weight * inflation;
        list.sequential[slot] = n.sequential * inflation;
        continue;
      }
      list.add(
        this.targetOf(n.itemId),
        n.weight * inflation,
        n.sequential * inflation,
        Number.MAX_SAFE_INTEGER,
      );
    }
    if (list.size > 0) this.lists.set(from, list);
  }

  /** Forgets an item's own neighbours (edges towards it from other items go as those are pruned). */
  removeItem(itemId: string): void {
    const list = this.lists.get(itemId);
    if (list === undefined) return;
    this.lists.delete(itemId);
    for (let i = 0; i < list.size; i++) this.release(list.targets[i]!);
  }
}

/**
 * A hierarchical navigable small-world graph (Malkov & Yashunin, 2018) over inner-product
 * similarity: the approximate index `InMemoryVectorIndex` switches to once a collection is large
 * enough that scanning every point per query costs more than walking the graph (the crossover is
 * measured in BENCHMARKS.md § Vector index).
 *
 * Nodes are numbered densely and never move; a removed node stays in the graph as a waypoint (it is
 * never returned) until the owner rebuilds. An update replaces a node's vector and re-links it, the
 * way hnswlib's `updatePoint` does, so the small drifts of learned item embeddings keep the graph
 * navigable without rebuilding it. Scores are summed in the exact scan's order (`dotAt`), so a
 * point found by both has the same score in both.
 */

import { Random } from '../../util/random.js';

export interface HnswParameters {
  /** Links per node and level (2·m at level 0). */
  readonly m: number;
  /** Beam width while inserting. */
  readonly efConstruction: number;
  readonly seed: number;
}

export const DEFAULT_HNSW_PARAMETERS: HnswParameters = { m: 16, efConstruction: 128, seed: 1 };

/** The inner product in four partial sums, combined as (s0 + s1) + (s2 + s3): the exact scan's order. */
export function dotAt(
  a: Float32Array,
  aBase: number,
  b: Float32Array,
  bBase: number,
  dimension: number,
): number {
  const unrolled = dimension & ~3;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j < unrolled; j += 4) {
    s0 += b[bBase + j]! * a[aBase + j]!;
    s1 += b[bBase + j + 1]! * a[aBase + j + 1]!;
    s2 += b[bBase + j + 2]! * a[aBase + j + 2]!;
    s3 += b[bBase + j + 3]! * a[aBase + j + 3]!;
  }
  for (; j < dimension; j++) s0 += b[bBase + j]! * a[aBase + j]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * A binary heap of (node, score) pairs in typed arrays; `max` orders by the largest score at the
 * root, otherwise the smallest. Reused across searches.
 */
class NodeHeap {
  nodes = new Int32Array(64);
  scores = new Float64Array(64);
  size = 0;

  constructor(private readonly max: boolean) {}

  clear(): void {
    this.size = 0;
  }

  private above(a: number, b: number): boolean {
    return this.max ? a > b : a < b;
  }

  push(node: number, score: number): void {
    if (this.size === this.nodes.length) {
      const nodes = new Int32Array(this.size * 2);
      nodes.set(this.nodes);
      const scores = new Float64Array(this.size * 2);
      scores.set(this.scores);
      this.nodes = nodes;
      this.scores = scores;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(score, this.scores[parent]!)) break;
      this.nodes[i] = this.nodes[parent]!;
      this.scores[i] = this.scores[parent]!;
      i = parent;
    }
    this.nodes[i] = node;
    this.scores[i] = score;
  }

  /** Removes the root; read `nodes[0]` / `scores[0]` before calling. */
  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    const node = this.nodes[last]!;
    const score = this.scores[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let c = l;
      if (r < last && this.above(this.scores[r]!, this.scores[l]!)) c = r;
      if (!this.above(this.scores[c]!, score)) break;
      this.nodes[i] = this.nodes[c]!;
      this.scores[i] = this.scores[c]!;
      i = c;
    }
    this.nodes[i] = node;
    this.scores[i] = score;
  }
}

export class HnswGraph {
  private readonly m: number;
  private readonly m0: number;
  private readonly efConstruction: number;
  private readonly levelFactor: number;
  private readonly random: Random;
  private capacity = 0;
  private count = 0;
  private live = 0;
  vectors = new Float32Array(0);
  private levels = new Uint8Array(0);
  private removed = new Uint8Array(0);
  /** Level-0 links: node n's at [n·m0, n·m0 + linkCounts0[n]). */
  private links0 = new Int32Array(0);
  private linkCounts0 = new Uint8Array(0);
  /** Links at levels ≥ 1, per node: level l's at [(l − 1)·m, …), counts per level. */
  private readonly upperLinks: (Int32Array | null)[] = [];
  private readonly upperCounts: (Uint8Array | null)[] = [];
  private entry = -1;
  private topLevel = -1;
  private visited = new Uint32Array(0);
  private visitRound = 0;
  private readonly candidates = new NodeHeap(true);
  private readonly found = new NodeHeap(false);
  private readonly selection: number[] = [];
  private readonly selectionScores: number[] = [];

  constructor(
    readonly dimension: number,
    parameters: HnswParameters = DEFAULT_HNSW_PARAMETERS,
  ) {
    if (!Number.isInteger(parameters.m) || parameters.m < 2 || parameters.m > 127) {
      throw new RangeError(`hnsw m must be an integer 2–127, got ${parameters.m}`);
    }
    if (!Number.isInteger(parameters.efConstruction) || parameters.efConstruction < 1) {
      throw new RangeError(
        `hnsw efConstruction must be a positive integer, got ${parameters.efConstruction}`,
      );
    }
    this.m = parameters.m;
    this.m0 = 2 * parameters.m;
    this.efConstruction = parameters.efConstruction;
    this.levelFactor = 1 / Math.log(parameters.m);
    this.random = new Random(parameters.seed);
    this.grow(64);
  }

  /** Nodes ever added (removed ones included): the graph's size in memory. */
  get nodes(): number {
    return this.count;
  }

  /** Nodes not removed. */
  get size(): number {
    return this.live;
  }

  private grow(capacity: number): void {
    const d = this.dimension;
    const vectors = new Float32Array(capacity * d);
    vectors.set(this.vectors);
    this.vectors = vectors;
    const levels = new Uint8Array(capacity);
    levels.set(this.levels);
    this.levels = levels;
    const removed = new Uint8Array(capacity);
    removed.set(this.removed);
    this.removed = removed;
    const links0 = new Int32Array(capacity * this.m0);
    links0.set(this.links0);
    this.links0 = links0;
    const counts0 = new Uint8Array(capacity);
    counts0.set(this.linkCounts0);
    this.linkCounts0 = counts0;
    this.visited = new Uint32Array(capacity);
    this.visitRound = 0;
    this.capacity = capacity;
  }

  /** Adds a point (its vector copied) and returns its node number. */
  add(vector: Float32Array): number {
    if (this.count === this.capacity) this.grow(this.capacity * 2);
    const node = this.count++;
    this.live++;
    this.vectors.set(vector, node * this.dimension);
    const level = Math.min(32, Math.floor(-Math.log(1 - this.random.next()) * this.levelFactor));
    this.levels[node] = level;
    this.linkCounts0[node] = 0;
    if (level > 0) {
      this.upperLinks[node] = new Int32Array(level * this.m);
      this.upperCounts[node] = new Uint8Array(level);
    } else {
      this.upperLinks[node] = null;
      this.upperCounts[node] = null;
    }
    if (this.entry < 0) {
      this.entry = node;
      this.topLevel = level;
      return node;
    }
    this.link(node, level);
    if (level > this.topLevel) {
      this.topLevel = level;
      this.entry = node;
    }
    return node;
  }

  /** Replaces a node's vector and re-links it at every level it has. */
  update(node: number, vector: Float32Array): void {
    this.vectors.set(vector, node * this.dimension);
    if (node === this.entry && this.count === 1) return;
    this.link(node, this.levels[node]!);
  }

  /** Removes a node from results; it stays a waypoint. */
  remove(node: number): void {
    if (this.removed[node] === 1) return;
    this.removed[node] = 1;
    this.live--;
  }

  isRemoved(node: number): boolean {
    return this.removed[node] === 1;
  }

  /** Connects `node` (already holding its vector) to its nearest nodes at levels 0…level. */
  private link(node: number, level: number): void {
    const query = this.vectors;
    const base = node * this.dimension;
    let current = this.entry === node ? this.anyOtherNode(node) : this.entry;
    if (current < 0) return;
    let currentScore = this.similarity(query, base, current);
    for (let l = this.topLevel; l > level; l--) {
      [current, currentScore] = this.greedy(query, base, current, currentScore, l);
    }
    for (let l = Math.min(level, this.topLevel); l >= 0; l--) {
      this.searchLayer(query, base, current, currentScore, this.efConstruction, l, node, null);
      // found: a min-heap of the best efConstruction; drain it best-last into the selection.
      const selection = this.selection;
      const selectionScores = this.selectionScores;
      selection.length = 0;
      selectionScores.length = 0;
      while (this.found.size > 0) {
        selection.push(this.found.nodes[0]!);
        selectionScores.push(this.found.scores[0]!);
        this.found.pop();
      }
      selection.reverse();
      selectionScores.reverse();
      if (selection.length === 0) continue;
      const best = selection[0]!;
      const bestScore = selectionScores[0]!;
      const kept = this.selectNeighbours(selection, selectionScores, l === 0 ? this.m0 : this.m);
      this.setLinks(node, l, kept);
      for (const neighbour of kept) this.addReverseLink(neighbour, node, l);
      current = best;
      currentScore = bestScore;
    }
  }

  private anyOtherNode(node: number): number {
    for (let n = 0; n < this.count; n++) if (n !== node) return n;
    return -1;
  }

  private similarity(query: Float32Array, base: number, node: number): number {
    return dotAt(this.vectors, node * this.dimension, query, base, this.dimension);
  }

  /** Greedy walk at one level: moves to a better neighbour until none is. */
  private greedy(
    query: Float32Array,
    base: number,
    start: number,
    startScore: number,
    level: number,
  ): [number, number] {
    let current = start;
    let currentScore = startScore;
    for (let improved = true; improved; ) {
      improved = false;
      const links = this.linksOf(current, level);
      const count = this.linkCount(current, level);
      const offset = this.linkOffset(current, level);
      for (let i = 0; i < count; i++) {
        const neighbour = links[offset + i]!;
        const score = this.similarity(query, base, neighbour);
        if (score > currentScore) {
          currentScore = score;
          current = neighbour;
          improved = true;
        }
      }
    }
    return [current, currentScore];
  }

  private linksOf(node: number, level: number): Int32Array {
    return level === 0 ? this.links0 : this.upperLinks[node]!;
  }

  private linkOffset(node: number, level: number): number {
    return level === 0 ? node * this.m0 : (level - 1) * this.m;
  }

  private linkCount(node: number, level: number): number {
    return level === 0 ? this.linkCounts0[node]! : this.upperCounts[node]![level - 1]!;
  }

  private setLinkCount(node: number, level: number, count: number): void {
    if (level === 0) this.linkCounts0[node] = count;
    else this.upperCounts[node]![level - 1] = count;
  }

  private setLinks(node: number, level: number, neighbours: readonly number[]): void {
    const links = this.linksOf(node, level);
    const offset = this.linkOffset(node, level);
    for (let i = 0; i < neighbours.length; i++) links[offset + i] = neighbours[i]!;
    this.setLinkCount(node, level, neighbours.length);
  }

  private addReverseLink(from: number, to: number, level: number): void {
    if (from === to) return;
    const links = this.linksOf(from, level);
    const offset = this.linkOffset(from, level);
    const count = this.linkCount(from, level);
    for (let i = 0; i < count; i++) if (links[offset + i] === to) return;
    const limit = level === 0 ? this.m0 : this.m;
    if (count < limit) {
      links[offset + count] = to;
      this.setLinkCount(from, level, count + 1);
      return;
    }
    // Full: choose the best `limit` of the current links and the new one by the same heuristic
    // (limit² inner products: most of an insert's cost; replacing the least similar link instead
    // is 3× cheaper but cost 8–13 points of recall@100 on clustered vectors).
    const base = from * this.dimension;
    const ids: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = links[offset + i]!;
      ids.push(n);
      scores.push(this.similarity(this.vectors, base, n));
    }
    ids.push(to);
    scores.push(this.similarity(this.vectors, base, to));
    const order = ids.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || ids[a]! - ids[b]!);
    const kept = this.selectNeighbours(
      order.map((i) => ids[i]!),
      order.map((i) => scores[i]!),
      limit,
    );
    this.setLinks(from, level, kept);
  }

  /**
   * HNSW's neighbour heuristic: in order of similarity to the base, keep a candidate only if it is
   * closer to the base than to every neighbour kept so far (so links spread in every direction),
   * then fill up with the closest of those skipped.
   */
  private selectNeighbours(sorted: readonly number[], scores: readonly number[], limit: number): number[] {
    const kept: number[] = [];
    const skipped: number[] = [];
    const d = this.dimension;
    for (let i = 0; i < sorted.length && kept.length < limit; i++) {
      const candidate = sorted[i]!;
      const score = scores[i]!;
      let diverse = true;
      for (const k of kept) {
        if (dotAt(this.vectors, candidate * d, this.vectors, k * d, d) > score) {
          diverse = false;
          break;
        }
      }
      if (diverse) kept.push(candidate);
      else skipped.push(candidate);
    }
    for (let i = 0; i < skipped.length && kept.length < limit; i++) kept.push(skipped[i]!);
    return kept;
  }

  private nextVisitRound(): number {
    this.visitRound = (this.visitRound + 1) >>> 0;
    if (this.visitRound === 0) {
      this.visited.fill(0);
      this.visitRound = 1;
    }
    return this.visitRound;
  }

  /**
   * Beam search at one level from `start`: leaves in `found` (a min-heap) the best `ef` nodes that
   * pass `accept` (all but `exclude` when null). Rejected nodes are still walked through.
   */
  private searchLayer(
    query: Float32Array,
    base: number,
    start: number,
    startScore: number,
    ef: number,
    level: number,
    exclude: number,
    accept: ((node: number) => boolean) | null,
  ): void {
    const round = this.nextVisitRound();
    const visited = this.visited;
    const candidates = this.candidates;
    const found = this.found;
    candidates.clear();
    found.clear();
    visited[start] = round;
    candidates.push(start, startScore);
    if (start !== exclude && (accept === null || accept(start))) found.push(start, startScore);
    while (candidates.size > 0) {
      const node = candidates.nodes[0]!;
      const score = candidates.scores[0]!;
      if (found.size >= ef && score < found.scores[0]!) break;
      candidates.pop();
      const links = this.linksOf(node, level);
      const offset = this.linkOffset(node, level);
      const count = this.linkCount(node, level);
      for (let i = 0; i < count; i++) {
        const neighbour = links[offset + i]!;
        if (visited[neighbour] === round) continue;
        visited[neighbour] = round;
        const s = this.similarity(query, base, neighbour);
        if (found.size < ef || s > found.scores[0]!) {
          candidates.push(neighbour, s);
          if (neighbour !== exclude && (accept === null || accept(neighbour))) {
            found.push(neighbour, s);
            if (found.size > ef) found.pop();
          }
        }
      }
    }
  }

  /**
   * The best `limit` nodes by similarity to `query` among those `accept` admits (removed nodes never),
   * searched with beam width max(ef, limit); written best first to `outNodes` / `outScores`, returns
   * how many.
   */
  search(
    query: Float32Array,
    limit: number,
    ef: number,
    accept: (node: number) => boolean,
    outNodes: Int32Array,
    outScores: Float64Array,
  ): number {
    if (this.entry < 0 || limit <= 0) return 0;
    let current = this.entry;
    let currentScore = this.similarity(query, 0, current);
    for (let l = this.topLevel; l > 0; l--) {
      [current, currentScore] = this.greedy(query, 0, current, currentScore, l);
    }
    const removed = this.removed;
    this.searchLayer(
      query,
      0,
      current,
      currentScore,
      Math.max(ef, limit),
      0,
      -1,
      (node) => removed[node] === 0 && accept(node),
    );
    const found = this.found;
    while (found.size > limit) found.pop();
    const n = found.size;
    for (let i = n - 1; i >= 0; i--) {
      outNodes[i] = found.nodes[0]!;
      outScores[i] = found.scores[0]!;
      found.pop();
    }
    return n;
  }
}

import type { ClickEvent, ItemEvent } from '../../../streams/model/events.js';
import { hashString, Random } from '../../../streams/util/random.js';
import type { StreamingMethod } from '../harness.js';
import {
  checkOneOf,
  DecayedScores,
  ItemCatalogue,
  type LearnFrom,
  learnsFrom,
  SeenItems,
  TopK,
  topByScore,
} from './common.js';

export interface IsgdConfig {
  readonly factors: number;
  readonly learningRate: number;
  readonly regularization: number;
  /** Negative (target 0) updates per positive one; 0 is plain ISGD. */
  readonly negatives: number;
  /**
   * `stale`: RAISGD (Vinagre et al. 2015) — the items interacted with least recently, taken from the
   * head of a global recency queue and rotated to its tail. `popular`: drawn from the last 10,000
   * interactions, i.e. in proportion to recent popularity.
   */
  readonly negativeSampling: 'stale' | 'popular';
  /** `error`: ascending |1 − u·i| as in Vinagre et al. 2014; `score`: descending u·i. */
  readonly rankBy: 'error' | 'score';
  readonly learnFrom: LearnFrom;
  /** Standard deviation of the initial factors. */
  readonly initStd: number;
  readonly seed: number;
  /**
   * A user without factors yet gets the recency-decayed popularity list (hours of half-life; 0 =
   * counts): random factors would rank at random, a strawman rather than a baseline.
   */
  readonly fallbackHalfLifeHours: number;
}

export const DEFAULT_ISGD_CONFIG: IsgdConfig = {
  factors: 64,
  learningRate: 0.2,
  regularization: 0.001,
  negatives: 30,
  negativeSampling: 'stale',
  rankBy: 'score',
  learnFrom: 'all',
  initStd: 0.1,
  seed: 1,
  fallbackHalfLifeHours: 24,
};

const POPULAR_POOL = 10_000;

/**
 * ISGD (Vinagre, Jorge, Gama 2014, "Fast incremental matrix factorization for recommendation with
 * positive-only feedback"): one SGD step per event on the squared error of u·i against target 1,
 * plus negative steps against target 0 (RAISGD-style or popularity-sampled). Serving scores the full
 * catalogue with one dot product per item.
 */
export class IsgdMethod implements StreamingMethod {
  private readonly catalogue = new ItemCatalogue();
  private readonly seen = new SeenItems();
  private readonly users = new Map<string, Float32Array>();
  private itemFactors = new Float32Array(0);
  private readonly popularity: DecayedScores;
  private readonly heap = new TopK(20);
  private readonly random: Random;
  // The stale queue as a doubly linked list over item indices: head = least recently interacted.
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private head = -1;
  private tail = -1;
  private readonly pool: number[] = [];
  private poolCursor = 0;
  private readonly userGradient: Float32Array;

  constructor(
    private readonly config: IsgdConfig = DEFAULT_ISGD_CONFIG,
    readonly name = 'isgd',
  ) {
    if (!Number.isInteger(config.factors) || config.factors < 1) {
      throw new RangeError(`factors must be >= 1, got ${config.factors}`);
    }
    checkOneOf('negativeSampling', config.negativeSampling, ['stale', 'popular']);
    checkOneOf('rankBy', config.rankBy, ['error', 'score']);
    checkOneOf('learnFrom', config.learnFrom, ['all', 'positive']);
    this.popularity = new DecayedScores(config.fallbackHalfLifeHours);
    this.random = new Random(config.seed);
    this.userGradient = new Float32Array(config.factors);
  }

  start(catalog: readonly ItemEvent[]): void {
    for (const event of catalog) this.addItem(event.itemId, event);
  }

  catalog(event: ItemEvent): void {
    this.addItem(event.itemId, event);
  }

  serve(userId: string, k: number): string[] {
    const seen = this.seen.of(userId);
    const user = this.users.get(userId);
    if (user === undefined) {
      return topByScore(this.catalogue, this.popularity, seen, k, this.heap).map(
        (i) => this.catalogue.ids[i]!,
      );
    }
    const f = this.config.factors;
    const items = this.itemFactors;
    const byError = this.config.rankBy === 'error';
    const heap = this.heap;
    heap.reset(k);
    for (let i = 0; i < this.catalogue.size; i++) {
      if (!this.catalogue.isAvailable(i) || seen.has(i)) continue;
      let s = 0;
      const offset = i * f;
      for (let d = 0; d < f; d++) s += user[d]! * items[offset + d]!;
      heap.offer(i, byError ? -Math.abs(1 - s) : s);
    }
    return heap.sorted().map((i) => this.catalogue.ids[i]!);
  }

  learn(event: ClickEvent): void {
    const index = this.addItem(event.itemId, null);
    this.seen.add(event.userId, index);
    if (!learnsFrom(this.config.learnFrom, event.type)) return;
    this.popularity.add(index, 1, event.eventTime);
    let user = this.users.get(event.userId);
    if (user === undefined) {
      user = this.initialFactors(`user:${event.userId}`);
      this.users.set(event.userId, user);
    }
    const seen = this.seen.of(event.userId);
    for (let n = 0; n < this.config.negatives; n++) {
      const negative = this.drawNegative();
      if (negative < 0) break;
      if (negative !== index && !seen.has(negative) && this.catalogue.isAvailable(negative)) {
        this.step(user, negative, 0);
      }
    }
    this.step(user, index, 1);
    this.touch(index);
  }

  /** One SGD step on (target − u·i)² + λ(|u|² + |i|²). */
  private step(user: Float32Array, item: number, target: number): void {
    const f = this.config.factors;
    const items = this.itemFactors;
    const offset = item * f;
    let s = 0;
    for (let d = 0; d < f; d++) s += user[d]! * items[offset + d]!;
    const error = target - s;
    const rate = this.config.learningRate;
    const lambda = this.config.regularization;
    const gradient = this.userGradient;
    for (let d = 0; d < f; d++) {
      const u = user[d]!;
      const v = items[offset + d]!;
      gradient[d] = rate * (error * v - lambda * u);
      items[offset + d] = v + rate * (error * u - lambda * v);
    }
    for (let d = 0; d < f; d++) user[d] = user[d]! + gradient[d]!;
  }

  private drawNegative(): number {
    if (this.config.negativeSampling === 'popular') {
      return this.pool.length === 0 ? -1 : this.pool[this.random.int(this.pool.length)]!;
    }
    const stale = this.head;
    if (stale >= 0) this.touch(stale);
    return stale;
  }

  /** Marks an item as just interacted with: tail of the stale queue, one more entry in the popular pool. */
  private touch(index: number): void {
    if (this.config.negativeSampling === 'popular') {
      if (this.pool.length < POPULAR_POOL) this.pool.push(index);
      else {
        this.pool[this.poolCursor] = index;
        this.poolCursor = (this.poolCursor + 1) % POPULAR_POOL;
      }
      return;
    }
    if (index === this.tail) return;
    const p = this.prev[index]!;
    const n = this.next[index]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    this.prev[index] = this.tail;
    this.next[index] = -1;
    if (this.tail >= 0) this.next[this.tail] = index;
    this.tail = index;
    if (this.head < 0) this.head = index;
  }

  private addItem(itemId: string, event: ItemEvent | null): number {
    const before = this.catalogue.size;
    const index = event === null ? this.catalogue.ensure(itemId) : this.catalogue.apply(event);
    if (index < before) return index;
    const f = this.config.factors;
    if ((index + 1) * f > this.itemFactors.length) {
      const capacity = Math.max(index + 1, 2 * (this.itemFactors.length / f), 1024);
      const factors = new Float32Array(capacity * f);
      factors.set(this.itemFactors);
      this.itemFactors = factors;
      const next = new Int32Array(capacity).fill(-1);
      next.set(this.next);
      this.next = next;
      const prev = new Int32Array(capacity).fill(-1);
      prev.set(this.prev);
      this.prev = prev;
    }
    this.itemFactors.set(this.initialFactors(`item:${itemId}`), index * f);
    // A new item enters the stale queue at its head: nobody has interacted with it yet.
    this.prev[index] = -1;
    this.next[index] = this.head;
    if (this.head >= 0) this.prev[this.head] = index;
    this.head = index;
    if (this.tail < 0) this.tail = index;
    return index;
  }

  /** Seeded by the id, so an entity's initial factors do not depend on the order it first appears in. */
  private initialFactors(key: string): Float32Array {
    const random = new Random(hashString(key, this.config.seed));
    const v = new Float32Array(this.config.factors);
    for (let d = 0; d < v.length; d++) v[d] = random.normal() * this.config.initStd;
    return v;
  }
}

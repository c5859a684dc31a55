import type { RankingStateRecord } from '../codec/state-records.js';
import { Random } from '../util/random.js';
import type { ModelConfig } from './model-config.js';
import { sigmoid } from './vector-math.js';

/** The ranking signals, in the order the weight vector stores them. */
export const RANKING_FEATURES = [
  'longTerm',
  'shortTerm',
  'coVisitation',
  'sequence',
  'nextItem',
  'sessionKnn',
  'popularity',
  'category',
] as const;

export type RankingFeature = (typeof RANKING_FEATURES)[number];
export const FEATURE_COUNT = RANKING_FEATURES.length;

/** One user's last candidate pool: what their next pick is learned against. */
interface PoolSnapshot {
  readonly ids: readonly string[];
  /** ids.length × FEATURE_COUNT, row-major, in RANKING_FEATURES order. */
  readonly features: Float32Array;
}

/**
 * The ranking weights, learned online from what users pick (pairwise logistic regression).
 *
 * Each list Eddy ranks leaves a snapshot of its whole candidate pool. When the user's next
 * interaction picks an item of that pool, the pick is compared with candidates drawn uniformly from
 * the same pool, and the weights move to score the pick above them. Uniform draws matter: comparing
 * with the served top items only (or with those outranking the pick) teaches the ranker to distrust
 * whatever put them on top, and the weights collapse towards zero. Each step also pulls the weights
 * back towards the configured ones (L2), so the configuration is the prior, and a signal configured
 * at 0 stays off (how ablations switch signals off).
 *
 * Pools are kept for the most recently ranked users only, so memory is bounded however many users
 * there are; a pick with no pool (first list, evicted, or a restart) is simply not learned from.
 */
export class RankingLearner {
  /** Current weights, in RANKING_FEATURES order; the ranking reads them directly. */
  readonly weights: Float64Array;
  private readonly prior: Float64Array;
  private readonly pools = new Map<string, PoolSnapshot>();
  private readonly random: Random;
  private readonly difference = new Float64Array(FEATURE_COUNT);
  private readonly scratch = new Float64Array(FEATURE_COUNT);
  private readonly settings: ModelConfig['ranking']['learning'];
  /** Picks learned from so far. */
  updates = 0;

  constructor(config: ModelConfig) {
    this.settings = config.ranking.learning;
    this.prior = Float64Array.from(RANKING_FEATURES, (f) => config.ranking.weights[f]);
    this.weights = Float64Array.from(this.prior);
    this.random = new Random(config.embedding.seed ^ 0x5eed);
  }

  get enabled(): boolean {
    return this.settings.rate > 0;
  }

  /** Users with a pool waiting for their next pick. */
  get pendingPools(): number {
    return this.pools.size;
  }

  /** The candidate pool a user's next pick will be learned against (for inspection). */
  poolOf(userId: string): Readonly<PoolSnapshot> | undefined {
    return this.pools.get(userId);
  }

  weight(feature: RankingFeature): number {
    return this.weights[RANKING_FEATURES.indexOf(feature)]!;
  }

  /** The current weights by signal name. */
  byName(): Record<RankingFeature, number> {
    const named = {} as Record<RankingFeature, number>;
    RANKING_FEATURES.forEach((feature, k) => {
      named[feature] = this.weights[k]!;
    });
    return named;
  }

  /** Keeps the pool the user was just ranked against, replacing any older one. */
  remember(userId: string, ids: readonly string[], features: Float32Array): void {
    if (!this.enabled) return;
    if (features.length !== ids.length * FEATURE_COUNT) {
      throw new RangeError(
        `a pool of ${ids.length} needs ${ids.length * FEATURE_COUNT} features, got ${features.length}`,
      );
    }
    this.pools.delete(userId);
    this.pools.set(userId, { ids, features });
    if (this.pools.size > this.settings.pendingUsers) {
      const oldest = this.pools.keys().next();
      if (!oldest.done) this.pools.delete(oldest.value);
    }
  }

  /**
   * What the user picking `itemId` teaches the weights, against the pool they were last ranked
   * with (which is then dropped), written into `step` (FEATURE_COUNT entries) as the change to add
   * to the weights. The weights themselves are not touched: every replica of the model adds the
   * same step in the same order (`applyStep`), so the instance that saw the pick does too. A pick
   * from outside the pool says nothing about how to order it: returns false, `step` untouched.
   */
  learn(userId: string, itemId: string, step: Float64Array): boolean {
    const pool = this.pools.get(userId);
    if (pool === undefined) return false;
    this.pools.delete(userId);
    const picked = pool.ids.indexOf(itemId);
    if (picked < 0 || pool.ids.length < 2) return false;
    const { rate, negatives, regularization } = this.settings;
    const w = this.scratch;
    w.set(this.weights);
    const d = this.difference;
    const f = pool.features;
    const positive = picked * FEATURE_COUNT;
    for (let n = 0; n < negatives; n++) {
      let row = this.random.int(pool.ids.length - 1);
      if (row >= picked) row++;
      const negative = row * FEATURE_COUNT;
      let margin = 0;
      for (let k = 0; k < FEATURE_COUNT; k++) {
        d[k] = f[positive + k]! - f[negative + k]!;
        margin += w[k]! * d[k]!;
      }
      // Gradient of log σ(margin): large while the pick does not yet outscore the other candidate.
      const gradient = rate * (1 - sigmoid(margin));
      for (let k = 0; k < FEATURE_COUNT; k++) {
        if (this.prior[k] === 0) continue;
        w[k] = w[k]! + gradient * d[k]! - rate * regularization * (w[k]! - this.prior[k]!);
      }
    }
    for (let k = 0; k < FEATURE_COUNT; k++) step[k] = w[k]! - this.weights[k]!;
    return true;
  }

  /** Adds a step `learn` computed (here or on another instance) to the weights. */
  applyStep(step: ArrayLike<number>): void {
    for (let k = 0; k < FEATURE_COUNT && k < step.length; k++) {
      if (this.prior[k] === 0) continue;
      this.weights[k] = this.weights[k]! + step[k]!;
    }
    this.updates++;
  }

  toRecord(): RankingStateRecord {
    return { features: [...RANKING_FEATURES], weights: Array.from(this.weights), updates: this.updates };
  }

  /**
   * Restores learned weights by feature name: a feature the record lacks keeps its prior, one this
   * version does not know is ignored, and one switched off in this configuration stays off.
   */
  restore(record: RankingStateRecord): void {
    record.features.forEach((name, i) => {
      const k = RANKING_FEATURES.indexOf(name as RankingFeature);
      const value = record.weights[i];
      if (k >= 0 && value !== undefined && Number.isFinite(value) && this.prior[k] !== 0) {
        this.weights[k] = value;
      }
    });
    this.updates = record.updates;
  }
}

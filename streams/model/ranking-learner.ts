import type { RankingStateRecord } from '../codec/state-records.js';
import { Random } from '../util/random.js';
import { topIndicesByValue } from '../util/top-k.js';
import { engagementStrength, type ModelConfig } from './model-config.js';
import type { UserPreferences } from './user-preferences.js';
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

/**
 * Writes one candidate's features at `offset` of a pool's rows, in RANKING_FEATURES order. Spelled
 * out rather than looped over the names: a keyed read per feature cost more than the rest of the
 * copy on the hot path (the unit test ties this order to RANKING_FEATURES).
 */
export function writeFeatureRow(
  rows: Float32Array,
  offset: number,
  f: Readonly<Record<RankingFeature, number>>,
): void {
  rows[offset] = f.longTerm;
  rows[offset + 1] = f.shortTerm;
  rows[offset + 2] = f.coVisitation;
  rows[offset + 3] = f.sequence;
  rows[offset + 4] = f.nextItem;
  rows[offset + 5] = f.sessionKnn;
  rows[offset + 6] = f.popularity;
  rows[offset + 7] = f.category;
}

/**
 * The contexts a list is ranked in, which the weights are conditioned on: how many items the
 * user's current session holds (0, 1, 2, 3–4, 5+; a session ends at a gap longer than
 * `ranking.learning.sessionGapMs`), and whether the user has history before it. What predicts the
 * next click differs between them: after one click only item-to-item signals know anything, in a
 * long session the session's neighbours do, and a returning user's taste lives in their history.
 */
export const SESSION_BUCKETS = 5;
export const CONTEXT_COUNT = SESSION_BUCKETS * 2;
/** Readable names of the contexts, by index: `new` or `returning` user, then the session's length. */
export const CONTEXT_NAMES: readonly string[] = ['new', 'returning'].flatMap((user) =>
  ['0', '1', '2', '3-4', '5+'].map((session) => `${user}:${session}`),
);

/** Entries of a ranking step: the shared weights' change, then the context's own. */
export const RANKING_STEP_LENGTH = 2 * FEATURE_COUNT;

/** The ranking context of `user` as of their latest interaction (see CONTEXT_COUNT). */
export function rankingContext(user: UserPreferences, config: ModelConfig): number {
  const gap = config.ranking.learning.sessionGapMs;
  // Engaged items back from the newest, up to the first gap longer than a session allows.
  let session = 0;
  let newer = Number.NaN;
  for (let r = user.recent.length - 1; r >= 0; r--) {
    const interaction = user.recent[r]!;
    if (engagementStrength(config, interaction.type) <= 0) continue;
    if (newer - interaction.time > gap) break;
    session++;
    newer = interaction.time;
  }
  const bucket = session === 0 ? 0 : session === 1 ? 1 : session === 2 ? 2 : session <= 4 ? 3 : 4;
  const history = user.events > session ? 1 : 0;
  return history * SESSION_BUCKETS + bucket;
}

/** One user's last candidate pool: what their next pick is learned against. */
interface PoolSnapshot {
  readonly context: number;
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
  /** The shared weights, in RANKING_FEATURES order. */
  readonly weights: Float64Array;
  /**
   * Per context, its offset from the shared weights (CONTEXT_COUNT × FEATURE_COUNT, row-major): a
   * list in context c is ranked with weights + offsets[c]. Offsets start at 0 and are pulled back
   * towards it, so a context seldom seen ranks with the shared weights.
   */
  readonly contextOffsets: Float64Array;
  private readonly prior: Float64Array;
  private readonly effective = new Float64Array(FEATURE_COUNT);
  private readonly offsetScratch = new Float64Array(FEATURE_COUNT);
  private readonly pools = new Map<string, PoolSnapshot>();
  private readonly random: Random;
  private readonly difference = new Float64Array(FEATURE_COUNT);
  private readonly scratch = new Float64Array(FEATURE_COUNT);
  /** Scratch of `topRows`. */
  private rowScores = new Float64Array(0);
  private topScratch = new Int32Array(0);
  private readonly settings: ModelConfig['ranking']['learning'];
  /** Picks learned from so far. */
  updates = 0;

  constructor(config: ModelConfig) {
    this.settings = config.ranking.learning;
    this.prior = Float64Array.from(RANKING_FEATURES, (f) => config.ranking.weights[f]);
    this.weights = Float64Array.from(this.prior);
    this.contextOffsets = new Float64Array(CONTEXT_COUNT * FEATURE_COUNT);
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

  /** The weights a list in `context` is ranked with, by signal name (the shared ones without a context). */
  byName(context?: number): Record<RankingFeature, number> {
    const weights = context === undefined ? this.weights : this.weightsIn(context);
    const named = {} as Record<RankingFeature, number>;
    RANKING_FEATURES.forEach((feature, k) => {
      named[feature] = weights[k]!;
    });
    return named;
  }

  /** The shared weights plus the context's offsets: scratch, valid until the next call. */
  weightsIn(context: number): Float64Array {
    const at = checkedContext(context) * FEATURE_COUNT;
    for (let k = 0; k < FEATURE_COUNT; k++) {
      this.effective[k] = this.weights[k]! + this.contextOffsets[at + k]!;
    }
    return this.effective;
  }

  /** Keeps the pool the user was just ranked against (in `context`), replacing any older one. */
  remember(userId: string, ids: readonly string[], features: Float32Array, context = 0): void {
    if (!this.enabled) return;
    if (features.length !== ids.length * FEATURE_COUNT) {
      throw new RangeError(
        `a pool of ${ids.length} needs ${ids.length * FEATURE_COUNT} features, got ${features.length}`,
      );
    }
    this.pools.delete(userId);
    this.pools.set(userId, { context: checkedContext(context), ids, features });
    if (this.pools.size > this.settings.pendingUsers) {
      const oldest = this.pools.keys().next();
      if (!oldest.done) this.pools.delete(oldest.value);
    }
  }

  /**
   * What the user picking `itemId` teaches the weights, against the pool they were last ranked
   * with (which is then dropped), written into `step` (RANKING_STEP_LENGTH entries: the shared
   * weights' change, then the pool's context's) as the change to add. The weights themselves are
   * not touched: every replica of the model adds the same step in the same order (`applyStep`), so
   * the instance that saw the pick does too. Returns the pool's context, or −1 when the pick taught
   * nothing (no pool, or a pick from outside it, which says nothing about how to order it).
   */
  learn(userId: string, itemId: string, step: Float64Array): number {
    const pool = this.pools.get(userId);
    if (pool === undefined) return -1;
    this.pools.delete(userId);
    const picked = pool.ids.indexOf(itemId);
    if (picked < 0 || pool.ids.length < 2) return -1;
    const { rate, negatives, regularization, contextRate } = this.settings;
    const w = this.scratch;
    w.set(this.weights);
    const o = this.offsetScratch;
    const at = pool.context * FEATURE_COUNT;
    for (let k = 0; k < FEATURE_COUNT; k++) o[k] = this.contextOffsets[at + k]!;
    const d = this.difference;
    const f = pool.features;
    const positive = picked * FEATURE_COUNT;
    const hard = Math.min(this.settings.hardNegatives, negatives);
    const top = hard > 0 ? this.topRows(pool, w, o, picked) : null;
    for (let n = 0; n < negatives; n++) {
      let row: number;
      if (top !== null && n < hard && top.length > 0) row = top[this.random.int(top.length)]!;
      else {
        row = this.random.int(pool.ids.length - 1);
        if (row >= picked) row++;
      }
      const negative = row * FEATURE_COUNT;
      let margin = 0;
      for (let k = 0; k < FEATURE_COUNT; k++) {
        d[k] = f[positive + k]! - f[negative + k]!;
        margin += (w[k]! + o[k]!) * d[k]!;
      }
      // Gradient of log σ(margin): large while the pick does not yet outscore the other candidate.
      const gradient = rate * (1 - sigmoid(margin));
      for (let k = 0; k < FEATURE_COUNT; k++) {
        if (this.prior[k] === 0) continue;
        w[k] = w[k]! + gradient * d[k]! - rate * regularization * (w[k]! - this.prior[k]!);
        o[k] = o[k]! + contextRate * gradient * d[k]! - rate * regularization * o[k]!;
      }
    }
    for (let k = 0; k < FEATURE_COUNT; k++) {
      step[k] = w[k]! - this.weights[k]!;
      step[FEATURE_COUNT + k] = o[k]! - this.contextOffsets[at + k]!;
    }
    return pool.context;
  }

  /**
   * The pool's `hardNegativeTop` best rows under weights `w` + offsets `o`, the pick excluded (ties
   * by id), in scratch valid until the next call.
   */
  private topRows(pool: PoolSnapshot, w: Float64Array, o: Float64Array, picked: number): Int32Array {
    const n = pool.ids.length;
    if (this.rowScores.length < n) this.rowScores = new Float64Array(n * 2);
    const k = Math.min(this.settings.hardNegativeTop, n - 1);
    if (this.topScratch.length < k) this.topScratch = new Int32Array(k);
    const f = pool.features;
    for (let row = 0; row < n; row++) {
      let score = 0;
      for (let j = 0; j < FEATURE_COUNT; j++) score += (w[j]! + o[j]!) * f[row * FEATURE_COUNT + j]!;
      this.rowScores[row] = row === picked ? Number.NEGATIVE_INFINITY : score;
    }
    const count = topIndicesByValue(this.rowScores, pool.ids, n, k, this.topScratch);
    return this.topScratch.subarray(0, count);
  }

  /**
   * Adds a step `learn` computed (here or on another instance) to the weights: its first
   * FEATURE_COUNT entries to the shared weights, the rest (when present) to `context`'s offsets.
   */
  applyStep(step: ArrayLike<number>, context = 0): void {
    const at = checkedContext(context) * FEATURE_COUNT;
    for (let k = 0; k < FEATURE_COUNT; k++) {
      if (this.prior[k] === 0) continue;
      if (k < step.length) this.weights[k] = this.weights[k]! + step[k]!;
      if (FEATURE_COUNT + k < step.length) {
        this.contextOffsets[at + k] = this.contextOffsets[at + k]! + step[FEATURE_COUNT + k]!;
      }
    }
    this.updates++;
  }

  toRecord(): RankingStateRecord {
    return {
      features: [...RANKING_FEATURES],
      weights: Array.from(this.weights),
      contextOffsets: Array.from(this.contextOffsets),
      updates: this.updates,
    };
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
    // Offsets are stored context by context in the record's feature order.
    const offsets = record.contextOffsets ?? [];
    if (offsets.length === CONTEXT_COUNT * record.features.length) {
      record.features.forEach((name, i) => {
        const k = RANKING_FEATURES.indexOf(name as RankingFeature);
        if (k < 0 || this.prior[k] === 0) return;
        for (let c = 0; c < CONTEXT_COUNT; c++) {
          const value = offsets[c * record.features.length + i]!;
          if (Number.isFinite(value)) this.contextOffsets[c * FEATURE_COUNT + k] = value;
        }
      });
    }
    this.updates = record.updates;
  }
}

function checkedContext(context: number): number {
  if (!Number.isInteger(context) || context < 0 || context >= CONTEXT_COUNT) {
    throw new RangeError(`a ranking context is an integer in [0, ${CONTEXT_COUNT}), got ${context}`);
  }
  return context;
}

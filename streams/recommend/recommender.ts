import { NeighbourScores } from '../model/co-visitation.js';
import type { EddyModel } from '../model/eddy-model.js';
import type { CandidateSource, RecommendedItem } from '../model/events.js';
import type { ItemProfile } from '../model/item-model.js';
import { engagementStrength } from '../model/model-config.js';
import {
  FEATURE_COUNT,
  type RankingFeature,
  rankingContext,
  writeFeatureRow,
} from '../model/ranking-learner.js';
import { categoryScore, strongestCategoryAffinity, type UserPreferences } from '../model/user-preferences.js';
import { isZero, normalizeInto } from '../model/vector-math.js';
import type { ScoredPoint, VectorQuery, VectorStore } from '../ports/vector-store.js';
import { topIndicesByValue } from '../util/top-k.js';
import { diversify } from './diversify.js';

export const ITEM_AVAILABLE_FIELD = 'available';
export const ITEM_CATEGORIES_FIELD = 'categories';

/** The signals one candidate is scored on; each in a comparable range (≈ [-1, 1] or [0, 1]). */
export type CandidateFeatures = Record<RankingFeature, number>;

export interface Candidate {
  readonly item: ItemProfile;
  /** The retrieval source that proposed the candidate first. */
  readonly retrievedBy: CandidateSource;
  readonly features: CandidateFeatures;
  score: number;
  /** The signal that contributed most to `score`: what the list reports as the item's source. */
  source: CandidateSource;
}

class PooledCandidate implements Candidate {
  item: ItemProfile;
  retrievedBy: CandidateSource;
  readonly features: CandidateFeatures = {
    longTerm: 0,
    shortTerm: 0,
    coVisitation: 0,
    sequence: 0,
    nextItem: 0,
    sessionKnn: 0,
    popularity: 0,
    category: 0,
  };
  score = 0;
  source: CandidateSource;

  constructor(item: ItemProfile, source: CandidateSource) {
    this.item = item;
    this.retrievedBy = source;
    this.source = source;
  }

  reset(item: ItemProfile, source: CandidateSource): void {
    this.item = item;
    this.retrievedBy = source;
    this.source = source;
    this.score = 0;
    const f = this.features;
    f.longTerm = 0;
    f.shortTerm = 0;
    f.coVisitation = 0;
    f.sequence = 0;
    f.nextItem = 0;
    f.sessionKnn = 0;
    f.popularity = 0;
    f.category = 0;
  }
}

/** Numbers the lists ranked in this process, so an item's `candidateRound` names one list whichever Recommender ranked it. */
let candidateRounds = 0;

/** The signal switches the ranking uses; ablations turn them off by zeroing a weight. */
export type RankingWeights = EddyModel['config']['ranking']['weights'];

/**
 * Retrieval and ranking for a batch of users: one batched k-NN call to the vector store for all
 * users' long- and short-term vectors (seen and unavailable items filtered inside the query),
 * co-visitation neighbours of recent items and trending items added, every candidate scored on
 * all signals, then a diversity pass picks the list.
 */
export class Recommender {
  private readonly userLongTerm: Float32Array;
  private readonly userShortTerm: Float32Array;
  /** Reused per list: the co-visitation accumulation and the scratch its selection reads. */
  private readonly neighbourScores = new NeighbourScores();
  private readonly neighbourIds: string[] = [];
  /** Reused per list: the user's recent engaged items, oldest first (the session-kNN query). */
  private readonly sessionItems: string[] = [];
  private neighbourValues = new Float64Array(1024);
  /**
   * Reused per list: the candidates, in order of admission, `candidatesUsed` of them (an item's
   * slot is on the item itself, `ItemProfile.candidateSlot`, valid for its `candidateRound`).
   */
  private readonly candidatePool: PooledCandidate[] = [];
  private candidatesUsed = 0;
  /** Reused per list: scores and ids of the candidates, for `bestCandidates`. */
  private poolScores = new Float64Array(256);
  private readonly poolIds: string[] = [];
  /** Reused per list: the order `admitTop` and `bestCandidates` select into. */
  private topOrder = new Int32Array(128);

  constructor(
    private readonly model: EddyModel,
    private readonly vectorStore: VectorStore,
    private readonly itemsCollection: string,
  ) {
    const d = model.config.dimension;
    this.userLongTerm = new Float32Array(d);
    this.userShortTerm = new Float32Array(d);
  }

  /**
   * Lists for `users`, `listSize` items each (default: the configured K). `learn: false` leaves the
   * ranking learner alone: a list computed on request (an interactive query) was never served, so
   * the user's next pick must be learned against the pool of the list the stream emitted.
   */
  async recommend(
    users: readonly UserPreferences[],
    listSize?: number,
    options: { readonly learn?: boolean } = {},
  ): Promise<RecommendedItem[][]> {
    const { queries, owners } = this.buildQueries(users, listSize);
    const results =
      queries.length > 0 ? await this.vectorStore.queryBatch(this.itemsCollection, queries) : [];
    const perUser: ScoredPoint[][][] = users.map(() => []);
    for (let q = 0; q < results.length; q++) perUser[owners[q]!]!.push(results[q]!);
    return users.map((user, u) => this.rank(user, perUser[u]!, listSize, options.learn ?? true));
  }

  buildQueries(
    users: readonly UserPreferences[],
    listSize = this.model.config.ranking.listSize,
  ): { queries: VectorQuery[]; owners: number[] } {
    // Never retrieve fewer candidates than the list needs.
    const vectorCandidates = Math.max(this.model.config.retrieval.vectorCandidates, listSize);
    const excludeSeen = this.model.config.ranking.excludeSeen;
    const queries: VectorQuery[] = [];
    const owners: number[] = [];
    users.forEach((user, u) => {
      const filter = {
        ...(excludeSeen ? { excludeIds: user.seen } : {}),
        must: [{ key: ITEM_AVAILABLE_FIELD, value: true }],
      };
      const weights = this.model.config.ranking.weights;
      if (weights.longTerm !== 0 && !isZero(user.longTerm)) {
        queries.push({ vector: user.longTerm, limit: vectorCandidates, filter });
        owners.push(u);
      }
      if (weights.shortTerm !== 0 && !isZero(user.shortTerm)) {
        queries.push({ vector: user.shortTerm, limit: vectorCandidates, filter });
        owners.push(u);
      }
    });
    return { queries, owners };
  }

  /** Scores and diversifies one user's candidates. Synchronous and deterministic given the model state. */
  rank(
    user: UserPreferences,
    vectorResults: readonly ScoredPoint[][],
    listSize = this.model.config.ranking.listSize,
    learn = true,
  ): RecommendedItem[] {
    this.gatherCandidates(user, vectorResults);
    const context = rankingContext(user, this.model.config);
    this.score(user, context);
    if (learn && this.model.ranking.enabled) this.rememberPool(user.userId, context);
    const { diversityLambda, diversityPool } = this.model.config.ranking;
    const picked = diversify(
      this.bestCandidates(Math.max(diversityPool, listSize)),
      {
        size: listSize,
        lambda: diversityLambda,
        poolSize: diversityPool,
        dimension: this.model.config.dimension,
      },
      // The target vectors score() read, still cached on the items (nothing changed them since).
      (c) => this.model.items.cachedTargetVector(c.item),
    );
    return picked.map((c, i) => ({ itemId: c.item.itemId, score: c.score, rank: i + 1, source: c.source }));
  }

  /**
   * The `m` best-scored candidates of the list being ranked (ties by id, as MMR orders them), so
   * MMR selects its pool from them rather than copying and sorting every candidate.
   */
  private bestCandidates(m: number): Candidate[] {
    const used = this.candidatesUsed;
    if (this.poolScores.length < used) {
      this.poolScores = new Float64Array(used * 2);
    }
    const scores = this.poolScores;
    const ids = this.poolIds;
    const pool = this.candidatePool;
    for (let i = 0; i < used; i++) {
      scores[i] = pool[i]!.score;
      ids[i] = pool[i]!.item.itemId;
    }
    if (this.topOrder.length < m) this.topOrder = new Int32Array(m);
    const count = topIndicesByValue(scores, ids, used, m, this.topOrder);
    const best: Candidate[] = new Array(count);
    for (let i = 0; i < count; i++) best[i] = pool[this.topOrder[i]!]!;
    return best;
  }

  private rememberPool(userId: string, context: number): void {
    const used = this.candidatesUsed;
    const ids: string[] = new Array(used);
    const features = new Float32Array(used * FEATURE_COUNT);
    for (let i = 0; i < used; i++) {
      const c = this.candidatePool[i]!;
      ids[i] = c.item.itemId;
      writeFeatureRow(features, i * FEATURE_COUNT, c.features);
    }
    this.model.ranking.remember(userId, ids, features, context);
  }

  private gatherCandidates(user: UserPreferences, vectorResults: readonly ScoredPoint[][]): void {
    const { retrieval, ranking } = this.model.config;
    // Reused per list, with the Candidate objects: a list admits hundreds, and nothing holds on to
    // them once rank() returns (the learner copies their features, the list their ids and scores).
    this.candidatesUsed = 0;
    const round = ++candidateRounds;
    const items = this.model.items;
    const pool = this.candidatePool;
    const admit = (itemId: string, source: CandidateSource): Candidate | undefined => {
      const item = items.get(itemId);
      if (item === undefined) return undefined;
      if (item.candidateRound === round) return pool[item.candidateSlot];
      if (ranking.excludeSeen && user.seen.has(itemId)) return undefined;
      if (!item.available) return undefined;
      let candidate = pool[this.candidatesUsed];
      if (candidate === undefined) {
        candidate = new PooledCandidate(item, source);
        pool.push(candidate);
      } else {
        candidate.reset(item, source);
      }
      item.candidateRound = round;
      item.candidateSlot = this.candidatesUsed++;
      return candidate;
    };

    // Vector results come in the order the queries were built: long-term first when present.
    let q = 0;
    if (ranking.weights.longTerm !== 0 && !isZero(user.longTerm)) {
      for (const hit of vectorResults[q++] ?? []) admit(hit.id, 'long_term');
    }
    if (ranking.weights.shortTerm !== 0 && !isZero(user.shortTerm)) {
      for (const hit of vectorResults[q++] ?? []) admit(hit.id, 'short_term');
    }

    const { coVisitation, sequence, nextItem, sessionKnn } = ranking.weights;
    const itemToItem = coVisitation !== 0 || sequence !== 0 || nextItem !== 0;
    const scores = itemToItem ? this.coVisitationScores(user) : null;
    let windowMax = 0;
    let sequentialMax = 0;
    let nextMax = 0;
    if (scores !== null) {
      if (coVisitation !== 0) windowMax = this.admitNeighbours(scores, 'window', admit);
      if (sequence !== 0) sequentialMax = this.admitNeighbours(scores, 'sequential', admit);
      if (nextItem !== 0) nextMax = this.admitNeighbours(scores, 'next', admit);
    }
    const sessionMax = sessionKnn !== 0 ? this.admitSessionNeighbours(user, admit) : 0;

    let trendingAdded = 0;
    for (const itemId of this.model.trending.topItems()) {
      if (trendingAdded >= retrieval.trendingCandidates) break;
      if (admit(itemId, 'trending')) trendingAdded++;
    }

    // Item-to-item features of every candidate, whichever source admitted it, each signal divided
    // by its best score: one lookup per candidate, not one per scored neighbour.
    if (scores === null && sessionMax <= 0) return;
    const coVisitationModel = this.model.coVisitation;
    const sessions = this.model.sessions;
    for (let i = 0; i < this.candidatesUsed; i++) {
      const c = pool[i]!;
      const f = c.features;
      if (scores !== null) {
        const t = coVisitationModel.accumulated(c.item.itemId, scores);
        if (t !== undefined) {
          if (windowMax > 0 && t.inWindow) f.coVisitation = t.window / windowMax;
          if (sequentialMax > 0 && t.inSequential) f.sequence = t.sequential / sequentialMax;
          if (nextMax > 0 && t.inNext) f.nextItem = t.next / nextMax;
        }
      }
      if (sessionMax > 0) f.sessionKnn = sessions.scoreOf(c.item.itemId) / sessionMax;
    }
  }

  /** Admits the best-scored neighbours of one kind; returns the best score (0: none). */
  private admitNeighbours(
    scores: NeighbourScores,
    kind: 'window' | 'sequential' | 'next',
    admit: (itemId: string, source: CandidateSource) => Candidate | undefined,
  ): number {
    const ids = this.neighbourIds;
    let values = this.neighbourValues;
    if (values.length < scores.touched.length) {
      values = new Float64Array(scores.touched.length * 2);
      this.neighbourValues = values;
    }
    let n = 0;
    let max = 0;
    for (const t of scores.touched) {
      let value: number;
      if (kind === 'window') {
        if (!t.inWindow) continue;
        value = t.window;
      } else if (kind === 'sequential') {
        if (!t.inSequential) continue;
        value = t.sequential;
      } else {
        if (!t.inNext) continue;
        value = t.next;
      }
      ids[n] = t.itemId;
      values[n++] = value;
      if (value > max) max = value;
    }
    this.admitTop(ids, values, n, this.model.config.retrieval.coVisitationCandidates, admit);
    return max;
  }

  /** Admits the `limit` best of the first `n` scored items (value desc, ties by id) as co-visitation. */
  private admitTop(
    ids: readonly string[],
    values: ArrayLike<number>,
    n: number,
    limit: number,
    admit: (itemId: string, source: CandidateSource) => Candidate | undefined,
  ): void {
    if (this.topOrder.length < limit) this.topOrder = new Int32Array(limit);
    const order = this.topOrder;
    const count = topIndicesByValue(values, ids, n, limit, order);
    for (let i = 0; i < count; i++) admit(ids[order[i]!]!, 'co_visitation');
  }

  /**
   * Admits the best session-kNN items (votes of the sessions most like the user's recent engaged
   * items); returns the best score (0: none).
   */
  private admitSessionNeighbours(
    user: UserPreferences,
    admit: (itemId: string, source: CandidateSource) => Candidate | undefined,
  ): number {
    const session = this.sessionItems;
    session.length = 0;
    for (const interaction of user.recent) {
      if (engagementStrength(this.model.config, interaction.type) > 0) session.push(interaction.itemId);
    }
    if (session.length === 0) return 0;
    const scores = this.model.sessions.score(user.userId, session, this.model.streamTime);
    if (scores.count === 0 || scores.max <= 0) return 0;
    // Session-kNN is an item-to-item signal too: its candidates report as co-visitation.
    this.admitTop(
      scores.items,
      scores.values,
      scores.count,
      this.model.config.retrieval.sessionCandidates,
      admit,
    );
    return scores.max;
  }

  /**
   * Co-visitation neighbours of the user's most recent engaged items, nearer items weighing more;
   * the next-item signal is the most recent item's sequential neighbours alone (its first
   * contribution, kept aside: that signal is divided by its own best score, so the seed's scale
   * does not matter).
   */
  private coVisitationScores(user: UserPreferences): NeighbourScores {
    const scores = this.neighbourScores;
    scores.reset();
    const { coVisitationSeeds, seedDecay, seedNormalization } = this.model.config.retrieval;
    const now = this.model.streamTime;
    let seeds = 0;
    let seedWeight = 1;
    let seedTime = Number.NaN;
    for (let r = user.recent.length - 1; r >= 0 && seeds < coVisitationSeeds; r--) {
      const interaction = user.recent[r]!;
      if (engagementStrength(this.model.config, interaction.type) <= 0) continue;
      if (seeds > 0 && interaction.time !== seedTime) seedWeight *= seedDecay;
      seedTime = interaction.time;
      this.model.coVisitation.accumulateNeighbours(
        interaction.itemId,
        seedWeight,
        now,
        scores,
        seedNormalization,
      );
      if (seeds++ === 0 && this.model.config.ranking.weights.nextItem !== 0) {
        for (const t of scores.touched) {
          if (!t.inSequential) continue;
          t.next = t.sequential;
          t.inNext = true;
        }
      }
    }
    return scores;
  }

  private score(user: UserPreferences, context: number): void {
    const w = this.model.ranking.byName(context);
    const longTerm = normalizeInto(this.userLongTerm, user.longTerm);
    const shortTerm = normalizeInto(this.userShortTerm, user.shortTerm);
    const strongestCategory = strongestCategoryAffinity(user);
    for (let i = 0; i < this.candidatesUsed; i++) {
      const c = this.candidatePool[i]!;
      const itemVector = this.model.items.cachedTargetVector(c.item);
      const f = c.features;
      dotBoth(longTerm, shortTerm, itemVector, f);
      f.popularity = this.model.trending.relative(c.item.itemId);
      f.category = categoryScore(user, c.item.categories, strongestCategory);
      // Summed in a fixed order (the same as the sources below) so scores are reproducible.
      const longPart = w.longTerm * f.longTerm;
      const shortPart = w.shortTerm * f.shortTerm;
      const itemToItemPart =
        w.coVisitation * f.coVisitation +
        w.sequence * f.sequence +
        w.nextItem * f.nextItem +
        w.sessionKnn * f.sessionKnn;
      const trendingPart = w.popularity * f.popularity;
      const categoryPart = w.category * f.category;
      const total = longPart + shortPart + itemToItemPart + trendingPart + categoryPart;
      let best = c.retrievedBy;
      let bestPart = 0;
      if (longPart > bestPart) {
        bestPart = longPart;
        best = 'long_term';
      }
      if (shortPart > bestPart) {
        bestPart = shortPart;
        best = 'short_term';
      }
      if (itemToItemPart > bestPart) {
        bestPart = itemToItemPart;
        best = 'co_visitation';
      }
      if (trendingPart > bestPart) {
        bestPart = trendingPart;
        best = 'trending';
      }
      if (categoryPart > bestPart) best = 'category';
      c.score = total;
      c.source = best;
    }
  }
}

/**
 * `dot(longTerm, item)` and `dot(shortTerm, item)` into the features in one pass over the item's
 * vector, each summed in `dot`'s order (so the features are the same to the bit).
 */
function dotBoth(
  longTerm: Float32Array,
  shortTerm: Float32Array,
  item: Float32Array,
  f: { longTerm: number; shortTerm: number },
): void {
  let long = 0;
  let short = 0;
  for (let i = 0; i < item.length; i++) {
    const v = item[i]!;
    long += longTerm[i]! * v;
    short += shortTerm[i]! * v;
  }
  f.longTerm = long;
  f.shortTerm = short;
}

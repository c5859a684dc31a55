import type { EventType } from './events.js';
import { DEFAULT_SESSION_NEIGHBOUR_CONFIG, type SessionNeighbourConfig } from './session-neighbours.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Everything that shapes what Eddy learns and recommends. Defaults are the shipped, tuned values. */
export interface ModelConfig {
  /** Embedding dimension of users and items. */
  readonly dimension: number;
  /** Signed strength of each interaction type; negative types push preferences away. */
  readonly eventWeights: Readonly<Record<EventType, number>>;
  readonly longTermHalfLifeMs: number;
  readonly shortTermHalfLifeMs: number;
  /** Recent interactions kept per user (co-visitation context, short-term signal). */
  readonly recentLimit: number;
  /** Items remembered per user for seen-item exclusion; beyond it the oldest are forgotten. */
  readonly seenLimit: number;
  readonly categoryLimit: number;
  /**
   * How strongly each interaction type counts as engagement, for co-visitation and popularity.
   * Unlike `eventWeights` (what the user wants), this is what predicts the next pick: a dislike
   * still shows what users turn to after the previous items. 0 ignores the type.
   */
  readonly engagementWeights: Readonly<Record<EventType, number>>;

  /** Online item2vec (skip-gram with negative sampling) over each user's recent items. */
  readonly embedding: {
    readonly learningRate: number;
    readonly window: number;
    readonly negatives: number;
    /** Size of the recent-interaction reservoir negatives are drawn from (≈ unigram distribution). */
    readonly negativePool: number;
    /** Interactions after which a content vector weighs as much as the learned one (cold-start shrinkage). */
    readonly contentPrior: number;
    readonly seed: number;
  };
  readonly coVisitation: {
    readonly halfLifeMs: number;
    readonly window: number;
    readonly maxNeighbours: number;
    /** Weight of the reverse direction (a→b also strengthens b→a by this factor). */
    readonly reverseWeight: number;
    /** A pair `d` steps apart in the window counts proximityDecay^(d − 1) (1 = the whole window alike). */
    readonly proximityDecay: number;
    /**
     * The sequential weight of a pair `d` steps apart counts sequenceDecay^(d − 1): 0 keeps only
     * adjacent items (what users pick next), 1 equals the window weight.
     */
    readonly sequenceDecay: number;
    /**
     * A pair of interactions Δt apart counts 0.5^(Δt / pairHalfLifeMs): clicks minutes apart say
     * more about each other than clicks a day apart, however few positions lie between them. 0
     * ignores the time between them.
     */
    readonly pairHalfLifeMs: number;
    /**
     * A transition's sequential weight counts sessionLength^(−sessionLengthExponent), the session
     * being the clicks up to this one without a gap over `ranking.learning.sessionGapMs`: what a
     * visitor picks next in a short, focused session says more about the pair than a step of a long
     * browse. 0 weighs every session alike.
     */
    readonly sessionLengthExponent: number;
  };
  /** Session-kNN over recent sessions (`SessionNeighbours`): what users with a session like this one clicked. */
  readonly sessionNeighbours: SessionNeighbourConfig;
  readonly trending: {
    readonly halfLifeMs: number;
    /** Trending list size kept ready for retrieval. */
    readonly size: number;
  };
  readonly retrieval: {
    readonly vectorCandidates: number;
    readonly coVisitationCandidates: number;
    readonly trendingCandidates: number;
    /** Best-scored session-kNN items admitted as candidates. */
    readonly sessionCandidates: number;
    /** Recent items whose co-visitation neighbours become candidates. */
    readonly coVisitationSeeds: number;
    /**
     * A seed p distinct event times before the latest weighs seedDecay^p. Interactions with the
     * same timestamp (a batch of ratings submitted together) have no order between them, so they
     * weigh alike instead of by the arbitrary order they arrived in.
     */
    readonly seedDecay: number;
    /**
     * Each seed's neighbour weights are divided by their total raised to this power: 0 = raw (a seed
     * with many co-visits dominates), 1 = each seed contributes a distribution (P(next | seed)).
     */
    readonly seedNormalization: number;
  };
  readonly ranking: {
    readonly listSize: number;
    readonly weights: {
      readonly longTerm: number;
      readonly shortTerm: number;
      readonly coVisitation: number;
      /** Co-visitation weighted by closeness in users' sequences (`coVisitation.sequenceDecay`). */
      readonly sequence: number;
      /** Sequential co-visitation from the user's last item alone: what users pick right after it. */
      readonly nextItem: number;
      /** Session-kNN: votes of the sessions most similar to the user's recent items. */
      readonly sessionKnn: number;
      readonly popularity: number;
      readonly category: number;
    };
    /**
     * The weights above are the prior; these settings let them follow what users pick (see
     * `RankingLearner`). A rate of 0 keeps them fixed.
     */
    readonly learning: {
      readonly rate: number;
      /** Pool candidates each pick is compared with. */
      readonly negatives: number;
      /** Pull back towards the configured weights, per update. */
      readonly regularization: number;
      /** Users whose last candidate pool is kept for learning from their next pick. */
      readonly pendingUsers: number;
      /**
       * Of the `negatives` each pick is compared with, how many are drawn from the pool's
       * `hardNegativeTop` best-ranked candidates (by the weights at the time) instead of uniformly:
       * the top of a list is where the ranking must be right.
       */
      readonly hardNegatives: number;
      readonly hardNegativeTop: number;
      /**
       * Learning rate of each ranking context's offsets relative to `rate` (0: one set of weights
       * for every context; see `rankingContext`).
       */
      readonly contextRate: number;
      /** A gap between clicks longer than this starts a new session (ranking contexts). */
      readonly sessionGapMs: number;
    };
    /** MMR trade-off: 1 = pure relevance, 0 = pure novelty. */
    readonly diversityLambda: number;
    /** Candidates (best by score) the diversity step chooses from. */
    readonly diversityPool: number;
    readonly excludeSeen: boolean;
  };
  /** Republish an item vector once its cosine to the published one drops below 1 − threshold. */
  readonly itemDriftThreshold: number;
}

export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  dimension: 32,
  eventWeights: {
    view: 1,
    click: 1.5,
    add_to_cart: 2.5,
    purchase: 3,
    like: 3,
    dislike: -2,
    skip: -0.5,
  },
  longTermHalfLifeMs: 30 * DAY,
  shortTermHalfLifeMs: 2 * HOUR,
  recentLimit: 20,
  seenLimit: 2000,
  categoryLimit: 32,
  engagementWeights: {
    view: 1,
    click: 1,
    add_to_cart: 1,
    purchase: 1,
    like: 1,
    dislike: 1,
    skip: 1,
  },
  embedding: {
    learningRate: 0.05,
    window: 5,
    negatives: 5,
    negativePool: 10_000,
    contentPrior: 10,
    seed: 7,
  },
  coVisitation: {
    halfLifeMs: 365 * DAY,
    window: 20,
    maxNeighbours: 200,
    reverseWeight: 1,
    proximityDecay: 1,
    sequenceDecay: 0.6,
    pairHalfLifeMs: 3 * HOUR,
    sessionLengthExponent: 0,
  },
  sessionNeighbours: DEFAULT_SESSION_NEIGHBOUR_CONFIG,
  trending: {
    halfLifeMs: 1 * DAY,
    size: 200,
  },
  retrieval: {
    vectorCandidates: 50,
    coVisitationCandidates: 50,
    trendingCandidates: 50,
    sessionCandidates: 50,
    coVisitationSeeds: 20,
    seedDecay: 0.7,
    seedNormalization: 0.5,
  },
  ranking: {
    listSize: 10,
    weights: {
      longTerm: 0.1,
      shortTerm: 0.25,
      coVisitation: 1,
      sequence: 0.5,
      nextItem: 0.25,
      sessionKnn: 0.5,
      popularity: 0.1,
      category: 0.2,
    },
    learning: {
      rate: 0.03,
      negatives: 5,
      regularization: 0.01,
      pendingUsers: 10_000,
      hardNegatives: 1,
      hardNegativeTop: 30,
      contextRate: 1,
      sessionGapMs: 30 * 60_000,
    },
    diversityLambda: 0.9,
    diversityPool: 50,
    excludeSeen: true,
  },
  itemDriftThreshold: 0.05,
};

/** True for interaction types that express interest. */
export function isPositive(config: ModelConfig, type: EventType): boolean {
  return config.eventWeights[type] > 0;
}

/** The strength with which an interaction trains co-visitation and popularity (0: not at all). */
export function engagementStrength(config: ModelConfig, type: EventType): number {
  return config.engagementWeights[type];
}

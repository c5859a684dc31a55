import type { StateStore } from '../ports/state-store.js';
import { CoVisitation } from './co-visitation.js';
import type { ClickEvent, ItemEvent } from './events.js';
import { ItemModel } from './item-model.js';
import { engagementStrength, type ModelConfig } from './model-config.js';
import { RANKING_STEP_LENGTH, RankingLearner } from './ranking-learner.js';
import { SessionNeighbours } from './session-neighbours.js';
import { Trending } from './trending.js';
import { applyInteraction, newUserPreferences, type UserPreferences } from './user-preferences.js';

/**
 * What one engaged click teaches the item side of the model (embeddings, co-visitation, trending,
 * ranking weights). It carries the click's context rather than its effect, and applying it is
 * deterministic, so every replica that applies the same increments in the same order holds the
 * same item model (see `EddyModel.applyIncrement`). Mirrors `schemas/item-model-increments.avsc`.
 */
export interface ItemModelIncrement {
  /** The session (user) that clicked: keys the session-kNN index; '' for none. */
  readonly sessionKey: string;
  readonly itemId: string;
  /** Event time of the click, ms since the epoch. */
  readonly eventTime: number;
  /** Co-visitation and popularity strength (`engagementStrength`). */
  readonly engagement: number;
  /** Embedding learning strength (the event weight); 0 learns nothing for the embedding. */
  readonly embeddingStrength: number;
  /** The user's earlier engaged items, oldest first, and when each happened. */
  readonly preceding: readonly string[];
  readonly precedingTimes: readonly number[];
  /** The change to the ranking weights this pick taught (`RankingLearner.learn`), or null. */
  readonly rankingStep: readonly number[] | null;
  /** The ranking context whose offsets the step's second half changes. */
  readonly rankingContext: number;
}

/** Where a catalog change sits in the catalog topic: a change older than one applied is ignored. */
export interface CatalogPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface EddyModelOptions {
  /**
   * `false` (default): each click's item increment is applied at once, as one replica alone.
   * `true`: increments are queued for `takeIncrements()` and applied only when they come back
   * through the replicated increments topic, in the order every instance applies them.
   */
  readonly replicatedItems?: boolean;
}

/**
 * The whole model as one synchronous processor: per-user preferences (in a changelogged state
 * store) and the item side (embeddings, co-visitation, trending, ranking weights). `applyClick`
 * is the per-event hot path: it updates the user and derives the click's item increment; the item
 * side changes only through `applyIncrement` and `applyCatalog`, so replicas stay identical.
 */
export class EddyModel {
  readonly items: ItemModel;
  readonly coVisitation: CoVisitation;
  readonly trending: Trending;
  /** Recent sessions, for session-kNN: item-side state, as every user's session is another's neighbour. */
  readonly sessions: SessionNeighbours;
  /** The ranking weights, learned from each pick against the pool the user was last ranked with. */
  readonly ranking: RankingLearner;
  /** Max event time seen: the model's notion of "now" for decay, so replays are exact. */
  streamTime = 0;
  /** Increments applied since the model began (restored from checkpoints): the replica's version. */
  incrementsApplied = 0;
  readonly replicatedItems: boolean;
  private readonly pending: ItemModelIncrement[] = [];
  /** Per item, the catalog offset last applied (kept for deleted items too). */
  private readonly catalogVersions = new Map<string, number>();
  private readonly rankingStep = new Float64Array(RANKING_STEP_LENGTH);
  private readonly preferenceScratch: Float32Array;

  constructor(
    readonly config: ModelConfig,
    readonly users: StateStore<UserPreferences>,
    options: EddyModelOptions = {},
  ) {
    this.items = new ItemModel(config);
    this.coVisitation = new CoVisitation(config.coVisitation, config.ranking.learning.sessionGapMs);
    this.trending = new Trending(config.trending);
    this.sessions = new SessionNeighbours(config.sessionNeighbours);
    this.ranking = new RankingLearner(config);
    this.preferenceScratch = new Float32Array(config.dimension);
    this.replicatedItems = options.replicatedItems ?? false;
  }

  userOrNew(userId: string): UserPreferences {
    return this.users.get(userId) ?? newUserPreferences(userId, this.config.dimension);
  }

  applyClick(event: ClickEvent): UserPreferences {
    const user = this.userOrNew(event.userId);
    const time = event.eventTime;
    const engagement = engagementStrength(this.config, event.type);
    if (engagement > 0) {
      // Test, then train: the ranking learns from the pick before the pick changes the state it ranked.
      const context = this.ranking.learn(event.userId, event.itemId, this.rankingStep);
      const preceding: string[] = [];
      const precedingTimes: number[] = [];
      for (const r of user.recent) {
        if (engagementStrength(this.config, r.type) <= 0) continue;
        preceding.push(r.itemId);
        precedingTimes.push(r.time);
      }
      const increment: ItemModelIncrement = {
        sessionKey: event.userId,
        itemId: event.itemId,
        eventTime: time,
        engagement,
        // The embedding follows what users like; co-visitation and popularity follow what they engage with.
        embeddingStrength: Math.max(0, this.config.eventWeights[event.type]),
        preceding,
        precedingTimes,
        rankingStep: context >= 0 ? Array.from(this.rankingStep) : null,
        rankingContext: Math.max(0, context),
      };
      if (this.replicatedItems) this.pending.push(increment);
      else this.applyIncrement(increment);
    }
    const direction = this.items.preferenceVectorOf(event.itemId, this.preferenceScratch);
    const categories = this.items.get(event.itemId)?.categories ?? [];
    applyInteraction(user, event.itemId, event.type, time, direction, categories, this.config);
    this.users.put(event.userId, user);
    if (time > this.streamTime) this.streamTime = time;
    return user;
  }

  /** The increments derived since the last call (replicated mode), oldest first. */
  takeIncrements(): ItemModelIncrement[] {
    return this.pending.splice(0, this.pending.length);
  }

  /**
   * Applies one click's increment to the item side. Deterministic: its only randomness (negative
   * sampling) comes from a generator that is part of the checkpointed state.
   */
  applyIncrement(increment: ItemModelIncrement): void {
    if (increment.rankingStep !== null) {
      this.ranking.applyStep(increment.rankingStep, increment.rankingContext);
    }
    if (increment.embeddingStrength > 0) {
      this.items.learn(increment.itemId, increment.preceding, increment.embeddingStrength);
    } else this.items.ensure(increment.itemId);
    this.coVisitation.record(
      increment.itemId,
      increment.preceding,
      increment.engagement,
      increment.eventTime,
      increment.precedingTimes,
    );
    this.trending.record(increment.itemId, increment.engagement, increment.eventTime);
    if (increment.sessionKey !== '') {
      this.sessions.record(increment.sessionKey, increment.preceding, increment.itemId, increment.eventTime);
    }
    if (increment.eventTime > this.streamTime) this.streamTime = increment.eventTime;
    this.incrementsApplied++;
  }

  /** Applies a catalog change (no position: unconditionally, as tests and replays without a log do). */
  applyItem(event: ItemEvent): void {
    this.applyCatalog(event, null);
  }

  /**
   * Applies a catalog change unless a newer one for the item was applied already: the same change
   * reaches a replica twice (its own start-up read, then forwarded by the partition's owner), and
   * an older version applied after a newer one would undo it (a withdrawn item served again).
   * Returns whether it was applied.
   */
  applyCatalog(event: ItemEvent, position: CatalogPosition | null): boolean {
    if (position !== null) {
      const applied = this.catalogVersions.get(event.itemId);
      if (applied !== undefined && applied >= position.offset) return false;
      this.catalogVersions.set(event.itemId, position.offset);
    }
    if (event.op === 'delete') {
      this.items.remove(event.itemId);
      this.coVisitation.removeItem(event.itemId);
      this.trending.remove(event.itemId);
      this.sessions.removeItem(event.itemId);
      return true;
    }
    this.items.upsertCatalog(
      event.itemId,
      event.title,
      event.categories,
      event.available,
      event.contentVector,
    );
    return true;
  }
}

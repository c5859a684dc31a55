import type { StateStore } from '../ports/state-store.js';
import { CoVisitation } from './co-visitation.js';
import type { ClickEvent, ItemEvent } from './events.js';
import { ItemModel } from './item-model.js';
import { engagementStrength, type ModelConfig } from './model-config.js';
import { RankingLearner } from './ranking-learner.js';
import { Trending } from './trending.js';
import { applyInteraction, newUserPreferences, type UserPreferences } from './user-preferences.js';

/**
 * The whole model as one synchronous processor: per-user preferences (in a changelogged state
 * store) and the item side (embeddings, co-visitation, trending). `applyClick` is the per-event
 * hot path: O(dimension × window × negatives), no I/O, no allocation beyond new users and items.
 */
export class EddyModel {
  readonly items: ItemModel;
  readonly coVisitation: CoVisitation;
  readonly trending: Trending;
  /** The ranking weights, learned from each pick against the pool the user was last ranked with. */
  readonly ranking: RankingLearner;
  /** Max event time seen: the model's notion of "now" for decay, so replays are exact. */
  streamTime = 0;
  private readonly preceding: string[] = [];
  private readonly precedingTimes: number[] = [];
  private readonly preferenceScratch: Float32Array;

  constructor(
    readonly config: ModelConfig,
    readonly users: StateStore<UserPreferences>,
  ) {
    this.items = new ItemModel(config);
    this.coVisitation = new CoVisitation(config.coVisitation);
    this.trending = new Trending(config.trending);
    this.ranking = new RankingLearner(config);
    this.preferenceScratch = new Float32Array(config.dimension);
  }

  userOrNew(userId: string): UserPreferences {
    return this.users.get(userId) ?? newUserPreferences(userId, this.config.dimension);
  }

  applyClick(event: ClickEvent): UserPreferences {
    const user = this.userOrNew(event.userId);
    const item = this.items.ensure(event.itemId);
    const weight = this.config.eventWeights[event.type];
    const time = event.eventTime;

    const engagement = engagementStrength(this.config, event.type);
    if (engagement > 0) {
      // Test, then train: the ranking learns from the pick before the pick changes the state it ranked.
      this.ranking.learn(event.userId, event.itemId);
      const preceding = this.preceding;
      const precedingTimes = this.precedingTimes;
      preceding.length = 0;
      precedingTimes.length = 0;
      for (const r of user.recent) {
        if (engagementStrength(this.config, r.type) <= 0) continue;
        preceding.push(r.itemId);
        precedingTimes.push(r.time);
      }
      // The embedding follows what users like; co-visitation and popularity follow what they engage with.
      if (weight > 0) this.items.learn(event.itemId, preceding, weight);
      this.coVisitation.record(event.itemId, preceding, engagement, time, precedingTimes);
      this.trending.record(event.itemId, engagement, time);
    }
    const direction = this.items.preferenceVector(item, this.preferenceScratch);
    applyInteraction(user, event.itemId, event.type, time, direction, item.categories, this.config);
    this.users.put(event.userId, user);
    if (time > this.streamTime) this.streamTime = time;
    return user;
  }

  applyItem(event: ItemEvent): void {
    if (event.op === 'delete') {
      this.items.remove(event.itemId);
      this.coVisitation.removeItem(event.itemId);
      this.trending.remove(event.itemId);
      return;
    }
    this.items.upsertCatalog(
      event.itemId,
      event.title,
      event.categories,
      event.available,
      event.contentVector,
    );
  }
}

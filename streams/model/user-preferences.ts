import type { EventType } from './events.js';
import type { ModelConfig } from './model-config.js';
import { decayFactor, scaleAndAdd } from './vector-math.js';

export interface RecentInteraction {
  readonly itemId: string;
  readonly type: EventType;
  readonly time: number;
}

/**
 * One user's preference state. Every field is bounded (vectors of fixed dimension, capped recent,
 * seen and category collections), so memory per user is constant however long the history grows.
 */
export interface UserPreferences {
  readonly userId: string;
  /** Decayed, weighted sum of the item embeddings the user interacted with (slow half-life). */
  readonly longTerm: Float32Array;
  /** The same with a short half-life: the current session's intent. */
  readonly shortTerm: Float32Array;
  /** Event time both vectors and the affinities are decayed to. */
  lastEventTime: number;
  /** Newest last. */
  readonly recent: RecentInteraction[];
  /** Insertion-ordered, so the oldest entry is the first to forget once `seenLimit` is reached. */
  readonly seen: Set<string>;
  readonly categoryAffinity: Map<string, number>;
  events: number;
  positives: number;
  negatives: number;
  /** The last list Eddy served this user: the live quality check scores the next interaction against it. */
  lastList: string[];
  lastListAt: number;
}

export function newUserPreferences(userId: string, dimension: number): UserPreferences {
  return {
    userId,
    longTerm: new Float32Array(dimension),
    shortTerm: new Float32Array(dimension),
    lastEventTime: 0,
    recent: [],
    seen: new Set(),
    categoryAffinity: new Map(),
    events: 0,
    positives: 0,
    negatives: 0,
    lastList: [],
    lastListAt: 0,
  };
}

/**
 * Folds one interaction into the user's state in O(dimension + categories): decay to the event's
 * time, then add the item's embedding with the event type's signed weight. Never rescans history.
 */
export function applyInteraction(
  user: UserPreferences,
  itemId: string,
  type: EventType,
  eventTime: number,
  itemEmbedding: Float32Array | null,
  itemCategories: readonly string[],
  config: ModelConfig,
): void {
  const weight = config.eventWeights[type];
  const elapsed = user.events === 0 ? 0 : eventTime - user.lastEventTime;
  const longDecay = decayFactor(elapsed, config.longTermHalfLifeMs);
  const shortDecay = decayFactor(elapsed, config.shortTermHalfLifeMs);

  if (itemEmbedding) {
    scaleAndAdd(user.longTerm, longDecay, weight, itemEmbedding);
    scaleAndAdd(user.shortTerm, shortDecay, weight, itemEmbedding);
  } else {
    scaleAndAdd(user.longTerm, longDecay, 0, user.longTerm);
    scaleAndAdd(user.shortTerm, shortDecay, 0, user.shortTerm);
  }
  updateCategoryAffinity(user.categoryAffinity, longDecay, weight, itemCategories, config.categoryLimit);

  if (eventTime > user.lastEventTime) user.lastEventTime = eventTime;
  user.events++;
  if (weight > 0) user.positives++;
  else if (weight < 0) user.negatives++;

  user.recent.push({ itemId, type, time: eventTime });
  if (user.recent.length > config.recentLimit) user.recent.shift();

  // Re-inserting moves the item to the newest end, so forgetting drops the least recently touched.
  user.seen.delete(itemId);
  user.seen.add(itemId);
  if (user.seen.size > config.seenLimit) {
    const oldest = user.seen.values().next();
    if (!oldest.done) user.seen.delete(oldest.value);
  }
}

function updateCategoryAffinity(
  affinity: Map<string, number>,
  decay: number,
  weight: number,
  categories: readonly string[],
  limit: number,
): void {
  if (decay !== 1) for (const [category, value] of affinity) affinity.set(category, value * decay);
  for (const category of categories) affinity.set(category, (affinity.get(category) ?? 0) + weight);
  if (affinity.size > limit) {
    // Drop the weakest preferences (by magnitude) so the map stays bounded.
    const ordered = [...affinity.entries()].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    for (let i = limit; i < ordered.length; i++) affinity.delete(ordered[i]![0]);
  }
}

/** The magnitude of the user's strongest category affinity (0: none). */
export function strongestCategoryAffinity(user: UserPreferences): number {
  let strongest = 0;
  for (const value of user.categoryAffinity.values()) strongest = Math.max(strongest, Math.abs(value));
  return strongest;
}

/**
 * The user's affinity to an item's categories, in [-1, 1] relative to their strongest category
 * (`strongest`: `strongestCategoryAffinity(user)`, passed in when one list scores many items).
 */
export function categoryScore(
  user: UserPreferences,
  categories: readonly string[],
  strongest = strongestCategoryAffinity(user),
): number {
  if (categories.length === 0 || user.categoryAffinity.size === 0) return 0;
  if (strongest === 0) return 0;
  let best = -Infinity;
  for (const category of categories) best = Math.max(best, user.categoryAffinity.get(category) ?? 0);
  return best / strongest;
}

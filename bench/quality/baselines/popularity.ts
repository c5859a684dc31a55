import type { ClickEvent, ItemEvent } from '../../../streams/model/events.js';
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

export interface PopularityConfig {
  /** Half-life of an interaction's contribution, in hours of event time; 0 = plain counts. */
  readonly halfLifeHours: number;
  readonly learnFrom: LearnFrom;
}

export const DEFAULT_POPULARITY_CONFIG: PopularityConfig = { halfLifeHours: 24, learnFrom: 'all' };

/** The floor: the most (recently) popular items the user has not interacted with yet. */
export class PopularityMethod implements StreamingMethod {
  private readonly catalogue = new ItemCatalogue();
  private readonly seen = new SeenItems();
  private readonly scores: DecayedScores;
  private readonly heap = new TopK(20);

  constructor(
    private readonly config: PopularityConfig = DEFAULT_POPULARITY_CONFIG,
    readonly name = 'popularity',
  ) {
    checkOneOf('learnFrom', config.learnFrom, ['all', 'positive']);
    this.scores = new DecayedScores(config.halfLifeHours);
  }

  start(catalog: readonly ItemEvent[]): void {
    for (const event of catalog) this.catalogue.apply(event);
  }

  catalog(event: ItemEvent): void {
    this.catalogue.apply(event);
  }

  serve(userId: string, k: number): string[] {
    return topByScore(this.catalogue, this.scores, this.seen.of(userId), k, this.heap).map(
      (i) => this.catalogue.ids[i]!,
    );
  }

  learn(event: ClickEvent): void {
    const index = this.catalogue.ensure(event.itemId);
    this.seen.add(event.userId, index);
    if (learnsFrom(this.config.learnFrom, event.type)) this.scores.add(index, 1, event.eventTime);
  }
}

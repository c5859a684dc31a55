import type { ClickEvent, ItemEvent } from '../../../streams/model/events.js';
import {
  DEFAULT_SESSION_NEIGHBOUR_CONFIG,
  type SessionNeighbourConfig,
  SessionNeighbours,
} from '../../../streams/model/session-neighbours.js';
import type { StreamingMethod } from '../harness.js';
import { DecayedScores, ItemCatalogue, SeenItems, TopK, topByScore } from './common.js';

export interface SessionKnnConfig extends SessionNeighbourConfig {
  /** Half-life of the popularity that fills lists beyond the scored items (0 = plain counts). */
  readonly fallbackHalfLifeHours: number;
}

export const DEFAULT_SESSION_KNN_CONFIG: SessionKnnConfig = {
  ...DEFAULT_SESSION_NEIGHBOUR_CONFIG,
  fallbackHalfLifeHours: 24,
};

/**
 * Session-kNN (VSTAN-style, `SessionNeighbours`) as a method of its own: each user's most recent
 * items are their session, neighbours vote, and recency-decayed popularity fills the rest of the
 * list. The same index Eddy ranks with, so the baseline measures what the signal alone achieves.
 */
export class SessionKnnMethod implements StreamingMethod {
  private readonly catalogue = new ItemCatalogue();
  private readonly seen = new SeenItems();
  private readonly recent = new Map<string, string[]>();
  private readonly index: SessionNeighbours;
  private readonly popularity: DecayedScores;
  private readonly heap = new TopK(20);
  private now = 0;

  constructor(
    private readonly config: SessionKnnConfig = DEFAULT_SESSION_KNN_CONFIG,
    readonly name = 'sknn',
  ) {
    const { fallbackHalfLifeHours, ...neighbours } = config;
    this.index = new SessionNeighbours(neighbours);
    this.popularity = new DecayedScores(fallbackHalfLifeHours);
  }

  start(catalog: readonly ItemEvent[]): void {
    for (const event of catalog) this.catalogue.apply(event);
  }

  catalog(event: ItemEvent): void {
    this.catalogue.apply(event);
  }

  serve(userId: string, k: number): string[] {
    const seen = this.seen.of(userId);
    const heap = this.heap;
    heap.reset(k);
    const recent = this.recent.get(userId);
    if (recent !== undefined) {
      const scores = this.index.score(userId, recent, this.now);
      for (let i = 0; i < scores.count; i++) {
        const index = this.catalogue.indexOf(scores.items[i]!);
        if (index === undefined || seen.has(index) || !this.catalogue.isAvailable(index)) continue;
        heap.offer(index, scores.values[i]!);
      }
    }
    const picked = heap.sorted();
    if (picked.length < k) {
      const taken = new Set(picked);
      for (const i of topByScore(this.catalogue, this.popularity, seen, k - picked.length, heap, taken)) {
        picked.push(i);
      }
    }
    return picked.map((i) => this.catalogue.ids[i]!);
  }

  learn(event: ClickEvent): void {
    const index = this.catalogue.ensure(event.itemId);
    this.seen.add(event.userId, index);
    this.popularity.add(index, 1, event.eventTime);
    if (event.eventTime > this.now) this.now = event.eventTime;
    let recent = this.recent.get(event.userId);
    if (recent === undefined) {
      recent = [];
      this.recent.set(event.userId, recent);
    }
    this.index.record(event.userId, recent, event.itemId, event.eventTime);
    recent.push(event.itemId);
    if (recent.length > this.config.sessionLength) recent.shift();
  }
}

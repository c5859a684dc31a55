/**
 * The records Eddy reads and writes, as TypeScript sees them after Avro decoding.
 * The Avro schemas in `schemas/` are the source of truth; these types mirror them.
 */

export const EVENT_TYPES = ['view', 'click', 'add_to_cart', 'purchase', 'like', 'dislike', 'skip'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ClickEvent {
  eventId: string;
  userId: string;
  itemId: string;
  type: EventType;
  /** Event time, ms since the epoch. All decay in Eddy runs on event time, so replays are exact. */
  eventTime: number;
  sessionId: string | null;
  context: Record<string, string>;
}

export type ItemOperation = 'upsert' | 'delete';

export interface ItemEvent {
  itemId: string;
  op: ItemOperation;
  title: string;
  categories: string[];
  tags: string[];
  available: boolean;
  /** A precomputed content embedding (e.g. from text), used for cold start; null when absent. */
  contentVector: number[] | null;
  updatedAt: number;
}

export const CANDIDATE_SOURCES = [
  'long_term',
  'short_term',
  'co_visitation',
  'trending',
  'category',
  'unknown',
] as const;
export type CandidateSource = (typeof CANDIDATE_SOURCES)[number];

export interface RecommendedItem {
  itemId: string;
  score: number;
  rank: number;
  source: CandidateSource;
}

export interface RecommendationList {
  userId: string;
  listId: string;
  triggeringEventId: string;
  generatedAt: number;
  modelVersion: string;
  items: RecommendedItem[];
}

/**
 * Changelog records of Eddy's state stores, as TypeScript sees them after Avro decoding.
 * They mirror `schemas/user-state.avsc` and `schemas/item-state.avsc`; float arrays decode to
 * plain `number[]` (float32 precision), longs to safe-integer numbers.
 */

import type { EventType } from '../model/events.js';

export interface RecentInteraction {
  itemId: string;
  type: EventType;
  /** Event time, ms since the epoch. */
  time: number;
}

export interface UserCounters {
  events: number;
  positives: number;
  negatives: number;
}

export interface UserStateRecord {
  userId: string;
  longTerm: number[];
  shortTerm: number[];
  /** Event time of the last event applied, ms since the epoch; decay runs from here. */
  lastEventTime: number;
  /** Newest last. */
  recent: RecentInteraction[];
  seen: string[];
  counters: UserCounters;
  categoryAffinity: Record<string, number>;
  lastList: string[];
  /** 0 when no list has been emitted yet. */
  lastListAt: number;
}

export interface Neighbour {
  itemId: string;
  /** Co-visitation over the whole window. */
  weight: number;
  /** Co-visitation by closeness in the sequence (0 in records from before schema v3). */
  sequential: number;
}

export interface ItemStateRecord {
  itemId: string;
  title: string;
  categories: string[];
  available: boolean;
  contentVector: number[] | null;
  embedding: number[];
  context: number[];
  interactions: number;
  popularity: number;
  /** Event time `popularity` refers to, ms since the epoch. */
  popularityTime: number;
  /** Strongest first. */
  neighbours: Neighbour[];
  /** 0 when there are no neighbours yet. */
  neighboursTime: number;
}

export interface RankingStateRecord {
  features: string[];
  weights: number[];
  /** Absent or empty in records from before v3. */
  contextOffsets?: number[];
  updates: number;
  /** Null in records from before v2, and while the item model is not replicated. */
  itemModel?: ItemModelCheckpointRecord | null;
}

export interface ItemModelCheckpointRecord {
  incrementsOffset: number;
  incrementsApplied: number;
  streamTime: number;
  negativePool: string[];
  negativeCursor: number;
  random: number[];
}

export interface ClickIncrementRecord {
  itemId: string;
  /** '' when the writer predates it (schema v1). */
  sessionKey: string;
  eventTime: number;
  engagement: number;
  embeddingStrength: number;
  preceding: readonly string[];
  /** eventTime minus each preceding item's event time. */
  precedingAgoMs: readonly number[];
  rankingStep: readonly number[] | null;
  rankingContext: number;
}

export interface CatalogChangeRecord {
  partition: number;
  offset: number;
  event: Uint8Array;
}

export interface ItemModelIncrementsRecord {
  source: string;
  clicks: ClickIncrementRecord[];
  catalog: CatalogChangeRecord[];
  lastEventTime: number;
}

/** A session-kNN changelog record: exactly one field is set, the one its key names. */
export interface SessionIndexRecord {
  header: SessionIndexHeaderRecord | null;
  slot: SessionSlotRecord | null;
  item: SessionItemRingRecord | null;
}

export interface SessionIndexHeaderRecord {
  capacity: number;
  sessionLength: number;
  sessionsPerItem: number;
  nextSlot: number;
  usedSlots: number;
  sessionsCreated: number;
}

export interface SessionSlotRecord {
  slot: number;
  sessionKey: string;
  generation: number;
  time: number;
  /** Oldest first; '' for an item removed from the catalog since. */
  items: string[];
}

export interface SessionItemRingRecord {
  itemId: string;
  slots: number[];
  generations: number[];
  cursor: number;
  sessions: number;
}

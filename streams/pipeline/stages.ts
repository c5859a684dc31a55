import type { InvalidRecordError } from '../errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../model/events.js';
import type { UserPreferences } from '../model/user-preferences.js';
import type { OutgoingRecord, SourceBatch, SourceRecord } from '../ports/event-log.js';
import type { ForwardedCatalogChange } from './item-replica.js';

/** The shapes a batch takes as it moves through the pipeline's stages. */

export interface DecodedClick {
  readonly event: ClickEvent;
  readonly record: SourceRecord;
}

export interface DecodedBatch {
  readonly batch: SourceBatch;
  /** performance.now() when the batch entered the pipeline. */
  readonly fetchedAt: number;
  readonly clicks: readonly DecodedClick[];
  readonly items: readonly ItemEvent[];
  /** The catalog records `items` were decoded from (same order). */
  readonly itemRecords: readonly SourceRecord[];
  readonly rejected: readonly { readonly record: SourceRecord; readonly error: InvalidRecordError }[];
}

/** The event that last touched a user in this batch: its list answers the whole burst. */
export interface Trigger {
  readonly user: UserPreferences;
  readonly click: DecodedClick;
}

export interface LearnedBatch extends DecodedBatch {
  readonly triggers: readonly Trigger[];
  readonly deletedItems: readonly string[];
  /** Catalog changes to forward to every replica of the item model (replicated mode). */
  readonly forwardedCatalog: readonly ForwardedCatalogChange[];
}

export interface ListedBatch extends LearnedBatch {
  readonly lists: readonly { readonly list: RecommendationList; readonly trigger: Trigger }[];
}

export interface CommittedBatch extends ListedBatch {
  readonly outputRecords: readonly OutgoingRecord[];
  readonly committedAt: number;
}

import type { ClickEvent, ItemEvent } from '../model/events.js';

/**
 * One record of a replayed input stream. Catalog changes and interactions share one ordered
 * stream because a replay is only faithful when an item's upsert reaches the model before the
 * first click on it.
 */
export type StreamEvent =
  | { readonly kind: 'item'; readonly event: ItemEvent }
  | { readonly kind: 'click'; readonly event: ClickEvent };

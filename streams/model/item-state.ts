import { codecs } from '../codec/avro.js';
import type { ItemStateRecord, SessionIndexRecord } from '../codec/state-records.js';
import type { OutgoingRecord } from '../ports/event-log.js';
import type { EddyModel } from './eddy-model.js';
import type { SessionNeighbours } from './session-neighbours.js';

/**
 * The item model's changelog. Items are shared by every user partition, so their state is not
 * committed with each batch (that would rewrite most of the catalog every few milliseconds) but
 * checkpointed: every N batches, the items changed since the last checkpoint are written to a
 * compacted topic. A restore therefore lands on the last checkpoint — the item model is learned
 * state, where losing a few seconds of learning costs accuracy, not correctness — while user state
 * is exact, committed with the offsets it reflects.
 */
export function toItemStateRecord(model: EddyModel, itemId: string): ItemStateRecord | null {
  const item = model.items.get(itemId);
  if (!item) return null;
  const now = model.streamTime;
  const neighbours = model.coVisitation.neighboursAt(itemId, now);
  return {
    itemId,
    title: item.title,
    categories: [...item.categories],
    available: item.available,
    contentVector: item.contentVector ? Array.from(item.contentVector) : null,
    embedding: Array.from(item.embedding),
    context: Array.from(item.context),
    interactions: item.interactions,
    popularity: model.trending.rawScore(itemId),
    popularityTime: model.trending.reference,
    neighbours,
    neighboursTime: neighbours.length > 0 ? now : 0,
  };
}

export function restoreItemState(model: EddyModel, record: ItemStateRecord): void {
  const item = model.items.ensure(record.itemId);
  item.title = record.title;
  item.categories = [...record.categories];
  item.available = record.available;
  item.contentVector = record.contentVector ? Float32Array.from(record.contentVector) : null;
  item.embedding.set(record.embedding);
  item.context.set(record.context);
  item.interactions = record.interactions;
  model.items.invalidateTarget(item);
  model.trending.restore(record.itemId, record.popularity, record.popularityTime);
  model.coVisitation.restoreNeighbours(record.itemId, record.neighbours, record.neighboursTime);
}

/**
 * The group's checkpoint header as a changelog record keyed by the consumer group: the learned
 * ranking weights and, with a replicated item model, the item-updates offset the item checkpoint
 * written beside it reflects (`incrementsOffset`) and negative sampling's state. None while there
 * is neither (learning off, items not replicated).
 */
export function rankingCheckpoint(
  model: EddyModel,
  topic: string,
  groupId: string,
  incrementsOffset: number | null = null,
): OutgoingRecord[] {
  if (!model.ranking.enabled && incrementsOffset === null) return [];
  const record = model.ranking.toRecord();
  if (incrementsOffset !== null) {
    record.itemModel = {
      incrementsOffset,
      incrementsApplied: model.incrementsApplied,
      streamTime: model.streamTime,
      ...model.items.samplingState(),
    };
  }
  return [{ topic, key: groupId, value: codecs.rankingState.encode(record) }];
}

/** Changelog records (latest state, or a tombstone for removed items) for every item changed since the last call. */
export function itemCheckpoint(model: EddyModel, topic: string): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  for (const itemId of model.items.takeChanged()) {
    const record = toItemStateRecord(model, itemId);
    records.push({ topic, key: itemId, value: record ? codecs.itemState.encode(record) : null });
  }
  return records;
}

/** The session-kNN index's changelog keys: its header, its slots, its items' rings. */
export const SESSION_HEADER_KEY = 'header';
const SLOT_KEY_PREFIX = 'slot:';
const ITEM_KEY_PREFIX = 'item:';

/**
 * Changelog records for the session-kNN index's changes since the last call: its header, every
 * changed session slot, every changed item ring, a tombstone for each removed item's ring. Keyed
 * by slot, the topic holds at most `capacity` sessions however long it runs.
 */
export function sessionCheckpoint(sessions: SessionNeighbours, topic: string): OutgoingRecord[] {
  const changes = sessions.takeChanges();
  // The header changes only with a slot, so an unchanged index writes nothing.
  if (changes.slots.length === 0 && changes.rings.length === 0 && changes.removed.length === 0) return [];
  const encode = (value: SessionIndexRecord) => codecs.sessionIndex.encode(value);
  const records: OutgoingRecord[] = [
    { topic, key: SESSION_HEADER_KEY, value: encode({ header: changes.header, slot: null, item: null }) },
  ];
  for (const itemId of changes.removed) records.push({ topic, key: ITEM_KEY_PREFIX + itemId, value: null });
  for (const slot of changes.slots) {
    records.push({
      topic,
      key: SLOT_KEY_PREFIX + slot.slot,
      value: encode({ header: null, slot, item: null }),
    });
  }
  for (const item of changes.rings) {
    records.push({
      topic,
      key: ITEM_KEY_PREFIX + item.itemId,
      value: encode({ header: null, slot: null, item }),
    });
  }
  return records;
}

/**
 * Restores the session-kNN index from the latest record of each key (a fresh index). Returns
 * false, restoring nothing, when there is no header or it was written under another index shape:
 * the index then fills again from the stream.
 */
export function restoreSessionIndex(
  sessions: SessionNeighbours,
  latest: ReadonlyMap<string, Uint8Array | null>,
): boolean {
  const header = latest.get(SESSION_HEADER_KEY);
  if (header === undefined || header === null) return false;
  const decoded = codecs.sessionIndex.decode(header).header;
  if (decoded === null || !sessions.restoreHeader(decoded)) return false;
  for (const [key, value] of latest) {
    if (value === null || key === SESSION_HEADER_KEY) continue;
    const record = codecs.sessionIndex.decode(value);
    if (record.slot !== null) sessions.restoreSlot(record.slot);
    else if (record.item !== null) sessions.restoreRing(record.item);
  }
  return true;
}

/**
 * One checkpoint of the item model, written in one transaction: the items and session-kNN index
 * changed since the last, and the header saying which item-updates offset they reflect.
 */
export function modelCheckpoint(
  model: EddyModel,
  topics: {
    readonly itemChangelog: string;
    readonly sessionChangelog: string;
    readonly rankingChangelog: string;
  },
  groupId: string,
  incrementsOffset: number | null,
): OutgoingRecord[] {
  return [
    ...itemCheckpoint(model, topics.itemChangelog),
    ...sessionCheckpoint(model.sessions, topics.sessionChangelog),
    ...rankingCheckpoint(model, topics.rankingChangelog, groupId, incrementsOffset),
  ];
}

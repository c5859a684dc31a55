import { codecs } from '../codec/avro.js';
import type { ItemStateRecord } from '../codec/state-records.js';
import type { OutgoingRecord } from '../ports/event-log.js';
import type { EddyModel } from './eddy-model.js';

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

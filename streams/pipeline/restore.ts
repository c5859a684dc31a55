import { codecs } from '../codec/avro.js';
import type { EddyModel } from '../model/eddy-model.js';
import { restoreItemState, restoreSessionIndex } from '../model/item-state.js';
import type { LogReader } from '../ports/event-log.js';
import type { TopicNames } from './topics.js';

export interface RestoreReport {
  readonly users: number;
  readonly items: number;
  /** The item-updates offset the item checkpoint reflects: the replay starts there. */
  readonly itemUpdatesOffset?: number;
  /** Sessions the session-kNN index restored (0 when its changelog was empty or of another shape). */
  readonly sessions?: number;
  /** Changelog records read (more than users + items when keys were written several times). */
  readonly records: number;
}

/**
 * Rebuilds the model from its changelogs, as a Kafka Streams task restores its stores before
 * processing: users from the user-state changelog (exact, committed with the offsets), items from
 * the item checkpoint topic (the last checkpoint). Later records for a key replace earlier ones.
 */
export async function restoreModel(
  model: EddyModel,
  reader: LogReader,
  topics: TopicNames,
  /** The consumer group: the key of its learned ranking weights. */
  groupId: string,
  /** Told the records applied after each chunk, so a long restore shows its progress. */
  onProgress?: (records: number) => void,
): Promise<RestoreReport> {
  const userPartitions = await reader.partitionsOf(topics.userChangelog);
  const users = await restoreUsers(
    model,
    reader,
    topics.userChangelog,
    Array.from({ length: userPartitions }, (_, p) => p),
    onProgress,
  );
  const itemSide = await restoreItemModel(model, reader, topics, groupId, onProgress);
  return { ...itemSide, users: model.users.size, records: users.records + itemSide.records };
}

/**
 * Restores everything the group shares — the item checkpoint, the session-kNN index written beside
 * it, and the header with the ranking weights and the item-updates offset they reflect (the replay
 * starts there) — into a model that has not processed events yet. Users are restored apart: on
 * Kafka, per assigned partition.
 */
export async function restoreItemModel(
  model: EddyModel,
  reader: LogReader,
  topics: Pick<TopicNames, 'itemChangelog' | 'sessionChangelog' | 'rankingChangelog'>,
  groupId: string,
  onProgress?: (records: number) => void,
): Promise<RestoreReport & { readonly itemUpdatesOffset: number; readonly sessions: number }> {
  const items = await restoreItems(model, reader, topics.itemChangelog, onProgress);
  const sessions = await restoreSessions(model, reader, topics.sessionChangelog, onProgress);
  const itemUpdatesOffset = await restoreRanking(model, reader, topics.rankingChangelog, groupId);
  return {
    users: 0,
    items: items.items,
    records: items.records + sessions.records,
    itemUpdatesOffset,
    sessions: sessions.sessions,
  };
}

export interface PartitionRestoreReport {
  /** Distinct users whose records were read (some may have been tombstones). */
  readonly users: number;
  readonly records: number;
  /** The users read, per changelog partition: whoever owns the partition now owns them. */
  readonly usersByPartition: ReadonlyMap<number, ReadonlySet<string>>;
}

/**
 * Restores the users of some user-changelog partitions only: what a consumer that was just
 * assigned those input partitions needs (the changelog is co-partitioned with the clicks). The
 * partitions are read concurrently — each key lives in one partition, so their order does not
 * matter — which matters on Kafka, where every read pays a round of connection set-up.
 */
export async function restoreUsers(
  model: EddyModel,
  reader: LogReader,
  topic: string,
  partitions: readonly number[],
  onProgress?: (records: number) => void,
): Promise<PartitionRestoreReport> {
  let records = 0;
  const usersByPartition = new Map<number, Set<string>>();
  await Promise.all(
    partitions.map(async (p) => {
      const users = new Set<string>();
      usersByPartition.set(p, users);
      for await (const chunk of reader.readRange(topic, p, 0)) {
        const restored = model.users.restore(chunk);
        for (const record of chunk) if (record.key !== null) users.add(record.key);
        records += restored;
        onProgress?.(restored);
      }
    }),
  );
  let users = 0;
  for (const set of usersByPartition.values()) {
    users += set.size;
    for (const userId of set) {
      const user = model.users.get(userId);
      if (user) model.streamTime = Math.max(model.streamTime, user.lastEventTime);
    }
  }
  return { users, records, usersByPartition };
}

/**
 * Restores the ranking weights the group learned, from its last checkpoint (none keeps the
 * configured ones), and the item model's sampling state; returns the item-updates offset the
 * checkpoint reflects (0 when there is none: replay everything the topic still holds).
 */
export async function restoreRanking(
  model: EddyModel,
  reader: LogReader,
  topic: string,
  groupId: string,
): Promise<number> {
  let latest: Uint8Array | null = null;
  const partitions = await reader.partitionsOf(topic);
  for (let p = 0; p < partitions; p++) {
    for await (const chunk of reader.readRange(topic, p, 0)) {
      for (const record of chunk) if (record.key === groupId) latest = record.value;
    }
  }
  if (latest === null) return 0;
  const record = codecs.rankingState.decode(latest);
  model.ranking.restore(record);
  const itemModel = record.itemModel ?? null;
  if (itemModel === null) return 0;
  model.items.restoreSamplingState(itemModel);
  model.incrementsApplied = itemModel.incrementsApplied;
  model.streamTime = Math.max(model.streamTime, itemModel.streamTime);
  return itemModel.incrementsOffset;
}

/**
 * Restores the item model from the last checkpoint (every partition: items are shared by all
 * user partitions). Only for a model that has not processed events yet, since it replaces items.
 */
export async function restoreItems(
  model: EddyModel,
  reader: LogReader,
  topic: string,
  onProgress?: (records: number) => void,
): Promise<{ readonly items: number; readonly records: number }> {
  const { latest: items, records } = await latestPerKey(reader, topic, onProgress);
  for (const [itemId, value] of items) {
    if (value === null) {
      model.items.remove(itemId);
      continue;
    }
    const state = codecs.itemState.decode(value);
    restoreItemState(model, state);
    model.streamTime = Math.max(model.streamTime, state.neighboursTime);
  }
  // Restored state is what the changelog already holds: nothing to checkpoint or republish yet.
  model.items.takeChanged();
  return { items: model.items.size, records };
}

/**
 * Restores the session-kNN index from its last checkpoint (every partition), written in the same
 * transaction as the item checkpoint. Only for a model that has not processed events yet.
 */
export async function restoreSessions(
  model: EddyModel,
  reader: LogReader,
  topic: string,
  onProgress?: (records: number) => void,
): Promise<{ readonly sessions: number; readonly records: number }> {
  const { latest, records } = await latestPerKey(reader, topic, onProgress);
  // Restoring marks nothing changed: the next checkpoint writes only what the stream changes.
  const restored = restoreSessionIndex(model.sessions, latest);
  return { sessions: restored ? model.sessions.size : 0, records };
}

/** Each key's latest value in a compacted topic (null for a tombstone), and the records read. */
async function latestPerKey(
  reader: LogReader,
  topic: string,
  onProgress?: (records: number) => void,
): Promise<{ readonly latest: Map<string, Uint8Array | null>; readonly records: number }> {
  let records = 0;
  const latest = new Map<string, Uint8Array | null>();
  const partitions = await reader.partitionsOf(topic);
  for (let p = 0; p < partitions; p++) {
    for await (const chunk of reader.readRange(topic, p, 0)) {
      let read = 0;
      for (const record of chunk) {
        if (record.key === null) continue;
        latest.set(record.key, record.value);
        read++;
      }
      records += read;
      onProgress?.(read);
    }
  }
  return { latest, records };
}

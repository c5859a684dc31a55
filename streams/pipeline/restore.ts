import { codecs } from '../codec/avro.js';
import type { EddyModel } from '../model/eddy-model.js';
import { restoreItemState } from '../model/item-state.js';
import type { LogReader } from '../ports/event-log.js';
import type { TopicNames } from './topics.js';

export interface RestoreReport {
  readonly users: number;
  readonly items: number;
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
): Promise<RestoreReport> {
  let records = 0;
  const userPartitions = await reader.partitionsOf(topics.userChangelog);
  for (let p = 0; p < userPartitions; p++) {
    for await (const chunk of reader.readRange(topics.userChangelog, p, 0)) {
      records += model.users.restore(chunk);
    }
  }
  const items = new Map<string, Uint8Array | null>();
  const itemPartitions = await reader.partitionsOf(topics.itemChangelog);
  for (let p = 0; p < itemPartitions; p++) {
    for await (const chunk of reader.readRange(topics.itemChangelog, p, 0)) {
      for (const record of chunk) {
        if (record.key === null) continue;
        items.set(record.key, record.value);
        records++;
      }
    }
  }
  for (const [itemId, value] of items) {
    if (value === null) {
      model.items.remove(itemId);
      continue;
    }
    const state = codecs.itemState.decode(value);
    restoreItemState(model, state);
    model.streamTime = Math.max(model.streamTime, state.neighboursTime);
  }
  for (const [, user] of model.users.entries())
    model.streamTime = Math.max(model.streamTime, user.lastEventTime);
  // Restored state is what the changelog already holds: nothing to checkpoint or republish yet.
  model.items.takeChanged();
  return { users: model.users.size, items: model.items.size, records };
}

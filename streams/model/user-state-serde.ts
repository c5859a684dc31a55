import { codecs } from '../codec/avro.js';
import type { UserStateRecord } from '../codec/state-records.js';
import type { Serde } from '../ports/state-store.js';
import type { UserPreferences } from './user-preferences.js';

/** UserPreferences ↔ the UserState Avro changelog record. */
export function toUserStateRecord(user: UserPreferences): UserStateRecord {
  return {
    userId: user.userId,
    longTerm: Array.from(user.longTerm),
    shortTerm: Array.from(user.shortTerm),
    lastEventTime: user.lastEventTime,
    recent: user.recent.map((r) => ({ itemId: r.itemId, type: r.type, time: r.time })),
    seen: [...user.seen],
    counters: { events: user.events, positives: user.positives, negatives: user.negatives },
    categoryAffinity: Object.fromEntries(user.categoryAffinity),
    lastList: [...user.lastList],
    lastListAt: user.lastListAt,
  };
}

export function fromUserStateRecord(record: UserStateRecord): UserPreferences {
  return {
    userId: record.userId,
    longTerm: Float32Array.from(record.longTerm),
    shortTerm: Float32Array.from(record.shortTerm),
    lastEventTime: record.lastEventTime,
    recent: record.recent.map((r) => ({ itemId: r.itemId, type: r.type, time: r.time })),
    seen: new Set(record.seen),
    categoryAffinity: new Map(Object.entries(record.categoryAffinity)),
    events: record.counters.events,
    positives: record.counters.positives,
    negatives: record.counters.negatives,
    lastList: [...record.lastList],
    lastListAt: record.lastListAt,
  };
}

export const userPreferencesSerde: Serde<UserPreferences> = {
  serialize: (user) => codecs.userState.encode(toUserStateRecord(user)),
  deserialize: (bytes) => fromUserStateRecord(codecs.userState.decode(bytes)),
};

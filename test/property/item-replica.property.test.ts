// The shared item model's invariants: applying a click's item increment through the item-updates
// topic (encoded, in any batching, by any number of replicas) gives exactly the item model that
// applying it at once gives; a checkpoint plus a replay from its offset equals never stopping; a
// catalog change older than one applied is ignored.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InMemoryLog } from '../../streams/adapters/memory/in-memory-log.js';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import { codecs } from '../../streams/codec/avro.js';
import { EddyModel } from '../../streams/model/eddy-model.js';
import type { ClickEvent, EventType, ItemEvent } from '../../streams/model/events.js';
import { modelCheckpoint, toItemStateRecord } from '../../streams/model/item-state.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import type { UserPreferences } from '../../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../../streams/model/user-state-serde.js';
import { ItemModelReplica } from '../../streams/pipeline/item-replica.js';
import { restoreItems, restoreRanking, restoreSessions } from '../../streams/pipeline/restore.js';

const TOPIC = 'eddy.item-updates';
const T0 = Date.UTC(2026, 0, 1);
const TYPES: readonly EventType[] = ['view', 'click', 'like', 'dislike', 'purchase'];

function model(replicatedItems: boolean): EddyModel {
  const users = new MemoryStateStore<UserPreferences>({
    name: 'users',
    changelogTopic: 'users-changelog',
    serde: userPreferencesSerde,
  });
  return new EddyModel(DEFAULT_MODEL_CONFIG, users, { replicatedItems });
}

const clicksArbitrary = fc.array(
  fc.record({
    user: fc.integer({ min: 0, max: 6 }),
    item: fc.integer({ min: 0, max: 15 }),
    type: fc.constantFrom(...TYPES),
    gap: fc.integer({ min: 0, max: 4 * 3_600_000 }),
  }),
  { minLength: 1, maxLength: 120 },
);

function toClicks(
  raw: readonly { user: number; item: number; type: EventType; gap: number }[],
): ClickEvent[] {
  let time = T0;
  return raw.map((r, i) => {
    time += r.gap;
    return {
      eventId: `e${i}`,
      userId: `u${r.user}`,
      itemId: `i${r.item}`,
      type: r.type,
      eventTime: time,
      sessionId: null,
      context: {},
    };
  });
}

/** The item side of a model, comparable with deepEqual (decay evaluated at one time). */
function itemSide(m: EddyModel, now: number): unknown {
  const saved = m.streamTime;
  m.streamTime = now;
  const ids = [...m.items.values()].map((item) => item.itemId).sort();
  const state = {
    items: ids.map((id) => toItemStateRecord(m, id)),
    weights: Array.from(m.ranking.weights),
    contextOffsets: Array.from(m.ranking.contextOffsets),
    updates: m.ranking.updates,
    increments: m.incrementsApplied,
    // The session-kNN index, probed: what each item's sessions vote for.
    sessions: ids.map((id) => {
      const scores = m.sessions.score(null, [id], now);
      return Array.from({ length: scores.count }, (_, i) => `${scores.items[i]}:${scores.values[i]}`).sort();
    }),
  };
  m.streamTime = saved;
  return state;
}

/** Feeds clicks to a replicated model in batches, publishing each batch's increments to the log. */
function publish(
  source: EddyModel,
  replica: ItemModelReplica,
  log: InMemoryLog,
  clicks: readonly ClickEvent[],
  batchSizes: readonly number[],
): void {
  let i = 0;
  let b = 0;
  while (i < clicks.length) {
    const size = batchSizes[b++ % batchSizes.length]!;
    for (const click of clicks.slice(i, i + size)) source.applyClick(click);
    i += size;
    const record = replica.outgoing(source.takeIncrements(), []);
    if (record !== null) log.append(record);
    replica.catchUp();
  }
}

function newLog(): InMemoryLog {
  const log = new InMemoryLog();
  log.createTopics([{ name: TOPIC, partitions: 1 }]);
  return log;
}

describe('the item model as a replicated table', () => {
  test('through the topic, in any batching, every replica equals applying each click at once', () => {
    fc.assert(
      fc.property(
        clicksArbitrary,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        (raw, sizes) => {
          const clicks = toClicks(raw);
          const alone = model(false);
          for (const click of clicks) alone.applyClick(click);

          const log = newLog();
          const source = model(true);
          const own = new ItemModelReplica(source, TOPIC, 'a');
          own.follow(log);
          publish(source, own, log, clicks, sizes);
          const other = model(true);
          const otherReplica = new ItemModelReplica(other, TOPIC, 'b');
          otherReplica.follow(log);
          otherReplica.catchUp();

          const now = clicks[clicks.length - 1]!.eventTime;
          assert.deepEqual(itemSide(source, now), itemSide(alone, now));
          assert.deepEqual(itemSide(other, now), itemSide(alone, now));
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a checkpoint plus a replay from its offset equals a replica that never stopped', async () => {
    await fc.assert(
      fc.asyncProperty(clicksArbitrary, fc.double({ min: 0, max: 1, noNaN: true }), async (raw, at) => {
        const clicks = toClicks(raw);
        const cut = Math.floor(at * clicks.length);
        const log = newLog();
        log.createTopics([
          { name: 'items-changelog', partitions: 1, cleanupPolicy: 'compact' },
          { name: 'ranking-changelog', partitions: 1, cleanupPolicy: 'compact' },
          { name: 'sessions-changelog', partitions: 1, cleanupPolicy: 'compact' },
        ]);
        const changelogs = {
          itemChangelog: 'items-changelog',
          sessionChangelog: 'sessions-changelog',
          rankingChangelog: 'ranking-changelog',
        };
        const source = model(true);
        const replica = new ItemModelReplica(source, TOPIC, 'a');
        replica.follow(log);
        publish(source, replica, log, clicks.slice(0, cut), [3]);
        log.produce(modelCheckpoint(source, changelogs, 'group', replica.appliedOffset));
        publish(source, replica, log, clicks.slice(cut), [3]);

        const restored = model(true);
        await restoreItems(restored, log, 'items-changelog');
        await restoreSessions(restored, log, 'sessions-changelog');
        const offset = await restoreRanking(restored, log, 'ranking-changelog', 'group');
        const restoredReplica = new ItemModelReplica(restored, TOPIC, 'a');
        restoredReplica.seek(offset);
        await restoredReplica.replay(log);

        const now = clicks[clicks.length - 1]!.eventTime;
        type Side = {
          items: unknown[];
          weights: number[];
          contextOffsets: number[];
          increments: number;
          sessions: string[][];
        };
        const a = itemSide(restored, now) as Side;
        const b = itemSide(source, now) as Side;
        assert.equal(a.increments, b.increments);
        assert.deepEqual(a.weights, b.weights);
        assert.deepEqual(a.contextOffsets, b.contextOffsets);
        // The session-kNN index is checkpointed exactly (slots, rings, counters): every vote agrees.
        assert.deepEqual(a.sessions, b.sessions);
        // Co-visitation weights were checkpointed decayed to the checkpoint's time, so they agree
        // to float precision rather than bit for bit; everything else is exact.
        assert.equal(a.items.length, b.items.length);
        for (let i = 0; i < a.items.length; i++) {
          const x = a.items[i] as ReturnType<typeof toItemStateRecord> & object;
          const y = b.items[i] as ReturnType<typeof toItemStateRecord> & object;
          assert.deepEqual({ ...x, neighbours: [], popularity: 0 }, { ...y, neighbours: [], popularity: 0 });
          assert.ok(Math.abs(x.popularity - y.popularity) <= 1e-9 * Math.max(1, y.popularity));
          assert.deepEqual(
            x.neighbours.map((n) => n.itemId).sort(),
            y.neighbours.map((n) => n.itemId).sort(),
          );
          for (const n of x.neighbours) {
            const m = y.neighbours.find((o) => o.itemId === n.itemId)!;
            assert.ok(
              Math.abs(n.weight - m.weight) <= 1e-9 * Math.max(1, m.weight),
              `${x.itemId}→${n.itemId}`,
            );
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  test('a catalog change older than one applied is ignored; a newer one applies', () => {
    const m = model(true);
    const upsert = (available: boolean): ItemEvent => ({
      itemId: 'i1',
      op: 'upsert',
      title: available ? 'on sale' : 'withdrawn',
      categories: [],
      tags: [],
      available,
      contentVector: null,
      updatedAt: T0,
    });
    assert.equal(m.applyCatalog(upsert(false), { partition: 0, offset: 7 }), true);
    // The same item's earlier version, forwarded late by another instance: ignored.
    assert.equal(m.applyCatalog(upsert(true), { partition: 0, offset: 3 }), false);
    assert.equal(m.items.get('i1')?.available, false);
    assert.equal(m.applyCatalog(upsert(true), { partition: 0, offset: 9 }), true);
    assert.equal(m.items.get('i1')?.available, true);
    // A deletion is remembered too: an older upsert cannot bring the item back.
    assert.equal(m.applyCatalog({ ...upsert(false), op: 'delete' }, { partition: 0, offset: 12 }), true);
    assert.equal(m.applyCatalog(upsert(true), { partition: 0, offset: 10 }), false);
    assert.equal(m.items.get('i1'), undefined);
  });

  test('forwarded catalog changes reach another replica through the topic', () => {
    const log = newLog();
    const a = model(true);
    const b = model(true);
    const replicaA = new ItemModelReplica(a, TOPIC, 'a');
    const replicaB = new ItemModelReplica(b, TOPIC, 'b');
    replicaA.follow(log);
    replicaB.follow(log);
    const event: ItemEvent = {
      itemId: 'new',
      op: 'upsert',
      title: 'a new item',
      categories: ['c1'],
      tags: [],
      available: true,
      contentVector: null,
      updatedAt: T0,
    };
    const record = replicaA.outgoing([], [{ event, position: { partition: 2, offset: 5 } }]);
    assert.ok(record);
    assert.equal(codecs.itemModelIncrements.decode(record.value!).catalog.length, 1);
    log.append(record);
    replicaB.catchUp();
    assert.equal(b.items.get('new')?.title, 'a new item');
    assert.equal(replicaB.appliedOffset, 1);
    assert.equal(replicaA.outgoing([], []), null, 'a batch that taught nothing writes nothing');
  });
});

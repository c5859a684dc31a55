import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { topicNames } from '../../streams/pipeline/topics.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { emittedLists, runPrefed, TEST_NOW, testOptions } from '../support/embedded-run.js';

/**
 * The catalog is a table: its latest record per item is what holds. It is read in full at start,
 * and the source then hands the same records over again (from the group's committed offset); an
 * older version applied again would undo a later change until the source caught up with it.
 */

const WITHDRAW_EVERY = 5;

function catalogThenClicks(): { events: StreamEvent[]; withdrawn: Set<string> } {
  const all = [
    ...syntheticStream({
      seed: 77,
      users: 80,
      items: 150,
      categories: 6,
      events: 2_000,
      startTime: TEST_NOW - 30 * 86_400_000,
      contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
    }),
  ];
  const catalog = all.filter((e) => e.kind === 'item');
  const withdrawn = new Set<string>();
  const withdrawals: StreamEvent[] = [];
  catalog.forEach((e, i) => {
    if (e.kind !== 'item' || i % WITHDRAW_EVERY !== 0 || withdrawn.has(e.event.itemId)) return;
    withdrawn.add(e.event.itemId);
    withdrawals.push({ ...e, event: { ...e.event, available: false } });
  });
  // Later catalog changes could make a withdrawn item available again: only the initial ones count.
  const lastUpsert = new Map<string, boolean>();
  for (const e of [...catalog, ...withdrawals])
    if (e.kind === 'item') lastUpsert.set(e.event.itemId, e.event.available);
  for (const [itemId, available] of lastUpsert) if (available) withdrawn.delete(itemId);
  return { events: [...catalog, ...withdrawals, ...all.filter((e) => e.kind === 'click')], withdrawn };
}

test('an item withdrawn before the start is never served, though the source replays its older versions', async () => {
  const { events, withdrawn } = catalogThenClicks();
  assert.ok(withdrawn.size > 5);
  // Small batches over several partitions: the source interleaves the catalog's replay with clicks.
  const eddy = await runPrefed(events, testOptions({ batchSize: 3, partitions: 3 }));
  const lists = await emittedLists(eddy);
  assert.ok(lists.length > 100);
  for (const list of lists) {
    const served = list.items.filter((item) => withdrawn.has(item.itemId)).map((item) => item.itemId);
    assert.deepEqual(served, [], `list ${list.listId} serves withdrawn items`);
  }
  // Counted once each, as the source reached them, though applied at start.
  assert.equal(eddy.stats.summary().items, events.filter((e) => e.kind === 'item').length);
});

test('a tombstone on the catalog topic (how a compacted catalog deletes) removes the item: never served, not dead-lettered', async () => {
  const { events } = catalogThenClicks();
  // New items nobody clicks (a click makes an item known again: a catalog is optional), with the
  // content vectors of real ones so that vector retrieval would find them; every other one deleted.
  const catalog = events.flatMap((e) => (e.kind === 'item' ? [e] : [])).slice(0, 40);
  const extras: StreamEvent[] = catalog.map((e, i) => ({ ...e, event: { ...e.event, itemId: `new-${i}` } }));
  const deleted = new Set(
    extras.flatMap((e, i) => (e.kind === 'item' && i % 2 === 0 ? [e.event.itemId] : [])),
  );
  const eddy = await runPrefed(
    [...extras, ...events],
    testOptions({ batchSize: 3, partitions: 3 }),
    [...deleted].map((itemId) => ({ topic: topicNames().items, key: itemId, value: null })),
  );
  for (const itemId of deleted) assert.equal(eddy.model.items.get(itemId), undefined, itemId);
  assert.ok(eddy.model.items.get('new-1'), 'the items not deleted are in the catalog');
  for (const list of await emittedLists(eddy)) {
    for (const item of list.items)
      assert.ok(!deleted.has(item.itemId), `${list.listId} serves ${item.itemId}`);
  }
  assert.equal(eddy.stats.summary().deadLetters, 0);
});

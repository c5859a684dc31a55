import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EVENT_TYPES, type EventType } from '../../streams/model/events.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { emittedLists, modelWith, runPrefed, testOptions } from '../support/embedded-run.js';

const DEFAULT_RANKING = modelWith({}).ranking;

interface Interaction {
  user: number;
  item: number;
  type: EventType;
  gapMs: number;
}

const interaction = fc.record({
  user: fc.integer({ min: 0, max: 7 }),
  item: fc.integer({ min: 0, max: 39 }),
  type: fc.constantFrom(...EVENT_TYPES),
  gapMs: fc.integer({ min: 0, max: 3_600_000 }),
});

function toStream(interactions: readonly Interaction[], items: number): StreamEvent[] {
  const start = Date.UTC(2026, 0, 1);
  const events: StreamEvent[] = [];
  for (let i = 0; i < items; i++) {
    events.push({
      kind: 'item',
      event: {
        itemId: `i${i}`,
        op: 'upsert',
        title: `Item ${i}`,
        categories: [`c${i % 5}`],
        tags: [],
        available: i % 13 !== 12,
        contentVector: null,
        updatedAt: start,
      },
    });
  }
  let time = start;
  interactions.forEach((x, n) => {
    time += x.gapMs;
    events.push({
      kind: 'click',
      event: {
        eventId: `e${n}`,
        userId: `u${x.user}`,
        itemId: `i${x.item}`,
        type: x.type,
        eventTime: time,
        sessionId: null,
        context: {},
      },
    });
  });
  return events;
}

test('every list: no seen item, at most K items, no duplicates, ranks 1..n, only available items', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(interaction, { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 50 }),
      async (interactions, listSize, batchSize) => {
        const stream = toStream(interactions, 40);
        const eddy = await runPrefed(
          stream,
          testOptions({ batchSize, model: modelWith({ ranking: { ...DEFAULT_RANKING, listSize } }) }),
        );
        const lists = await emittedLists(eddy);
        assert.ok(lists.length > 0);
        const clicks = stream.flatMap((e) => (e.kind === 'click' ? [e.event] : []));
        const position = new Map(clicks.map((c, i) => [c.eventId, i]));
        for (const list of lists) {
          const upTo = position.get(list.triggeringEventId)!;
          const seen = new Set(
            clicks.slice(0, upTo + 1).flatMap((c) => (c.userId === list.userId ? [c.itemId] : [])),
          );
          const ids = list.items.map((i) => i.itemId);
          assert.ok(ids.length <= listSize, `list of ${ids.length} > K=${listSize}`);
          assert.equal(new Set(ids).size, ids.length, 'duplicate items');
          assert.deepEqual(
            list.items.map((i) => i.rank),
            ids.map((_, i) => i + 1),
          );
          for (const id of ids) {
            assert.ok(!seen.has(id), `${list.userId} already interacted with ${id}`);
            assert.notEqual(Number(id.slice(1)) % 13, 12, `unavailable item ${id} recommended`);
          }
          for (const item of list.items) assert.ok(Number.isFinite(item.score));
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('lists are deterministic for a given input', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(interaction, { minLength: 1, maxLength: 80 }), async (interactions) => {
      const stream = toStream(interactions, 40);
      const first = await emittedLists(await runPrefed(stream, testOptions()));
      const second = await emittedLists(await runPrefed(stream, testOptions()));
      assert.deepEqual(second, first);
    }),
    { numRuns: 15 },
  );
});

test('with exclusion switched off, seen items may return (the invariant is the setting, not an accident)', async () => {
  const interactions: Interaction[] = [];
  for (let round = 0; round < 30; round++) {
    for (let item = 0; item < 4; item++)
      interactions.push({ user: round % 3, item, type: 'purchase', gapMs: 1000 });
  }
  const model = modelWith({ ranking: { ...DEFAULT_RANKING, listSize: 4, excludeSeen: false } });
  const lists = await emittedLists(await runPrefed(toStream(interactions, 6), testOptions({ model })));
  const last = lists.filter((l) => l.userId === 'u0').at(-1)!;
  assert.ok(
    last.items.some((i) => Number(i.itemId.slice(1)) < 4),
    'a heavily purchased item is recommended again when seen items are not excluded',
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreparedDataset, StreamingMethod } from '../../bench/quality/harness.js';
import { DEFAULT_HARNESS_OPTIONS, runPrequential } from '../../bench/quality/harness.js';
import {
  hitAt,
  MetricSums,
  ndcgAt,
  rankOf,
  reciprocalRankAt,
  summarize,
} from '../../bench/quality/metrics.js';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';

const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

test('rankOf is 1-based, 0 when absent or beyond the limit', () => {
  const list = ['a', 'b', 'c', 'd'];
  assert.equal(rankOf(list, 'a'), 1);
  assert.equal(rankOf(list, 'c'), 3);
  assert.equal(rankOf(list, 'z'), 0);
  assert.equal(rankOf(list, 'd', 3), 0);
  assert.equal(rankOf([], 'a'), 0);
});

test('HR, NDCG and MRR of a single relevant item, by hand', () => {
  // Rank 1: a perfect list.
  assert.equal(hitAt(1, 10), 1);
  close(ndcgAt(1, 10), 1);
  close(reciprocalRankAt(1, 10), 1);
  // Rank 3: DCG = 1/log2(4) = 0.5 and the ideal DCG of one relevant item is 1.
  close(ndcgAt(3, 10), 0.5);
  close(reciprocalRankAt(3, 10), 1 / 3);
  // Rank 7: 1/log2(8) = 1/3.
  close(ndcgAt(7, 10), 1 / 3);
  // Rank 10 is inside the cut-off, 11 outside.
  assert.equal(hitAt(10, 10), 1);
  close(ndcgAt(10, 10), 1 / Math.log2(11));
  assert.equal(hitAt(11, 10), 0);
  assert.equal(ndcgAt(11, 10), 0);
  assert.equal(reciprocalRankAt(11, 10), 0);
  assert.equal(hitAt(15, 20), 1);
  // A miss.
  assert.equal(hitAt(0, 10), 0);
  assert.equal(ndcgAt(0, 10), 0);
  assert.equal(reciprocalRankAt(0, 10), 0);
});

test('metric sums average over events; coverage is distinct items over the catalogue', () => {
  const sums = new MetricSums();
  for (const rank of [1, 3, 0, 15]) sums.add(rank);
  const m = summarize(sums, 30, 120, 500);
  assert.equal(m.events, 4);
  close(m['hr@10'], 2 / 4);
  close(m['ndcg@10'], (1 + 0.5) / 4);
  close(m['mrr@10'], (1 + 1 / 3) / 4);
  close(m['hr@20'], 3 / 4);
  close(m.coverage, 0.25);
  assert.equal(m.eventsPerSecond, 500);
  assert.ok(Number.isNaN(summarize(new MetricSums(), 0, 10, 1)['hr@10']), 'no events: NaN, not 0');
});

function item(itemId: string): ItemEvent {
  return {
    itemId,
    op: 'upsert',
    title: itemId,
    categories: [],
    tags: [],
    available: true,
    contentVector: null,
    updatedAt: 0,
  };
}

function click(userId: string, itemId: string, t: number): ClickEvent {
  return { eventId: `e${t}`, userId, itemId, type: 'click', eventTime: t, sessionId: null, context: {} };
}

function dataset(clicks: ClickEvent[], items: string[]): PreparedDataset {
  return {
    label: 'test',
    description: 'test',
    initialCatalog: items.map(item),
    events: clicks.map((event) => ({ kind: 'click', event })),
    clicks: clicks.length,
    users: new Set(clicks.map((c) => c.userId)).size,
    catalogueSize: items.length,
    repeatClicks: 0,
  };
}

test('the harness serves before it learns, splits validation/evaluation and cold/warm, and windows', async () => {
  const log: string[] = [];
  // Always serves [x, y, <the user's last item>]: hits whenever the user clicks x, y or repeats.
  const last = new Map<string, string>();
  const method: StreamingMethod = {
    name: 'scripted',
    serve(userId) {
      log.push(`serve ${userId}`);
      const previous = last.get(userId);
      return previous === undefined ? ['x', 'y'] : ['x', 'y', previous];
    },
    learn(event) {
      log.push(`learn ${event.userId}`);
      last.set(event.userId, event.itemId);
    },
  };
  // u1 clicks 7 times: prior events 0..4 are cold, 5 and 6 warm. 10 clicks: 2 validate, 8 evaluate,
  // of which 3 repeat an item the user clicked before: learned from, not scored.
  const clicks = [
    click('u1', 'x', 1), // validation, cold, rank 1
    click('u2', 'q', 2), // validation, cold, miss
    click('u1', 'y', 3), // evaluation, cold, rank 2
    click('u1', 'z', 4), // cold, miss
    click('u1', 'z', 5), // a repeat: not scored
    click('u1', 'x', 6), // a repeat: not scored
    click('u1', 'w', 7), // warm (5 prior), miss
    click('u1', 'w', 8), // a repeat: not scored
    click('u2', 'y', 9), // cold, rank 2
    click('u2', 'x', 10), // cold, rank 1
  ];
  const run = await runPrequential(method, dataset(clicks, ['x', 'y', 'z', 'w', 'q']), {
    ...DEFAULT_HARNESS_OPTIONS,
    window: 4,
  });
  assert.deepEqual(log.slice(0, 4), ['serve u1', 'learn u1', 'serve u2', 'learn u2']);
  // Repeats are learned from (every click) but never served or scored.
  assert.equal(log.filter((l) => l.startsWith('learn')).length, 10);
  assert.equal(log.filter((l) => l.startsWith('serve')).length, 7);
  assert.equal(run.skippedRepeats, 3);
  assert.equal(run.events, 10);
  const v = run.splits.validation;
  assert.equal(v.overall.events, 2);
  assert.equal(v.overall['hr@10'], 0.5);
  assert.equal(v.warm.events, 0);
  const e = run.splits.evaluation;
  assert.equal(e.overall.events, 5);
  assert.equal(e.cold.events, 4);
  assert.equal(e.warm.events, 1);
  close(e.overall['hr@10'], 3 / 5);
  close(e.warm['hr@10'], 0);
  close(e.warm['ndcg@10'], 0);
  close(e.cold['mrr@10'], (1 / 2 + 1 / 2 + 1) / 4);
  // Served in evaluation: x, y and u2's last item q.
  close(e.overall.coverage, 3 / 5);
  close(e.cold.coverage, 3 / 5);
  // Seen items served, per scored event: 0, 0, 2, 3, 3, 1, 2.
  assert.equal(run.servedSeen, 11);
  assert.equal(run.shortLists, 7);
  assert.deepEqual(
    run.windows.map((w) => [w.start, w.events]),
    [
      [0, 4],
      [4, 1],
      [8, 2],
    ],
  );
  close(run.windows[0]!['hr@10'], 2 / 4);
});

test('validationOnly stops at the end of the validation prefix', async () => {
  const clicks = Array.from({ length: 50 }, (_, i) => click(`u${i % 3}`, 'x', i));
  let learned = 0;
  const run = await runPrequential(
    {
      name: 'counting',
      serve: () => [],
      learn: () => {
        learned++;
      },
    },
    dataset(clicks, ['x']),
    { ...DEFAULT_HARNESS_OPTIONS, validationOnly: true },
  );
  assert.equal(learned, 10);
  assert.equal(run.events, 10);
  assert.equal(run.splits.evaluation.overall.events, 0);
});

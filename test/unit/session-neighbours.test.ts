import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  restoreSessionIndex,
  SESSION_HEADER_KEY,
  sessionCheckpoint,
} from '../../streams/model/item-state.js';
import {
  DEFAULT_SESSION_NEIGHBOUR_CONFIG,
  type SessionNeighbourConfig,
  SessionNeighbours,
} from '../../streams/model/session-neighbours.js';
import type { OutgoingRecord } from '../../streams/ports/event-log.js';

const HOUR = 3_600_000;

/** Replays sessions click by click, as the model records them (preceding items, then the click). */
function index(sessions: Record<string, readonly string[]>, config: Partial<SessionNeighbourConfig> = {}) {
  const neighbours = new SessionNeighbours(config);
  let t = 0;
  for (const [key, items] of Object.entries(sessions)) {
    items.forEach((itemId, i) => {
      neighbours.record(key, items.slice(0, i), itemId, ++t);
    });
  }
  return { neighbours, now: t };
}

function scoresOf(neighbours: SessionNeighbours, key: string | null, recent: readonly string[], now: number) {
  const result = neighbours.score(key, recent, now);
  const scores = new Map<string, number>();
  for (let i = 0; i < result.count; i++) scores.set(result.items[i]!, result.values[i]!);
  return { scores, max: result.max };
}

test('the items of the most similar sessions score highest; the user’s own items never score', () => {
  const { neighbours, now } = index({
    s1: ['a', 'b', 'c'],
    s2: ['a', 'b', 'c'],
    s3: ['a', 'x'],
    s4: ['q', 'r'],
  });
  const { scores, max } = scoresOf(neighbours, 'me', ['a', 'b'], now);
  assert.ok(scores.get('c')! > scores.get('x')!, 'c follows a and b in two sessions, x only a in one');
  assert.equal(max, scores.get('c'));
  assert.ok(!scores.has('a') && !scores.has('b'), 'the user’s own items');
  assert.ok(!scores.has('q') && !scores.has('r'), 'sessions sharing nothing do not vote');
});

test('the user’s own session is not their neighbour', () => {
  const { neighbours, now } = index({ me: ['a', 'b', 'z'], other: ['a', 'c'] });
  // Scoring "me" as of ['a', 'b'] (z is in my stored session): z must not come from myself.
  const { scores } = scoresOf(neighbours, 'me', ['a', 'b'], now);
  assert.ok(!scores.has('z'));
  assert.ok(scores.has('c'));
});

test('recent neighbours outweigh old ones at the recency half-life', () => {
  const neighbours = new SessionNeighbours({ recencyHalfLifeMs: HOUR });
  neighbours.record('old', [], 'a', 0);
  neighbours.record('old', ['a'], 'old-next', 0);
  neighbours.record('new', [], 'a', 10 * HOUR);
  neighbours.record('new', ['a'], 'new-next', 10 * HOUR);
  const { scores } = scoresOf(neighbours, null, ['a'], 10 * HOUR);
  assert.ok(scores.get('new-next')! > 100 * scores.get('old-next')!);
});

test('items after the shared item count fully, those before it beforeWeight as much', () => {
  const { neighbours, now } = index({ s: ['before', 'a', 'after'] }, { beforeWeight: 0.25 });
  const { scores } = scoresOf(neighbours, null, ['a'], now);
  assert.ok(Math.abs(scores.get('before')! / scores.get('after')! - 0.25) < 1e-9);
});

test('memory is bounded: capacity sessions, sessionLength items each, sessionsPerItem per item', () => {
  const config = { capacity: 10, sessionLength: 3, sessionsPerItem: 4 };
  const neighbours = new SessionNeighbours(config);
  for (let s = 0; s < 100; s++) {
    for (let i = 0; i < 10; i++) neighbours.record(`s${s}`, [], `i${(s + i) % 7}`, s * 100 + i);
  }
  assert.equal(neighbours.size, 10);
  // Only the 10 newest sessions can vote, and each holds at most 3 items.
  const { scores } = scoresOf(neighbours, null, ['i0'], 10_000);
  assert.ok(scores.size <= 10 * 3);
});

test('a removed item no longer scores; the rest of its sessions still vote', () => {
  const { neighbours, now } = index({ s1: ['a', 'gone', 'c'], s2: ['a', 'c'] });
  neighbours.removeItem('gone');
  const { scores } = scoresOf(neighbours, null, ['a'], now);
  assert.ok(!scores.has('gone'));
  assert.ok(scores.get('c')! > 0);
});

test('configuration errors name the setting', () => {
  assert.throws(() => new SessionNeighbours({ neighbours: -1 }), /sessionNeighbours\.neighbours/);
  assert.throws(() => new SessionNeighbours({ capacity: 0 }), /capacity/);
  assert.throws(
    () => new SessionNeighbours({ sessionLength: 2.5 }),
    /sessionNeighbours\.sessionLength must be an integer/,
  );
});

const click = fc.record({
  session: fc.integer({ min: 0, max: 30 }),
  item: fc.integer({ min: 0, max: 40 }),
});

test('property: replicas fed the same sessions score alike; own items and the own session never vote', () => {
  fc.assert(
    fc.property(fc.array(click, { maxLength: 300 }), fc.integer({ min: 0, max: 30 }), (clicks, probe) => {
      const config = { ...DEFAULT_SESSION_NEIGHBOUR_CONFIG, capacity: 8, sessionsPerItem: 5, sampleSize: 20 };
      const a = new SessionNeighbours(config);
      const b = new SessionNeighbours(config);
      const sessions = new Map<number, string[]>();
      clicks.forEach(({ session, item }, t) => {
        const preceding = sessions.get(session) ?? [];
        a.record(`s${session}`, preceding, `i${item}`, t);
        b.record(`s${session}`, preceding, `i${item}`, t);
        sessions.set(session, [...preceding, `i${item}`].slice(-config.sessionLength));
      });
      const recent = sessions.get(probe) ?? ['i0'];
      const fromA = scoresOf(a, `s${probe}`, recent, clicks.length);
      const fromB = scoresOf(b, `s${probe}`, recent, clicks.length);
      assert.deepEqual([...fromA.scores], [...fromB.scores]);
      for (const [itemId, value] of fromA.scores) {
        assert.ok(!recent.includes(itemId), `own item ${itemId} scored`);
        assert.ok(value > 0 && value <= fromA.max);
      }
      assert.ok(a.size <= config.capacity);
    }),
    { numRuns: 200 },
  );
});

/** A compacted changelog topic in miniature: each key's latest value. */
function compact(into: Map<string, Uint8Array | null>, records: readonly OutgoingRecord[]): void {
  for (const record of records) into.set(record.key ?? '', record.value);
}

function allScores(
  neighbours: SessionNeighbours,
  keys: readonly string[],
  items: readonly string[],
  now: number,
) {
  return [
    ...items.map((item) => [...scoresOf(neighbours, null, [item], now).scores].sort()),
    ...keys.map((key, k) =>
      [...scoresOf(neighbours, key, items.slice(k % 3, (k % 3) + 3), now).scores].sort(),
    ),
  ];
}

const operation = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('click' as const), session: fc.nat(7), item: fc.nat(10) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), item: fc.nat(10) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const) }) },
);

test('property: a checkpoint (changes since the last, compacted by key) restores an index that behaves as the original from then on', () => {
  fc.assert(
    fc.property(
      fc.array(operation, { maxLength: 250 }),
      fc.array(operation, { maxLength: 60 }),
      (before, after) => {
        const config = { capacity: 6, sessionLength: 4, sessionsPerItem: 3, sampleSize: 2, neighbours: 2 };
        const original = new SessionNeighbours(config);
        const topic = new Map<string, Uint8Array | null>();
        const sessions = new Map<number, string[]>();
        let t = 0;
        const run = (ops: typeof before, targets: readonly SessionNeighbours[]) => {
          for (const op of ops) {
            t += 1_000;
            if (op.kind === 'click') {
              const preceding = sessions.get(op.session) ?? [];
              for (const target of targets) target.record(`s${op.session}`, preceding, `i${op.item}`, t);
              sessions.set(op.session, [...preceding, `i${op.item}`].slice(-config.sessionLength));
            } else if (op.kind === 'remove') {
              for (const target of targets) target.removeItem(`i${op.item}`);
            } else if (targets.length === 1) {
              compact(topic, sessionCheckpoint(original, 'sessions'));
            }
          }
        };
        run(before, [original]);
        compact(topic, sessionCheckpoint(original, 'sessions'));

        const restored = new SessionNeighbours(config);
        assert.equal(
          restoreSessionIndex(restored, topic),
          original.size > 0 || topic.has(SESSION_HEADER_KEY),
        );
        assert.deepEqual(restored.header(), original.header());
        run(after, [original, restored]);
        const keys = Array.from({ length: 8 }, (_, s) => `s${s}`);
        const items = Array.from({ length: 11 }, (_, i) => `i${i}`);
        assert.deepEqual(allScores(restored, keys, items, t), allScores(original, keys, items, t));
        assert.deepEqual(restored.header(), original.header());
      },
    ),
    { numRuns: 300 },
  );
});

test('a checkpoint written under another index shape is ignored: the index fills again from the stream', () => {
  const small = new SessionNeighbours({ capacity: 4 });
  small.record('s1', ['a'], 'b', 1);
  const topic = new Map<string, Uint8Array | null>();
  compact(topic, sessionCheckpoint(small, 'sessions'));
  const other = new SessionNeighbours({ capacity: 8 });
  assert.equal(restoreSessionIndex(other, topic), false);
  assert.equal(other.size, 0);
  const same = new SessionNeighbours({ capacity: 4 });
  assert.equal(restoreSessionIndex(same, topic), true);
  assert.equal(same.size, 1);
  assert.deepEqual(sessionCheckpoint(small, 'sessions'), [], 'nothing changed since: nothing to write');
});

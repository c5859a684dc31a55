import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FusedMethod, parseFusionSpec } from '../../bench/quality/fusion.js';
import type { StreamingMethod } from '../../bench/quality/harness.js';
import type { ClickEvent } from '../../streams/model/events.js';

/** Serves a fixed list and records what it learned. */
function fixed(name: string, list: readonly string[]): StreamingMethod & { learned: string[] } {
  const learned: string[] = [];
  return {
    name,
    learned,
    serve: (_userId, k) => list.slice(0, k),
    learn: (event: ClickEvent) => {
      learned.push(event.itemId);
    },
  };
}

const click: ClickEvent = {
  eventId: 'e1',
  userId: 'u',
  itemId: 'i9',
  type: 'click',
  eventTime: 0,
  sessionId: null,
  context: {},
};

test('fusion: items both methods rank beat items one ranks alone; weights tilt the order', async () => {
  const a = fixed('a', ['x', 'shared', 'y']);
  const b = fixed('b', ['z', 'shared', 'w']);
  const fused = new FusedMethod([
    { method: a, weight: 1 },
    { method: b, weight: 1 },
  ]);
  assert.equal(fused.name, 'fused(a+b)');
  const list = await fused.serve('u', 3);
  // shared: 2 / (RANK_OFFSET + 2) beats x and z: 1 / (RANK_OFFSET + 1); ties keep the first member's order.
  assert.deepEqual(list, ['shared', 'x', 'z']);
  const tilted = new FusedMethod([
    { method: a, weight: 1 },
    { method: b, weight: 0.5 },
  ]);
  assert.equal(tilted.name, 'fused(a+b*0.5)');
  assert.deepEqual(await tilted.serve('u', 4), ['shared', 'x', 'y', 'z']);
  await fused.learn(click);
  assert.deepEqual(a.learned, ['i9']);
  assert.deepEqual(b.learned, ['i9']);
});

test('fusion specs: weights default to 1; bad specs name the expected form', () => {
  assert.deepEqual(parseFusionSpec('eddy+isgd*0.5'), [
    { name: 'eddy', weight: 1 },
    { name: 'isgd', weight: 0.5 },
  ]);
  assert.throws(() => parseFusionSpec('eddy'), /at least 2 methods/);
  assert.throws(() => parseFusionSpec('eddy+isgd*0'), /method\[\*weight\]\+method\[\*weight\], weights > 0/);
  assert.throws(() => new FusedMethod([{ method: fixed('a', []), weight: 1 }]), /at least 2 methods/);
});

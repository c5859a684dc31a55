import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemoryLog } from '../../streams/adapters/memory/in-memory-log.js';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import type { Serde } from '../../streams/ports/state-store.js';

interface Counter {
  count: number;
  tags: string[];
}

const json: Serde<Counter> = {
  serialize: (value) => new TextEncoder().encode(JSON.stringify(value)),
  deserialize: (data) => JSON.parse(new TextDecoder().decode(data)) as Counter,
};

const newStore = (): MemoryStateStore<Counter> =>
  new MemoryStateStore({ name: 'counters', changelogTopic: 'counters-changelog', serde: json });

const decoded = (value: Uint8Array | null): Counter | null =>
  value === null ? null : json.deserialize(value);

test('a flush holds each dirty key once with its latest value, deletes as tombstones', () => {
  const store = newStore();
  store.put('a', { count: 1, tags: [] });
  store.put('b', { count: 2, tags: [] });
  const c: Counter = { count: 3, tags: [] };
  store.put('c', c);
  store.put('a', { count: 10, tags: ['x'] });
  store.delete('b');
  store.delete('never-stored');
  // Values may be mutated in place after `put`: the flush records them as they are now.
  c.count = 30;

  const records = store.flushChangelog();
  assert.deepEqual(records.map((r) => [r.topic, r.key, decoded(r.value)]).sort(), [
    ['counters-changelog', 'a', { count: 10, tags: ['x'] }],
    ['counters-changelog', 'b', null],
    ['counters-changelog', 'c', { count: 30, tags: [] }],
  ]);
  assert.equal(store.size, 2);
  assert.equal(store.has('b'), false);
  assert.deepEqual(store.get('a'), { count: 10, tags: ['x'] });
  assert.deepEqual(store.flushChangelog(), [], 'a flush clears the dirty set');

  store.put('b', { count: 5, tags: [] });
  assert.deepEqual(
    store.flushChangelog().map((r) => r.key),
    ['b'],
  );
});

test('restore(flushed records) rebuilds an equal store without marking keys dirty', () => {
  const store = newStore();
  const log: { key: string | null; value: Uint8Array | null }[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 20; i++) {
      const key = `k${(i * 7 + round) % 13}`;
      if ((i + round) % 5 === 0) store.delete(key);
      else store.put(key, { count: round * 100 + i, tags: [`r${round}`] });
    }
    log.push(...store.flushChangelog());
  }

  const restored = newStore();
  assert.equal(
    restored.restore([...log, { key: null, value: null }]),
    log.length,
    'keyless records are skipped',
  );
  assert.deepEqual(new Map(restored.entries()), new Map(store.entries()));
  assert.deepEqual([...restored.keys()].sort(), [...store.keys()].sort());
  assert.equal(restored.size, store.size);
  assert.deepEqual(restored.flushChangelog(), []);
});

test('a store survives a round trip through a compacted changelog topic', async () => {
  const log = new InMemoryLog({ compactionThreshold: Infinity });
  log.createTopics([{ name: 'counters-changelog', partitions: 2, cleanupPolicy: 'compact' }]);
  const store = newStore();
  for (let i = 0; i < 50; i++) {
    store.put(`k${i % 7}`, { count: i, tags: [] });
    if (i % 10 === 9) store.delete(`k${i % 7}`);
    if (i % 5 === 4) log.produce(store.flushChangelog());
  }
  log.compact();

  const restored = newStore();
  for (let partition = 0; partition < 2; partition++) {
    for await (const chunk of log.readRange('counters-changelog', partition, 0)) {
      // The port's SourceRecord cannot carry a null value; the log marks tombstones by identity instead.
      restored.restore(chunk.map((r) => ({ key: r.key, value: r.value })));
    }
  }
  assert.deepEqual(new Map(restored.entries()), new Map(store.entries()));
});

test('an explicit changelog partition is put on every record', () => {
  const store = new MemoryStateStore({ name: 's', changelogTopic: 's-changelog', serde: json, partition: 3 });
  store.put('a', { count: 1, tags: [] });
  store.put('b', { count: 1, tags: [] });
  store.delete('b');
  assert.deepEqual(
    store.flushChangelog().map((r) => r.partition),
    [3, 3],
  );
});

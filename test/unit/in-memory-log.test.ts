import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemoryLog } from '../../streams/adapters/memory/in-memory-log.js';
import type {
  EventSource,
  OutgoingRecord,
  SourceBatch,
  SourceRecord,
} from '../../streams/ports/event-log.js';
import { fixedClock } from '../../streams/util/clock.js';
import { partitionForKey } from '../../streams/util/murmur2.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (record: SourceRecord): string => decoder.decode(record.value);

function rec(topic: string, key: string | null, value: string | null, partition?: number): OutgoingRecord {
  const record = { topic, key, value: value === null ? null : bytes(value) };
  return partition === undefined ? record : { ...record, partition };
}

/** Consumes a bounded source to completion, releasing each batch as soon as it arrives. */
function drain(source: EventSource): Promise<SourceBatch[]> {
  return new Promise((resolve, reject) => {
    const batches: SourceBatch[] = [];
    source.batches().subscribe({
      next: (batch) => {
        batches.push(batch);
        batch.release();
      },
      error: reject,
      complete: () => resolve(batches),
    });
  });
}

const flat = (batches: readonly SourceBatch[]): SourceRecord[] => batches.flatMap((b) => [...b.records]);

async function readAll(
  log: InMemoryLog,
  topic: string,
  partition: number,
  from = 0,
): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of log.readRange(topic, partition, from)) out.push(...chunk);
  return out;
}

function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(poll, 1);
    };
    poll();
  });
}

describe('InMemoryLog topics and appends', () => {
  test('createTopics is idempotent and rejects a conflicting spec', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 3 }]);
    log.append(rec('t', 'k', 'v'));
    log.createTopics([{ name: 't', partitions: 3, cleanupPolicy: 'delete' }]);
    assert.equal(await log.partitionsOf('t'), 3);
    assert.equal(
      [0, 1, 2].reduce((n, p) => n + log.endOffset('t', p), 0),
      1,
      're-creating keeps the records',
    );
    assert.throws(
      () => log.createTopics([{ name: 't', partitions: 4 }]),
      /t already exists with 3 partitions/,
    );
    assert.throws(
      () => log.createTopics([{ name: 't', partitions: 3, cleanupPolicy: 'compact' }]),
      /cleanupPolicy/,
    );
    assert.throws(() => log.createTopics([{ name: 'u', partitions: 0 }]), /positive integer/);
    // Checked as a whole: a bad spec later in the list creates nothing.
    assert.throws(() =>
      log.createTopics([
        { name: 'v', partitions: 1 },
        { name: 't', partitions: 9 },
      ]),
    );
    assert.equal(log.hasTopic('v'), false);
    await assert.rejects(log.partitionsOf('nope'), /unknown topic nope/);
  });

  test('keys pick partitions by murmur2, null keys round-robin, explicit partitions win', () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 5 }]);
    for (const key of ['a', 'b', 'user-17', 'ключ']) {
      assert.equal(log.append(rec('t', key, 'v')).partition, partitionForKey(key, 5));
    }
    const nullKeyed = [0, 1, 2, 3, 4, 5].map(() => log.append(rec('t', null, 'v')).partition);
    assert.deepEqual(nullKeyed, [0, 1, 2, 3, 4, 0]);
    assert.equal(log.append(rec('t', 'a', 'v', 3)).partition, 3);
    assert.throws(() => log.append(rec('t', 'a', 'v', 5)), /no partition 5/);
    assert.throws(() => log.append(rec('missing', 'a', 'v')), /unknown topic missing/);
  });

  test('offsets increase per partition and records carry the append timestamp', async () => {
    const clock = fixedClock(1_000);
    const log = new InMemoryLog({ clock });
    log.createTopics([{ name: 't', partitions: 1 }]);
    assert.deepEqual(log.append(rec('t', 'a', 'x')), { topic: 't', partition: 0, offset: 0 });
    clock.advance(5);
    assert.deepEqual(
      log.produce([rec('t', 'b', 'y'), rec('t', 'c', null)]).map((p) => p.offset),
      [1, 2],
    );
    log.append(rec('t', 'd', 'z'), 42);
    const records = await readAll(log, 't', 0);
    assert.deepEqual(
      records.map((r) => [r.offset, r.key, r.timestamp]),
      [
        [0, 'a', 1_000],
        [1, 'b', 1_005],
        [2, 'c', 1_005],
        [3, 'd', 42],
      ],
    );
    assert.equal(records[2]!.value, null, 'a null value reads back as a tombstone');
    assert.notEqual(records[1]!.value, null);
    assert.equal(log.endOffset('t', 0), 4);
  });

  test('produce is all-or-nothing', () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 1 }]);
    assert.throws(() => log.produce([rec('t', 'a', 'x'), rec('missing', 'b', 'y')]), /unknown topic/);
    assert.equal(log.endOffset('t', 0), 0);
  });

  test('readRange yields from an offset to the end as of the start of reading, in chunks', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 1 }]);
    log.produce(Array.from({ length: 3000 }, (_, i) => rec('t', `k${i}`, `${i}`)));
    const chunks: number[] = [];
    const offsets: number[] = [];
    for await (const chunk of log.readRange('t', 0, 500)) {
      chunks.push(chunk.length);
      for (const r of chunk) offsets.push(r.offset);
      log.append(rec('t', 'late', 'x'));
    }
    assert.ok(chunks.length > 1, 'chunked');
    assert.deepEqual(
      offsets,
      Array.from({ length: 2500 }, (_, i) => 500 + i),
    );
    assert.deepEqual(await readAll(log, 't', 0, 10_000), []);
  });
});

describe('InMemoryLog sources', () => {
  test('per-key order is kept: one partition per key, records in produce order', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 'clicks', partitions: 4 }]);
    const sequence = new Map<string, number>();
    const records: OutgoingRecord[] = [];
    for (let i = 0; i < 2000; i++) {
      const key = `user-${(i * 7919) % 97}`;
      const n = sequence.get(key) ?? 0;
      sequence.set(key, n + 1);
      records.push(rec('clicks', key, `${n}`));
    }
    log.produce(records);
    const source = log.source({
      groupId: 'g',
      topics: ['clicks'],
      maxBatchSize: 64,
      lingerMs: 0,
      follow: false,
    });
    const seen = new Map<string, { partition: number; next: number }>();
    for (const r of flat(await drain(source))) {
      const key = r.key!;
      const state = seen.get(key) ?? { partition: r.partition, next: 0 };
      assert.equal(r.partition, state.partition, `${key} stays on one partition`);
      assert.equal(r.partition, partitionForKey(key, 4));
      assert.equal(text(r), `${state.next}`, `${key} in order`);
      seen.set(key, { partition: r.partition, next: state.next + 1 });
    }
    assert.deepEqual([...seen].map(([key, s]) => [key, s.next]).sort(), [...sequence].sort());
  });

  test('batches are within maxBatchSize, in offset order, with lag to the partition end', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 1 }]);
    log.produce(Array.from({ length: 25 }, (_, i) => rec('t', null, `${i}`)));
    const batches = await drain(
      log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 10, lingerMs: 0, follow: false }),
    );
    assert.deepEqual(
      batches.map((b) => [b.records.length, b.lag]),
      [
        [10, 15],
        [10, 5],
        [5, 0],
      ],
    );
    assert.deepEqual(
      flat(batches).map((r) => r.offset),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  test('a new subscription of the group resumes exactly after the last committed offset', async () => {
    const log = new InMemoryLog();
    log.createTopics([
      { name: 'in', partitions: 2 },
      { name: 'out', partitions: 1 },
    ]);
    log.produce(Array.from({ length: 40 }, (_, i) => rec('in', null, `${i}`)));
    const sink = log.sink();
    const options = { groupId: 'g', topics: ['in'], maxBatchSize: 7, lingerMs: 0, follow: true };

    const first = log.source(options);
    const processed: SourceBatch[] = [];
    const subscription = first.batches().subscribe((batch) => {
      processed.push(batch);
      // Process only the first batch of each partition, committing it with its output.
      const last = batch.records[batch.records.length - 1]!;
      void sink.commit({
        groupId: 'g',
        records: [rec('out', null, `done ${batch.partition}:${last.offset}`)],
        offsets: [{ topic: 'in', partition: batch.partition, offset: last.offset + 1 }],
      });
    });
    await waitFor(() => processed.length === 2);
    subscription.unsubscribe();
    await first.close();
    assert.equal(log.committed('g', 'in', 0), 7);
    assert.equal(log.committed('g', 'in', 1), 7);
    assert.equal(log.committed('other', 'in', 0), undefined);

    const resumed = flat(await drain(log.source({ ...options, follow: false })));
    for (const partition of [0, 1]) {
      const offsets = resumed.filter((r) => r.partition === partition).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        Array.from({ length: 13 }, (_, i) => 7 + i),
      );
    }
    // Another group still starts from the beginning; `fromBeginning: false` starts at the end.
    assert.equal(flat(await drain(log.source({ ...options, groupId: 'h', follow: false }))).length, 40);
    assert.equal(
      flat(await drain(log.source({ ...options, groupId: 'h', follow: false, fromBeginning: false }))).length,
      0,
    );
  });

  test('backpressure: at most one un-released batch per partition', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 3 }]);
    log.produce(Array.from({ length: 300 }, (_, i) => rec('t', null, `${i}`)));
    const source = log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 10, lingerMs: 0, follow: true });
    const received: SourceBatch[] = [];
    const subscription = source.batches().subscribe((batch) => received.push(batch));
    await sleep(30);
    assert.equal(received.length, 3);
    assert.deepEqual(received.map((b) => b.partition).sort(), [0, 1, 2]);

    // More records must not unblock a partition whose batch is still held.
    log.produce(Array.from({ length: 30 }, (_, i) => rec('t', null, `x${i}`)));
    await sleep(10);
    assert.equal(received.length, 3);

    const held = received.find((b) => b.partition === 1)!;
    held.release();
    held.release(); // idempotent: must not let a second batch through
    await sleep(10);
    assert.equal(received.length, 4);
    assert.equal(received[3]!.partition, 1);
    assert.equal(received[3]!.records[0]!.offset, held.records[held.records.length - 1]!.offset + 1);
    subscription.unsubscribe();
    await source.close();
  });

  test('partitions are served round-robin', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 3 }]);
    log.produce(Array.from({ length: 90 }, (_, i) => rec('t', null, `${i}`)));
    const order = (
      await drain(log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 5, lingerMs: 0, follow: false }))
    ).map((b) => b.partition);
    assert.equal(order.length, 18);
    for (let i = 0; i + 3 <= order.length; i += 3) {
      assert.deepEqual([...order.slice(i, i + 3)].sort(), [0, 1, 2], `round ${i / 3}: ${order}`);
    }
  });

  test('linger: a partial batch waits lingerMs and includes records produced meanwhile', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 1 }]);
    const source = log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 100, lingerMs: 60, follow: true });
    const received: { batch: SourceBatch; at: number }[] = [];
    const subscription = source.batches().subscribe((batch) => received.push({ batch, at: Date.now() }));
    const start = Date.now();
    log.produce([rec('t', 'a', '1'), rec('t', 'b', '2'), rec('t', 'c', '3')]);
    await sleep(20);
    assert.equal(received.length, 0, 'still lingering');
    log.produce([rec('t', 'd', '4'), rec('t', 'e', '5')]);
    await waitFor(() => received.length === 1);
    assert.equal(received[0]!.batch.records.length, 5);
    assert.ok(received[0]!.at - start >= 50, `emitted after ${received[0]!.at - start}ms`);

    // A full batch does not wait.
    received[0]!.batch.release();
    const fullStart = Date.now();
    log.produce(Array.from({ length: 100 }, (_, i) => rec('t', null, `${i}`)));
    await waitFor(() => received.length === 2);
    assert.equal(received[1]!.batch.records.length, 100);
    assert.ok(received[1]!.at - fullStart < 40, `full batch after ${received[1]!.at - fullStart}ms`);
    subscription.unsubscribe();
    await source.close();
  });

  test('follow: false completes only once drained and every batch is released', async () => {
    const log = new InMemoryLog();
    log.createTopics([
      { name: 'a', partitions: 2 },
      { name: 'b', partitions: 1 },
    ]);
    log.produce(Array.from({ length: 10 }, (_, i) => rec('a', null, `${i}`)));
    const source = log.source({
      groupId: 'g',
      topics: ['a', 'b'],
      maxBatchSize: 100,
      lingerMs: 0,
      follow: false,
    });
    const held: SourceBatch[] = [];
    let completed = false;
    source.batches().subscribe({ next: (batch) => held.push(batch), complete: () => (completed = true) });
    await sleep(10);
    assert.equal(held.length, 2);
    assert.equal(completed, false);
    held[0]!.release();
    await sleep(5);
    assert.equal(completed, false, 'one batch still held');
    held[1]!.release();
    await waitFor(() => completed);
    assert.equal(held.length, 2);

    // An empty or unknown assignment.
    assert.deepEqual(
      await drain(log.source({ groupId: 'g', topics: ['b'], maxBatchSize: 5, lingerMs: 0, follow: false })),
      [],
    );
    await assert.rejects(
      drain(log.source({ groupId: 'g', topics: ['zzz'], maxBatchSize: 5, lingerMs: 0, follow: false })),
      /unknown topic zzz/,
    );
  });

  test('follow: true sees records appended later and completes on close()', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 2 }]);
    const source = log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 50, lingerMs: 0, follow: true });
    const values: string[] = [];
    let completed = false;
    source.batches().subscribe({
      next: (batch) => {
        for (const r of batch.records) values.push(text(r));
        batch.release();
      },
      complete: () => (completed = true),
    });
    await sleep(5);
    log.append(rec('t', 'k', 'first'));
    await waitFor(() => values.length === 1);
    await sleep(5);
    log.produce([rec('t', 'k', 'second'), rec('t', 'j', 'third')]);
    await waitFor(() => values.length === 3);
    assert.deepEqual(values.slice(0, 2), ['first', 'second']);
    assert.equal(completed, false);
    await source.close();
    assert.equal(completed, true);
    let late = false;
    source.batches().subscribe({ complete: () => (late = true) });
    assert.equal(late, true, 'subscribing after close completes at once');
  });

  test('releasing synchronously inside the subscriber neither recurses nor starves', async () => {
    const log = new InMemoryLog();
    log.createTopics([{ name: 't', partitions: 2 }]);
    const value = bytes('v');
    log.produce(Array.from({ length: 100_000 }, () => ({ topic: 't', key: null, value })));
    let timerFired = false;
    setTimeout(() => (timerFired = true), 0);
    const batches = await drain(
      log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 1, lingerMs: 0, follow: false }),
    );
    assert.equal(batches.length, 100_000);
    assert.equal(timerFired, true, 'the event loop got turns during the replay');
  });
});

describe('InMemoryLog commits, retention, compaction', () => {
  test('commit appends records and moves offsets together, or does neither', async () => {
    const log = new InMemoryLog();
    log.createTopics([
      { name: 'in', partitions: 1 },
      { name: 'out', partitions: 2 },
    ]);
    log.produce([rec('in', 'a', '1'), rec('in', 'b', '2')]);
    const sink = log.sink();
    await sink.commit({
      groupId: 'g',
      records: [rec('out', 'a', 'x'), rec('out', 'b', 'y')],
      offsets: [{ topic: 'in', partition: 0, offset: 2 }],
    });
    assert.equal(log.committed('g', 'in', 0), 2);
    assert.equal(log.endOffset('out', 0) + log.endOffset('out', 1), 2);

    // A bad record or offset anywhere in the unit leaves the log and the offsets untouched.
    await assert.rejects(
      sink.commit({
        groupId: 'g',
        records: [rec('out', 'c', 'z'), rec('nope', 'd', 'w')],
        offsets: [{ topic: 'in', partition: 0, offset: 1 }],
      }),
      /unknown topic nope/,
    );
    await assert.rejects(
      sink.commit({
        groupId: 'g',
        records: [rec('out', 'c', 'z')],
        offsets: [{ topic: 'in', partition: 0, offset: 3 }],
      }),
      /cannot commit offset 3/,
    );
    assert.equal(log.committed('g', 'in', 0), 2);
    assert.equal(log.endOffset('out', 0) + log.endOffset('out', 1), 2);

    await sink.close();
    await assert.rejects(sink.commit({ groupId: 'g', records: [], offsets: [] }), /closed sink/);
  });

  test('retention drops the oldest records; offsets keep increasing; reads below start begin at it', async () => {
    const log = new InMemoryLog({ retentionRecords: 5 });
    log.createTopics([
      { name: 't', partitions: 1 },
      { name: 'big', partitions: 1, retentionRecords: 2000 },
    ]);
    log.produce(Array.from({ length: 12 }, (_, i) => rec('t', null, `${i}`)));
    assert.equal(log.startOffset('t', 0), 7);
    assert.equal(log.endOffset('t', 0), 12);
    assert.equal(log.recordCount('t', 0), 5);
    assert.deepEqual(
      (await readAll(log, 't', 0)).map((r) => r.offset),
      [7, 8, 9, 10, 11],
    );
    assert.deepEqual((await readAll(log, 't', 0, 9)).map(text), ['9', '10', '11']);

    // A committed offset that retention has since passed starts the group at the log start.
    await log
      .sink()
      .commit({ groupId: 'g', records: [], offsets: [{ topic: 't', partition: 0, offset: 3 }] });
    log.append(rec('t', null, '12'));
    const resumed = flat(
      await drain(log.source({ groupId: 'g', topics: ['t'], maxBatchSize: 100, lingerMs: 0, follow: false })),
    );
    assert.deepEqual(
      resumed.map((r) => r.offset),
      [8, 9, 10, 11, 12],
    );

    // The per-topic override, and enough appends to exercise reclaiming the dropped prefix.
    for (let i = 0; i < 10_000; i++) log.append(rec('big', null, `${i}`));
    assert.equal(log.recordCount('big', 0), 2000);
    assert.deepEqual(
      (await readAll(log, 'big', 0)).map((r) => r.offset),
      Array.from({ length: 2000 }, (_, i) => 8000 + i),
    );
  });

  test('compaction keeps the latest record per key; a tombstone replaces its key history', async () => {
    const log = new InMemoryLog({ compactionThreshold: Infinity });
    log.createTopics([{ name: 'changelog', partitions: 1, cleanupPolicy: 'compact' }]);
    log.produce([
      rec('changelog', 'a', 'a1'),
      rec('changelog', 'b', 'b1'),
      rec('changelog', 'a', 'a2'),
      rec('changelog', 'c', 'c1'),
      rec('changelog', 'b', null),
      rec('changelog', 'a', 'a3'),
    ]);
    assert.equal(log.compact(), 3);
    const records = await readAll(log, 'changelog', 0);
    assert.deepEqual(
      records.map((r) => [r.offset, r.key, r.value === null ? null : text(r)]),
      [
        [3, 'c', 'c1'],
        [4, 'b', null],
        [5, 'a', 'a3'],
      ],
    );
    assert.equal(log.endOffset('changelog', 0), 6, 'compaction never moves the end');
    // Reads from an offset that compaction removed start at the next surviving record.
    assert.deepEqual(
      (await readAll(log, 'changelog', 0, 1)).map((r) => r.offset),
      [3, 4, 5],
    );
    const source = log.source({
      groupId: 'g',
      topics: ['changelog'],
      maxBatchSize: 2,
      lingerMs: 0,
      follow: false,
    });
    assert.deepEqual(
      flat(await drain(source)).map((r) => r.offset),
      [3, 4, 5],
    );
    assert.throws(() => log.append(rec('changelog', null, 'x')), /cannot accept a record without a key/);
  });

  test('compaction runs automatically once a partition grows past the threshold', async () => {
    const log = new InMemoryLog({ compactionThreshold: 100 });
    log.createTopics([
      { name: 'changelog', partitions: 1, cleanupPolicy: 'compact' },
      { name: 'events', partitions: 1 },
    ]);
    for (let i = 0; i < 1000; i++) log.append(rec('changelog', `k${i % 10}`, `${i}`));
    assert.ok(log.recordCount('changelog', 0) <= 110, `${log.recordCount('changelog', 0)} records kept`);
    assert.equal(log.endOffset('changelog', 0), 1000);
    assert.throws(() => log.compact('events'), /only 'compact' topics/);
    log.compact('changelog');
    assert.equal(log.recordCount('changelog', 0), 10);
    const latest = (await readAll(log, 'changelog', 0)).map((r) => [r.key, text(r)]);
    assert.deepEqual(
      latest,
      Array.from({ length: 10 }, (_, i) => [`k${i}`, `${990 + i}`]),
    );
  });
});

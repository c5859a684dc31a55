// The in-process log reached over a MessagePort (`serveLog` / `PortLog`), as pipeline threads reach
// it: the same source, sink, reader and follower semantics as the log itself, and pipelines over it
// that end with the same item model as pipelines sharing the log directly.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { InMemoryLog } from '../../streams/adapters/memory/in-memory-log.js';
import { PortLog, serveLog } from '../../streams/adapters/memory/log-over-port.js';
import {
  createEmbeddedTopics,
  EmbeddedEddy,
  type EmbeddedLog,
  encodeEvent,
} from '../../streams/app/embedded.js';
import { toItemStateRecord } from '../../streams/model/item-state.js';
import { topicNames } from '../../streams/pipeline/topics.js';
import type { SourceBatch } from '../../streams/ports/event-log.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { testOptions } from '../support/embedded-run.js';

const openPorts: MessagePort[] = [];
const stops: (() => void)[] = [];
after(() => {
  for (const stop of stops) stop();
  for (const port of openPorts) port.close();
});

/** A PortLog on `log`, both ends in this thread, connected by a real MessageChannel. */
function overPort(log: InMemoryLog, groupIds: readonly string[] = ['g']): PortLog {
  const channel = new MessageChannel();
  openPorts.push(channel.port1, channel.port2);
  stops.push(serveLog(log, channel.port1, groupIds));
  return new PortLog(channel.port2);
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(2);
  }
}

test('a source over the port hands out batches in order and fetches a partition again only after release', async () => {
  const log = new InMemoryLog();
  log.createTopics([{ name: 't', partitions: 1 }]);
  log.produce(Array.from({ length: 5 }, (_, i) => ({ topic: 't', key: 'k', value: bytes(String(i)) })));
  const remote = overPort(log);
  const source = remote.source({ groupId: 'g', topics: ['t'], maxBatchSize: 2, lingerMs: 0, follow: true });
  const batches: SourceBatch[] = [];
  const subscription = source.batches().subscribe((batch) => batches.push(batch));
  await until(() => batches.length === 1, 'the first batch');
  await sleep(30);
  assert.equal(batches.length, 1, 'no second batch of the partition before the first is released');
  assert.deepEqual(
    batches[0]!.records.map((r) => r.offset),
    [0, 1],
  );
  assert.equal(batches[0]!.lag, 3);
  batches[0]!.release();
  await until(() => batches.length === 2, 'the second batch');
  assert.deepEqual(
    batches[1]!.records.map((r) => r.offset),
    [2, 3],
  );
  assert.equal(new TextDecoder().decode(batches[1]!.records[0]!.value ?? new Uint8Array()), '2');
  subscription.unsubscribe();
  await source.close();
});

test('a commit unit over the port appends and commits in one step, and reports the offsets back', async () => {
  const log = new InMemoryLog();
  log.createTopics([
    { name: 'in', partitions: 1 },
    { name: 'out', partitions: 2 },
  ]);
  log.produce([{ topic: 'in', key: 'a', value: bytes('x') }]);
  const remote = overPort(log);
  await remote.sink().commit({
    groupId: 'g',
    records: [{ topic: 'out', key: 'a', value: bytes('y') }],
    offsets: [{ topic: 'in', partition: 0, offset: 1 }],
  });
  assert.equal(log.committed('g', 'in', 0), 1);
  assert.equal(remote.committed('g', 'in', 0), 1, 'the committing side sees its commit at once');
  const written = [0, 1].reduce((total, p) => total + log.endOffset('out', p), 0);
  assert.equal(written, 1);
  // An invalid unit is refused with the log's reason, and changes nothing.
  await assert.rejects(
    remote.sink().commit({ groupId: 'g', records: [], offsets: [{ topic: 'in', partition: 0, offset: 9 }] }),
    /cannot commit offset 9/,
  );
  assert.equal(log.committed('g', 'in', 0), 1);
  assert.equal(await remote.partitionsOf('out'), 2);
  const chunks: number[] = [];
  for await (const chunk of remote.readRange('in', 0, 0)) chunks.push(...chunk.map((r) => r.offset));
  assert.deepEqual(chunks, [0]);
});

test('a follower over the port hands out every record in order, including those appended later', async () => {
  const log = new InMemoryLog();
  log.createTopics([{ name: 'updates', partitions: 1 }]);
  log.produce([1, 2, 3].map((i) => ({ topic: 'updates', key: null, value: bytes(String(i)) })));
  const remote = overPort(log);
  const follower = remote.follow('updates', 0, 1);
  const seen: number[] = [];
  await until(() => {
    for (const record of follower.poll(1)) seen.push(record.offset);
    return seen.length === 2;
  }, 'the existing records');
  assert.deepEqual(seen, [1, 2]);
  assert.equal(follower.position(), 3);
  // Appended by a commit over another port: pushed at once.
  await overPort(log)
    .sink()
    .commit({ groupId: 'g', records: [{ topic: 'updates', key: null, value: bytes('4') }], offsets: [] });
  await until(() => {
    for (const record of follower.poll(10)) seen.push(record.offset);
    return seen.length === 3;
  }, 'the appended record');
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(follower.behind(), 0);
  assert.equal(follower.position(), 4);
  await follower.close();
});

test('two pipelines over ports end with the item model of two pipelines sharing the log directly', async () => {
  const events = [
    ...syntheticStream({ seed: 11, users: 150, items: 200, events: 2_500, contentVectorDimension: 32 }),
  ];
  const run = async (connect: (log: InMemoryLog) => EmbeddedLog): Promise<unknown[][]> => {
    const log = new InMemoryLog();
    const topics = topicNames();
    createEmbeddedTopics(log, topics, 4);
    log.produce(events.map((e) => encodeEvent(topics, e)));
    const instances = [0, 1].map(
      (n) =>
        new EmbeddedEddy<EmbeddedLog>({
          ...testOptions({ partitions: 4, batchSize: 50 }),
          log: connect(log),
          ownedPartitions: [n, n + 2],
          instanceId: `embedded-t${n}`,
        }),
    );
    const running = await Promise.all(instances.map((eddy) => eddy.start()));
    const lag = (): number =>
      [0, 1, 2, 3].reduce(
        (total, p) =>
          total +
          log.endOffset(topics.clicks, p) -
          (log.committed('eddy', topics.clicks, p) ?? 0) +
          log.endOffset(topics.items, p) -
          (log.committed('eddy', topics.items, p) ?? 0),
        0,
      );
    await until(() => lag() === 0, 'every click committed', 60_000);
    const end = log.endOffset(topics.itemUpdates, 0);
    await until(
      () => instances.every((eddy) => (eddy.pipeline.context.replica?.appliedOffset ?? 0) >= end),
      'every replica applied the whole item-updates topic',
      10_000,
    );
    await Promise.all(instances.map((eddy) => eddy.stop()));
    await Promise.all(running.map((r) => r.running));
    const now = Math.max(...instances.map((eddy) => eddy.model.streamTime));
    return instances.map((eddy) => {
      eddy.model.streamTime = now;
      const ids = [...eddy.model.items.values()].map((item) => item.itemId).sort();
      return ids.map((id) => toItemStateRecord(eddy.model, id));
    });
  };
  const [directA, directB] = await run((log) => log);
  const [portA, portB] = await run((log) => overPort(log, ['eddy']));
  assert.ok((directA?.length ?? 0) > 100, 'the model learned items');
  // Replicas that applied the same topic are equal, whichever way they reach the log.
  assert.ok(isDeepStrictEqual(directA, directB), 'replicas sharing the log directly agree');
  assert.ok(isDeepStrictEqual(portA, portB), 'replicas over ports agree');
  // The two runs interleave their instances' increments differently (timing), and decay makes
  // order matter, so across runs only what each item learned from can be compared: the same clicks.
  type Learned = { itemId: string; interactions: number };
  const learned = (records: unknown[] | undefined): [string, number][] =>
    (records as Learned[]).map(({ itemId, interactions }) => [itemId, interactions]);
  assert.deepEqual(learned(portA), learned(directA), 'over ports, every item learned from the same clicks');
});

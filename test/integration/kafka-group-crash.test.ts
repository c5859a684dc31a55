// Three `eddy` processes in one consumer group on a real broker; one is killed with SIGKILL mid-stream
// and not restarted. The survivors take over its partitions: no input is lost, no list is committed
// twice, the item-updates topic holds every engaged click's increment exactly once (the killed
// instance's open transaction is aborted, its batches redone by a survivor), and both survivors'
// replicas of the item model apply all of it. Skipped when KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { codecs } from '../../streams/codec/avro.js';
import { DEFAULT_MODEL_CONFIG, engagementStrength } from '../../streams/model/model-config.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { type EddyProcess, killAll, metricsPort, parseLogLine, startEddy } from '../support/cli.js';
import {
  BROKERS,
  decodeLists,
  deleteTopics,
  groupLag,
  readCommitted,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const PARTITIONS = 6;
const CLICKS = 3_000;

function eddyArgs(prefix: string, instanceId: string): string[] {
  return [
    '--kafka-brokers',
    BROKERS,
    // One pipeline per process: the test counts instances (the default is one per core).
    '--threads',
    '1',
    '--topic-prefix',
    prefix,
    '--group-id',
    prefix,
    '--instance-id',
    instanceId,
    '--partitions',
    String(PARTITIONS),
    '--batch-size',
    '20',
    '--coalesce',
    '10ms',
    // The broker's minimum: a killed member's partitions are reassigned this long after the kill.
    '--kafka-session-timeout',
    '6s',
    '--http-port',
    '0',
    '--log-format',
    'json',
    '--summary-every',
    '1h',
  ];
}

/** The item-updates applied by a running instance, summed over writers, from its /metrics. */
async function incrementsApplied(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('eddy_item_model_increments_applied_total{')) total += Number(line.split(' ').pop());
  }
  return total;
}

describe('a group of three loses one instance to kill -9', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let topics: TopicNames | null = null;

  before(async () => {
    kafka = testKafka('eddy-it-group-crash');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    await killAll();
    if (topics) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('survivors take over: nothing lost, nothing twice, every increment applied by both', {
    timeout: 300_000,
  }, async () => {
    const prefix = uniquePrefix('group-crash');
    topics = testTopics(prefix);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const events = [
      ...syntheticStream({
        seed: 77,
        users: 150,
        items: 200,
        categories: 8,
        events: CLICKS,
        startTime: Date.UTC(2020, 0, 1),
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    const processes = new Map<string, EddyProcess>();
    for (const id of ['a', 'b', 'c']) processes.set(id, startEddy(eddyArgs(prefix, id)));
    const ports = new Map<string, number>();
    for (const [id, eddy] of processes) {
      const started = await eddy.waitForStderrLine((l) => l.includes('"eddy started"'), 60_000);
      ports.set(id, metricsPort(parseLogLine(started)));
    }
    // All three in the group before any input, so the kill lands on a member with partitions.
    const members = Date.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([prefix]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === 3) break;
      assert.ok(Date.now() < members, 'three members join the group');
      await sleep(200);
    }
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events, { encode: singleObjectEncoder(topics), rate: 1_500 });
    await producer.disconnect();
    const victim = processes.get('c')!;
    const committed = async (): Promise<number> => {
      const offsets = await admin.fetchOffsets({ groupId: prefix, topics: [topics!.clicks] });
      return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    };
    const progress = Date.now() + 120_000;
    while ((await committed()) < CLICKS * 0.3) {
      assert.ok(Date.now() < progress, 'the group commits a third of the clicks');
      await sleep(20);
    }
    victim.child.kill('SIGKILL');
    assert.equal((await victim.waitForExit(30_000)).signal, 'SIGKILL');
    assert.ok((await committed()) < CLICKS, 'the kill left input to process');

    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 180_000, () => {
      for (const [id, eddy] of processes) {
        if (id !== 'c' && eddy.child.exitCode !== null) throw new Error(`${id} exited:\n${eddy.stderr()}`);
      }
    });
    assert.equal(await groupLag(admin, prefix, [topics.clicks, topics.items]), 0, 'no input lost');

    // Every engaged click's increment, exactly once, under read_committed.
    const expected = events
      .flatMap((e) =>
        e.kind === 'click' && engagementStrength(DEFAULT_MODEL_CONFIG, e.event.type) > 0
          ? [`${e.event.itemId}@${e.event.eventTime}`]
          : [],
      )
      .sort();
    // The victim's open transaction blocks the topic's stable offset until the broker aborts it
    // (transaction timeout, 60 s), so the last increments become readable only then.
    let increments: string[] = [];
    const readable = Date.now() + 120_000;
    for (;;) {
      increments = (await readCommitted(kafka, admin, topics.itemUpdates))
        .flatMap((r) => codecs.itemModelIncrements.decode(r.value ?? new Uint8Array(0)).clicks)
        .map((i) => `${i.itemId}@${i.eventTime}`)
        .sort();
      if (increments.length >= expected.length || Date.now() > readable) break;
      await sleep(1_000);
    }
    assert.deepEqual(increments, expected, 'item increments: none lost, none twice');

    const lists = decodeLists(await readCommitted(kafka, admin, topics.recommendations));
    const ids = lists.map((l) => l.listId);
    assert.equal(new Set(ids).size, ids.length, 'no list committed twice');

    // Both survivors' replicas apply the whole topic, their own increments and each other's.
    const applied = Date.now() + 60_000;
    for (const id of ['a', 'b']) {
      for (;;) {
        const count = await incrementsApplied(ports.get(id)!);
        if (count === expected.length) break;
        assert.ok(Date.now() < applied, `${id} applied ${count} of ${expected.length} increments`);
        await sleep(250);
      }
    }
    for (const id of ['a', 'b']) {
      const eddy = processes.get(id)!;
      eddy.child.kill('SIGTERM');
      assert.equal((await eddy.waitForExit(60_000)).code, 0, eddy.stderr());
    }
  });
});

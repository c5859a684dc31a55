// Interactive queries across two KafkaEddy instances in one consumer group, against a real broker:
// either instance can be asked; the owner of the user's partition answers, the other sends the
// client there, its address read from the group's subscriptions. Skipped when KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs, KafkaEddy } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { startHttpServer } from '../../streams/observe/http-server.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { fixedClock } from '../../streams/util/clock.js';
import { partitionForKey } from '../../streams/util/murmur2.js';
import { TEST_NOW } from '../support/embedded-run.js';
import {
  brokerList,
  deleteTopics,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const PARTITIONS = 4;

describe('interactive queries across two instances', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let topics: TopicNames | null = null;
  const instances: KafkaEddy[] = [];
  const servers: { close(): Promise<void> }[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-queries');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const eddy of instances) await eddy.stop().catch(() => {});
    for (const server of servers) await server.close();
    if (topics) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('the owner answers; the other instance answers 307 to the owner, found through the group', {
    timeout: 120_000,
  }, async () => {
    const prefix = uniquePrefix('queries');
    topics = testTopics(prefix);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const events = [
      ...syntheticStream({
        seed: 31,
        users: 80,
        items: 120,
        categories: 6,
        events: 1_200,
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events, { encode: singleObjectEncoder(topics) });
    await producer.disconnect();

    const endpoints = new Map<string, string>();
    const running: Promise<void>[] = [];
    const failures: unknown[] = [];
    const byId = new Map<string, KafkaEddy>();
    for (const id of ['a', 'b']) {
      const eddy = new KafkaEddy({
        brokers: brokerList(),
        groupId: prefix,
        instanceId: id,
        topics,
        partitions: PARTITIONS,
        replicationFactor: 1,
        model: DEFAULT_MODEL_CONFIG,
        batchSize: 25,
        lingerMs: 10,
        sessionTimeoutMs: 10_000,
        clock: fixedClock(TEST_NOW),
        advertisedEndpoint: () => endpoints.get(id) ?? null,
      });
      instances.push(eddy);
      byId.set(id, eddy);
      const http = await startHttpServer(
        0,
        new EddyMetrics({ processMetrics: false }).registry,
        { live: () => true, ready: () => eddy.ready() },
        eddy.queries,
      );
      servers.push(http);
      endpoints.set(id, `http://127.0.0.1:${http.port}`);
    }
    for (const eddy of instances) {
      const run = (await eddy.start()).running;
      run.catch((e: unknown) => failures.push(e));
      running.push(run);
    }
    const a = byId.get('a')!;
    const b = byId.get('b')!;
    const clicksOf = (eddy: KafkaEddy): number[] =>
      eddy.source
        .assignment()
        .filter((tp) => tp.topic === topics!.clicks)
        .map((tp) => tp.partition);
    const deadline = Date.now() + 60_000;
    while (clicksOf(a).length === 0 || clicksOf(b).length === 0 || !a.ready() || !b.ready()) {
      if (failures.length > 0) throw failures[0];
      assert.ok(Date.now() < deadline, 'both instances get partitions and become ready');
      await sleep(50);
    }
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 60_000, () => {
      if (failures.length > 0) throw failures[0];
    });

    const users = [...new Set(events.flatMap((e) => (e.kind === 'click' ? [e.event.userId] : [])))];
    const userOf = (partitions: readonly number[]): string =>
      users.find((u) => partitions.includes(partitionForKey(u, PARTITIONS)))!;
    const ofB = userOf(clicksOf(b));
    const path = `/v1/users/${encodeURIComponent(ofB)}/recommendations`;
    const moved = await fetch(`${endpoints.get('a')}${path}`, { redirect: 'manual' });
    assert.equal(moved.status, 307, await moved.clone().text());
    assert.equal(moved.headers.get('location'), `${endpoints.get('b')}${path}`);
    const followed = await fetch(`${endpoints.get('a')}${path}`);
    assert.equal(followed.status, 200);
    assert.equal(((await followed.json()) as { userId: string }).userId, ofB);
    const own = await fetch(
      `${endpoints.get('a')}/v1/users/${encodeURIComponent(userOf(clicksOf(a)))}/state`,
      {
        redirect: 'manual',
      },
    );
    assert.equal(own.status, 200, 'a answers for its own users');

    for (const eddy of instances) await eddy.stop();
    await Promise.all(running);
  });
});

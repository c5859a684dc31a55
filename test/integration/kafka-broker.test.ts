// Smoke test against a real Kafka broker (infra/kafka/start.sh, or .ci/run which starts one).
// Skipped when KAFKA_BROKERS is unset, so `npm test` stays green on a machine without a broker.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaMessage,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';

const brokersEnv = process.env.KAFKA_BROKERS?.trim();
const skip = brokersEnv ? false : 'KAFKA_BROKERS not set: start infra/kafka/start.sh';

// Generous: the broker shares 2 cores with the compiler and the other test files.
const TEST_TIMEOUT_MS = 180_000;
const RECEIVE_TIMEOUT_MS = 90_000;

const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;

function newKafka(clientSuffix: string): Kafka {
  return new Kafka({
    clientId: `eddy-it-${clientSuffix}-${runId}`,
    brokers: (brokersEnv ?? '').split(',').map((b) => b.trim()),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
}

async function waitUntil(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Received {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/** Subscribes a fresh consumer group from the beginning and collects every message into `into`. */
async function consumeAll(
  kafka: Kafka,
  topic: string,
  into: Received[],
  opts: { readUncommitted: boolean },
): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId: `eddy-it-${topic}-${randomUUID().slice(0, 8)}`,
    readUncommitted: opts.readUncommitted,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    rebalanceTimeout: 60_000,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      into.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
      });
    },
  });
  return consumer;
}

describe('kafka broker (real, KRaft)', () => {
  const kafka = newKafka('smoke');
  let admin: Admin | undefined;
  const topics: string[] = [];
  const clients: Array<Producer | Consumer> = [];

  async function createTopic(name: string, numPartitions: number): Promise<string> {
    const topic = `eddy-it-${name}-${runId}`;
    assert.ok(admin, 'admin client connected');
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 60_000,
    });
    assert.equal(created, true, `topic ${topic} should be newly created`);
    topics.push(topic);
    return topic;
  }

  before(async () => {
    if (skip) return;
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const client of clients.reverse()) {
      await client.disconnect().catch(() => {});
    }
    if (admin) {
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 60_000 }).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  });

  test('keyed messages over 3 partitions all arrive, in order per key', {
    skip,
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const topic = await createTopic('order', 3);
    const keys = Array.from({ length: 10 }, (_, k) => `key-${k}`);
    const total = 300;

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    clients.push(producer);
    await producer.connect();
    const nextSeq = new Map<string, number>();
    const sent: Array<{ key: string; value: string }> = [];
    for (let i = 0; i < total; i++) {
      const key = keys[i % keys.length]!;
      const seq = nextSeq.get(key) ?? 0;
      nextSeq.set(key, seq + 1);
      sent.push({ key, value: `${key}:${seq}` });
    }
    // Three sequential batches: order within a batch and across batches must both survive.
    for (let from = 0; from < total; from += 100) {
      await producer.send({ topic, acks: -1, messages: sent.slice(from, from + 100) });
    }

    const received: Received[] = [];
    const consumer = await consumeAll(kafka, topic, received, { readUncommitted: false });
    clients.push(consumer);
    await waitUntil(`${total} messages on ${topic}`, () => received.length >= total, RECEIVE_TIMEOUT_MS);
    await consumer.stop();

    assert.equal(received.length, total, 'exactly the produced number of messages (no duplicates)');
    assert.deepEqual(
      received.map((m) => m.value).sort(),
      sent.map((m) => m.value).sort(),
      'every produced message arrives exactly once',
    );

    const partitionsUsed = new Set<number>();
    for (const key of keys) {
      const ofKey = received.filter((m) => m.key === key);
      const partitionsOfKey = new Set(ofKey.map((m) => m.partition));
      assert.equal(partitionsOfKey.size, 1, `${key} always lands on one partition`);
      partitionsUsed.add(ofKey[0]!.partition);
      assert.deepEqual(
        ofKey.map((m) => m.value),
        Array.from({ length: total / keys.length }, (_, seq) => `${key}:${seq}`),
        `${key} is received in produce order`,
      );
      const offsets = ofKey.map((m) => BigInt(m.offset));
      for (let i = 1; i < offsets.length; i++) {
        assert.ok(offsets[i]! > offsets[i - 1]!, `${key}: offsets strictly increase`);
      }
    }
    assert.ok(partitionsUsed.size > 1, 'the 10 keys spread over more than one of the 3 partitions');
  });

  test('transactions: committed messages are visible to read_committed consumers, aborted ones are not', {
    skip,
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // One partition, so "after the aborted batch" is well defined by offsets.
    const topic = await createTopic('txn', 1);
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId: `eddy-it-txn-${runId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    });
    clients.push(producer);
    await producer.connect();

    const batch = (tag: string) =>
      Array.from({ length: 5 }, (_, i) => ({ key: `k${i % 2}`, value: `${tag}-${i}` }));

    const first = await producer.transaction();
    await first.send({ topic, messages: batch('committed-1') });
    await first.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: batch('aborted') });
    await aborted.abort();

    // A committed batch after the aborted one: once it is read, the aborted records have been passed.
    const last = await producer.transaction();
    await last.send({ topic, messages: batch('committed-2') });
    await last.commit();

    const received: Received[] = [];
    const consumer = await consumeAll(kafka, topic, received, { readUncommitted: false });
    clients.push(consumer);
    await waitUntil(
      'the second committed batch',
      () => received.filter((m) => m.value.startsWith('committed-2-')).length >= 5,
      RECEIVE_TIMEOUT_MS,
    );
    await consumer.stop();

    const values = received.map((m) => m.value);
    assert.deepEqual(values, [
      ...batch('committed-1').map((m) => m.value),
      ...batch('committed-2').map((m) => m.value),
    ]);
    assert.equal(
      values.filter((v) => v.startsWith('aborted')).length,
      0,
      'aborted records are invisible under read_committed',
    );

    // Sanity check that the aborted records really were written (and are only filtered on read).
    assert.ok(admin, 'admin client connected');
    const offsets = await admin.fetchTopicOffsets(topic);
    const high = BigInt(offsets[0]!.high);
    // 15 data records + 3 transaction markers (commit, abort, commit).
    assert.equal(high, 18n, 'log holds 15 records plus 3 control markers');
  });
});

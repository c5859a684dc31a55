// The Kafka adapters on their own against a real broker: backpressure and pause/resume of the
// source, the log reader's end under read_committed, topic checks. Skipped when KAFKA_BROKERS is
// unset (see test/support/kafka.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, type Kafka, Partitioners } from 'kafkajs';
import { createKafka } from '../../streams/adapters/kafka/kafka-client.js';
import { KafkaLogReader } from '../../streams/adapters/kafka/kafka-log-reader.js';
import { KafkaCommitError, KafkaEventSink } from '../../streams/adapters/kafka/kafka-sink.js';
import {
  CHUNKS_IN_FLIGHT_PER_PARTITION,
  KafkaEventSource,
} from '../../streams/adapters/kafka/kafka-source.js';
import { ensureTopics, TopicMismatchError } from '../../streams/adapters/kafka/topic-admin.js';
import { createLogger } from '../../streams/observe/logger.js';
import type { SourceBatch } from '../../streams/ports/event-log.js';
import { brokerList, SKIP_KAFKA, testKafka, uniquePrefix } from '../support/kafka.js';

const PARTITIONS = 3;
const RECORDS = 3_000;
const MAX_BATCH = 40;
const CONCURRENT = 2;

describe('Kafka adapters', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  const topics: string[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-adapters');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => {});
    await admin.disconnect();
  });

  async function topicWith(name: string, records: number): Promise<string> {
    const topic = `${uniquePrefix(name)}.input`;
    topics.push(topic);
    await ensureTopics(admin, [{ name: topic, partitions: PARTITIONS }], { replicationFactor: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let i = 0; i < records; i += 1_000) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: Math.min(1_000, records - i) }, (_, j) => ({
          key: `k${(i + j) % 97}`,
          value: `v${i + j}`,
        })),
      });
    }
    await producer.disconnect();
    return topic;
  }

  test('backpressure: unreleased batches stop the source and keep heartbeating; pause holds a partition back until resume', {
    timeout: 120_000,
  }, async () => {
    const topic = await topicWith('backpressure', RECORDS);
    const groupId = uniquePrefix('backpressure-group');
    const source = new KafkaEventSource({
      kafka,
      groupId,
      topics: [topic],
      maxBatchSize: MAX_BATCH,
      lingerMs: 0,
      partitionsConsumedConcurrently: CONCURRENT,
      // The broker's minimum; the batches below are held longer than this.
      sessionTimeoutMs: 6_000,
    });
    let joins = 0;
    source.consumer.on(source.consumer.events.GROUP_JOIN, () => joins++);
    const held: SourceBatch[] = [];
    let received = 0;
    const subscription = source.batches().subscribe({
      next: (batch) => {
        held.push(batch);
        received++;
      },
    });
    try {
      // Nothing released: at most CHUNKS_IN_FLIGHT_PER_PARTITION chunks of each concurrently
      // handled partition are ever handed out, however much is in the topic (memory bounded by
      // one fetch response).
      const limit = CONCURRENT * CHUNKS_IN_FLIGHT_PER_PARTITION;
      const deadline = Date.now() + 30_000;
      while (held.length < limit && Date.now() < deadline) await sleep(20);
      // Held past the session timeout: the source heartbeats while it waits, so the group keeps it.
      await sleep(8_000);
      assert.equal(held.length, limit, `${held.length} batches out with none released`);
      for (const b of held) assert.ok(b.records.length <= MAX_BATCH);
      const perPartition = new Map<number, number>();
      for (const b of held) perPartition.set(b.partition, (perPartition.get(b.partition) ?? 0) + 1);
      assert.deepEqual([...perPartition.values()], Array(CONCURRENT).fill(CHUNKS_IN_FLIGHT_PER_PARTITION));

      // Paused partition 0: once its batch in flight is released, nothing more comes from it.
      source.pause([{ topic, partition: 0 }]);
      assert.deepEqual(source.paused(), [{ topic, partition: 0 }]);
      /** Releases everything handed out for `ms` (or until `done`), counting records per partition. */
      const drain = async (ms: number, done: (seen: Map<number, number>) => boolean = () => false) => {
        const seen = new Map<number, number>();
        const until = Date.now() + ms;
        while (Date.now() < until && !done(seen)) {
          for (const b of held.splice(0)) {
            seen.set(b.partition, (seen.get(b.partition) ?? 0) + b.records.length);
            b.release();
          }
          await sleep(5);
        }
        return seen;
      };
      await drain(2_000);
      const whilePaused = await drain(1_500);
      assert.equal(whilePaused.get(0) ?? 0, 0, 'a paused partition is not fetched');
      // Partition 0 still has most of its ~1,000 records: had the pause not held, they would be gone.
      source.resume([{ topic, partition: 0 }]);
      const resumed = await drain(30_000, (seen) => (seen.get(0) ?? 0) > 0);
      assert.ok((resumed.get(0) ?? 0) > 0, 'after resume partition 0 is fetched again');
      assert.ok(received > limit);
      // A member that had gone silent would have been dropped and rejoined by now (kafkajs learns of
      // it at its next heartbeat, once the batches returned).
      assert.equal(joins, 1, 'no rebalance although batches were held past the session timeout');
    } finally {
      // close() waits for the batches in flight, as a graceful stop must: keep releasing meanwhile.
      const releaser = setInterval(() => {
        for (const b of held.splice(0)) b.release();
      }, 5);
      await source.close();
      clearInterval(releaser);
      subscription.unsubscribe();
      await admin.deleteGroups([groupId]).catch(() => {});
    }
  });

  test('log reader: reads a partition to its last stable offset, skipping aborted records and markers', {
    timeout: 60_000,
  }, async () => {
    const topic = `${uniquePrefix('reader')}.changelog`;
    topics.push(topic);
    await ensureTopics(admin, [{ name: topic, partitions: 1, cleanupPolicy: 'compact' }], {
      replicationFactor: 1,
    });
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId: `${topic}.tx`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const send = async (tag: string, commit: boolean): Promise<void> => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `${tag}-${i}` })) });
      if (commit) await tx.commit();
      else await tx.abort();
    };
    await send('a', true);
    await send('aborted', false);
    await send('b', true);
    await send('aborted-tail', false);
    // Left open: not committed state, so the reader must not wait for it (it ends at the LSO).
    const open = await producer.transaction();
    await open.send({ topic, messages: [{ key: 'k0', value: 'open' }] });
    const reader = new KafkaLogReader({ kafka, groupPrefix: `${topic}.restore`, stallTimeoutMs: 20_000 });
    try {
      const values: string[] = [];
      for await (const chunk of reader.readRange(topic, 0, 0)) {
        for (const r of chunk) values.push(Buffer.from(r.value ?? new Uint8Array(0)).toString());
      }
      assert.deepEqual(values, ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'b-2']);
      assert.equal(await reader.partitionsOf(topic), 1);
    } finally {
      await open.abort();
      await producer.disconnect();
      await reader.close();
    }
  });

  test('sink: a unit several times the broker message limit commits in one transaction (split into sends)', {
    timeout: 60_000,
  }, async () => {
    const topic = `${uniquePrefix('big-unit')}.changelog`;
    topics.push(topic);
    await ensureTopics(admin, [{ name: topic, partitions: 1, cleanupPolicy: 'compact' }], {
      replicationFactor: 1,
    });
    // 40 × 100 KB ≈ 4 MB for one partition: one record batch of it exceeds message.max.bytes (1 MiB).
    const value = new Uint8Array(100_000).fill(7);
    const records = Array.from({ length: 40 }, (_, i) => ({ topic, key: `item-${i}`, value }));
    const sink = new KafkaEventSink({ kafka, mode: 'exactly-once', transactionalId: `${topic}.tx` });
    try {
      await sink.commit({ records, offsets: [], groupId: `${topic}.group` });
    } finally {
      await sink.close();
    }
    const reader = new KafkaLogReader({ kafka, groupPrefix: `${topic}.check`, stallTimeoutMs: 20_000 });
    try {
      // The coordinator writes the commit markers after answering EndTxn, so the last stable offset
      // can trail the commit for a moment: read again until it has moved (or the test times out).
      let keys: string[] = [];
      while (keys.length < records.length) {
        keys = [];
        for await (const chunk of reader.readRange(topic, 0, 0))
          for (const r of chunk) keys.push(r.key ?? '');
        if (keys.length < records.length) await sleep(100);
      }
      assert.deepEqual(
        keys,
        records.map((r) => r.key),
        'every record, committed, in order',
      );
    } finally {
      await reader.close();
    }
  });

  test('sink: units handed over during a commit share the next transaction, each placed by its own input; after a failed unit nothing later commits', {
    timeout: 120_000,
  }, async () => {
    const prefix = uniquePrefix('group-commit');
    const input = `${prefix}.input`;
    const changelog = `${prefix}.changelog`;
    const groupId = `${prefix}.group`;
    topics.push(input, changelog);
    await ensureTopics(
      admin,
      [
        { name: input, partitions: 2 },
        { name: changelog, partitions: 2, cleanupPolicy: 'compact', copartitionedWith: input },
      ],
      { replicationFactor: 1 },
    );
    const sink = new KafkaEventSink({
      kafka,
      mode: 'exactly-once',
      transactionalId: `${prefix}.tx`,
      copartition: [{ topic: changelog, input }],
    });
    const unit = (key: string, partition: number, offset: number, bytes = 1) => ({
      records: [{ topic: changelog, key, value: new Uint8Array(bytes).fill(1) }],
      offsets: [{ topic: input, partition, offset }],
      groupId,
    });
    const committedOffsets = async () =>
      (await admin.fetchOffsets({ groupId, topics: [input] }))[0]!.partitions
        .map((p) => `${p.partition}@${p.offset}`)
        .sort();
    try {
      await sink.connect();
      // Handed over without waiting: the first starts a transaction at once, the next two queue
      // behind it and go out together.
      await Promise.all([unit('a', 0, 10), unit('b', 1, 5), unit('c', 0, 20)].map((u) => sink.commit(u)));
      assert.deepEqual(sink.committed, { commits: 2, units: 3 });
      // Transactional offsets become visible once the coordinator has written the commit's
      // markers, a moment after EndTxn returns: read until they are (or the test times out).
      let offsets = await committedOffsets();
      for (const until = Date.now() + 15_000; offsets.join() !== '0@20,1@5' && Date.now() < until; ) {
        await sleep(50);
        offsets = await committedOffsets();
      }
      assert.deepEqual(offsets, ['0@20', '1@5'], "each partition's last offset");

      // A record over the broker's message.max.bytes (1 MiB) aborts its transaction; the unit
      // queued behind it is rejected uncommitted, and so is any unit after.
      const failing = sink.commit(unit('too-large', 0, 30, 1_200_000));
      const behind = sink.commit(unit('d', 1, 9));
      await assert.rejects(failing, (error: unknown) => error instanceof KafkaCommitError);
      await assert.rejects(behind, /an earlier unit failed/);
      await assert.rejects(sink.commit(unit('e', 1, 10)), /an earlier unit failed/);
      assert.deepEqual(await committedOffsets(), ['0@20', '1@5'], 'nothing after the failure committed');
    } finally {
      await sink.close();
    }
    const reader = new KafkaLogReader({ kafka, groupPrefix: `${prefix}.check`, stallTimeoutMs: 20_000 });
    try {
      const keysOf = async (partition: number) => {
        const keys: string[] = [];
        for await (const chunk of reader.readRange(changelog, partition, 0))
          for (const r of chunk) keys.push(r.key ?? '');
        return keys;
      };
      // Each record in its own unit's input partition (Kafka Streams' co-partitioned changelog). The
      // last stable offset can trail a commit for a moment: read again until both partitions hold
      // what was committed (or 15 s pass).
      let seen = [await keysOf(0), await keysOf(1)];
      for (const until = Date.now() + 15_000; seen.flat().length < 3 && Date.now() < until; ) {
        await sleep(100);
        seen = [await keysOf(0), await keysOf(1)];
      }
      assert.deepEqual(seen, [['a', 'c'], ['b']]);
    } finally {
      await reader.close();
    }
  });

  test('sink: back-to-back transactions log no warning (the coordinator still writing the last markers is retried quietly)', {
    timeout: 120_000,
  }, async () => {
    const topic = `${uniquePrefix('tx-warnings')}.output`;
    topics.push(topic);
    await ensureTopics(admin, [{ name: topic, partitions: 2 }], { replicationFactor: 1 });
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({
      level: 'debug',
      format: 'json',
      write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }),
    });
    // Eddy's own client set-up, whose log routing is what is tested.
    const eddyKafka = createKafka({ brokers: brokerList(), clientId: 'eddy-it-tx', logger });
    const sink = new KafkaEventSink({
      kafka: eddyKafka,
      mode: 'exactly-once',
      transactionalId: `${topic}.tx`,
      logger,
    });
    const units = 60;
    try {
      for (let i = 0; i < units; i++) {
        await sink.commit({
          records: [{ topic, key: `k${i}`, value: new Uint8Array([i]) }],
          offsets: [{ topic, partition: i % 2, offset: i + 1 }],
          groupId: `${topic}.group`,
        });
      }
    } finally {
      await sink.close();
    }
    const retried = lines.filter((l) => l.msg.includes('concurrent operation on the same transaction'));
    console.log(`${units} transactions: ${retried.length} CONCURRENT_TRANSACTIONS answers retried`);
    assert.deepEqual(
      lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg),
      [],
    );
  });

  test('topics Eddy cannot use are all reported before anything is created', {
    timeout: 60_000,
  }, async () => {
    const prefix = uniquePrefix('mismatch');
    const clicks = `${prefix}.clicks`;
    const changelog = `${prefix}.changelog`;
    const compactedEvents = `${prefix}.dead-letters`;
    const notYet = `${prefix}.recommendations`;
    topics.push(clicks, changelog, compactedEvents, notYet);
    await admin.createTopics({
      topics: [
        { topic: clicks, numPartitions: 2 },
        { topic: changelog, numPartitions: 3 },
        {
          topic: compactedEvents,
          numPartitions: 2,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
    await assert.rejects(
      ensureTopics(
        admin,
        [
          { name: clicks, partitions: 4 },
          { name: notYet, partitions: 4 },
          { name: compactedEvents, partitions: 4 },
          { name: changelog, partitions: 4, cleanupPolicy: 'compact', copartitionedWith: clicks },
        ],
        { replicationFactor: 1 },
      ),
      (error: unknown) => {
        assert.ok(error instanceof TopicMismatchError);
        assert.match(
          error.message,
          new RegExp(`${changelog}: has cleanup.policy=delete, Eddy needs compact`),
        );
        assert.match(
          error.message,
          new RegExp(`${changelog}: has 3 partitions, ${clicks} has 2; they must match`),
        );
        assert.match(
          error.message,
          new RegExp(`${compactedEvents}: has cleanup.policy=compact, Eddy needs delete`),
        );
        assert.match(error.message, /nothing was created/);
        return true;
      },
    );
    assert.ok(!(await admin.listTopics()).includes(notYet), 'a refused start creates no topic');
  });

  test('existing topics keep their partition count; a missing changelog follows its input; a compacted catalog is accepted', {
    timeout: 60_000,
  }, async () => {
    const prefix = uniquePrefix('existing');
    const clicks = `${prefix}.their-clicks`;
    const catalog = `${prefix}.their-catalog`;
    const changelog = `${prefix}.changelog`;
    const output = `${prefix}.output`;
    topics.push(clicks, catalog, changelog, output);
    await admin.createTopics({
      topics: [
        { topic: clicks, numPartitions: 2 },
        { topic: catalog, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
      waitForLeaders: true,
    });
    const report = await ensureTopics(
      admin,
      [
        { name: clicks, partitions: 4 },
        { name: catalog, partitions: 4, acceptedPolicies: ['delete', 'compact', 'compact,delete'] },
        { name: output, partitions: 4 },
        { name: changelog, partitions: 4, cleanupPolicy: 'compact', copartitionedWith: clicks },
      ],
      { replicationFactor: 1 },
    );
    assert.deepEqual([...report.created].sort(), [changelog, output].sort());
    assert.deepEqual(Object.fromEntries(report.partitions), {
      [clicks]: 2,
      [catalog]: 1,
      [output]: 4,
      [changelog]: 2,
    });
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [changelog] });
    assert.equal(metadata[0]?.partitions.length, 2, 'the changelog is created like its input');
  });
});

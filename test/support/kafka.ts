import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { toSourceRecord } from '../../streams/adapters/kafka/kafka-client.js';
import { codecs } from '../../streams/codec/avro.js';
import type { UserStateRecord } from '../../streams/codec/state-records.js';
import type { RecommendationList } from '../../streams/model/events.js';
import { type TopicNames, topicNames } from '../../streams/pipeline/topics.js';
import type { SourceRecord } from '../../streams/ports/event-log.js';

/**
 * Helpers for the tests against a real broker (infra/kafka/start.sh, or `.ci/run`). They read
 * through plain kafkajs consumers — not Eddy's own adapters — so a bug in an adapter cannot hide
 * itself from the test that checks it.
 */

export const BROKERS = process.env.KAFKA_BROKERS?.trim() ?? '';
export const SKIP_KAFKA: string | false =
  BROKERS === ''
    ? 'KAFKA_BROKERS not set: start infra/kafka/start.sh and export KAFKA_BROKERS=127.0.0.1:9092'
    : false;

export function brokerList(): string[] {
  return BROKERS.split(',').map((b) => b.trim());
}

/** A topic prefix and group id no other test (or earlier run) uses. */
export function uniquePrefix(name: string): string {
  return `eddy-it-${name}-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
}

export function testKafka(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: brokerList(),
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
}

export function testTopics(prefix: string): TopicNames {
  return topicNames(prefix);
}

/** Deletes every topic of a prefix, ignoring failures (cleanup must not fail a test). */
export async function deleteTopics(admin: Admin, topics: TopicNames): Promise<void> {
  const existing = new Set(await admin.listTopics().catch(() => [] as string[]));
  const names = Object.values(topics).filter((t) => existing.has(t));
  if (names.length > 0) await admin.deleteTopics({ topics: names, timeout: 30_000 }).catch(() => {});
}

/** End offsets under read_committed (the last stable offset) per partition. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
}

/** Records of the group still to commit, summed over `topics` (input topics: no transactions). */
export async function groupLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  let lag = 0;
  for (const { topic, partitions } of committed) {
    const ends = await endOffsets(admin, topic);
    for (const { partition, offset } of partitions) {
      lag += (ends.get(partition) ?? 0) - Math.max(0, Number(offset));
    }
  }
  return lag;
}

export async function waitForGroupCaughtUp(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
  timeoutMs: number,
  alive: () => void = () => {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive();
    const lag = await groupLag(admin, groupId, topics);
    if (lag === 0) return;
    if (Date.now() > deadline)
      throw new Error(`group ${groupId} still ${lag} records behind after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/**
 * Every record of a topic visible to a read_committed reader now: each partition is read up to its
 * last stable offset by a consumer in a fresh group.
 */
export async function readCommitted(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 60_000,
): Promise<SourceRecord[]> {
  const ends = await endOffsets(admin, topic);
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
  const out: SourceRecord[] = [];
  if (pending.size === 0) return out;
  const groupId = `eddy-it-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  const reached = (partition: number, lastOffset: number): void => {
    if (lastOffset + 1 >= (ends.get(partition) ?? 0)) pending.delete(partition);
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) =>
    reached(e.payload.partition, Number(e.payload.lastOffset)),
  );
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const end = ends.get(batch.partition) ?? 0;
      for (const m of batch.messages)
        if (Number(m.offset) < end) out.push(toSourceRecord(topic, batch.partition, m));
    },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (pending.size > 0) {
      if (Date.now() > deadline)
        throw new Error(`reading ${topic}: partitions ${[...pending]} not read to their end`);
      await sleep(50);
    }
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

export function decodeLists(records: readonly SourceRecord[]): RecommendationList[] {
  return records.map((r) => codecs.recommendationList.decode(r.value ?? new Uint8Array(0)));
}

/** The compacted view of a changelog: the latest value per key (null when the latest is a tombstone). */
export function latestPerKey(records: readonly SourceRecord[]): Map<string, Uint8Array | null> {
  const latest = new Map<string, Uint8Array | null>();
  for (const r of records) if (r.key !== null) latest.set(r.key, r.value);
  return latest;
}

/**
 * The parts of a user's state that are exact functions of that user's own events in order: what a
 * crash, a restart or a rebalance must not change. Vectors (and the last list) also depend on the
 * item model, which every partition's events train in whatever order the partitions happen to be
 * interleaved, and which is only checkpointed — so they differ even between two clean runs.
 */
export function exactUserState(record: UserStateRecord): object {
  return {
    userId: record.userId,
    lastEventTime: record.lastEventTime,
    recent: record.recent,
    seen: record.seen,
    counters: record.counters,
    categoryAffinity: record.categoryAffinity,
  };
}

export function decodeUserStates(
  latest: ReadonlyMap<string, Uint8Array | null>,
): Map<string, UserStateRecord> {
  const out = new Map<string, UserStateRecord>();
  for (const [key, value] of latest) if (value !== null) out.set(key, codecs.userState.decode(value));
  return out;
}

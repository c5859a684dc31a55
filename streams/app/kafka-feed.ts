/**
 * Produces a replayed stream (synthetic or MovieLens) into Eddy's input topics, as an upstream
 * service would: clicks keyed by user id, catalog records keyed by item id, Java's murmur2
 * partitioner, Avro single-object encoding — or the Confluent wire format with a schema registry.
 * Used by `produce` (demos, benchmarks) and by the Kafka tests.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { type Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import { registerSchema } from '../adapters/kafka/schema-registry.js';
import { codecs, schemaDocument } from '../codec/avro.js';
import type { TopicNames } from '../pipeline/topics.js';
import type { StreamEvent } from '../sources/stream-event.js';

export interface EncodedEvent {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
}

export type EventEncoder = (event: StreamEvent) => EncodedEvent;

export function singleObjectEncoder(topics: TopicNames): EventEncoder {
  return (e) =>
    e.kind === 'click'
      ? { topic: topics.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
      : { topic: topics.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) };
}

/** Registers the input schemas (`<topic>-value`) and encodes in the Confluent wire format. */
export async function registryEncoder(url: string, topics: TopicNames): Promise<EventEncoder> {
  const registry = new SchemaRegistry({ host: url, clientId: 'eddy-produce' });
  const clickId = await registerSchema(registry, `${topics.clicks}-value`, schemaDocument('ClickEvent'), url);
  const itemId = await registerSchema(registry, `${topics.items}-value`, schemaDocument('ItemEvent'), url);
  return (e) =>
    e.kind === 'click'
      ? {
          topic: topics.clicks,
          key: e.event.userId,
          value: codecs.clickEvent.encodeConfluent(clickId, e.event),
        }
      : {
          topic: topics.items,
          key: e.event.itemId,
          value: codecs.itemEvent.encodeConfluent(itemId, e.event),
        };
}

export interface FeedOptions {
  readonly encode: EventEncoder;
  /** Events per second; 0 or absent: as fast as the broker takes them. */
  readonly rate?: number;
  /** Most events per produce request (default 1000; smaller at low rates to keep the pace even). */
  readonly chunk?: number;
  readonly signal?: AbortSignal;
  /** Told each chunk once the broker acknowledged it (e.g. to time end-to-end latency). */
  readonly onSent?: (events: readonly StreamEvent[], sentAt: number) => void;
  /** Told the running totals every ~second. */
  readonly onProgress?: (produced: FeedReport) => void;
}

export interface FeedReport {
  readonly clicks: number;
  readonly items: number;
  readonly seconds: number;
}

export function feedProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    allowAutoTopicCreation: false,
  });
}

/** Produces `events` in order (per topic and key) and resolves once all are acknowledged. */
export async function feed(
  producer: Producer,
  events: Iterable<StreamEvent>,
  options: FeedOptions,
): Promise<FeedReport> {
  const rate = options.rate ?? 0;
  const chunkSize = Math.max(1, options.chunk ?? (rate > 0 ? Math.min(1_000, Math.ceil(rate / 100)) : 1_000));
  const started = performance.now();
  let clicks = 0;
  let items = 0;
  let lastProgress = started;
  let pending: StreamEvent[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const e of pending) {
      const { topic, key, value } = options.encode(e);
      let messages = byTopic.get(topic);
      if (messages === undefined) {
        messages = [];
        byTopic.set(topic, messages);
      }
      messages.push({ key, value });
    }
    await producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      acks: -1,
    });
    options.onSent?.(pending, Date.now());
    for (const e of pending) {
      if (e.kind === 'click') clicks++;
      else items++;
    }
    pending = [];
    const now = performance.now();
    if (rate > 0) {
      // Paced by the total so far, so a slow request is caught up on rather than lost.
      const due = started + ((clicks + items) / rate) * 1000;
      if (due > now) await sleep(due - now);
    }
    if (options.onProgress && now - lastProgress >= 1_000) {
      lastProgress = now;
      options.onProgress({ clicks, items, seconds: (now - started) / 1000 });
    }
  };
  for (const e of events) {
    if (options.signal?.aborted) break;
    pending.push(e);
    if (pending.length >= chunkSize) await flush();
  }
  if (!options.signal?.aborted) await flush();
  return { clicks, items, seconds: (performance.now() - started) / 1000 };
}

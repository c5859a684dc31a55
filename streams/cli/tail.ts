#!/usr/bin/env node
/**
 * `eddy tail` / `npm run tail`: follows the recommendations topic and prints each list readably
 * (user, rank, item with its title, score, the signal that proposed it, the list's age), or as one
 * JSON object per line with --json. Reads what downstream consumers read: read_committed, in either
 * wire format. Titles come from the catalog topic, read first and then followed.
 */

import { randomUUID } from 'node:crypto';
import type { EachBatchPayload } from 'kafkajs';
import { createKafka, parseBrokers, toSourceRecord } from '../adapters/kafka/kafka-client.js';
import { KafkaLogReader } from '../adapters/kafka/kafka-log-reader.js';
import { RegistryCodecs } from '../adapters/kafka/schema-registry.js';
import { codecs } from '../codec/avro.js';
import { ConfigError } from '../errors.js';
import type { ItemEvent, RecommendationList } from '../model/events.js';
import { createLogger, type Logger } from '../observe/logger.js';
import type { TopicNames } from '../pipeline/topics.js';
import type { SourceRecord } from '../ports/event-log.js';
import { EDDY_SETTINGS } from './eddy-settings.js';
import { KAFKA_CONNECTION_SETTINGS, topicNamesFrom } from './kafka-settings.js';
import {
  flag,
  formatHelp,
  integer,
  optional,
  parseSettings,
  type Setting,
  type SettingsOf,
  text,
} from './settings.js';

const USAGE = 'Usage: npm run tail -- --kafka-brokers host:port [options]    (or: eddy tail [options])';
const SUMMARY = `Follows Eddy's <prefix>.recommendations topic and prints every list as it arrives: user,
rank, item (with its catalog title), score, the signal that proposed it, and the list's age (now −
generatedAt). Reads committed lists only, as downstream consumers do, in Avro single-object encoding
or the Confluent wire format (--schema-registry-url). Stop with Ctrl-C.`;

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** Tail creates no topics, so the replication factor means nothing to it. */
const { replicationFactor: _createsNoTopics, ...CONNECTION } = KAFKA_CONNECTION_SETTINGS;

const TAIL_SETTINGS = {
  ...CONNECTION,
  kafkaBrokers: {
    ...KAFKA_CONNECTION_SETTINGS.kafkaBrokers,
    description: 'Kafka brokers to read from (required)',
  },
  kafkaClientId: { ...KAFKA_CONNECTION_SETTINGS.kafkaClientId, default: 'eddy-tail' },
  user: setting({
    flag: 'user',
    env: 'EDDY_TAIL_USER',
    description: 'only the lists of this user',
    expected: 'a user id or none',
    parse: optional(text),
    show: (value: string | null) => value ?? 'none',
    default: null as string | null,
  }),
  fromBeginning: setting({
    flag: 'from-beginning',
    env: 'EDDY_TAIL_FROM_BEGINNING',
    description: 'start at the oldest list kept instead of the next one',
    expected: 'true or false',
    parse: flag,
    boolean: true,
    default: false,
  }),
  json: setting({
    flag: 'json',
    env: 'EDDY_TAIL_JSON',
    description: 'one JSON object per list on stdout, for scripts',
    expected: 'true or false',
    parse: flag,
    boolean: true,
    default: false,
  }),
  max: setting({
    flag: 'max',
    env: 'EDDY_TAIL_MAX',
    description: 'exit after printing this many lists (0 = follow until stopped)',
    expected: 'an integer ≥ 0',
    parse: integer(0),
    default: 0,
  }),
  logLevel: { ...EDDY_SETTINGS.logLevel, default: 'warn' as 'debug' | 'info' | 'warn' | 'error' },
};

type TailSettings = SettingsOf<typeof TAIL_SETTINGS>;

/** Decodes lists and catalog records in the wire format the deployment uses. */
interface TailCodecs {
  resolve(topic: string, records: readonly SourceRecord[]): Promise<void>;
  decodeList(bytes: Uint8Array): RecommendationList;
  decodeItem(bytes: Uint8Array): ItemEvent;
}

function tailCodecs(settings: TailSettings, topics: TopicNames, logger: Logger): TailCodecs {
  if (settings.schemaRegistryUrl === null) {
    return {
      resolve: async () => {},
      decodeList: (bytes) => codecs.recommendationList.decode(bytes),
      decodeItem: (bytes) => codecs.itemEvent.decode(bytes),
    };
  }
  const registry = new RegistryCodecs({ url: settings.schemaRegistryUrl, topics, dimension: 0, logger });
  const pipeline = registry.pipelineCodecs();
  return {
    resolve: (topic, records) => registry.resolve(topic, records),
    decodeList: (bytes) => registry.decodeList(bytes),
    decodeItem: (bytes) => pipeline.decodeItem(bytes),
  };
}

/** One line per list (user, id, age) and one per item. */
export function formatList(
  list: RecommendationList,
  titles: ReadonlyMap<string, string>,
  now: number,
): string {
  const age = now - list.generatedAt;
  const lines = [
    `${new Date(list.generatedAt).toISOString()}  user ${list.userId}  ${list.items.length} items  age ${formatAge(age)}  (list ${list.listId}, after event ${list.triggeringEventId})`,
  ];
  for (const item of list.items) {
    const title = titles.get(item.itemId);
    lines.push(
      `  ${String(item.rank).padStart(3)}. ${title ? `${title} (${item.itemId})` : item.itemId}  score ${item.score.toFixed(3)}  ${item.source}`,
    );
  }
  return lines.join('\n');
}

export function listAsJson(
  list: RecommendationList,
  titles: ReadonlyMap<string, string>,
  now: number,
): string {
  return JSON.stringify({
    userId: list.userId,
    listId: list.listId,
    triggeringEventId: list.triggeringEventId,
    generatedAt: list.generatedAt,
    ageMs: now - list.generatedAt,
    modelVersion: list.modelVersion,
    items: list.items.map((item) => ({ ...item, title: titles.get(item.itemId) ?? '' })),
  });
}

function formatAge(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}min`;
}

export async function main(argv: readonly string[]): Promise<number> {
  let settings: TailSettings;
  try {
    const parsed = parseSettings(TAIL_SETTINGS, argv, process.env);
    if (parsed.help) {
      process.stdout.write(formatHelp(USAGE, SUMMARY, TAIL_SETTINGS));
      return 0;
    }
    settings = parsed.values;
    if (settings.kafkaBrokers === null) {
      throw new ConfigError('--kafka-brokers / KAFKA_BROKERS', 'host:port[,host:port...]', '');
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tail: ${error.message}\nRun with --help for the list of settings.\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ level: settings.logLevel, format: process.stderr.isTTY ? 'pretty' : 'json' });
  const topics = topicNamesFrom(settings);
  const kafka = createKafka({
    brokers: parseBrokers(settings.kafkaBrokers),
    clientId: settings.kafkaClientId,
    logger,
  });
  const wire = tailCodecs(settings, topics, logger);

  const titles = new Map<string, string>();
  const learnTitles = async (records: readonly SourceRecord[]): Promise<void> => {
    await wire.resolve(topics.items, records);
    for (const record of records) {
      if (record.value === null) continue;
      try {
        const item = wire.decodeItem(record.value);
        if (item.op === 'delete') titles.delete(item.itemId);
        else titles.set(item.itemId, item.title);
      } catch {
        // Eddy dead-letters it; a title is only a nicety here.
      }
    }
  };
  const reader = new KafkaLogReader({ kafka, groupPrefix: `eddy-tail.${randomUUID()}`, logger });
  try {
    const partitions = await reader.partitionsOf(topics.items);
    for (let p = 0; p < partitions; p++) {
      for await (const chunk of reader.readRange(topics.items, p, 0)) await learnTitles(chunk);
    }
  } finally {
    await reader.close();
  }

  // A group of its own with nothing committed: every tail sees every list, and leaves no trace.
  const consumer = kafka.consumer({ groupId: `eddy-tail.${randomUUID()}`, readUncommitted: false });
  let printed = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const stop = (): void => done();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.recommendations], fromBeginning: settings.fromBeginning });
  await consumer.subscribe({ topics: [topics.items], fromBeginning: false });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      const records = batch.messages.map((m) => toSourceRecord(batch.topic, batch.partition, m));
      if (batch.topic === topics.items) {
        await learnTitles(records);
        return;
      }
      await wire.resolve(topics.recommendations, records);
      for (const record of records) {
        if (settings.max > 0 && printed >= settings.max) break;
        let list: RecommendationList;
        try {
          list = wire.decodeList(record.value ?? new Uint8Array(0));
        } catch (error) {
          logger.warn('a record on the recommendations topic is not a RecommendationList', {
            partition: record.partition,
            offset: record.offset,
            error: error instanceof Error ? error.message : String(error),
          });
          continue;
        }
        if (settings.user !== null && list.userId !== settings.user) continue;
        const now = Date.now();
        process.stdout.write(
          `${settings.json ? listAsJson(list, titles, now) : formatList(list, titles, now)}\n`,
        );
        printed++;
      }
      if (settings.max > 0 && printed >= settings.max) done();
    },
  });
  await finished;
  await consumer.disconnect();
  return 0;
}

const invokedDirectly = process.argv[1]?.endsWith('/tail.js') ?? false;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `tail: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}

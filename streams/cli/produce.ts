#!/usr/bin/env node
import { createKafka, parseBrokers } from '../adapters/kafka/kafka-client.js';
import { ensureTopics, TopicMismatchError } from '../adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../app/kafka.js';
import { feed, feedProducer, registryEncoder, singleObjectEncoder } from '../app/kafka-feed.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../observe/logger.js';
import { DatasetError, movieLensStream } from '../sources/movielens.js';
import type { StreamEvent } from '../sources/stream-event.js';
import { syntheticStream } from '../sources/synthetic.js';
import { EDDY_SETTINGS } from './eddy-settings.js';
import { KAFKA_CONNECTION_SETTINGS, topicNamesFrom } from './kafka-settings.js';
import { decimal, formatHelp, parseSettings, type Setting, type SettingsOf } from './settings.js';

const USAGE = 'Usage: node dist/streams/cli/produce.js --kafka-brokers host:port [options]';
const SUMMARY = `Produces the synthetic stream or MovieLens into Eddy's Kafka input topics, as an upstream
service would: clicks keyed by user id to <prefix>.clicks, the catalog keyed by item id to
<prefix>.items (Java's murmur2 partitioner, Avro single-object encoding, or the Confluent wire
format with --schema-registry-url). Creates Eddy's topics when missing. For demos and benchmarks.`;

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

const PRODUCE_SETTINGS = {
  ...KAFKA_CONNECTION_SETTINGS,
  kafkaBrokers: {
    ...KAFKA_CONNECTION_SETTINGS.kafkaBrokers,
    description: 'Kafka brokers to produce to (required)',
  },
  kafkaClientId: { ...KAFKA_CONNECTION_SETTINGS.kafkaClientId, default: 'eddy-produce' },
  partitions: EDDY_SETTINGS.partitions,
  dataset: EDDY_SETTINGS.dataset,
  path: EDDY_SETTINGS.path,
  events: EDDY_SETTINGS.events,
  users: EDDY_SETTINGS.users,
  items: EDDY_SETTINGS.items,
  seed: EDDY_SETTINGS.seed,
  dimension: { ...EDDY_SETTINGS.dimension, description: 'dimension of the catalog content vectors' },
  rate: setting({
    flag: 'rate',
    env: 'EDDY_PRODUCE_RATE',
    description: 'events per second (0 = as fast as the broker takes them)',
    expected: 'a number ≥ 0',
    parse: decimal(0, 10_000_000),
    default: 0,
  }),
  logFormat: EDDY_SETTINGS.logFormat,
  logLevel: EDDY_SETTINGS.logLevel,
};

type ProduceSettings = SettingsOf<typeof PRODUCE_SETTINGS>;

async function main(argv: readonly string[]): Promise<number> {
  let settings: ProduceSettings;
  try {
    const parsed = parseSettings(PRODUCE_SETTINGS, argv, process.env);
    if (parsed.help) {
      process.stdout.write(formatHelp(USAGE, SUMMARY, PRODUCE_SETTINGS));
      return 0;
    }
    settings = parsed.values;
    if (settings.kafkaBrokers === null) {
      throw new ConfigError('--kafka-brokers / KAFKA_BROKERS', 'host:port[,host:port...]', '');
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`produce: ${error.message}\nRun with --help for the list of settings.\n`);
      return 2;
    }
    throw error;
  }
  const format =
    settings.logFormat === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : settings.logFormat;
  const logger = createLogger({ level: settings.logLevel, format });

  let events: Iterable<StreamEvent>;
  try {
    events =
      settings.dataset === 'movielens'
        ? movieLensStream({ path: settings.path })
        : syntheticStream({
            seed: settings.seed,
            users: settings.users,
            items: settings.items,
            events: settings.events === 0 ? Number.POSITIVE_INFINITY : settings.events,
            contentVectorDimension: settings.dimension,
          });
  } catch (error) {
    if (error instanceof DatasetError) {
      logger.error('cannot read the dataset', {
        dataset: settings.dataset,
        path: settings.path,
        reason: error.message,
      });
      return 2;
    }
    throw error;
  }

  const topics = topicNamesFrom(settings);
  const kafka = createKafka({
    brokers: parseBrokers(settings.kafkaBrokers),
    clientId: settings.kafkaClientId,
    logger,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, eddyTopicSpecs(topics, settings.partitions), {
      replicationFactor: settings.replicationFactor,
      logger,
    });
  } catch (error) {
    if (error instanceof TopicMismatchError) {
      logger.error('topic mismatch', { reason: error.message });
      return 2;
    }
    throw error;
  } finally {
    await admin.disconnect();
  }
  const encode = settings.schemaRegistryUrl
    ? await registryEncoder(settings.schemaRegistryUrl, topics)
    : singleObjectEncoder(topics);

  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    logger.info('stopping after the chunk in flight');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const producer = feedProducer(kafka);
  await producer.connect();
  logger.info('producing', {
    dataset: settings.dataset,
    clicks: topics.clicks,
    items: topics.items,
    rate: settings.rate === 0 ? 'unthrottled' : `${settings.rate}/s`,
    wireFormat: settings.schemaRegistryUrl ? 'confluent' : 'single-object',
  });
  try {
    const report = await feed(producer, events, {
      encode,
      rate: settings.rate,
      signal: abort.signal,
      onProgress: (p) =>
        logger.info(`${(p.clicks + p.items).toLocaleString('en')} events produced`, {
          eventsPerSec: Math.round((p.clicks + p.items) / p.seconds),
        }),
    });
    logger.info('produced', {
      clicks: report.clicks,
      items: report.items,
      seconds: Math.round(report.seconds * 100) / 100,
      eventsPerSec: Math.round((report.clicks + report.items) / Math.max(report.seconds, 1e-9)),
    });
  } finally {
    await producer.disconnect();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `produce: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

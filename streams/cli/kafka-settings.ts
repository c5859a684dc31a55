import { hostname } from 'node:os';
import { type TopicNames, topicNames, type UserTopics } from '../pipeline/topics.js';
import {
  duration,
  durationOrNever,
  flag,
  formatDuration,
  integer,
  optional,
  type Setting,
  showDurationOrNever,
  showOptional,
} from './settings.js';

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

function brokerList(raw: string): string | undefined {
  const brokers = raw.split(',').map((b) => b.trim());
  return brokers.every((b) => /^[^:\s,]+:\d{1,5}$/.test(b)) ? brokers.join(',') : undefined;
}

function httpUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? raw.replace(/\/+$/, '') : undefined;
  } catch {
    return undefined;
  }
}

/** Kafka's legal topic and group characters. */
function name(raw: string): string | undefined {
  return /^[A-Za-z0-9._-]{1,200}$/.test(raw) ? raw : undefined;
}

/** An existing topic to use instead of `<prefix>.<suffix>`. */
function topicSetting(flagName: string, what: string, suffix: string): Setting<string | null> {
  return {
    flag: `${flagName}-topic`,
    env: `EDDY_${flagName.toUpperCase().replace('-', '_')}_TOPIC`,
    description: `${what} (none: <prefix>.${suffix})`,
    expected: 'a Kafka topic name (letters, digits, . _ -) or none',
    parse: optional(name),
    show: showOptional,
    default: null,
  };
}

/** The topic names the settings select: `<prefix>.*`, except the topics named explicitly. */
export function topicNamesFrom(settings: {
  readonly topicPrefix: string;
  readonly clicksTopic: string | null;
  readonly itemsTopic: string | null;
  readonly recommendationsTopic: string | null;
  readonly deadLettersTopic: string | null;
}): TopicNames {
  const named: Partial<UserTopics> = {
    ...(settings.clicksTopic ? { clicks: settings.clicksTopic } : {}),
    ...(settings.itemsTopic ? { items: settings.itemsTopic } : {}),
    ...(settings.recommendationsTopic ? { recommendations: settings.recommendationsTopic } : {}),
    ...(settings.deadLettersTopic ? { deadLetters: settings.deadLettersTopic } : {}),
  };
  return topicNames(settings.topicPrefix, named);
}

/** Stable across restarts on one host, which is what the transactional id needs. */
export const DEFAULT_INSTANCE_ID =
  hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 100) || 'eddy';

/** Where and how to reach Kafka; shared by `eddy` and `produce`. */
export const KAFKA_CONNECTION_SETTINGS = {
  kafkaBrokers: setting({
    flag: 'kafka-brokers',
    env: 'KAFKA_BROKERS',
    description: 'Kafka brokers; when set, eddy consumes Kafka instead of replaying a dataset',
    expected: 'host:port[,host:port...] or none',
    parse: optional(brokerList),
    show: showOptional,
    default: null as string | null,
  }),
  kafkaClientId: setting({
    flag: 'kafka-client-id',
    env: 'EDDY_KAFKA_CLIENT_ID',
    description: 'Kafka client id (broker logs and quotas)',
    expected: 'letters, digits, . _ -',
    parse: name,
    default: 'eddy',
  }),
  topicPrefix: setting({
    flag: 'topic-prefix',
    env: 'EDDY_TOPIC_PREFIX',
    description: 'topics are <prefix>.clicks, <prefix>.items, <prefix>.recommendations, ...',
    expected: 'letters, digits, . _ -',
    parse: name,
    default: 'eddy',
  }),
  clicksTopic: topicSetting('clicks', 'the click events Eddy consumes (keyed by user id)', 'clicks'),
  itemsTopic: topicSetting(
    'items',
    'the catalog Eddy consumes (keyed by item id; may be compacted)',
    'items',
  ),
  recommendationsTopic: topicSetting(
    'recommendations',
    'where Eddy writes the lists (keyed by user id; may be compacted)',
    'recommendations',
  ),
  deadLettersTopic: topicSetting(
    'dead-letters',
    'where Eddy writes the records it cannot use',
    'dead-letters',
  ),
  replicationFactor: setting({
    flag: 'replication-factor',
    env: 'EDDY_REPLICATION_FACTOR',
    description: 'replication factor of the Kafka topics Eddy creates',
    expected: 'an integer 1–16',
    parse: integer(1, 16),
    default: 1,
  }),
  schemaRegistryUrl: setting({
    flag: 'schema-registry-url',
    env: 'SCHEMA_REGISTRY_URL',
    description: 'schema registry (Confluent wire format); none: Avro single-object encoding',
    expected: 'an http(s) URL or none',
    parse: optional(httpUrl),
    show: showOptional,
    default: null as string | null,
  }),
  schemaRegistryGiveUpAfter: setting({
    flag: 'schema-registry-give-up-after',
    env: 'EDDY_SCHEMA_REGISTRY_GIVE_UP_AFTER',
    description:
      'how long a schema-registry outage is waited out (input held back, /readyz 503) before Eddy exits; 0 = wait forever',
    expected: 'a duration such as 5m, or 0',
    parse: durationOrNever,
    show: showDurationOrNever,
    default: 0,
  }),
  schemaRegistryStartupTimeout: setting({
    flag: 'schema-registry-startup-timeout',
    env: 'EDDY_SCHEMA_REGISTRY_STARTUP_TIMEOUT',
    description: 'how long start-up waits for the schema registry before exiting; 0 = forever',
    expected: 'a duration such as 30s, or 0',
    parse: durationOrNever,
    show: showDurationOrNever,
    default: 30_000,
  }),
};

/** How `eddy` takes part in its consumer group. */
export const KAFKA_EDDY_SETTINGS = {
  groupId: setting({
    flag: 'group-id',
    env: 'EDDY_GROUP_ID',
    description: 'Kafka consumer group of the Eddy instances sharing the work',
    expected: 'letters, digits, . _ -',
    parse: name,
    default: 'eddy',
  }),
  advertisedUrl: setting({
    flag: 'advertised-url',
    env: 'EDDY_ADVERTISED_URL',
    description:
      'base URL at which the other instances can reach this one’s HTTP port, for interactive queries (none: http://<host name>:<http port>)',
    expected: 'an http(s) URL or none',
    parse: optional(httpUrl),
    show: showOptional,
    default: null as string | null,
  }),
  instanceId: setting({
    flag: 'instance-id',
    env: 'EDDY_INSTANCE_ID',
    description: 'this instance, stable across its restarts (transactional id <group>.<instance>)',
    expected: 'letters, digits, . _ -',
    parse: name,
    default: DEFAULT_INSTANCE_ID,
  }),
  threads: setting({
    flag: 'threads',
    env: 'EDDY_THREADS',
    description:
      'pipelines in this process, each on a worker thread owning a share of the partitions, embedded or on Kafka (there each an instance of the group, instance id <instance>-t<n>); 0 = one per core',
    expected: 'an integer 0–64',
    parse: integer(0, 64),
    default: 0,
  }),
  transactional: setting({
    flag: 'transactional',
    env: 'EDDY_TRANSACTIONAL',
    description: 'exactly-once via transactions; false: at-least-once (same list ids on replay)',
    expected: 'true or false',
    parse: flag,
    default: true,
  }),
  kafkaSessionTimeout: setting({
    flag: 'kafka-session-timeout',
    env: 'EDDY_KAFKA_SESSION_TIMEOUT',
    description: 'how long the group waits for a silent instance before moving its partitions',
    expected: 'a duration from 6s (the broker minimum by default)',
    parse: duration,
    show: formatDuration,
    default: 30_000,
  }),
};

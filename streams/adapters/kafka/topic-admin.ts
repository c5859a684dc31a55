/**
 * Creates Eddy's topics when missing and checks the existing ones against what Eddy needs, so a
 * wrong partition count or cleanup policy stops Eddy at start-up with a message naming the topic,
 * instead of surfacing later as lost state (a compacted input) or a broken restore (a changelog
 * partitioned unlike its input).
 */

import type { Admin } from 'kafkajs';
import kafkajs from 'kafkajs';
import { EddyError } from '../../errors.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { EddyMetrics } from '../../observe/metrics.js';
import type { TopicSpec } from '../../ports/event-log.js';
import { timed } from './kafka-client.js';

export interface EnsureTopicsOptions {
  readonly replicationFactor: number;
  readonly logger?: Logger;
  readonly metrics?: EddyMetrics | null;
  /** How long to wait for the new topics' partition leaders. */
  readonly timeoutMs?: number;
}

/** Existing topics that do not match their spec, one line each. */
export class TopicMismatchError extends EddyError {
  override readonly name = 'TopicMismatchError';
  constructor(readonly problems: readonly string[]) {
    super(
      `existing Kafka topics do not match Eddy's settings:\n  ${problems.join('\n  ')}\n` +
        'Use a fresh --topic-prefix, change --partitions to match, or fix the topics (kafka-topics.sh / kafka-configs.sh).',
    );
  }
}

export interface EnsureTopicsReport {
  readonly created: readonly string[];
  readonly existing: readonly string[];
}

export async function ensureTopics(
  admin: Admin,
  specs: readonly TopicSpec[],
  options: EnsureTopicsOptions,
): Promise<EnsureTopicsReport> {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? null;
  const listed = new Set(await timed(metrics, 'admin', () => admin.listTopics()));
  const missing = specs.filter((s) => !listed.has(s.name));
  if (missing.length > 0) {
    const created = await timed(metrics, 'admin', () =>
      admin.createTopics({
        topics: missing.map((spec) => ({
          topic: spec.name,
          numPartitions: spec.partitions,
          replicationFactor: options.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: spec.cleanupPolicy ?? 'delete' }],
        })),
        waitForLeaders: true,
        timeout: options.timeoutMs ?? 30_000,
      }),
    );
    // false: another instance created them first, which is fine as long as they match (checked below).
    logger.info(created ? 'created kafka topics' : 'kafka topics were created concurrently', {
      topics: missing.map((s) => s.name),
    });
  }
  const problems = await mismatches(admin, specs, metrics);
  if (problems.length > 0) throw new TopicMismatchError(problems);
  return {
    created: missing.map((s) => s.name),
    existing: specs.filter((s) => listed.has(s.name)).map((s) => s.name),
  };
}

async function mismatches(
  admin: Admin,
  specs: readonly TopicSpec[],
  metrics: EddyMetrics | null,
): Promise<string[]> {
  const names = specs.map((s) => s.name);
  const { topics } = await timed(metrics, 'admin', () => admin.fetchTopicMetadata({ topics: names }));
  const configs = await timed(metrics, 'admin', () =>
    admin.describeConfigs({
      resources: names.map((name) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name,
        configNames: ['cleanup.policy'],
      })),
      includeSynonyms: false,
    }),
  );
  const problems: string[] = [];
  for (const spec of specs) {
    const partitions = topics.find((t) => t.name === spec.name)?.partitions.length;
    if (partitions === undefined) {
      problems.push(`${spec.name}: missing after creation`);
      continue;
    }
    if (partitions !== spec.partitions) {
      problems.push(`${spec.name}: has ${partitions} partitions, Eddy is configured for ${spec.partitions}`);
    }
    const resource = configs.resources.find((r) => r.resourceName === spec.name);
    const actual = resource?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    const wanted = spec.cleanupPolicy ?? 'delete';
    if (actual !== undefined && normalisePolicy(actual) !== wanted) {
      problems.push(
        `${spec.name}: has cleanup.policy=${actual}, Eddy needs ${wanted}` +
          (wanted === 'compact'
            ? ' (a changelog must keep the latest record of every key)'
            : ' (an input or output topic must not be compacted)'),
      );
    }
  }
  return problems;
}

function normalisePolicy(value: string): string {
  return value
    .split(',')
    .map((v) => v.trim())
    .sort()
    .join(',');
}

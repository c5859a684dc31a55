/**
 * Checks the topics Eddy uses and creates the missing ones, so a topic Eddy cannot work with stops
 * it at start-up with a message naming the topic, instead of surfacing later as lost state (a
 * compacted input) or a broken restore (a changelog partitioned unlike its input). Every topic is
 * checked before any is created: a refused start leaves the cluster as it found it.
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

/** Existing topics that Eddy cannot use, one line each. */
export class TopicMismatchError extends EddyError {
  override readonly name = 'TopicMismatchError';
  constructor(readonly problems: readonly string[]) {
    super(
      `existing Kafka topics do not fit Eddy (nothing was created):\n  ${problems.join('\n  ')}\n` +
        'Use other topic names (--topic-prefix, --clicks-topic, …) or fix the topics (kafka-topics.sh / kafka-configs.sh).',
    );
  }
}

export interface EnsureTopicsReport {
  readonly created: readonly string[];
  readonly existing: readonly string[];
  /** Partitions of every topic, as found or as created. */
  readonly partitions: ReadonlyMap<string, number>;
}

interface Found {
  readonly partitions: number;
  readonly policy: string | undefined;
}

export async function ensureTopics(
  admin: Admin,
  specs: readonly TopicSpec[],
  options: EnsureTopicsOptions,
): Promise<EnsureTopicsReport> {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? null;
  const listed = new Set(await timed(metrics, 'admin', () => admin.listTopics()));
  const found = await describe(
    admin,
    specs.filter((s) => listed.has(s.name)).map((s) => s.name),
    metrics,
  );
  const plan = new Map<string, number>();
  for (const spec of specs) plan.set(spec.name, found.get(spec.name)?.partitions ?? spec.partitions);
  // A missing topic co-partitioned with an existing one is created with that one's count.
  for (const spec of specs) {
    const partner = spec.copartitionedWith;
    if (partner !== undefined && !found.has(spec.name) && found.has(partner)) {
      plan.set(spec.name, found.get(partner)!.partitions);
    }
  }
  const problems = checkTopics(specs, found, plan);
  if (problems.length > 0) throw new TopicMismatchError(problems);

  const missing = specs.filter((s) => !found.has(s.name));
  if (missing.length > 0) {
    const created = await timed(metrics, 'admin', () =>
      admin.createTopics({
        topics: missing.map((spec) => ({
          topic: spec.name,
          numPartitions: plan.get(spec.name)!,
          replicationFactor: options.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: spec.cleanupPolicy ?? 'delete' }],
        })),
        waitForLeaders: true,
        timeout: options.timeoutMs ?? 30_000,
      }),
    );
    // false: another instance created them first; they are checked again below like any other.
    logger.info(created ? 'created kafka topics' : 'kafka topics were created concurrently', {
      topics: missing.map((s) => s.name),
    });
    const after = await describe(
      admin,
      specs.map((s) => s.name),
      metrics,
    );
    const late = checkTopics(specs, after, new Map([...after].map(([name, f]) => [name, f.partitions])));
    for (const spec of specs) if (!after.has(spec.name)) late.push(`${spec.name}: missing after creation`);
    if (late.length > 0) throw new TopicMismatchError(late);
    for (const [name, f] of after) plan.set(name, f.partitions);
  }
  return {
    created: missing.map((s) => s.name),
    existing: specs.filter((s) => found.has(s.name)).map((s) => s.name),
    partitions: plan,
  };
}

/** What is wrong with the topics as found (and the partition counts planned for missing ones). */
export function checkTopics(
  specs: readonly TopicSpec[],
  found: ReadonlyMap<string, Found>,
  partitions: ReadonlyMap<string, number>,
): string[] {
  const problems: string[] = [];
  for (const spec of specs) {
    const existing = found.get(spec.name);
    if (existing?.policy !== undefined) {
      const accepted = spec.acceptedPolicies ?? [spec.cleanupPolicy ?? 'delete'];
      const actual = normalisePolicy(existing.policy);
      if (!accepted.includes(actual as (typeof accepted)[number])) {
        problems.push(
          `${spec.name}: has cleanup.policy=${existing.policy}, Eddy needs ${accepted.join(' or ')}` +
            (spec.cleanupPolicy === 'compact'
              ? ' (a changelog must keep the latest record of every key)'
              : ' (a compacted stream of events would lose events)'),
        );
      }
    }
    const partner = spec.copartitionedWith;
    if (partner === undefined) continue;
    const mine = partitions.get(spec.name);
    const theirs = partitions.get(partner);
    if (mine !== undefined && theirs !== undefined && mine !== theirs) {
      problems.push(
        `${spec.name}: has ${mine} partitions, ${partner} has ${theirs}; they must match (the state of ${partner} partition P is kept in ${spec.name} partition P)`,
      );
    }
  }
  return problems;
}

async function describe(
  admin: Admin,
  names: readonly string[],
  metrics: EddyMetrics | null,
): Promise<Map<string, Found>> {
  const out = new Map<string, Found>();
  if (names.length === 0) return out;
  const { topics } = await timed(metrics, 'admin', () => admin.fetchTopicMetadata({ topics: [...names] }));
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
  for (const name of names) {
    const partitions = topics.find((t) => t.name === name)?.partitions.length;
    if (partitions === undefined) continue;
    const resource = configs.resources.find((r) => r.resourceName === name);
    const policy = resource?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    out.set(name, { partitions, policy });
  }
  return out;
}

function normalisePolicy(value: string): string {
  return value
    .split(',')
    .map((v) => v.trim())
    .sort()
    .join(',');
}

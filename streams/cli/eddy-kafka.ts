import { hostname } from 'node:os';
import { parseBrokers } from '../adapters/kafka/kafka-client.js';
import { SchemaRegistryUnavailableError } from '../adapters/kafka/schema-registry.js';
import { TopicMismatchError } from '../adapters/kafka/topic-admin.js';
import { KafkaEddy } from '../app/kafka.js';
import { startHttpServer } from '../observe/http-server.js';
import type { Logger } from '../observe/logger.js';
import { EddyMetrics } from '../observe/metrics.js';
import type { RunSummary } from '../observe/run-stats.js';
import { connectQdrant } from './connect-qdrant.js';
import { type EddySettings, inProcessVectorIndex, modelConfigFrom } from './eddy-settings.js';
import { topicNamesFrom } from './kafka-settings.js';
import { neverIfZero } from './settings.js';

export interface KafkaModeHooks {
  /** Installs the SIGINT/SIGTERM handling: `stop` on the first signal, exit on the second. */
  onSignals(stop: () => void): void;
  logSummary(summary: RunSummary, phase: 'progress' | 'finished'): void;
  /** Called once the instance is built: what a supervising thread reads its metrics and readiness from. */
  onStarted?(instance: RunningInstance): void;
}

export interface RunningInstance {
  readonly metrics: EddyMetrics;
  ready(): boolean;
  /** The port its HTTP server (metrics, health, interactive queries) listens on. */
  readonly httpPort: number;
}

/**
 * `eddy` with KAFKA_BROKERS set: consumes the clicks and items topics until stopped, writing lists,
 * dead letters and changelogs back to Kafka. Returns the exit code.
 */
export async function runKafkaMode(
  settings: EddySettings,
  logger: Logger,
  hooks: KafkaModeHooks,
): Promise<number> {
  const brokers = parseBrokers(settings.kafkaBrokers ?? '');
  const metrics = new EddyMetrics();
  const topics = topicNamesFrom(settings);
  const qdrant = await connectQdrant(settings, metrics, logger);
  if (qdrant === 'failed') return 2;
  let httpPort: number | null = null;
  const eddy = new KafkaEddy({
    brokers,
    clientId: settings.kafkaClientId,
    groupId: settings.groupId,
    instanceId: settings.instanceId,
    topics,
    partitions: settings.partitions,
    replicationFactor: settings.replicationFactor,
    model: modelConfigFrom(settings),
    batchSize: settings.batchSize,
    lingerMs: settings.coalesceMs,
    delivery: settings.transactional ? 'exactly-once' : 'at-least-once',
    schemaRegistryUrl: settings.schemaRegistryUrl,
    schemaRegistryGiveUpAfterMs: neverIfZero(settings.schemaRegistryGiveUpAfter),
    schemaRegistryStartupGiveUpAfterMs: neverIfZero(settings.schemaRegistryStartupTimeout),
    sessionTimeoutMs: settings.kafkaSessionTimeout,
    metrics,
    logger,
    // Read at each group join, by when the HTTP server below has its port.
    advertisedEndpoint: () =>
      settings.advertisedUrl ?? (httpPort === null ? null : `http://${hostname()}:${httpPort}`),
    vectorStore: qdrant ?? inProcessVectorIndex(settings),
  });
  // Not ready while Qdrant is failing: lists would wait on it.
  const health = { live: () => true, ready: () => eddy.ready() && qdrant?.healthy !== false };
  metrics.readinessFrom(health.ready);
  const http = await startHttpServer(settings.httpPort, metrics.registry, health, eddy.queries);
  httpPort = http.port;
  hooks.onStarted?.({ metrics, ready: health.ready, httpPort: http.port });
  logger.info('eddy started', {
    mode: 'kafka',
    brokers: brokers.join(','),
    groupId: settings.groupId,
    instanceId: settings.instanceId,
    transactionalId: eddy.transactionalId,
    delivery: settings.transactional ? 'exactly-once' : 'at-least-once',
    topics: `${topics.clicks}, ${topics.items} → ${topics.recommendations} (changelogs ${settings.topicPrefix}.*)`,
    vectorStore: qdrant ? `qdrant ${settings.qdrantUrl}` : 'in-process',
    wireFormat: settings.schemaRegistryUrl ? 'confluent' : 'single-object',
    metrics: `http://localhost:${http.port}/metrics`,
    queries: `http://localhost:${http.port}/v1/users/{userId}/recommendations`,
    partitions: settings.partitions,
    dimension: settings.dimension,
  });
  let stopRequested = false;
  hooks.onSignals(() => {
    stopRequested = true;
    void eddy.stop();
  });
  const ticker = setInterval(
    () => hooks.logSummary(eddy.stats.summary(), 'progress'),
    settings.summaryEveryMs,
  );
  ticker.unref();
  try {
    const { running, report } = await eddy.start();
    logger.info('connected; item checkpoint and catalog loaded; consuming', {
      items: report.items,
      itemChangelogRecords: report.itemRecords,
      sessions: report.sessions,
      catalogRecords: report.catalogRecords,
      itemUpdatesReplayed: report.itemUpdatesReplayed,
      itemUpdatesOffset: report.itemUpdatesOffset,
      catalogInvalid: report.catalogInvalid,
      createdTopics: report.createdTopics.length,
    });
    // A signal that arrived during start-up could not stop a pipeline that was not running yet.
    if (stopRequested) void eddy.stop();
    await running;
  } catch (error) {
    if (error instanceof TopicMismatchError) {
      logger.error('cannot start: topic mismatch', { reason: error.message });
      await http.close();
      return 2;
    }
    if (error instanceof SchemaRegistryUnavailableError) {
      logger.error('schema registry unavailable; stopping', { reason: error.message });
      await http.close();
      return 2;
    }
    logger.error('eddy failed', { error });
    await http.close();
    return 1;
  } finally {
    clearInterval(ticker);
  }
  hooks.logSummary(eddy.stats.summary(), 'finished');
  logger.info('stopped: in-flight batch committed, clients disconnected');
  await http.close();
  return 0;
}

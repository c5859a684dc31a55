#!/usr/bin/env node
import { QdrantCollectionMismatchError, QdrantUnavailableError } from '../adapters/qdrant/qdrant-errors.js';
import { EmbeddedEddy, MODEL_VERSION } from '../app/embedded.js';
import { ConfigError } from '../errors.js';
import { startHttpServer } from '../observe/http-server.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { EddyMetrics } from '../observe/metrics.js';
import { EVERYTHING_LOCAL, UserQueries } from '../serve/user-queries.js';
import { DatasetError, movieLensStream } from '../sources/movielens.js';
import type { StreamEvent } from '../sources/stream-event.js';
import { syntheticStream } from '../sources/synthetic.js';
import { connectQdrant } from './connect-qdrant.js';
import { runKafkaMode } from './eddy-kafka.js';
import {
  EDDY_SETTINGS,
  type EddySettings,
  inProcessVectorIndex,
  modelConfigFrom,
  vectorStoreDescription,
} from './eddy-settings.js';
import { runEmbeddedThreads } from './embedded-threads.js';
import { printExamples } from './examples.js';
import { runKafkaThreads } from './kafka-threads.js';
import { resolveThreads } from './pipeline-threads.js';
import { formatHelp, parseSettings } from './settings.js';
import { formatSeconds, logSummary, PROGRESS_LEGEND } from './summary-log.js';
import { main as tail } from './tail.js';

const USAGE = `Usage: npm start -- [options]    (or: node dist/streams/cli/eddy.js [options])
       eddy tail [options]         (follow the lists Eddy writes to Kafka: eddy tail --help)`;
const SUMMARY = `Runs Eddy's streaming recommender embedded: an in-process log and vector index, no services needed.
Replays a seeded synthetic stream (default) or MovieLens, prints progress and example lists,
and serves Prometheus metrics and health checks over HTTP.
With --kafka-brokers (KAFKA_BROKERS) it runs in production mode instead: it consumes the clicks and
items topics until stopped and writes lists, dead letters and state changelogs to Kafka
(feed the topics with: node dist/streams/cli/produce.js --help).`;

/** Settings that shape the embedded replay; Kafka mode reads its input from the topics instead. */
const EMBEDDED_ONLY = [
  'dataset',
  'path',
  'events',
  'users',
  'items',
  'seed',
  'follow',
  'examples',
  'retentionRecords',
] as const;

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'tail') return tail(argv.slice(1));
  let settings: EddySettings;
  try {
    const parsed = parseSettings(EDDY_SETTINGS, argv, process.env);
    if (parsed.help) {
      process.stdout.write(formatHelp(USAGE, SUMMARY, EDDY_SETTINGS));
      return 0;
    }
    settings = parsed.values;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`eddy: ${error.message}\nRun with --help for the list of settings.\n`);
      return 2;
    }
    throw error;
  }

  const format =
    settings.logFormat === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : settings.logFormat;
  const logger = createLogger({ level: settings.logLevel, format });

  if (settings.kafkaBrokers !== null) {
    const ignored = EMBEDDED_ONLY.filter((key) => settings[key] !== EDDY_SETTINGS[key].default);
    if (ignored.length > 0) {
      logger.warn('settings of the embedded stream are ignored in Kafka mode; feed the topics with produce', {
        ignored: ignored.map((key) => `--${EDDY_SETTINGS[key].flag}`).join(' '),
      });
    }
    const threads = resolveThreads(settings);
    if (threads > 1) {
      // Threads log JSON unless the terminal here asked for readable lines.
      const resolved = { ...settings, logFormat: format };
      return runKafkaThreads(resolved, threads, logger, (stop) => handleSignals(logger, stop));
    }
    return runKafkaMode(settings, logger, {
      onSignals: (stop) => handleSignals(logger, stop),
      logSummary: (summary, phase) => logSummary(logger, summary, phase),
    });
  }

  let stream: Iterable<StreamEvent>;
  try {
    stream = openStream(settings);
  } catch (error) {
    if (error instanceof DatasetError) {
      const reason = error.message;
      logger.error('cannot read the dataset', { dataset: settings.dataset, path: settings.path, reason });
      return 2;
    }
    throw error;
  }

  const threads = Math.min(resolveThreads(settings), settings.partitions);
  if (threads > 1) {
    const resolved = { ...settings, logFormat: format };
    return runEmbeddedThreads(resolved, threads, stream, logger, {
      onSignals: (stop) => handleSignals(logger, stop),
      logSummary: (summary, phase) => logSummary(logger, summary, phase, totalEventsOf(settings)),
    });
  }
  const metrics = new EddyMetrics();
  const qdrant = await connectQdrant(settings, metrics, logger);
  if (qdrant === 'failed') return 2;
  const eddy = new EmbeddedEddy({
    model: modelConfigFrom(settings),
    partitions: settings.partitions,
    batchSize: settings.batchSize,
    lingerMs: settings.coalesceMs,
    metrics,
    retentionRecords: settings.retentionRecords,
    vectorStore: qdrant ?? inProcessVectorIndex(settings),
  });
  let ready = false;
  // Not ready while Qdrant is failing: lists would wait on it.
  const health = { live: () => true, ready: () => ready && qdrant?.healthy !== false };
  metrics.readinessFrom(health.ready);
  const queries = new UserQueries({
    model: eddy.model,
    recommender: eddy.pipeline.context.recommender,
    ownership: EVERYTHING_LOCAL(settings.partitions),
    ready: health.ready,
    modelVersion: MODEL_VERSION,
    clock: () => Date.now(),
  });
  const http = await startHttpServer(settings.httpPort, metrics.registry, health, queries);
  logger.info('eddy started', {
    mode: 'embedded',
    dataset: settings.dataset,
    vectorStore: vectorStoreDescription(settings),
    metrics: `http://localhost:${http.port}/metrics`,
    queries: `http://localhost:${http.port}/v1/users/{userId}/recommendations`,
    partitions: settings.partitions,
    dimension: settings.dimension,
  });

  const abort = new AbortController();
  handleSignals(logger, () => abort.abort());

  const totalEvents = totalEventsOf(settings);
  logger.info(
    `progress every ${formatSeconds(settings.summaryEveryMs / 1000)}; what its fields mean`,
    PROGRESS_LEGEND,
  );
  const ticker = setInterval(
    () => logSummary(logger, eddy.stats.summary(), 'progress', totalEvents),
    settings.summaryEveryMs,
  );
  ticker.unref();
  try {
    await eddy.runToCompletion(stream, abort.signal, (restored) => {
      // Ready only once state is restored: before that, lists would come from an empty model.
      ready = true;
      logger.info('state restored from changelogs; consuming', {
        users: restored.users,
        items: restored.items,
        sessions: restored.sessions ?? 0,
        changelogRecords: restored.records,
      });
    });
  } catch (error) {
    if (error instanceof QdrantUnavailableError || error instanceof QdrantCollectionMismatchError) {
      logger.error('vector store failed; stopping', { reason: error.message });
      await Promise.all([http.close(), qdrant?.close()]);
      return 2;
    }
    throw error;
  } finally {
    clearInterval(ticker);
  }
  logSummary(logger, eddy.stats.summary(), 'finished');
  await printExamples(eddy, settings.examples, logger, format === 'json');

  if (settings.follow && !abort.signal.aborted) {
    logger.info('stream finished; still serving metrics and health (--follow); stop with Ctrl-C', {
      metrics: `http://localhost:${http.port}/metrics`,
    });
    await new Promise<void>((resolve) =>
      abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  await Promise.all([http.close(), qdrant?.close()]);
  return 0;
}

/** The first SIGINT/SIGTERM stops gracefully (finish and commit the batch in flight); a second exits at once. */
function handleSignals(logger: Logger, stop: () => void): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting immediately', { signal });
      process.exit(130);
    }
    logger.info('stopping: finishing the batch in flight and committing', { signal });
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The stream's length when known in advance (for the progress line's share and ETA). */
function totalEventsOf(settings: EddySettings): number | null {
  return settings.dataset === 'synthetic' && settings.events > 0 ? settings.events : null;
}

function openStream(settings: EddySettings): Iterable<StreamEvent> {
  if (settings.dataset === 'movielens') return movieLensStream({ path: settings.path });
  return syntheticStream({
    seed: settings.seed,
    users: settings.users,
    items: settings.items,
    events: settings.events === 0 ? Number.POSITIVE_INFINITY : settings.events,
    // Catalog items carry content vectors, as a production catalog with text embeddings would: cold start.
    contentVectorDimension: settings.dimension,
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A setting found wrong only when used (a taken --http-port): the same answer as at parsing.
    if (error instanceof ConfigError) {
      process.stderr.write(`eddy: ${error.message}\nRun with --help for the list of settings.\n`);
      process.exit(2);
    }
    process.stderr.write(
      `eddy: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

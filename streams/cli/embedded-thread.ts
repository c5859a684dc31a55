import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { PortLog } from '../adapters/memory/log-over-port.js';
import { EmbeddedEddy, MODEL_VERSION } from '../app/embedded.js';
import { startHttpServer } from '../observe/http-server.js';
import { createLogger } from '../observe/logger.js';
import { EddyMetrics } from '../observe/metrics.js';
import { UserQueries } from '../serve/user-queries.js';
import { connectQdrant } from './connect-qdrant.js';
import type { EddySettings } from './eddy-settings.js';
import { inProcessVectorIndex, modelConfigFrom } from './eddy-settings.js';
import { printExamples } from './examples.js';
import { answerStatus, type FromThread, type ToThread } from './pipeline-threads.js';

/** What an embedded pipeline thread is started with (structured-cloned, the port transferred). */
export interface EmbeddedThreadData {
  readonly settings: EddySettings;
  readonly thread: number;
  readonly threads: number;
  readonly groupId: string;
  /** The in-process log, served by the supervising thread (`serveLog`). */
  readonly log: MessagePort;
}

/** The clicks partitions thread `thread` of `threads` owns: p ≡ thread (mod threads). */
export function partitionsOfThread(thread: number, threads: number, partitions: number): number[] {
  const owned: number[] = [];
  for (let partition = thread; partition < partitions; partition += threads) owned.push(partition);
  return owned;
}

/**
 * One pipeline thread of embedded `eddy --threads N` (see `runEmbeddedThreads`): a whole embedded
 * instance over the supervisor's in-process log, owning its share of the partitions and sharing
 * the item model with the other threads through the item-updates topic, as instances of a Kafka
 * group do. It serves interactive queries for its own users on a port of its own (the supervisor
 * routes each query to the owner) and stops, committing its batch in flight, when told to.
 */
async function runThread(): Promise<number> {
  const port = parentPort;
  if (port === null) throw new Error('embedded-thread.js runs as a worker thread of eddy --threads');
  const { settings, thread, threads, groupId, log } = workerData as EmbeddedThreadData;
  const format = settings.logFormat === 'pretty' ? 'pretty' : 'json';
  const logger = createLogger({ level: settings.logLevel, format }, { thread });
  const send = (message: FromThread): void => port.postMessage(message);
  const metrics = new EddyMetrics();
  metrics.registry.setDefaultLabels({ thread: String(thread) });
  const qdrant = await connectQdrant(settings, metrics, logger);
  if (qdrant === 'failed') return 2;
  const owned = partitionsOfThread(thread, threads, settings.partitions);
  const eddy = new EmbeddedEddy({
    model: modelConfigFrom(settings),
    partitions: settings.partitions,
    batchSize: settings.batchSize,
    lingerMs: settings.coalesceMs,
    metrics,
    groupId,
    log: new PortLog(log),
    ownedPartitions: owned,
    instanceId: `embedded-t${thread}`,
    vectorStore: qdrant ?? inProcessVectorIndex(settings),
  });
  let ready = false;
  const health = { live: () => true, ready: () => ready && qdrant?.healthy !== false };
  metrics.readinessFrom(health.ready);
  const queries = new UserQueries({
    model: eddy.model,
    recommender: eddy.pipeline.context.recommender,
    // The supervisor sends each query to the thread owning the user's partition.
    ownership: {
      partitions: settings.partitions,
      ownerOf: (partition) => (owned.includes(partition) ? { kind: 'local' } : { kind: 'unknown' }),
    },
    ready: health.ready,
    modelVersion: MODEL_VERSION,
    clock: () => Date.now(),
  });
  const http = await startHttpServer(0, metrics.registry, health, queries);
  const { running } = await eddy.start();
  ready = true;
  port.on('message', (message: ToThread) => {
    if (message.type === 'stop') void eddy.stop();
  });
  answerStatus(port, {
    registry: metrics.registry,
    ready: health.ready,
    summary: () => eddy.stats.summary(),
    examples: async (count) => {
      const logLines: string[] = [];
      let text = '';
      const collected = createLogger(
        { level: settings.logLevel, format, write: (line) => logLines.push(line) },
        { thread },
      );
      await printExamples(eddy, count, collected, format === 'json', (t) => {
        text += t;
      });
      return { logLines, text };
    },
  });
  send({ type: 'started', httpPort: http.port });
  try {
    await running;
  } finally {
    await Promise.all([http.close(), qdrant?.close()]);
  }
  return 0;
}

/** Lets the thread's last log lines through its stderr pipe before it ends. */
function exitSoon(code: number): void {
  parentPort?.postMessage({ type: 'exit', code } satisfies FromThread);
  process.exitCode = code;
  setTimeout(() => process.exit(code), 200).unref();
}

runThread().then(
  (code) => exitSoon(code),
  (error: unknown) => {
    process.stderr.write(
      `eddy thread: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    exitSoon(1);
  },
);

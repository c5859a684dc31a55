import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { ConfigError } from '../errors.js';
import { type MetricsSource, startHttpServer } from '../observe/http-server.js';
import type { Logger } from '../observe/logger.js';
import type { EddySettings } from './eddy-settings.js';

/** What the supervisor sends a pipeline thread. */
export type ToThread =
  | { readonly type: 'stop' }
  /** `metrics: false` asks for readiness alone (polled every second; metrics only per scrape). */
  | { readonly type: 'status'; readonly id: number; readonly metrics: boolean };

/** What a pipeline thread sends back. */
export type FromThread =
  | { readonly type: 'started'; readonly httpPort: number }
  | {
      readonly type: 'status';
      readonly id: number;
      readonly ready: boolean;
      readonly metrics: MetricObjectWithValues<MetricValue<string>>[] | null;
    }
  | { readonly type: 'exit'; readonly code: number };

/** What a pipeline thread is started with (structured-cloned into it). */
export interface ThreadData {
  readonly settings: EddySettings;
  readonly thread: number;
}

const STATUS_TIMEOUT_MS = 5_000;

/** `--threads 0` is one pipeline per core. */
export function resolveThreads(settings: EddySettings): number {
  return settings.threads === 0 ? availableParallelism() : settings.threads;
}

/**
 * Kafka mode with several pipelines in one process, as Kafka Streams' `num.stream.threads`: each
 * worker thread runs a whole instance (its own consumer, transactional producer and item-model
 * replica) in the one consumer group, with instance id `<instance>-t<n>`, so the group shares the
 * partitions among the threads and the item model through the item-updates topic, exactly as
 * between processes. This thread only supervises: one HTTP port for the whole process (metrics of
 * every thread, labelled `thread`; health; interactive queries redirected to thread 0, which
 * redirects to the owner of the user's partition), signals forwarded, and the first thread to fail
 * stops the others. Returns the exit code (the worst of the threads').
 */
export async function runKafkaThreads(
  settings: EddySettings,
  threads: number,
  logger: Logger,
  onSignals: (stop: () => void) => void,
): Promise<number> {
  if (settings.advertisedUrl !== null) {
    // One URL cannot name several threads' ports; each thread advertises http://<host>:<its port>.
    throw new ConfigError(
      '--advertised-url (EDDY_ADVERTISED_URL)',
      `none while --threads runs several pipelines (use --threads 1 with it), here ${threads}`,
      settings.advertisedUrl,
    );
  }
  const workers: Worker[] = [];
  const ports: (number | null)[] = [];
  const exits: Promise<number>[] = [];
  const pending = new Map<number, (reply: Extract<FromThread, { type: 'status' }>) => void>();
  let nextRequest = 0;
  let stopping = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of workers) worker.postMessage({ type: 'stop' } satisfies ToThread);
  };
  for (let thread = 0; thread < threads; thread++) {
    const data: ThreadData = { settings, thread };
    const worker = new Worker(new URL('./kafka-thread.js', import.meta.url), { workerData: data });
    workers.push(worker);
    ports.push(null);
    exits.push(
      new Promise<number>((resolve) => {
        let code: number | null = null;
        worker.on('message', (message: FromThread) => {
          if (message.type === 'started') ports[thread] = message.httpPort;
          else if (message.type === 'status') {
            pending.get(message.id)?.(message);
            pending.delete(message.id);
          } else code = message.code;
        });
        worker.on('error', (error) => {
          logger.error('pipeline thread failed', { thread, error });
          code = 1;
        });
        worker.on('exit', (exitCode) => {
          const result = code ?? (exitCode === 0 ? 0 : 1);
          ports[thread] = null;
          // One thread down means its partitions move to the others; stopping the process instead
          // lets the orchestrator restart it whole, as it would a single-threaded instance.
          if (!stopping && result !== 0) {
            logger.error('a pipeline thread stopped; stopping the others', { thread, code: result });
            stopAll();
          }
          resolve(result);
        });
      }),
    );
  }
  onSignals(stopAll);

  const status = (
    worker: Worker,
    metrics: boolean,
  ): Promise<Extract<FromThread, { type: 'status' }> | null> =>
    new Promise((resolve) => {
      const id = nextRequest++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, STATUS_TIMEOUT_MS);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      worker.postMessage({ type: 'status', id, metrics } satisfies ToThread);
    });
  let lastReady = false;
  const refreshReadiness = async (): Promise<void> => {
    const replies = await Promise.all(workers.map((worker) => status(worker, false)));
    lastReady = replies.every((reply) => reply?.ready === true);
  };
  const readinessTimer = setInterval(() => void refreshReadiness(), 1_000);
  readinessTimer.unref();

  // /metrics: every thread's registry, each series labelled with its thread (set in the thread),
  // so the aggregation keeps them apart instead of summing gauges such as lags.
  const registry: MetricsSource = {
    contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
    async metrics() {
      const replies = await Promise.all(workers.map((worker) => status(worker, true)));
      const json = replies.flatMap((reply) => (reply?.metrics ? [reply.metrics] : []));
      return AggregatorRegistry.aggregate(json).metrics();
    },
  };
  const http = await startHttpServer(
    settings.httpPort,
    registry,
    { live: () => ports.some((port) => port !== null), ready: () => lastReady },
    undefined,
    (path) => {
      const port = ports[0];
      return port === null || port === undefined ? null : `http://127.0.0.1:${port}${path}`;
    },
  );
  logger.info('eddy started', {
    mode: 'kafka',
    threads,
    metrics: `http://localhost:${http.port}/metrics`,
    queries: `http://localhost:${http.port}/v1/users/{userId}/recommendations`,
  });
  const codes = await Promise.all(exits);
  clearInterval(readinessTimer);
  await http.close();
  return Math.max(...codes);
}

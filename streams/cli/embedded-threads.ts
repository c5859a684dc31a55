import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel } from 'node:worker_threads';
import { InMemoryLog } from '../adapters/memory/in-memory-log.js';
import { serveLog } from '../adapters/memory/log-over-port.js';
import { createEmbeddedTopics, feedLog, groupLag } from '../app/embedded.js';
import { startHttpServer } from '../observe/http-server.js';
import type { Logger } from '../observe/logger.js';
import { mergeSummaries, type RunSummary } from '../observe/run-stats.js';
import { type TopicNames, topicNames } from '../pipeline/topics.js';
import type { StreamEvent } from '../sources/stream-event.js';
import { partitionForKey } from '../util/murmur2.js';
import { type EddySettings, vectorStoreDescription } from './eddy-settings.js';
import type { EmbeddedThreadData } from './embedded-thread.js';
import { PipelineThreads } from './pipeline-threads.js';
import { formatSeconds, PROGRESS_LEGEND } from './summary-log.js';

const GROUP_ID = 'eddy';
const QUERY_PATH = /^\/v1\/users\/([^/]+)\//;

export interface EmbeddedThreadsHooks {
  /** Installs the SIGINT/SIGTERM handling: `stop` on the first signal. */
  onSignals(stop: () => void): void;
  logSummary(summary: RunSummary, phase: 'progress' | 'finished'): void;
}

/**
 * The embedded run with several pipelines (`--threads N`): the in-process log stays in this
 * thread, which produces the stream into it, and N worker threads (`embedded-thread.ts`) each run
 * a whole embedded instance over it through a `PortLog`, owning partitions p ≡ n (mod N) and
 * sharing the item model through the item-updates topic exactly as Kafka instances do. This thread
 * supervises: one HTTP port (metrics of every thread labelled `thread`, health, each query
 * redirected to the thread owning the user's partition), progress merged from the threads'
 * summaries, signals forwarded. Returns the exit code (the worst of the threads').
 */
export async function runEmbeddedThreads(
  settings: EddySettings,
  threads: number,
  stream: Iterable<StreamEvent>,
  logger: Logger,
  hooks: EmbeddedThreadsHooks,
): Promise<number> {
  const topics = topicNames();
  const log = new InMemoryLog();
  createEmbeddedTopics(log, topics, settings.partitions, settings.retentionRecords);
  const stopServing: (() => void)[] = [];
  const pool = new PipelineThreads(
    new URL('./embedded-thread.js', import.meta.url),
    threads,
    (thread) => {
      const channel = new MessageChannel();
      stopServing.push(serveLog(log, channel.port1, [GROUP_ID]));
      const data: EmbeddedThreadData = { settings, thread, threads, groupId: GROUP_ID, log: channel.port2 };
      return { data, transfer: [channel.port2] };
    },
    logger,
  );
  const abort = new AbortController();
  // A signal stops the feeding; the threads are stopped (each committing its batch in flight) once
  // the run's summary is taken below.
  hooks.onSignals(() => abort.abort());
  const http = await startHttpServer(
    settings.httpPort,
    pool.metricsSource(),
    { live: () => pool.live(), ready: () => pool.ready() },
    undefined,
    (path) => {
      const user = QUERY_PATH.exec(path)?.[1];
      const thread =
        user === undefined ? 0 : partitionForKey(decodeURIComponent(user), settings.partitions) % threads;
      const port = pool.portOf(thread);
      return port === null ? null : `http://127.0.0.1:${port}${path}`;
    },
  );
  logger.info('eddy started', {
    mode: 'embedded',
    threads,
    dataset: settings.dataset,
    vectorStore: vectorStoreDescription(settings),
    metrics: `http://localhost:${http.port}/metrics`,
    queries: `http://localhost:${http.port}/v1/users/{userId}/recommendations`,
    partitions: settings.partitions,
    dimension: settings.dimension,
  });

  logger.info(
    `progress every ${formatSeconds(settings.summaryEveryMs / 1000)}, merged from the threads; what its fields mean`,
    {
      ...PROGRESS_LEGEND,
      latency: `${PROGRESS_LEGEND.latency}; the slowest thread's`,
      freshnessP99: `${PROGRESS_LEGEND.freshnessP99}; the slowest thread's`,
    },
  );
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const merged = async (): Promise<RunSummary> => mergeSummaries(await pool.summaries(), elapsed());
  const ticker = setInterval(
    () => void merged().then((summary) => hooks.logSummary(summary, 'progress')),
    settings.summaryEveryMs,
  );
  ticker.unref();
  const exited = pool.exited();
  let failed = false;
  void exited.then((codes) => {
    failed = codes.some((code) => code !== 0);
    abort.abort();
  });
  try {
    await Promise.race([pool.allStarted(), exited]);
    const lag = (): number => {
      let total = 0;
      for (const partition of groupLag(log, GROUP_ID, [topics.items, topics.clicks], settings.partitions)) {
        total += partition.lag;
      }
      return total;
    };
    // Two batches per partition in the log keeps every pipeline busy without queueing.
    const maxLag = 2 * settings.partitions * settings.batchSize;
    await feedLog(log, topics, stream, lag, { maxLag, signal: abort.signal });
    while (lag() > 0 && !abort.signal.aborted) await sleep(2);
  } finally {
    clearInterval(ticker);
  }
  if (!failed)
    hooks.logSummary(
      await settledSummary(merged, () => committed(log, topics, settings.partitions)),
      'finished',
    );
  if (!failed && !abort.signal.aborted) {
    await pool.printExamples(0, settings.examples);
    if (settings.follow) {
      logger.info('stream finished; still serving metrics and health (--follow); stop with Ctrl-C', {
        metrics: `http://localhost:${http.port}/metrics`,
      });
      await new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
  }
  pool.stopAll();
  const codes = await exited;
  for (const stop of stopServing) stop();
  await http.close();
  return Math.max(...codes);
}

/** Records of the input topics the group has committed. */
function committed(log: InMemoryLog, topics: TopicNames, partitions: number): number {
  let total = 0;
  for (const topic of [topics.items, topics.clicks]) {
    for (let partition = 0; partition < partitions; partition++)
      total += log.committed(GROUP_ID, topic, partition) ?? 0;
  }
  return total;
}

/**
 * The merged summary once it accounts for every committed record: a thread counts a batch when
 * its commit is acknowledged, which reaches it on another port than the status request, so right
 * after the last commit a thread may not have counted it yet. Gives up after a second.
 */
async function settledSummary(
  merged: () => Promise<RunSummary>,
  committedRecords: () => number,
): Promise<RunSummary> {
  const deadline = performance.now() + 1_000;
  for (;;) {
    const summary = await merged();
    const counted = summary.clicks + summary.items + summary.deadLetters;
    if (counted >= committedRecords() || performance.now() > deadline) return summary;
    await sleep(5);
  }
}

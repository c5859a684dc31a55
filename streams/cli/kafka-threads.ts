import { ConfigError } from '../errors.js';
import { startHttpServer } from '../observe/http-server.js';
import type { Logger } from '../observe/logger.js';
import type { EddySettings } from './eddy-settings.js';
import { PipelineThreads } from './pipeline-threads.js';

/** What a Kafka pipeline thread is started with (structured-cloned into it). */
export interface ThreadData {
  readonly settings: EddySettings;
  readonly thread: number;
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
  const pool = new PipelineThreads(
    new URL('./kafka-thread.js', import.meta.url),
    threads,
    (thread) => ({ data: { settings, thread } satisfies ThreadData }),
    logger,
  );
  onSignals(() => pool.stopAll());
  const http = await startHttpServer(
    settings.httpPort,
    pool.metricsSource(),
    { live: () => pool.live(), ready: () => pool.ready() },
    undefined,
    (path) => {
      const port = pool.portOf(0);
      return port === null ? null : `http://127.0.0.1:${port}${path}`;
    },
  );
  logger.info('eddy started', {
    mode: 'kafka',
    threads,
    metrics: `http://localhost:${http.port}/metrics`,
    queries: `http://localhost:${http.port}/v1/users/{userId}/recommendations`,
  });
  const codes = await pool.exited();
  await http.close();
  return Math.max(...codes);
}

import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../observe/logger.js';
import { runKafkaMode } from './eddy-kafka.js';
import type { ThreadData } from './kafka-threads.js';
import { answerStatus, type FromThread, type ToThread } from './pipeline-threads.js';
import { logSummary } from './summary-log.js';

/**
 * One pipeline thread of `eddy --threads N` (see `runKafkaThreads`): a whole Kafka-mode instance
 * with its own instance id and an HTTP port of its own (for interactive queries redirected to it),
 * answering the supervisor's status requests and stopping when told to.
 */
async function runThread(): Promise<number> {
  const port = parentPort;
  if (port === null) throw new Error('kafka-thread.js runs as a worker thread of eddy --threads');
  const { settings, thread } = workerData as ThreadData;
  // The supervisor resolved 'auto' against its own terminal: a thread's stderr is a pipe to it.
  const format = settings.logFormat === 'pretty' ? 'pretty' : 'json';
  const logger = createLogger({ level: settings.logLevel, format }, { thread });
  const send = (message: FromThread): void => port.postMessage(message);
  return runKafkaMode(
    { ...settings, instanceId: `${settings.instanceId}-t${thread}`, httpPort: 0, threads: 1 },
    logger,
    {
      onSignals: (stop) => {
        port.on('message', (message: ToThread) => {
          if (message.type === 'stop') stop();
        });
      },
      logSummary: (summary, phase) => logSummary(logger, summary, phase),
      onStarted: (instance) => {
        instance.metrics.registry.setDefaultLabels({ thread: String(thread) });
        send({ type: 'started', httpPort: instance.httpPort });
        answerStatus(port, { registry: instance.metrics.registry, ready: () => instance.ready() });
      },
    },
  );
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

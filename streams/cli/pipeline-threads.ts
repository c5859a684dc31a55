import { availableParallelism } from 'node:os';
import { type TransferListItem, Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { MetricsSource } from '../observe/http-server.js';
import type { Logger } from '../observe/logger.js';
import type { RunSummary } from '../observe/run-stats.js';
import type { EddySettings } from './eddy-settings.js';

/** What the supervisor sends a pipeline thread. */
export type ToThread =
  | { readonly type: 'stop' }
  /**
   * `metrics: false` asks for readiness alone (polled every second; metrics only per scrape);
   * `summary` asks for the thread's run summary too; `examples` asks for that many example lists
   * (from its own users), rendered as log lines.
   */
  | {
      readonly type: 'status';
      readonly id: number;
      readonly metrics: boolean;
      readonly summary?: boolean;
      readonly examples?: number;
    };

export type StatusReply = {
  readonly type: 'status';
  readonly id: number;
  readonly ready: boolean;
  readonly metrics: MetricObjectWithValues<MetricValue<string>>[] | null;
  readonly summary?: RunSummary | null;
  /**
   * The example lists asked for. They travel in the reply rather than through the thread's own
   * stdout and stderr, which reach the process's asynchronously: written by the supervisor, they
   * come before whatever it logs next.
   */
  readonly examples?: ExampleOutput;
};

/** Example lists as a thread rendered them: log lines (JSON logs) and readable text (a terminal). */
export interface ExampleOutput {
  readonly logLines: readonly string[];
  readonly text: string;
}

/** What a pipeline thread sends back. */
export type FromThread =
  | { readonly type: 'started'; readonly httpPort: number }
  | StatusReply
  | { readonly type: 'exit'; readonly code: number };

const STATUS_TIMEOUT_MS = 5_000;

/** `--threads 0` is one pipeline per core. */
export function resolveThreads(settings: EddySettings): number {
  return settings.threads === 0 ? availableParallelism() : settings.threads;
}

/**
 * N pipeline threads under one supervisor, whatever their log (Kafka or the in-process one): starts
 * them, answers for them as one process (readiness when every thread is ready, every thread's
 * metrics aggregated, each series labelled `thread` by the thread itself), stops them all on
 * request, and stops the others when one fails, so an orchestrator restarts the process whole as it
 * would a single-threaded instance.
 */
export class PipelineThreads {
  private readonly workers: Worker[] = [];
  private readonly ports: (number | null)[] = [];
  private readonly exits: Promise<number>[] = [];
  private readonly started: Promise<void>[] = [];
  private readonly pending = new Map<number, (reply: StatusReply) => void>();
  private nextRequest = 0;
  private stopping = false;
  private lastReady = false;
  private readonly readinessTimer: ReturnType<typeof setInterval>;

  constructor(
    script: URL,
    threads: number,
    dataOf: (thread: number) => { readonly data: unknown; readonly transfer?: readonly TransferListItem[] },
    private readonly logger: Logger,
  ) {
    for (let thread = 0; thread < threads; thread++) {
      const { data, transfer } = dataOf(thread);
      const worker = new Worker(script, { workerData: data, transferList: transfer ? [...transfer] : [] });
      this.workers.push(worker);
      this.ports.push(null);
      let markStarted: () => void = () => {};
      this.started.push(new Promise<void>((resolve) => (markStarted = resolve)));
      this.exits.push(
        new Promise<number>((resolve) => {
          let code: number | null = null;
          worker.on('message', (message: FromThread) => {
            if (message.type === 'started') {
              this.ports[thread] = message.httpPort;
              markStarted();
              // Readiness is polled every second; a thread that just started may complete it now.
              void this.refreshReadiness();
            } else if (message.type === 'status') {
              this.pending.get(message.id)?.(message);
              this.pending.delete(message.id);
            } else code = message.code;
          });
          worker.on('error', (error) => {
            this.logger.error('pipeline thread failed', { thread, error });
            code = 1;
          });
          worker.on('exit', (exitCode) => {
            const result = code ?? (exitCode === 0 ? 0 : 1);
            this.ports[thread] = null;
            markStarted();
            if (!this.stopping && result !== 0) {
              this.logger.error('a pipeline thread stopped; stopping the others', { thread, code: result });
              this.stopAll();
            }
            resolve(result);
          });
        }),
      );
    }
    this.readinessTimer = setInterval(() => void this.refreshReadiness(), 1_000);
    this.readinessTimer.unref();
  }

  get count(): number {
    return this.workers.length;
  }

  /** Resolves once every thread has started (or ended). */
  async allStarted(): Promise<void> {
    await Promise.all(this.started);
  }

  /** The HTTP port of a thread's own server, null before it started and after it ended. */
  portOf(thread: number): number | null {
    return this.ports[thread] ?? null;
  }

  live(): boolean {
    return this.ports.some((port) => port !== null);
  }

  ready(): boolean {
    return this.lastReady;
  }

  stopAll(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const worker of this.workers) worker.postMessage({ type: 'stop' } satisfies ToThread);
  }

  /** Every thread's exit code; resolves once all have ended. */
  async exited(): Promise<number[]> {
    const codes = await Promise.all(this.exits);
    clearInterval(this.readinessTimer);
    return codes;
  }

  /** Every thread's run summary (threads that do not answer within 5 s are left out). */
  async summaries(): Promise<RunSummary[]> {
    const replies = await Promise.all(this.workers.map((worker) => this.status(worker, { summary: true })));
    return replies.flatMap((reply) => (reply?.summary ? [reply.summary] : []));
  }

  /** Writes `count` example lists from `thread`'s users (stderr log lines, stdout text); resolves once written. */
  async printExamples(thread: number, count: number): Promise<void> {
    const worker = this.workers[thread];
    if (!worker) return;
    const examples = (await this.status(worker, { examples: count }, 60_000))?.examples;
    for (const line of examples?.logLines ?? []) process.stderr.write(`${line}\n`);
    if (examples?.text) process.stdout.write(examples.text);
  }

  /** /metrics for the process: every thread's registry, kept apart by their `thread` labels. */
  metricsSource(): MetricsSource {
    return {
      contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
      metrics: async () => {
        const replies = await Promise.all(
          this.workers.map((worker) => this.status(worker, { metrics: true })),
        );
        const json = replies.flatMap((reply) => (reply?.metrics ? [reply.metrics] : []));
        return AggregatorRegistry.aggregate(json).metrics();
      },
    };
  }

  private async refreshReadiness(): Promise<void> {
    const replies = await Promise.all(this.workers.map((worker) => this.status(worker, {})));
    this.lastReady = replies.every((reply) => reply?.ready === true);
  }

  private status(
    worker: Worker,
    ask: { readonly metrics?: boolean; readonly summary?: boolean; readonly examples?: number },
    timeoutMs = STATUS_TIMEOUT_MS,
  ): Promise<StatusReply | null> {
    return new Promise((resolve) => {
      const id = this.nextRequest++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      worker.postMessage({ type: 'status', id, metrics: ask.metrics ?? false, ...ask } satisfies ToThread);
    });
  }
}

/** What a pipeline thread reports to its supervisor. */
export interface ThreadStatusSource {
  readonly registry: { getMetricsAsJSON(): Promise<MetricObjectWithValues<MetricValue<string>>[]> };
  ready(): boolean;
  summary?(): RunSummary;
  /** `count` example lists, rendered. */
  examples?(count: number): Promise<ExampleOutput>;
}

/** The thread's side of `PipelineThreads`: answers status requests from `source`. */
export function answerStatus(
  port: {
    postMessage(message: FromThread): void;
    on(event: 'message', listener: (message: ToThread) => void): unknown;
  },
  source: ThreadStatusSource,
): void {
  port.on('message', async (message: ToThread) => {
    if (message.type !== 'status') return;
    const examples =
      message.examples !== undefined && source.examples ? await source.examples(message.examples) : undefined;
    const summary = message.summary === true && source.summary ? source.summary() : null;
    const reply = { type: 'status', id: message.id, summary, ...(examples ? { examples } : {}) } as const;
    if (!message.metrics) {
      port.postMessage({ ...reply, ready: source.ready(), metrics: null });
      return;
    }
    void source.registry.getMetricsAsJSON().then((metrics) => {
      port.postMessage({ ...reply, ready: source.ready(), metrics });
    });
  });
}

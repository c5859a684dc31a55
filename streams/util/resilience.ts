/**
 * Calls to a remote service that may be slow or down: a timeout per attempt, retries with
 * exponential backoff and full jitter on transient failures, and a circuit breaker shared by all
 * calls (closed → open after N consecutive transient failures → one half-open probe after a cooldown
 * → closed on success).
 *
 * Backpressure, not shedding: while the breaker is open a call WAITS (it does not fail fast), and a
 * transient failure is retried until it succeeds, the optional give-up time passes or the
 * Resilience is closed. A streaming caller that awaits each call therefore slows down to zero during
 * an outage and resumes by itself afterwards, with nothing dropped. Memory stays bounded because
 * nothing is queued here: each waiting call is one pending promise of a caller that is itself
 * blocked (the pipeline has at most one vector-store call in flight), so waiting grows consumer lag
 * in the log, not buffers in the process.
 *
 * Generic on purpose: what counts as transient is the caller's `classify`.
 */

import { performance } from 'node:perf_hooks';
import { EddyError } from '../errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';
export const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

export interface FailureClass {
  /** Worth retrying: the same request may well succeed later (timeouts, resets, 5xx, 429). */
  readonly transient: boolean;
  /** A bounded label (used in metrics): 'timeout', 'connection', 'server_error', 'rate_limited', … */
  readonly reason: string;
  /** The server asked for at least this long before the next attempt (e.g. HTTP 429 Retry-After). */
  readonly retryAfterMs?: number;
}

export interface ResilienceHooks {
  /** Every attempt, with its outcome ('ok' or the failure reason) and duration. */
  attempt?(operation: string, outcome: string, seconds: number): void;
  /** A transient failure about to be retried. */
  retry?(operation: string, reason: string): void;
  /** The breaker changed state. */
  state?(state: CircuitState): void;
  /**
   * The service went from answering to failing (the first transient failure after a success, with
   * its operation and reason) or back (the first success after failures).
   */
  health?(healthy: boolean, operation: string, reason: string): void;
}

export interface ResilienceOptions {
  /** An attempt still running after this long is aborted (through its signal) and counts as a timeout. */
  readonly attemptTimeoutMs: number;
  /** Backoff before retry n (0-based) is uniform in [0, min(retryMaxMs, retryBaseMs · 2^n)] ("full jitter"). */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Consecutive transient failures (across all calls) that open the breaker. */
  readonly failureThreshold: number;
  /** How long the breaker stays open before letting one probe through. */
  readonly cooldownMs: number;
  /** A call failing for longer than this rejects with GaveUpError; Infinity (default) = never. */
  readonly giveUpAfterMs?: number;
  readonly classify: (error: unknown) => FailureClass;
  readonly hooks?: ResilienceHooks;
  /** For tests: the jitter source (default Math.random) and the clock (default performance.now). */
  readonly random?: () => number;
  readonly now?: () => number;
}

/** An attempt exceeded its timeout. */
export class AttemptTimeoutError extends EddyError {
  override readonly name = 'AttemptTimeoutError';
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/** A call kept failing transiently for longer than the give-up time. */
export class GaveUpError extends EddyError {
  override readonly name = 'GaveUpError';
  constructor(
    readonly operation: string,
    readonly elapsedMs: number,
    readonly lastError: unknown,
  ) {
    super(
      `${operation} gave up after ${Math.round(elapsedMs)} ms of transient failures` +
        (lastError instanceof Error ? `; last: ${lastError.message}` : ''),
    );
  }
}

/** The Resilience was closed while a call was waiting or running. */
export class ResilienceClosedError extends EddyError {
  override readonly name = 'ResilienceClosedError';
  constructor(readonly operation: string) {
    super(`${operation} abandoned: closed`);
  }
}

const TIMEOUT: FailureClass = { transient: true, reason: 'timeout' };

/**
 * The breaker on its own. `acquire` resolves when a request may go out (at once while closed; after
 * the cooldown as the single probe while open; when the probe succeeds while half-open), and every
 * acquired request must report `success`, `failure` or `abandon`.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly options: {
      readonly failureThreshold: number;
      readonly cooldownMs: number;
      readonly now: () => number;
      readonly onState?: (state: CircuitState) => void;
    },
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** Waiting callers (bounded by the number of concurrent callers). */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves `true` once a request may be sent, `false` if `deadline` (on the breaker's clock) passes
   * first; rejects with the signal's reason if it aborts.
   */
  async acquire(signal: AbortSignal, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      signal.throwIfAborted();
      if (this.current === 'closed') return true;
      const now = this.options.now();
      if (now >= deadline) return false;
      if (this.current === 'open') {
        const probeAt = this.openedAt + this.options.cooldownMs;
        if (now >= probeAt) {
          this.transition('half_open');
          this.probing = true;
          return true;
        }
        await this.changeOrTimeout(Math.min(probeAt, deadline) - now, signal);
      } else if (!this.probing) {
        this.probing = true;
        return true;
      } else {
        await this.changeOrTimeout(deadline - now, signal);
      }
    }
  }

  /** The service answered (even with an error that is not transient): it is up. */
  success(): void {
    this.consecutiveFailures = 0;
    this.probing = false;
    this.transition('closed');
  }

  failure(): void {
    this.consecutiveFailures++;
    if (this.current === 'half_open') {
      this.probing = false;
      this.open();
    } else if (this.current === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) {
      this.open();
    }
  }

  /** The request was abandoned without an answer either way (e.g. on close): frees the probe slot. */
  abandon(): void {
    if (this.current === 'half_open' && this.probing) {
      this.probing = false;
      this.wake();
    }
  }

  private open(): void {
    this.openedAt = this.options.now();
    this.transition('open');
  }

  private transition(state: CircuitState): void {
    if (this.current === state) return;
    this.current = state;
    this.options.onState?.(state);
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private changeOrTimeout(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
      if (Number.isFinite(ms)) timer = setTimeout(done, Math.max(0, ms));
    });
  }
}

export class Resilience {
  readonly breaker: CircuitBreaker;
  private readonly lifetime = new AbortController();
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly giveUpAfterMs: number;
  private lastCallFailed = false;

  constructor(private readonly options: ResilienceOptions) {
    for (const [name, value] of [
      ['attemptTimeoutMs', options.attemptTimeoutMs],
      ['retryBaseMs', options.retryBaseMs],
      ['retryMaxMs', options.retryMaxMs],
      ['cooldownMs', options.cooldownMs],
    ] as const) {
      if (!(value >= 0)) throw new EddyError(`resilience: ${name} must be ≥ 0, got ${value}`);
    }
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new EddyError(
        `resilience: failureThreshold must be an integer ≥ 1, got ${options.failureThreshold}`,
      );
    }
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
    this.giveUpAfterMs = options.giveUpAfterMs ?? Number.POSITIVE_INFINITY;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      cooldownMs: options.cooldownMs,
      now: this.now,
      ...(options.hooks?.state ? { onState: options.hooks.state } : {}),
    });
  }

  get closed(): boolean {
    return this.lifetime.signal.aborted;
  }

  /** False from the first transient failure until the next answer (the breaker needs several). */
  get healthy(): boolean {
    return !this.lastCallFailed;
  }

  /**
   * Runs `attempt` until it succeeds. Transient failures are retried (after a backoff, and after the
   * breaker lets the call through); anything else is rethrown as is. `giveUpAfterMs` overrides the
   * Resilience's give-up time for this call.
   */
  async execute<T>(
    operation: string,
    attempt: (signal: AbortSignal) => Promise<T>,
    options: { readonly giveUpAfterMs?: number } = {},
  ): Promise<T> {
    const started = this.now();
    const deadline = started + (options.giveUpAfterMs ?? this.giveUpAfterMs);
    const hooks = this.options.hooks;
    let lastError: unknown;
    for (let retry = 0; ; retry++) {
      let permitted: boolean;
      try {
        permitted = await this.breaker.acquire(this.lifetime.signal, deadline);
      } catch {
        throw new ResilienceClosedError(operation);
      }
      if (!permitted) throw new GaveUpError(operation, this.now() - started, lastError);
      const attemptStarted = performance.now();
      let failure: FailureClass;
      try {
        const value = await this.attempt(operation, attempt);
        this.answered(operation);
        hooks?.attempt?.(operation, 'ok', (performance.now() - attemptStarted) / 1000);
        return value;
      } catch (error) {
        if (this.closed) {
          this.breaker.abandon();
          throw new ResilienceClosedError(operation);
        }
        failure = error instanceof AttemptTimeoutError ? TIMEOUT : this.options.classify(error);
        hooks?.attempt?.(operation, failure.reason, (performance.now() - attemptStarted) / 1000);
        if (!failure.transient) {
          this.answered(operation);
          throw error;
        }
        this.breaker.failure();
        if (!this.lastCallFailed) {
          this.lastCallFailed = true;
          hooks?.health?.(false, operation, failure.reason);
        }
        lastError = error;
      }
      const backoff = Math.max(this.backoffMs(retry), failure.retryAfterMs ?? 0);
      if (this.now() + backoff >= deadline) throw new GaveUpError(operation, this.now() - started, lastError);
      hooks?.retry?.(operation, failure.reason);
      await this.sleep(operation, backoff);
    }
  }

  /** The service answered (even with an error that is not transient): it is up. */
  private answered(operation: string): void {
    this.breaker.success();
    if (this.lastCallFailed) {
      this.lastCallFailed = false;
      this.options.hooks?.health?.(true, operation, 'ok');
    }
  }

  /** Rejects every waiting and running call with ResilienceClosedError; later calls reject at once. */
  close(): void {
    this.lifetime.abort();
  }

  backoffMs(retry: number): number {
    const ceiling = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.min(retry, 30));
    return this.random() * ceiling;
  }

  private async attempt<T>(operation: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timeoutMs = this.options.attemptTimeoutMs;
    const onClose = (): void => controller.abort(new ResilienceClosedError(operation));
    this.lifetime.signal.addEventListener('abort', onClose, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Raced rather than trusted to the attempt: one that ignores its signal must still time out.
    const bounded = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new AttemptTimeoutError(operation, timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    try {
      return await Promise.race([attempt(controller.signal), bounded]);
    } finally {
      clearTimeout(timer);
      this.lifetime.signal.removeEventListener('abort', onClose);
    }
  }

  private sleep(operation: string, ms: number): Promise<void> {
    const signal = this.lifetime.signal;
    if (signal.aborted) return Promise.reject(new ResilienceClosedError(operation));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new ResilienceClosedError(operation));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

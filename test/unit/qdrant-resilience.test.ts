import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AttemptTimeoutError,
  type CircuitState,
  type FailureClass,
  GaveUpError,
  Resilience,
  ResilienceClosedError,
  type ResilienceOptions,
} from '../../streams/util/resilience.js';

class Transient extends Error {}
class Fatal extends Error {}

function classify(error: unknown): FailureClass {
  return error instanceof Transient
    ? { transient: true, reason: 'server_error' }
    : { transient: false, reason: 'client_error' };
}

function resilience(overrides: Partial<ResilienceOptions> = {}) {
  const states: CircuitState[] = [];
  const attempts: string[] = [];
  const retries: string[] = [];
  const r = new Resilience({
    attemptTimeoutMs: 1_000,
    retryBaseMs: 1,
    retryMaxMs: 4,
    failureThreshold: 3,
    cooldownMs: 20,
    classify,
    hooks: {
      attempt: (_op, outcome) => attempts.push(outcome),
      retry: (_op, reason) => retries.push(reason),
      state: (state) => states.push(state),
    },
    ...overrides,
  });
  return { r, states, attempts, retries };
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('Resilience', () => {
  test('transient failures are retried until the call succeeds', async () => {
    const { r, attempts, retries } = resilience({ failureThreshold: 10 });
    let calls = 0;
    const value = await r.execute('op', async () => {
      calls++;
      if (calls < 4) throw new Transient('503');
      return 'done';
    });
    assert.equal(value, 'done');
    assert.deepEqual(attempts, ['server_error', 'server_error', 'server_error', 'ok']);
    assert.deepEqual(retries, ['server_error', 'server_error', 'server_error']);
    assert.equal(r.breaker.state, 'closed');
  });

  test('a failure that is not transient is rethrown at once, and does not count against the breaker', async () => {
    const { r, attempts } = resilience({ failureThreshold: 1 });
    await assert.rejects(
      r.execute('op', async () => {
        throw new Fatal('400');
      }),
      Fatal,
    );
    assert.deepEqual(attempts, ['client_error']);
    assert.equal(r.breaker.state, 'closed');
  });

  test('an attempt that ignores its signal still times out, is aborted, and is retried', async () => {
    const { r, attempts } = resilience({ attemptTimeoutMs: 10 });
    const signals: AbortSignal[] = [];
    let calls = 0;
    const value = await r.execute('op', (signal) => {
      signals.push(signal);
      calls++;
      return calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('second');
    });
    assert.equal(value, 'second');
    assert.deepEqual(attempts, ['timeout', 'ok']);
    assert.ok(signals[0]?.aborted);
    assert.ok(signals[0]?.reason instanceof AttemptTimeoutError);
    assert.equal(signals[1]?.aborted, false);
  });

  test('backoff is full jitter: uniform below a ceiling that doubles up to the maximum', () => {
    const { r } = resilience({ retryBaseMs: 10, retryMaxMs: 100, random: () => 0.999999 });
    const ceilings = [0, 1, 2, 3, 4, 5, 40].map((n) => Math.round(r.backoffMs(n)));
    assert.deepEqual(ceilings, [10, 20, 40, 80, 100, 100, 100]);
    const { r: low } = resilience({ retryBaseMs: 10, retryMaxMs: 100, random: () => 0 });
    assert.equal(low.backoffMs(3), 0);
  });

  test('consecutive failures open the breaker; calls wait while it is open, one probe closes it', async () => {
    // A clock that stands still until moved: no probe can go out before the test allows it.
    let clock = 0;
    const { r, states } = resilience({ cooldownMs: 40, now: () => clock });
    let down = true;
    let sent = 0;
    const request = async (): Promise<string> => {
      sent++;
      if (down) throw new Transient('connection refused');
      return 'ok';
    };
    const calls = [r.execute('a', request), r.execute('b', request), r.execute('c', request)];
    let settled = 0;
    for (const c of calls) void c.then(() => settled++);
    await until('the breaker to open', () => r.breaker.state === 'open');
    const sentWhenOpened = sent;
    await until('every call to wait on the breaker', () => r.breaker.waiting === 3);
    assert.equal(settled, 0, 'open: calls wait rather than fail');
    assert.equal(sent, sentWhenOpened, 'open: nothing is sent before the cooldown');
    down = false;
    clock += 40;
    assert.deepEqual(await Promise.all(calls), ['ok', 'ok', 'ok']);
    assert.equal(sent, sentWhenOpened + 3, 'one probe, then the other two');
    assert.deepEqual(states, ['open', 'half_open', 'closed']);
  });

  test('a failed probe reopens the breaker for another cooldown', async () => {
    const { r, states } = resilience({ failureThreshold: 1, cooldownMs: 5 });
    let failures = 3;
    const value = await r.execute('op', async () => {
      if (failures-- > 0) throw new Transient('down');
      return 'up';
    });
    assert.equal(value, 'up');
    assert.deepEqual(states, ['open', 'half_open', 'open', 'half_open', 'open', 'half_open', 'closed']);
  });

  test('a call gives up after the configured time of transient failures', async () => {
    const { r } = resilience({ giveUpAfterMs: 50, cooldownMs: 10 });
    await assert.rejects(
      r.execute('op', async () => {
        throw new Transient('down');
      }),
      (error: unknown) => error instanceof GaveUpError && error.lastError instanceof Transient,
    );
  });

  test('close() rejects calls waiting on the open breaker, and later calls', async () => {
    const { r } = resilience({ failureThreshold: 1, cooldownMs: 60_000 });
    const waiting = r.execute('op', async () => {
      throw new Transient('down');
    });
    await until('the breaker to open', () => r.breaker.state === 'open');
    r.close();
    await assert.rejects(waiting, ResilienceClosedError);
    await assert.rejects(
      r.execute('op', async () => 'never'),
      ResilienceClosedError,
    );
  });
});

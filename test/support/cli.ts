import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the `eddy` command the way a user does: a separate Node process on the compiled entry point,
 * from the repository root, with its own environment. Every process started here is tracked so a
 * test file can kill whatever is left in `after` (see `killAll`).
 */

/** The repository root: the first directory above this module holding a package.json. */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
})();

export const EDDY_BIN: string = join(REPO_ROOT, 'dist', 'streams', 'cli', 'eddy.js');

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface EddyProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Complete stderr lines so far. */
  stderrLines(): string[];
  /** Resolves with the first stderr line (already seen or future) matching `predicate`. */
  waitForStderrLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Resolves with the exit, or rejects (after killing the process) when it takes longer than `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<Exit>;
}

const live = new Set<ChildProcess>();

/** Settings of eddy without the EDDY_ prefix: CI exports KAFKA_BROKERS, which would switch modes. */
const OWN_SETTINGS = new Set(['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL']);

/**
 * The environment of a child: this process's, minus Eddy's own settings (a developer's EDDY_* or
 * CI's KAFKA_BROKERS must not change what a test sees) and node:test's context, plus `env`.
 */
function childEnv(env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('EDDY_') || key === 'NODE_TEST_CONTEXT' || OWN_SETTINGS.has(key)) continue;
    out[key] = value;
  }
  return { ...out, ...env };
}

export function startEddy(args: readonly string[], env: Readonly<Record<string, string>> = {}): EddyProcess {
  const child = spawn(process.execPath, [EDDY_BIN, ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    if (parts.length === 0) return;
    lines.push(...parts);
    for (const wake of [...waiters]) wake();
  });
  const exited = new Promise<Exit>((resolve) => {
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    child.once('close', (code, signal) => {
      live.delete(child);
      if (partial !== '') lines.push(partial);
      partial = '';
      for (const wake of [...waiters]) wake();
      resolve({ code, signal });
    });
  });
  let closed = false;
  void exited.then(() => {
    closed = true;
  });

  const describe = (): string =>
    `eddy ${args.join(' ')}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`;

  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    stderrLines: () => [...lines],
    waitForStderrLine(predicate, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(predicate);
          if (found !== undefined) finish(() => resolve(found));
          else if (closed)
            finish(() => reject(new Error(`eddy exited without the expected log line\n${describe()}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no expected log line within ${timeoutMs} ms\n${describe()}`))),
          timeoutMs,
        );
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`eddy did not exit within ${timeoutMs} ms\n${describe()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface Finished extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `eddy` to its exit (killing it after `timeoutMs`). */
export async function runEddy(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<Finished> {
  const eddy = startEddy(args, options.env);
  const exit = await eddy.waitForExit(options.timeoutMs ?? 20_000);
  return { ...exit, stdout: eddy.stdout(), stderr: eddy.stderr() };
}

/** Kills every `eddy` process started by this module that is still running; resolves once they are gone. */
export async function killAll(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** A parsed JSON log line: `time`, `level` and `msg`, plus the line's fields. */
export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Parses one JSON log line; throws (naming the line) when it is not a JSON log object. */
export function parseLogLine(line: string): LogLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`log line is not JSON: ${JSON.stringify(line)} (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`log line is not a JSON object: ${line}`);
  }
  const record = value as Record<string, unknown>;
  for (const field of ['time', 'level', 'msg']) {
    if (typeof record[field] !== 'string') throw new Error(`log line without a string "${field}": ${line}`);
  }
  return record as LogLine;
}

/** The port of the metrics URL in the "eddy started" log line. */
export function metricsPort(started: LogLine): number {
  const url = started.metrics;
  if (typeof url !== 'string')
    throw new Error(`"eddy started" has no metrics URL: ${JSON.stringify(started)}`);
  const port = Number(new URL(url).port);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in metrics URL ${url}`);
  return port;
}

import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';

/**
 * A declarative settings table: each setting has one flag, one environment variable, a parser
 * that names the expected form, and a default. `--help` text and start-up validation both come
 * from the same table, so they cannot disagree.
 */
export interface Setting<T> {
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** Human-readable form shown in help and errors, e.g. "an integer ≥ 1". */
  readonly expected: string;
  readonly parse: (raw: string) => T | undefined;
  readonly default: T;
  readonly boolean?: boolean;
  /** How the default is shown in --help, in the same form the parser accepts. */
  show?(value: T): string;
}

export type SettingsTable = Readonly<Record<string, Setting<unknown>>>;
export type SettingsOf<S extends SettingsTable> = { -readonly [K in keyof S]: S[K]['default'] };

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number | undefined => {
    if (!/^-?\d+$/.test(raw.trim())) return undefined;
    const n = Number(raw);
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };
}

export function decimal(min: number, max: number) {
  return (raw: string): number | undefined => {
    const n = Number(raw);
    return raw.trim() !== '' && Number.isFinite(n) && n >= min && n <= max ? n : undefined;
  };
}

export function oneOf<T extends string>(...choices: readonly T[]) {
  return (raw: string): T | undefined =>
    (choices as readonly string[]).includes(raw) ? (raw as T) : undefined;
}

export function text(raw: string): string | undefined {
  return raw.length > 0 ? raw : undefined;
}

export function flag(raw: string): boolean | undefined {
  if (['1', 'true', 'yes', 'on', ''].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  return undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** Milliseconds → the largest whole unit the duration parser accepts back ("30d", "2h", "20ms"). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Durations like "250ms", "30s", "2h", "30d" → milliseconds. */
export function duration(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  return value > 0 && Number.isFinite(value) ? value : undefined;
}

/** A duration, or 0 / `never` for "no limit" (0; see `neverIfZero`). */
export function durationOrNever(raw: string): number | undefined {
  const trimmed = raw.trim().toLowerCase();
  return trimmed === '0' || trimmed === 'never' ? 0 : duration(raw);
}

/** A `durationOrNever` setting as a time limit: 0 means none. */
export function neverIfZero(ms: number): number {
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}

/** How --help shows a `durationOrNever` setting. */
export const showDurationOrNever = (ms: number): string => (ms === 0 ? '0' : formatDuration(ms));

export interface ParsedSettings<S extends SettingsTable> {
  readonly values: SettingsOf<S>;
  readonly help: boolean;
}

/**
 * Reads flags first, then environment variables, then defaults; the first invalid value throws a
 * ConfigError naming the flag and variable and the expected form. Unknown flags are errors too.
 */
export function parseSettings<S extends SettingsTable>(
  table: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedSettings<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const setting of Object.values(table)) {
    options[setting.flag] = { type: setting.boolean ? 'boolean' : 'string' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinValues(argv, options), options, strict: true, allowPositionals: false });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError('command line', 'the flags listed by --help', message);
  }
  const values: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(table)) {
    const fromFlag = parsed.values[setting.flag];
    const raw = fromFlag === undefined ? env[setting.env] : String(fromFlag);
    if (raw === undefined) {
      values[key] = setting.default;
      continue;
    }
    const value = setting.parse(raw);
    if (value === undefined) {
      const source = fromFlag === undefined ? setting.env : `--${setting.flag}`;
      throw new ConfigError(`${source} (--${setting.flag} / ${setting.env})`, setting.expected, raw);
    }
    values[key] = value;
  }
  return { values: values as SettingsOf<S>, help: parsed.values.help === true };
}

/**
 * `--events -5` → `--events=-5`: parseArgs refuses a value that starts with a dash as ambiguous,
 * which would hide the real problem (a negative number) behind a parser message.
 */
function joinValues(argv: readonly string[], options: Readonly<Record<string, { type: string }>>): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && i + 1 < argv.length) {
      args.push(`${arg}=${argv[++i]}`);
    } else args.push(arg);
  }
  return args;
}

/** '' and 'none' leave an optional setting unset (so `KAFKA_BROKERS=` in an env file means embedded). */
export function optional(parse: (raw: string) => string | undefined) {
  return (raw: string): string | null | undefined => {
    const value = raw.trim();
    return value === '' || value === 'none' ? null : parse(value);
  };
}

/** How --help shows an optional setting's unset default: as the value that unsets it. */
export const showOptional = (value: string | null): string => value ?? 'none';

export function formatHelp(usage: string, summary: string, table: SettingsTable): string {
  const rows = Object.values(table).map((s) => {
    const left = `  --${s.flag}${s.boolean ? '' : ' <value>'}`;
    const shown = s.show ? s.show(s.default) : String(s.default);
    // An unset-by-default setting shows its default only when it says how (e.g. "none").
    const unset = s.default === undefined || (s.default === null && !s.show);
    const def = unset ? '' : ` (default: ${shown})`;
    return `${left.length < 34 ? left.padEnd(34) : `${left} `}${s.description}${def}\n${''.padEnd(34)}${s.env}; ${s.expected}`;
  });
  return `${usage}\n\n${summary}\n\nOptions (flag, then environment variable):\n${rows.join('\n')}\n  --help${''.padEnd(26)}show this help\n`;
}

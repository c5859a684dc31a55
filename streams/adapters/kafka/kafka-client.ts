/**
 * What the Kafka adapters share: one kafkajs client per process, its logs routed into Eddy's
 * logger, and request timings recorded in Eddy's metrics.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type IHeaders, Kafka, type KafkaMessage, type LogEntry, logLevel } from 'kafkajs';
import { EddyError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import type { EddyMetrics, KafkaOperation } from '../../observe/metrics.js';
import type { Headers, SourceRecord } from '../../ports/event-log.js';

export interface KafkaClientOptions {
  /** host:port of one or more brokers (the rest of the cluster is discovered). */
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger?: Logger | undefined;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** Splits and checks a `host:port,host:port` list. */
export function parseBrokers(list: string): string[] {
  const brokers = list
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new EddyError(`no Kafka broker in ${JSON.stringify(list)}`);
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) {
      throw new EddyError(`Kafka broker ${JSON.stringify(broker)} is not host:port`);
    }
  }
  return brokers;
}

export function createKafka(options: KafkaClientOptions): Kafka {
  const logger = options.logger;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 },
    logLevel: logger ? logLevel.INFO : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (logger) forwardLog(logger, entry);
    },
  });
}

/**
 * The text of the broker's CONCURRENT_TRANSACTIONS answer. Transactions here never overlap (the
 * sink commits one unit at a time), but the broker answers EndTxn once the commit is decided and
 * writes its markers afterwards; until they are written it answers the next transaction's first
 * AddPartitionsToTxn with this retriable error (about every second transaction when they run back
 * to back). The Java producer retries it silently after a short backoff; kafkajs retries it too but
 * logs it as an error, so it is demoted here.
 */
const CONCURRENT_TRANSACTIONS_MESSAGE = 'another concurrent operation on the same transaction';

/**
 * kafkajs logs every retriable broker response (a coordinator still loading, a transaction marker
 * not yet written) as an ERROR and then retries; Eddy logs the failures that survive the retries
 * itself. So protocol-level chatter goes to debug and only the client's own warnings stay warnings.
 */
function forwardLog(logger: Logger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, ...fields } = entry.log;
  const text = `kafkajs ${entry.namespace ? `[${entry.namespace}] ` : ''}${message}`;
  // The transactional sink retries a bounded number of times on purpose: a unit that still fails is
  // aborted as a whole, so the warning about idempotence does not apply to it.
  const chatty =
    entry.namespace === 'Connection' ||
    entry.level >= logLevel.INFO ||
    message.startsWith('Limiting retries for the idempotent producer') ||
    message.includes(CONCURRENT_TRANSACTIONS_MESSAGE);
  if (chatty) logger.debug(text, fields);
  else logger.warn(text, fields);
}

/** Records a Kafka call in `eddy_kafka_request_seconds` / `eddy_kafka_errors_total`. */
export async function timed<T>(
  metrics: EddyMetrics | null | undefined,
  operation: KafkaOperation,
  call: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    metrics?.kafkaSeconds.observe({ operation, outcome: 'ok' }, (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    metrics?.kafkaSeconds.observe({ operation, outcome: 'error' }, (performance.now() - started) / 1000);
    metrics?.kafkaErrorsTotal.inc({ operation });
    throw error;
  }
}

/**
 * Retries `call` on errors the broker marks retriable (a partition whose leader is still being
 * elected right after the topic was created, a coordinator still loading), with a short back-off:
 * several kafkajs calls give up on them at once. `onRetry` may refresh whatever holds stale
 * metadata before the next attempt.
 */
export async function retryRetriable<T>(
  call: () => Promise<T>,
  options: { attempts?: number; onRetry?: () => Promise<void> } = {},
): Promise<T> {
  const attempts = options.attempts ?? 25;
  let delayMs = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable !== true || attempt >= attempts) throw error;
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 500);
      await options.onRetry?.();
    }
  }
}

/** `topic\0partition`: a map key for a partition. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const EMPTY_HEADERS: Headers = Object.freeze({});

/** A fetched kafkajs message as the port's SourceRecord (offsets fit a double up to 2^53). */
export function toSourceRecord(topic: string, partition: number, message: KafkaMessage): SourceRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value,
    timestamp: Number(message.timestamp),
    headers: message.headers ? toHeaders(message.headers) : EMPTY_HEADERS,
  };
}

function toHeaders(headers: IHeaders): Headers {
  const out: Record<string, string> = {};
  let any = false;
  for (const [name, value] of Object.entries(headers)) {
    // A repeated header keeps its last value: the port has one value per name.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out[name] = typeof last === 'string' ? last : last.toString('utf8');
    any = true;
  }
  return any ? out : EMPTY_HEADERS;
}

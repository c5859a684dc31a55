/**
 * Avro in the Confluent wire format (magic byte 0, schema id, body), for deployments with a schema
 * registry (SCHEMA_REGISTRY_URL): lists are written under the id the registry gives Eddy's
 * RecommendationList schema; clicks and catalog records may arrive framed with any id the
 * registry knows, alongside single-object and JSON records (the codec reads all three).
 *
 * The pipeline decodes synchronously, so ids are resolved before a batch is decoded (the codecs'
 * `resolveWriters`, called by the pipeline for every batch and for the start-up catalog read):
 * every unseen id is fetched from the registry first and handed to the codec. An id the registry does not know, or a schema the reader cannot
 * resolve, is remembered as that id's dead-letter reason; a registry that cannot be reached fails
 * the batch (and the pipeline) rather than dead-letter good records.
 */

import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Schema as AvroTypeSchema } from 'avsc';
import { type AvroCodec, createCodec, schemaDocument } from '../../codec/avro.js';
import { avroPipelineCodecs, type ValidationLimits } from '../../codec/pipeline-codecs.js';
import { EddyError, InvalidRecordError } from '../../errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../../model/events.js';
import { type Logger, silentLogger } from '../../observe/logger.js';
import type { PipelineCodecs } from '../../pipeline/pipeline-context.js';
import type { TopicNames } from '../../pipeline/topics.js';
import type { SourceRecord } from '../../ports/event-log.js';
import { type FailureClass, GaveUpError, Resilience, ResilienceClosedError } from '../../util/resilience.js';
import { describeError } from './kafka-client.js';

export interface RegistryCodecsOptions {
  readonly url: string;
  readonly topics: TopicNames;
  readonly dimension: number;
  readonly validation?: Partial<ValidationLimits>;
  readonly logger?: Logger;
  /**
   * A lookup that keeps failing transiently (registry down or unreachable) for longer than this
   * fails the pipeline with SchemaRegistryUnavailableError; until then it waits, the batch (and so
   * its partition's input) held back. Default: never.
   */
  readonly giveUpAfterMs?: number;
  /** The same limit for `prepare` (start-up), default 30 s: a wrong URL is better reported than waited on. */
  readonly startupGiveUpAfterMs?: number;
  /** For tests: retry back-off (default 100 ms doubling to 5 s) and breaker cooldown (default 2 s). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly breakerCooldownMs?: number;
}

/** The registry stayed unreachable (or kept failing) past the configured give-up time. */
export class SchemaRegistryUnavailableError extends EddyError {
  override readonly name = 'SchemaRegistryUnavailableError';
}

const CONFLUENT_MAGIC = 0x00;
const CONFLUENT_HEADER_SIZE = 5;

/** Codecs bound to one registry: registry ids mean nothing outside it, so the codecs are private. */
export class RegistryCodecs {
  readonly registry: SchemaRegistry;
  readonly click: AvroCodec<ClickEvent> = createCodec('ClickEvent');
  readonly item: AvroCodec<ItemEvent> = createCodec('ItemEvent');
  readonly list: AvroCodec<RecommendationList> = createCodec('RecommendationList');
  private listSchemaId: number | null = null;
  /** `<schema>:<id>` → why records with that id cannot be read. */
  private readonly unreadable = new Map<string, InvalidRecordError>();
  private readonly logger: Logger;
  private readonly resilience: Resilience;

  constructor(private readonly options: RegistryCodecsOptions) {
    // Retries are the Resilience's (backoff, breaker, readiness, give-up), not the client's.
    this.registry = new SchemaRegistry({ host: options.url, clientId: 'eddy', retry: { retries: 0 } });
    const logger = options.logger ?? silentLogger;
    this.logger = logger;
    this.resilience = new Resilience({
      attemptTimeoutMs: 10_000,
      retryBaseMs: options.retryBaseMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 5_000,
      failureThreshold: 3,
      cooldownMs: options.breakerCooldownMs ?? 2_000,
      ...(options.giveUpAfterMs !== undefined ? { giveUpAfterMs: options.giveUpAfterMs } : {}),
      classify: classifyRegistryError,
      hooks: {
        health: (healthy, operation, reason) => {
          const fields = { url: options.url, operation };
          if (healthy) logger.info('schema registry answers again', fields);
          else
            logger.warn('schema registry call failed; input held back, retrying with backoff', {
              ...fields,
              reason,
            });
        },
        state: (state) => {
          if (state === 'open') logger.warn('schema registry circuit breaker opened', { url: options.url });
        },
      },
    });
  }

  /** False from the first failed registry call until one succeeds again (readiness). */
  get healthy(): boolean {
    return this.resilience.healthy;
  }

  /** Stops waiting on the registry: calls in flight reject. */
  close(): void {
    this.resilience.close();
  }

  /** The registry id lists are written with (after `prepare`). */
  get listSchemaIdentifier(): number | null {
    return this.listSchemaId;
  }

  /** Registers (or looks up) the RecommendationList schema under `<recommendations topic>-value`. */
  async prepare(): Promise<void> {
    const subject = `${this.options.topics.recommendations}-value`;
    this.listSchemaId = await this.call(
      `register ${subject}`,
      () => registerSchema(this.registry, subject, schemaDocument('RecommendationList'), this.options.url),
      this.options.startupGiveUpAfterMs ?? 30_000,
    );
    this.logger.info('schema registry: lists use the Confluent wire format', {
      subject,
      schemaId: this.listSchemaId,
    });
  }

  /** Fetches the writer schema of every Confluent-framed record in `records` not resolved yet. */
  async resolve(topic: string, records: readonly SourceRecord[]): Promise<void> {
    const codec = this.codecOf(topic);
    let ids: Set<number> | null = null;
    for (const record of records) {
      const value = record.value;
      if (value === null || value.length < CONFLUENT_HEADER_SIZE || value[0] !== CONFLUENT_MAGIC) continue;
      const id = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readInt32BE(1);
      if (codec.hasRegistryWriter(id) || this.unreadable.has(`${codec.schemaName}:${id}`)) continue;
      ids ??= new Set();
      ids.add(id);
    }
    if (ids === null) return;
    for (const id of ids) await this.resolveId(codec, id);
  }

  /** The pipeline's codecs: these private codecs, lists encoded in the Confluent wire format. */
  pipelineCodecs(): PipelineCodecs {
    const base = avroPipelineCodecs(this.options.dimension, this.options.validation);
    return {
      ...base,
      decodeClick: (bytes) => this.decode(this.click, bytes),
      decodeItem: (bytes) => this.decode(this.item, bytes),
      resolveWriters: (topic, records) => this.resolve(topic, records),
      encodeList: (list) => {
        if (this.listSchemaId === null) throw new EddyError('RegistryCodecs.prepare() was not called');
        return this.list.encodeConfluent(this.listSchemaId, list);
      },
    };
  }

  /** A list from the recommendations topic (after `resolve`), as a reader of Eddy's output decodes it. */
  decodeList(bytes: Uint8Array): RecommendationList {
    return this.decode(this.list, bytes);
  }

  /** A registry request, retried while the registry is unreachable or failing (see the options). */
  private async call<T>(what: string, request: () => Promise<T>, giveUpAfterMs?: number): Promise<T> {
    try {
      return await this.resilience.execute(
        what,
        request,
        giveUpAfterMs === undefined ? {} : { giveUpAfterMs },
      );
    } catch (error) {
      if (error instanceof GaveUpError) {
        throw new SchemaRegistryUnavailableError(
          `schema registry ${this.options.url}: ${what} still failing after ${Math.round(error.elapsedMs)} ms (last: ${describeRegistryError(error.lastError)})`,
        );
      }
      if (error instanceof ResilienceClosedError) {
        throw new SchemaRegistryUnavailableError(
          `schema registry ${this.options.url}: ${what} abandoned (stopping)`,
        );
      }
      throw error;
    }
  }

  private codecOf(topic: string): AvroCodec<unknown> {
    if (topic === this.options.topics.items) return this.item;
    if (topic === this.options.topics.recommendations) return this.list;
    return this.click;
  }

  private decode<T>(codec: AvroCodec<T>, bytes: Uint8Array): T {
    if (bytes[0] === CONFLUENT_MAGIC && bytes.length >= CONFLUENT_HEADER_SIZE) {
      const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readInt32BE(1);
      const reason = this.unreadable.get(`${codec.schemaName}:${id}`);
      if (reason !== undefined) throw reason;
    }
    return codec.decode(bytes);
  }

  private async resolveId(codec: AvroCodec<unknown>, id: number): Promise<void> {
    let schema: unknown;
    try {
      schema = await this.call(`schema id ${id}`, () => this.registry.getSchema(id));
    } catch (error) {
      if (error instanceof SchemaRegistryUnavailableError) throw error;
      if ((error as { status?: unknown }).status === 404) {
        this.unreadable.set(
          `${codec.schemaName}:${id}`,
          new InvalidRecordError(
            'unknown_schema',
            `schema id ${id} is not in the registry at ${this.options.url}`,
          ),
        );
        return;
      }
      throw new EddyError(
        `schema registry ${this.options.url} failed for schema id ${id}: ${describeRegistryError(error)}`,
      );
    }
    const json = avroSchemaOf(schema);
    if (json === null) {
      this.unreadable.set(
        `${codec.schemaName}:${id}`,
        new InvalidRecordError('wrong_schema', `schema id ${id} is not an Avro schema`),
      );
      return;
    }
    try {
      codec.addRegistryWriter(id, json);
      this.logger.debug('schema registry: resolved a writer schema', {
        schemaId: id,
        record: codec.fullName,
      });
    } catch (error) {
      this.unreadable.set(
        `${codec.schemaName}:${id}`,
        error instanceof InvalidRecordError
          ? error
          : new InvalidRecordError('wrong_schema', `schema id ${id}: ${describeError(error)}`),
      );
    }
  }
}

/**
 * The id of `schema` under `subject` (TopicNameStrategy: `<topic>-value`), registering it when the
 * subject does not have it yet.
 */
export async function registerSchema(
  registry: SchemaRegistry,
  subject: string,
  schema: AvroTypeSchema,
  url: string,
): Promise<number> {
  const confluent = { type: SchemaType.AVRO, schema: JSON.stringify(schema) } as const;
  try {
    return await registry.getRegistryIdBySchema(subject, confluent);
  } catch (error) {
    // Unreachable: registering would fail the same way; say so (and let a caller retry it).
    if (registryFailure(error) !== null) throw error;
    try {
      return (await registry.register(confluent, { subject })).id;
    } catch (error) {
      if (registryFailure(error) !== null) throw error;
      throw new EddyError(
        `cannot register a schema under ${subject} at ${url}: ${describeRegistryError(error)}`,
        { cause: error },
      );
    }
  }
}

/**
 * The library reports a refused or reset connection as `status 400` with the socket error in the
 * message: told apart here, since that is an outage to wait out, not a request to fix.
 */
const CONNECTION_FAILURE =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)\b|socket hang up/;

/** Why a registry call failed transiently ('connection', 'server_error', …), or null when it did not. */
function registryFailure(error: unknown): string | null {
  const { status, message } = error as { status?: unknown; message?: unknown };
  if (typeof message === 'string' && CONNECTION_FAILURE.test(message)) return 'connection';
  if (typeof status === 'number') {
    if (status >= 500) return 'server_error';
    if (status === 408) return 'timeout';
    if (status === 429) return 'rate_limited';
  }
  return null;
}

export function classifyRegistryError(error: unknown): FailureClass {
  const reason = registryFailure(error);
  return reason === null ? { transient: false, reason: 'client_error' } : { transient: true, reason };
}

/** "cannot connect (ECONNREFUSED 127.0.0.1:8081)" rather than the library's "status 400". */
export function describeRegistryError(error: unknown): string {
  const { status, message } = error as { status?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  const socket = CONNECTION_FAILURE.exec(text);
  if (socket !== null) {
    const detail = /connect (\S+ \S+)/.exec(text)?.[1] ?? socket[0];
    return `cannot connect (${detail})`;
  }
  return typeof status === 'number' ? `HTTP ${status}: ${text}` : describeError(error);
}

/** The library hands Avro schemas back as avsc types; their `schema()` is the JSON form. */
function avroSchemaOf(schema: unknown): AvroTypeSchema | null {
  const candidate = schema as { schema?: unknown; typeName?: unknown };
  if (typeof candidate.schema !== 'function' || typeof candidate.typeName !== 'string') return null;
  return (candidate.schema as () => AvroTypeSchema).call(schema);
}

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
import { describeError } from './kafka-client.js';

export interface RegistryCodecsOptions {
  readonly url: string;
  readonly topics: TopicNames;
  readonly dimension: number;
  readonly validation?: Partial<ValidationLimits>;
  readonly logger?: Logger;
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

  constructor(private readonly options: RegistryCodecsOptions) {
    this.registry = new SchemaRegistry({ host: options.url, clientId: 'eddy' });
    this.logger = options.logger ?? silentLogger;
  }

  /** The registry id lists are written with (after `prepare`). */
  get listSchemaIdentifier(): number | null {
    return this.listSchemaId;
  }

  /** Registers (or looks up) the RecommendationList schema under `<recommendations topic>-value`. */
  async prepare(): Promise<void> {
    const subject = `${this.options.topics.recommendations}-value`;
    this.listSchemaId = await registerSchema(
      this.registry,
      subject,
      schemaDocument('RecommendationList'),
      this.options.url,
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
      schema = await this.registry.getSchema(id);
    } catch (error) {
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
        `schema registry ${this.options.url} failed for schema id ${id}: ${describeError(error)}`,
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
  } catch {
    try {
      return (await registry.register(confluent, { subject })).id;
    } catch (error) {
      throw new EddyError(`cannot register a schema under ${subject} at ${url}: ${describeError(error)}`);
    }
  }
}

/** The library hands Avro schemas back as avsc types; their `schema()` is the JSON form. */
function avroSchemaOf(schema: unknown): AvroTypeSchema | null {
  const candidate = schema as { schema?: unknown; typeName?: unknown };
  if (typeof candidate.schema !== 'function' || typeof candidate.typeName !== 'string') return null;
  return (candidate.schema as () => AvroTypeSchema).call(schema);
}

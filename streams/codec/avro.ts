/**
 * Eddy's wire codec: Avro single-object encoding (spec §"Single object encoding") for every record
 * Eddy writes, and a decoder that also accepts older writers' records and JSON from ad-hoc producers.
 * With a schema registry, records may instead use the Confluent wire format (magic 0, schema id);
 * the registry's schemas are fetched asynchronously by the Kafka adapter and handed to the codec
 * (`addRegistryWriter`), so decoding stays synchronous.
 *
 * Schemas are read from `schemas/*.avsc` (current) and `schemas/history/*.avsc` (older writers) once,
 * at module load, so the hot path never parses a schema or builds a resolver.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Type as AvroType, Schema as AvroTypeSchema } from 'avsc';
import avsc from 'avsc';
import { type DeadLetterReason, InvalidRecordError } from '../errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../model/events.js';
import type {
  ItemModelIncrementsRecord,
  ItemStateRecord,
  RankingStateRecord,
  SessionIndexRecord,
  UserStateRecord,
} from './state-records.js';

export type SchemaName =
  | 'ClickEvent'
  | 'ItemEvent'
  | 'RecommendationList'
  | 'UserState'
  | 'ItemState'
  | 'RankingState'
  | 'ItemModelIncrements'
  | 'SessionIndex';

/** The TypeScript shape each schema decodes to. */
export interface RecordTypes {
  ClickEvent: ClickEvent;
  ItemEvent: ItemEvent;
  RecommendationList: RecommendationList;
  UserState: UserStateRecord;
  ItemState: ItemStateRecord;
  RankingState: RankingStateRecord;
  ItemModelIncrements: ItemModelIncrementsRecord;
  SessionIndex: SessionIndexRecord;
}

/** Label of the schema in `schemas/<file>.avsc`; history versions are labelled from their file name (`v1`). */
export const CURRENT_VERSION = 'current';

const SCHEMA_FILES: Readonly<Record<SchemaName, string>> = {
  ClickEvent: 'click-event.avsc',
  ItemEvent: 'item-event.avsc',
  RecommendationList: 'recommendation-list.avsc',
  UserState: 'user-state.avsc',
  ItemState: 'item-state.avsc',
  RankingState: 'ranking-state.avsc',
  ItemModelIncrements: 'item-model-increments.avsc',
  SessionIndex: 'session-index.avsc',
};
const SCHEMA_NAMES = Object.keys(SCHEMA_FILES) as SchemaName[];
const NAMESPACE = 'io.eddy';
const EVENT_TYPE_FULL_NAME = `${NAMESPACE}.EventType`;

// ---------------------------------------------------------------------------------------------
// Locating the schemas

function findSchemasDir(): string {
  // The same module runs from `streams/codec` (sources) and `dist/streams/codec` (compiled),
  // so the schema location is found by walking up rather than by a fixed relative path.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, SCHEMA_FILES.ClickEvent))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no schemas/ directory above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of the `schemas/` directory the codec loaded its schemas from. */
export const SCHEMAS_DIR: string = findSchemasDir();
/** Absolute path of the directory holding older writer schemas (`<name>.<version>.avsc`). */
export const SCHEMA_HISTORY_DIR: string = join(SCHEMAS_DIR, 'history');

// ---------------------------------------------------------------------------------------------
// CRC-64-AVRO (Rabin) fingerprint, per the reference algorithm in the Avro specification

const FP_EMPTY = 0xc15d213aa4d7a795n;
const FP_TABLE = (() => {
  const table = new BigUint64Array(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    // `-(fp & 1)` in the spec is a 64-bit all-ones mask when the low bit is set.
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (fp & 1n ? FP_EMPTY : 0n);
    table[i] = fp;
  }
  return table;
})();

/** CRC-64-AVRO of a schema's Parsing Canonical Form (UTF-8), as an unsigned 64-bit integer. */
export function fingerprint64(canonical: string): bigint {
  let fp = FP_EMPTY;
  for (const byte of Buffer.from(canonical, 'utf8')) {
    fp = (fp >> 8n) ^ FP_TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  }
  return fp;
}

/**
 * Parsing Canonical Form of a type. avsc's `schema()` already applies the spec's transformations
 * (full names, only parsing attributes, fixed key order, primitives as strings); JSON.stringify
 * adds [WHITESPACE] and [STRINGS]. The spec's own test vectors check this in codec.test.ts.
 */
export function canonicalForm(type: AvroType): string {
  return JSON.stringify(type.schema());
}

/**
 * Builds an avsc type whose decoded records are plain objects. avsc decodes each record into an
 * instance of a generated class; giving that class Object.prototype makes decoded values
 * indistinguishable from literals (deepStrictEqual, spreading, structural checks elsewhere).
 */
export function parseSchema(schema: AvroTypeSchema): AvroType {
  const registry: Record<string, AvroType> = {};
  const type = avsc.Type.forSchema(schema, { omitRecordMethods: true, registry });
  for (const named of Object.values(registry)) {
    if (named.typeName === 'record') {
      (named as unknown as { recordConstructor: { prototype: object } }).recordConstructor.prototype =
        Object.prototype;
    }
  }
  return type;
}

// ---------------------------------------------------------------------------------------------
// Structural check of an Avro body before avsc reads it

/**
 * The canonical schema as avsc's `schema()` returns it: named types defined at first use and
 * referenced by full name afterwards.
 */
type CanonicalSchema =
  | string
  | CanonicalSchema[]
  | {
      type: string;
      name?: string;
      fields?: { name: string; type: CanonicalSchema }[];
      symbols?: string[];
      items?: CanonicalSchema;
      values?: CanonicalSchema;
      size?: number;
    };

/** Read position shared by the compiled checks; decoding is synchronous, so one suffices. */
class BodyCursor {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
}
type BodyCheck = (c: BodyCursor) => void;

const TWO_28 = 0x10000000;
// Entries of zero-byte items (arrays of null) cannot be bounded by the remaining bytes.
const MAX_ZERO_SIZE_ITEMS = 1 << 16;

function corrupt(path: string, c: BodyCursor, what: string): InvalidRecordError {
  return new InvalidRecordError(
    'not_avro',
    `${what} at ${path || '(root)'} (byte ${c.pos} of ${c.buf.length})`,
  );
}

/**
 * Reads a zig-zag varint. Magnitudes beyond 2^53 come back approximate, which is enough for the
 * bounds checks; `long` fields are range-checked separately by `checkLong`.
 */
function readVarint(c: BodyCursor, path: string): number {
  const buf = c.buf;
  let low = 0;
  let high = 0;
  let shift = 0;
  let scale = TWO_28;
  for (let i = 0; ; i++) {
    const b = buf[c.pos];
    if (b === undefined) throw corrupt(path, c, 'truncated varint');
    c.pos++;
    if (i < 4) {
      low |= (b & 0x7f) << shift;
      shift += 7;
    } else {
      high += (b & 0x7f) * scale;
      scale *= 128;
    }
    if ((b & 0x80) === 0) break;
    if (i === 9) throw corrupt(path, c, 'varint longer than 10 bytes');
  }
  const half = high / 2 + ((low >>> 0) >>> 1);
  return low & 1 ? -half - 1 : half;
}

/**
 * The longs avsc reads exactly. Its varint arithmetic is in doubles: beyond 2^53 - 2 its reader
 * throws, and below -2^52 the zig-zag sign bit is rounded away, so it would silently read the
 * negated value (its writer has the same flaw; Eddy's longs are times and counts, far from it).
 */
const MAX_LONG = 2 ** 53 - 2;
const MIN_LONG = -(2 ** 52);

function checkLong(c: BodyCursor, path: string): void {
  const n = readVarint(c, path);
  if (n > MAX_LONG || n < MIN_LONG) {
    throw new InvalidRecordError(
      'invalid_value',
      `${path}: long ${n} outside [-2^52, 2^53 - 2] cannot be read exactly`,
    );
  }
}

function advance(c: BodyCursor, path: string, bytes: number): void {
  if (c.pos + bytes > c.buf.length) throw corrupt(path, c, `truncated (need ${bytes} bytes)`);
  c.pos += bytes;
}

function minEncodedSize(
  schema: CanonicalSchema,
  named: Map<string, CanonicalSchema>,
  seen: Set<string>,
): number {
  if (typeof schema === 'string') {
    switch (schema) {
      case 'null':
        return 0;
      case 'float':
        return 4;
      case 'double':
        return 8;
      case 'boolean':
      case 'int':
      case 'long':
      case 'bytes':
      case 'string':
        return 1;
      default: {
        const def = named.get(schema);
        if (def === undefined || seen.has(schema)) return 0;
        return minEncodedSize(def, named, seen);
      }
    }
  }
  if (Array.isArray(schema)) return 1;
  switch (schema.type) {
    case 'record': {
      if (schema.name !== undefined) {
        named.set(schema.name, schema);
        seen.add(schema.name);
      }
      let total = 0;
      for (const field of schema.fields ?? []) total += minEncodedSize(field.type, named, seen);
      if (schema.name !== undefined) seen.delete(schema.name);
      return total;
    }
    case 'fixed':
      if (schema.name !== undefined) named.set(schema.name, schema);
      return schema.size ?? 0;
    case 'enum':
      if (schema.name !== undefined) named.set(schema.name, schema);
      return 1;
    default:
      return 1;
  }
}

/**
 * Compiles a check that walks an encoded value of `schema` and throws InvalidRecordError for
 * truncation, out-of-range indices or lengths, and block counts larger than the bytes left. avsc
 * trusts counts and lengths (a corrupt array count makes it loop billions of times), so bytes
 * reach avsc only after this check.
 */
function compileCheck(root: CanonicalSchema): BodyCheck {
  const named = new Map<string, CanonicalSchema>();
  const lazy = new Map<string, { check: BodyCheck | null }>();

  const compile = (schema: CanonicalSchema, path: string): BodyCheck => {
    if (typeof schema === 'string') {
      switch (schema) {
        case 'null':
          return () => {};
        case 'boolean':
          return (c) => {
            const b = c.buf[c.pos];
            if (b === undefined) throw corrupt(path, c, 'truncated boolean');
            if (b > 1) throw corrupt(path, c, `boolean byte ${b}`);
            c.pos++;
          };
        case 'int':
          return (c) => {
            const n = readVarint(c, path);
            if (n !== (n | 0)) throw corrupt(path, c, 'int outside 32 bits');
          };
        case 'long':
          return (c) => checkLong(c, path);
        case 'float':
          return (c) => advance(c, path, 4);
        case 'double':
          return (c) => advance(c, path, 8);
        case 'bytes':
        case 'string':
          return (c) => {
            const len = readVarint(c, path);
            if (len < 0) throw corrupt(path, c, `negative ${schema} length`);
            advance(c, path, len);
          };
        default: {
          // A reference to a named type defined earlier (or enclosing, for recursive records).
          let slot = lazy.get(schema);
          if (slot === undefined) {
            slot = { check: null };
            lazy.set(schema, slot);
          }
          const ref = slot;
          return (c) => ref.check!(c);
        }
      }
    }
    if (Array.isArray(schema)) {
      const branches = schema.map((branch, i) => compile(branch, `${path}<branch ${i}>`));
      return (c) => {
        const index = readVarint(c, path);
        const branch = branches[index];
        if (branch === undefined) throw corrupt(path, c, `union index ${index} out of range`);
        branch(c);
      };
    }
    const define = (check: BodyCheck): BodyCheck => {
      if (schema.name === undefined) return check;
      named.set(schema.name, schema);
      let slot = lazy.get(schema.name);
      if (slot === undefined) {
        slot = { check: null };
        lazy.set(schema.name, slot);
      }
      slot.check = check;
      return check;
    };
    switch (schema.type) {
      case 'record': {
        if (schema.name !== undefined) named.set(schema.name, schema);
        const fields = (schema.fields ?? []).map((f) => compile(f.type, path ? `${path}.${f.name}` : f.name));
        return define((c) => {
          for (let i = 0; i < fields.length; i++) fields[i]!(c);
        });
      }
      case 'enum': {
        const count = schema.symbols?.length ?? 0;
        return define((c) => {
          const index = readVarint(c, path);
          if (!(index >= 0 && index < count)) throw corrupt(path, c, `enum index ${index} out of range`);
        });
      }
      case 'fixed': {
        const size = schema.size ?? 0;
        return define((c) => advance(c, path, size));
      }
      case 'array':
      case 'map': {
        const isMap = schema.type === 'map';
        const inner = (isMap ? schema.values : schema.items) ?? 'null';
        const entryPath = isMap ? `${path}{}` : `${path}[]`;
        const item = compile(inner, entryPath);
        const keyCheck = isMap ? compile('string', `${path}{key}`) : null;
        const minSize = minEncodedSize(inner, new Map(named), new Set()) + (isMap ? 1 : 0);
        return (c) => {
          for (;;) {
            let count = readVarint(c, path);
            if (count === 0) return;
            if (count < 0) {
              // A negative count is followed by the block's size in bytes (lets readers skip blocks).
              count = -count;
              const size = readVarint(c, path);
              if (size < 0 || c.pos + size > c.buf.length)
                throw corrupt(path, c, `block size ${size} out of range`);
            }
            const limit = minSize > 0 ? (c.buf.length - c.pos) / minSize : MAX_ZERO_SIZE_ITEMS;
            if (count > limit) throw corrupt(path, c, `block count ${count} exceeds the bytes left`);
            for (let i = 0; i < count; i++) {
              if (keyCheck !== null) keyCheck(c);
              item(c);
            }
          }
        };
      }
      default:
        // Primitive written in object form, e.g. {"type": "int"} (not produced by schema(), kept for safety).
        return compile(schema.type, path);
    }
  };

  const check = compile(root, '');
  for (const [name, slot] of lazy) {
    if (slot.check === null) throw new Error(`schema references undefined type ${name}`);
  }
  return check;
}

// ---------------------------------------------------------------------------------------------
// Schema loading

interface LoadedVersion {
  readonly schemaName: SchemaName;
  readonly version: string;
  readonly type: AvroType;
  readonly fingerprint: bigint;
}

function fullNameOf(type: AvroType): string {
  return type.name ?? '(anonymous)';
}

function loadVersion(schemaName: SchemaName, version: string, schema: AvroTypeSchema): LoadedVersion {
  const type = parseSchema(schema);
  return { schemaName, version, type, fingerprint: fingerprint64(canonicalForm(type)) };
}

function readSchemaFile(path: string): AvroTypeSchema {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AvroTypeSchema;
  } catch (err) {
    throw new Error(`cannot read Avro schema ${path}: ${(err as Error).message}`);
  }
}

/**
 * The current schema of `name` exactly as written in `schemas/` (docs, defaults, aliases included),
 * for publishing it elsewhere: avsc's `schema()` keeps only the parsing attributes, and a registry
 * reader that resolves against that would lose the defaults that make evolution compatible.
 */
export function schemaDocument(name: SchemaName): AvroTypeSchema {
  return readSchemaFile(join(SCHEMAS_DIR, SCHEMA_FILES[name]));
}

const CURRENT: Readonly<Record<SchemaName, LoadedVersion>> = (() => {
  const out = {} as Record<SchemaName, LoadedVersion>;
  for (const name of SCHEMA_NAMES) {
    const loaded = loadVersion(name, CURRENT_VERSION, readSchemaFile(join(SCHEMAS_DIR, SCHEMA_FILES[name])));
    if (fullNameOf(loaded.type) !== `${NAMESPACE}.${name}`) {
      throw new Error(
        `${SCHEMA_FILES[name]} defines ${fullNameOf(loaded.type)}, expected ${NAMESPACE}.${name}`,
      );
    }
    out[name] = loaded;
  }
  return out;
})();

const HISTORY: readonly LoadedVersion[] = (() => {
  if (!existsSync(SCHEMA_HISTORY_DIR)) return [];
  const byFullName = new Map<string, SchemaName>(SCHEMA_NAMES.map((n) => [`${NAMESPACE}.${n}`, n]));
  const out: LoadedVersion[] = [];
  for (const file of readdirSync(SCHEMA_HISTORY_DIR).sort()) {
    if (!file.endsWith('.avsc')) continue;
    const match = /\.([^.]+)\.avsc$/.exec(file);
    if (match === null) throw new Error(`history schema ${file} is not named <name>.<version>.avsc`);
    const version = match[1]!;
    const schema = readSchemaFile(join(SCHEMA_HISTORY_DIR, file));
    const type = parseSchema(schema);
    const schemaName = byFullName.get(fullNameOf(type));
    if (schemaName === undefined) {
      throw new Error(`history schema ${file} defines unknown record ${fullNameOf(type)}`);
    }
    out.push({ schemaName, version, type, fingerprint: fingerprint64(canonicalForm(type)) });
  }
  return out;
})();

/** Every fingerprint Eddy knows, for telling a wrong record type from an unknown schema. */
const KNOWN_FINGERPRINTS: ReadonlyMap<bigint, LoadedVersion> = new Map(
  [...Object.values(CURRENT), ...HISTORY].map((v) => [v.fingerprint, v] as const),
);

// ---------------------------------------------------------------------------------------------
// Single-object encoding

const MARKER_0 = 0xc3;
const MARKER_1 = 0x01;
const HEADER_SIZE = 10;
const CONFLUENT_HEADER_SIZE = 5;
const CONFLUENT_MAGIC = 0x00;

let scratch = Buffer.allocUnsafe(64 * 1024);

function writeHeader(target: Buffer, fingerprint: bigint): void {
  target[0] = MARKER_0;
  target[1] = MARKER_1;
  target.writeBigUInt64LE(fingerprint, 2);
}

/**
 * Writes `value` with `type` as a single-object-encoded record. Exported for tests and tools that
 * need to produce records from writers the codec does not own (older or newer schemas).
 */
export function encodeSingleObject(type: AvroType, value: unknown): Buffer {
  return writeSingleObject(type, fingerprint64(canonicalForm(type)), value);
}

function writeSingleObject(type: AvroType, fingerprint: bigint, value: unknown): Buffer {
  return writeFramed(type, HEADER_SIZE, value, (target) => writeHeader(target, fingerprint));
}

/** Confluent wire format: magic byte 0, the registry's schema id (big-endian int32), the Avro body. */
function writeConfluent(type: AvroType, schemaId: number, value: unknown): Buffer {
  return writeFramed(type, CONFLUENT_HEADER_SIZE, value, (target) => {
    target[0] = CONFLUENT_MAGIC;
    target.writeInt32BE(schemaId, 1);
  });
}

function writeFramed(
  type: AvroType,
  headerSize: number,
  value: unknown,
  writeFrame: (target: Buffer) => void,
): Buffer {
  // Encoding into a reused scratch buffer and copying once beats avsc's toBuffer + concat.
  for (;;) {
    let end: number;
    try {
      end = type.encode(value, scratch, headerSize);
    } catch {
      throw describeInvalid(type, value);
    }
    if (end < 0) {
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end + headerSize));
      continue;
    }
    writeFrame(scratch);
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex64(fp: bigint): string {
  return `0x${fp.toString(16).padStart(16, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Validation of JSON and of values to encode

interface Problem {
  readonly path: string;
  readonly reason: DeadLetterReason;
  readonly message: string;
}

const MAX_REPORTED_PROBLEMS = 5;

function formatPath(path: readonly string[]): string {
  let out = '';
  for (const part of path) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out || '(root)';
}

function describeType(type: AvroType): string {
  if (type.typeName === 'enum') {
    return `one of ${(type.schema() as { symbols: readonly string[] }).symbols.join(', ')}`;
  }
  const schema = type.schema({ noDeref: true });
  const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function classify(value: unknown, type: AvroType): DeadLetterReason {
  if (value === undefined) return 'missing_field';
  if (type.typeName === 'enum' && typeof value === 'string') {
    return type.name === EVENT_TYPE_FULL_NAME ? 'unknown_event_type' : 'invalid_value';
  }
  return 'wrong_type';
}

function findProblems(type: AvroType, value: unknown): Problem[] {
  const problems: Problem[] = [];
  type.isValid(value, {
    errorHook: (path: string[], val: unknown, failing: AvroType) => {
      if (problems.length >= MAX_REPORTED_PROBLEMS) return;
      const where = formatPath(path);
      const reason = classify(val, failing);
      const message =
        reason === 'missing_field'
          ? `${where}: required field missing`
          : `${where}: expected ${describeType(failing)}, got ${describeValue(val)}`;
      problems.push({ path: where, reason, message });
    },
  });
  return problems;
}

function describeInvalid(type: AvroType, value: unknown): InvalidRecordError {
  const problems = findProblems(type, value);
  const first = problems[0];
  if (first === undefined)
    return new InvalidRecordError('wrong_type', `value is not a valid ${fullNameOf(type)}`);
  return new InvalidRecordError(first.reason, problems.map((p) => p.message).join('; '));
}

// ---------------------------------------------------------------------------------------------
// The codec

/** A writer schema whose records this codec can read. */
interface Writer {
  readonly version: string;
  readonly type: AvroType;
  readonly fingerprint: bigint;
  readonly low: number;
  readonly high: number;
  readonly check: BodyCheck;
  /** null when the writer is the current schema (no resolution needed). */
  readonly resolver: ReturnType<AvroType['createResolver']> | null;
}

const cursor = new BodyCursor();
const EMPTY_BYTES = new Uint8Array(0);

/**
 * Encoder/decoder for one record type. Encodes with the current schema; decodes single-object
 * records from the current or any known older writer (resolved into the current shape) and JSON.
 */
export class AvroCodec<T> {
  readonly schemaName: SchemaName;
  /** Full Avro name, e.g. io.eddy.ClickEvent. */
  readonly fullName: string;
  /** The current (reader) schema. */
  readonly type: AvroType;
  /** CRC-64-AVRO fingerprint of the current schema. */
  readonly fingerprint: bigint;

  private readonly current: Writer;
  /** Writers by the low 32 bits of their fingerprint: a lookup without allocating a BigInt. */
  private readonly writers = new Map<number, Writer[]>();
  private readonly byVersion = new Map<string, Writer>();
  /** Writers of Confluent-framed records, by schema-registry id (see `addRegistryWriter`). */
  private readonly registryWriters = new Map<number, Writer>();

  constructor(schemaName: SchemaName) {
    const current = CURRENT[schemaName];
    this.schemaName = schemaName;
    this.type = current.type;
    this.fullName = fullNameOf(current.type);
    this.fingerprint = current.fingerprint;
    this.current = this.register(current.version, current.type, current.fingerprint);
    for (const old of HISTORY) {
      if (old.schemaName === schemaName) this.register(old.version, old.type, old.fingerprint);
    }
  }

  /** Labels of the writer schemas this codec reads: `current`, then history versions. */
  get versions(): readonly string[] {
    return [...this.byVersion.keys()];
  }

  /**
   * Registers another writer schema of this record (e.g. one fetched from a schema registry) so its
   * single-object records decode; returns its fingerprint. Throws InvalidRecordError('wrong_schema')
   * when the current schema cannot read it.
   */
  addWriterSchema(schema: AvroTypeSchema, version: string): bigint {
    const type = parseSchema(schema);
    return this.register(version, type, fingerprint64(canonicalForm(type))).fingerprint;
  }

  /**
   * Makes Confluent-framed records carrying registry id `schemaId` decode with `schema` as their
   * writer (resolved into the current shape). Registry ids are only meaningful for one registry, so
   * a codec serving a registry should be a fresh one (`createCodec`), not the shared `codecs`.
   * Throws InvalidRecordError('wrong_schema') when the current schema cannot read `schema`.
   */
  addRegistryWriter(schemaId: number, schema: AvroTypeSchema): void {
    const type = parseSchema(schema);
    const writer = this.register(`registry:${schemaId}`, type, fingerprint64(canonicalForm(type)));
    this.registryWriters.set(schemaId, writer);
  }

  /** Whether Confluent-framed records with this registry id decode (see `addRegistryWriter`). */
  hasRegistryWriter(schemaId: number): boolean {
    return this.registryWriters.has(schemaId);
  }

  encode(value: T): Buffer {
    return writeSingleObject(this.current.type, this.current.fingerprint, value);
  }

  /** Encodes with the current schema in the Confluent wire format, under its registry id. */
  encodeConfluent(schemaId: number, value: T): Buffer {
    return writeConfluent(this.current.type, schemaId, value);
  }

  /**
   * Encodes with an older writer schema (`v1`, ...), as an old producer would. The value must have
   * that version's shape; fields it does not know are ignored.
   */
  encodeVersion(version: string, value: unknown): Buffer {
    const writer = this.byVersion.get(version);
    if (writer === undefined) {
      throw new Error(
        `${this.schemaName} has no schema version ${version} (known: ${this.versions.join(', ')})`,
      );
    }
    return writeSingleObject(writer.type, writer.fingerprint, value);
  }

  /** Decodes one record; every failure is an InvalidRecordError carrying its dead-letter reason. */
  decode(bytes: Uint8Array): T {
    const first = bytes[0];
    if (first === undefined) throw new InvalidRecordError('not_avro', 'empty record');
    if (first === MARKER_0) return this.decodeSingleObject(bytes);
    if (first === CONFLUENT_MAGIC && bytes.length >= CONFLUENT_HEADER_SIZE)
      return this.decodeConfluent(bytes);
    if (firstNonWhitespace(bytes) === 0x7b) return this.decodeJson(bytes);
    throw new InvalidRecordError(
      'not_avro',
      `expected Avro single-object encoding (0xc3 0x01), Confluent framing or a JSON object; first byte 0x${first
        .toString(16)
        .padStart(2, '0')}`,
    );
  }

  private decodeSingleObject(bytes: Uint8Array): T {
    if (bytes.length < HEADER_SIZE || bytes[1] !== MARKER_1) {
      throw new InvalidRecordError(
        'not_avro',
        bytes[1] !== MARKER_1 && bytes.length > 1
          ? `bad single-object marker 0xc3 0x${bytes[1]!.toString(16).padStart(2, '0')}`
          : `single-object header truncated (${bytes.length} of ${HEADER_SIZE} bytes)`,
      );
    }
    const buf = asBuffer(bytes);
    const low = buf.readUInt32LE(2);
    const high = buf.readUInt32LE(6);
    let writer = this.current;
    if (writer.low !== low || writer.high !== high) writer = this.lookup(low, high);
    return this.decodeBody(buf, HEADER_SIZE, writer);
  }

  private decodeConfluent(bytes: Uint8Array): T {
    const buf = asBuffer(bytes);
    const schemaId = buf.readInt32BE(1);
    const writer = this.registryWriters.get(schemaId);
    if (writer === undefined) {
      throw new InvalidRecordError(
        'unknown_schema',
        this.registryWriters.size === 0
          ? `confluent wire format (schema id ${schemaId}) needs a schema registry (SCHEMA_REGISTRY_URL)`
          : `schema id ${schemaId} is not a ${this.fullName} schema resolved from the registry`,
      );
    }
    return this.decodeBody(buf, CONFLUENT_HEADER_SIZE, writer);
  }

  private decodeBody(buf: Buffer, offset: number, writer: Writer): T {
    cursor.buf = buf;
    cursor.pos = offset;
    try {
      writer.check(cursor);
    } finally {
      // Don't keep the last record's bytes reachable from a module-level object.
      cursor.buf = EMPTY_BYTES;
    }
    if (cursor.pos !== buf.length) {
      throw new InvalidRecordError(
        'not_avro',
        `${buf.length - cursor.pos} trailing bytes after ${this.fullName} (${writer.version})`,
      );
    }
    try {
      return (
        writer.resolver === null
          ? this.type.decode(buf, offset)
          : this.type.decode(buf, offset, writer.resolver)
      ).value as T;
    } catch (err) {
      throw new InvalidRecordError(
        'not_avro',
        `${this.fullName} (${writer.version}) body: ${(err as Error).message}`,
      );
    }
  }

  private lookup(low: number, high: number): Writer {
    for (const candidate of this.writers.get(low) ?? []) {
      if (candidate.high === high) return candidate;
    }
    const fingerprint = (BigInt(high) << 32n) | BigInt(low);
    const other = KNOWN_FINGERPRINTS.get(fingerprint);
    if (other !== undefined) {
      throw new InvalidRecordError(
        'wrong_schema',
        `expected ${this.fullName}, got ${fullNameOf(other.type)} (${other.version}, fingerprint ${hex64(fingerprint)})`,
      );
    }
    throw new InvalidRecordError(
      'unknown_schema',
      `no ${this.fullName} writer schema has fingerprint ${hex64(fingerprint)} (known: ${this.versions.join(', ')})`,
    );
  }

  private decodeJson(bytes: Uint8Array): T {
    let value: unknown;
    try {
      value = JSON.parse(asBuffer(bytes).toString('utf8'));
    } catch (err) {
      throw new InvalidRecordError(
        'not_avro',
        `starts like JSON but does not parse: ${(err as Error).message}`,
      );
    }
    if (!this.type.isValid(value)) throw describeInvalid(this.type, value);
    // clone() fills the defaults of absent optional fields and drops undeclared ones, the way a
    // reader schema treats an Avro writer's extra fields.
    return this.type.clone(value) as T;
  }

  private register(version: string, type: AvroType, fingerprint: bigint): Writer {
    const low = Number(fingerprint & 0xffffffffn);
    const high = Number(fingerprint >> 32n);
    const same = (this.writers.get(low) ?? []).find((w) => w.high === high);
    if (same !== undefined) {
      // Same canonical form (e.g. only docs or defaults changed): reuse the writer under a second label.
      this.byVersion.set(version, same);
      return same;
    }
    if (fullNameOf(type) !== this.fullName) {
      throw new InvalidRecordError(
        'wrong_schema',
        `${version} defines ${fullNameOf(type)}, not ${this.fullName}`,
      );
    }
    let resolver: Writer['resolver'] = null;
    if (fingerprint !== this.fingerprint) {
      try {
        resolver = this.type.createResolver(type);
      } catch (err) {
        throw new InvalidRecordError(
          'wrong_schema',
          `${this.fullName} cannot read writer schema ${version}: ${(err as Error).message}`,
        );
      }
    }
    const writer: Writer = {
      version,
      type,
      fingerprint,
      low,
      high,
      check: compileCheck(type.schema() as CanonicalSchema),
      resolver,
    };
    const bucket = this.writers.get(low);
    if (bucket === undefined) this.writers.set(low, [writer]);
    else bucket.push(writer);
    this.byVersion.set(version, writer);
    return writer;
  }
}

function firstNonWhitespace(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b;
  }
  return undefined;
}

/** A fresh codec (own writer registry) for one record type. */
export function createCodec<N extends SchemaName>(schemaName: N): AvroCodec<RecordTypes[N]> {
  return new AvroCodec<RecordTypes[N]>(schemaName);
}

/** The shared codecs every adapter uses. */
export const codecs = {
  clickEvent: createCodec('ClickEvent'),
  itemEvent: createCodec('ItemEvent'),
  recommendationList: createCodec('RecommendationList'),
  userState: createCodec('UserState'),
  itemState: createCodec('ItemState'),
  rankingState: createCodec('RankingState'),
  itemModelIncrements: createCodec('ItemModelIncrements'),
  sessionIndex: createCodec('SessionIndex'),
} as const;

const CODEC_BY_NAME: Readonly<Record<SchemaName, AvroCodec<unknown>>> = {
  ClickEvent: codecs.clickEvent,
  ItemEvent: codecs.itemEvent,
  RecommendationList: codecs.recommendationList,
  UserState: codecs.userState,
  ItemState: codecs.itemState,
  RankingState: codecs.rankingState,
  ItemModelIncrements: codecs.itemModelIncrements,
  SessionIndex: codecs.sessionIndex,
};

/** The shared codec of a record type, by schema name. */
export function codecFor<N extends SchemaName>(schemaName: N): AvroCodec<RecordTypes[N]> {
  return CODEC_BY_NAME[schemaName] as AvroCodec<RecordTypes[N]>;
}

/**
 * Single-object bytes of `value` written with a given schema version (`current`, `v1`, ...), as a
 * producer on that version would write them; for evolution tests and replaying old-writer records.
 */
export function encodeWith(schemaName: SchemaName, version: string, value: unknown): Buffer {
  return CODEC_BY_NAME[schemaName].encodeVersion(version, value);
}

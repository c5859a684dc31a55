import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Schema as AvroSchema, Type as AvroType } from 'avsc';
import {
  canonicalForm,
  codecFor,
  encodeWith,
  fingerprint64,
  parseSchema,
  SCHEMA_HISTORY_DIR,
  SCHEMAS_DIR,
  type SchemaName,
} from '../../streams/codec/avro.js';
import { CANDIDATE_SOURCES, EVENT_TYPES } from '../../streams/model/events.js';

/** The subset of Avro schema JSON these schemas use, enough to walk records for comparisons. */
type SchemaJson =
  | string
  | SchemaJson[]
  | {
      type: string;
      name?: string;
      namespace?: string;
      doc?: string;
      fields?: FieldJson[];
      symbols?: string[];
      items?: SchemaJson;
      values?: SchemaJson;
      default?: unknown;
    };
interface FieldJson {
  name: string;
  type: SchemaJson;
  doc?: string;
  default?: unknown;
}
type RecordJson = Exclude<SchemaJson, string | SchemaJson[]>;

interface SchemaFile {
  file: string;
  json: RecordJson;
  fullName: string;
}

function readSchemaFiles(dir: string): SchemaFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as RecordJson;
      const name = json.name ?? '';
      return { file, json, fullName: name.includes('.') ? name : `${json.namespace}.${name}` };
    });
}

const current = readSchemaFiles(SCHEMAS_DIR);
const history = readSchemaFiles(SCHEMA_HISTORY_DIR);

/** Named types defined anywhere in a schema, so references by name can be followed. */
function namedTypes(schema: SchemaJson, out = new Map<string, RecordJson>()): Map<string, RecordJson> {
  if (typeof schema === 'string') return out;
  if (Array.isArray(schema)) {
    for (const s of schema) namedTypes(s, out);
    return out;
  }
  if (schema.name !== undefined) out.set(schema.name, schema);
  for (const f of schema.fields ?? []) namedTypes(f.type, out);
  if (schema.items !== undefined) namedTypes(schema.items, out);
  if (schema.values !== undefined) namedTypes(schema.values, out);
  return out;
}

function deref(schema: SchemaJson, named: Map<string, RecordJson>): SchemaJson {
  return typeof schema === 'string' ? (named.get(schema) ?? schema) : schema;
}

/** `value` reduced to the fields `schema` (an older version) declares, recursively. */
function project(value: unknown, schema: SchemaJson, named: Map<string, RecordJson>): unknown {
  const s = deref(schema, named);
  if (typeof s === 'string' || value === null) return value;
  if (Array.isArray(s)) {
    // Unions here are ["null", X]: a non-null value belongs to the other branch.
    const branch = s.find((b) => b !== 'null');
    return branch === undefined ? value : project(value, branch, named);
  }
  if (s.type === 'record') {
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of s.fields ?? []) out[f.name] = project(record[f.name], f.type, named);
    return out;
  }
  if (s.type === 'array') return (value as unknown[]).map((v) => project(v, s.items ?? 'null', named));
  if (s.type === 'map') {
    const map = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(map).map(([k, v]) => [k, project(v, s.values ?? 'null', named)]),
    );
  }
  return value;
}

/** Asserts that every field the newer schema added (at any depth) holds its declared default. */
function assertAddedFieldsDefaulted(
  value: unknown,
  newer: SchemaJson,
  older: SchemaJson,
  named: { newer: Map<string, RecordJson>; older: Map<string, RecordJson> },
  path: string,
): void {
  const n = deref(newer, named.newer);
  const o = deref(older, named.older);
  if (typeof n === 'string' || typeof o === 'string' || value === null) return;
  if (Array.isArray(n) || Array.isArray(o)) {
    const nb = Array.isArray(n) ? n.find((b) => b !== 'null') : n;
    const ob = Array.isArray(o) ? o.find((b) => b !== 'null') : o;
    if (nb !== undefined && ob !== undefined) assertAddedFieldsDefaulted(value, nb, ob, named, path);
    return;
  }
  if (n.type === 'record' && o.type === 'record') {
    const record = value as Record<string, unknown>;
    for (const f of n.fields ?? []) {
      const old = (o.fields ?? []).find((g) => g.name === f.name);
      const where = path ? `${path}.${f.name}` : f.name;
      if (old === undefined) {
        assert.ok('default' in f, `${where} was added without a default`);
        assert.deepStrictEqual(record[f.name], f.default, `${where} should hold its default`);
      } else {
        assertAddedFieldsDefaulted(record[f.name], f.type, old.type, named, where);
      }
    }
  } else if (n.type === 'array' && o.type === 'array') {
    for (const item of value as unknown[]) {
      assertAddedFieldsDefaulted(item, n.items ?? 'null', o.items ?? 'null', named, `${path}[]`);
    }
  } else if (n.type === 'map' && o.type === 'map') {
    for (const v of Object.values(value as Record<string, unknown>)) {
      assertAddedFieldsDefaulted(v, n.values ?? 'null', o.values ?? 'null', named, `${path}{}`);
    }
  }
}

/** Random values of a type, normalised by a round trip (avsc generates floats float32 cannot hold). */
function samples(type: AvroType, count: number): unknown[] {
  return Array.from({ length: count }, () => type.fromBuffer(type.toBuffer(type.random())));
}

function schemaNameOf(fullName: string): SchemaName {
  return fullName.slice(fullName.lastIndexOf('.') + 1) as SchemaName;
}

const SAMPLES = 50;

/**
 * Record types with no older writer yet: their first version is the current one. The first change
 * to one of them must copy the released version to `schemas/history/` and drop it from this list.
 */
const FIRST_VERSION_ONLY: readonly string[] = ['io.eddy.SessionIndex'];

describe('schema files', () => {
  it('has a history fixture for every record type, each matching a current schema', () => {
    assert.ok(history.length > 0);
    for (const old of history) {
      assert.match(old.file, /^[a-z-]+\.v\d+\.avsc$/);
      assert.ok(
        current.some((c) => c.fullName === old.fullName),
        `${old.file}: no current schema for ${old.fullName}`,
      );
    }
    for (const cur of current) {
      const hasHistory = history.some((h) => h.fullName === cur.fullName);
      if (FIRST_VERSION_ONLY.includes(cur.fullName)) {
        assert.ok(!hasHistory, `${cur.file} has history now: remove it from FIRST_VERSION_ONLY`);
      } else {
        assert.ok(hasHistory, `${cur.file}: no history fixture`);
      }
    }
  });

  it('documents every field, record and enum', () => {
    for (const { file, json } of [...current, ...history]) {
      for (const named of namedTypes(json).values()) {
        assert.ok(named.doc, `${file}: ${named.name} has no doc`);
        for (const f of named.fields ?? []) assert.ok(f.doc, `${file}: ${named.name}.${f.name} has no doc`);
      }
    }
  });

  it('says what Eddy writes into a list: 1-based ranks, the relevance score before diversification', () => {
    // Checked against the data by the recommendation-lists property test (ranks 1..n) and the
    // Recommender (MMR picks the order, the score is the pre-diversification relevance).
    const list = current.find((c) => c.fullName === 'io.eddy.RecommendationList')!;
    const item = namedTypes(list.json).get('RecommendedItem')!;
    const doc = (field: string): string => item.fields?.find((f) => f.name === field)?.doc ?? '';
    assert.match(doc('rank'), /1-based/);
    assert.doesNotMatch(doc('rank'), /0-based/);
    assert.match(doc('score'), /before diversification/);
    assert.match(doc('score'), /need not decrease with rank/);
  });

  it('keeps enum symbols in step with the TypeScript model', () => {
    for (const { file, json } of [...current, ...history]) {
      const named = namedTypes(json);
      const eventType = named.get('EventType');
      if (eventType !== undefined) {
        assert.deepStrictEqual(eventType.symbols, [...EVENT_TYPES], file);
        assert.ok(
          EVENT_TYPES.includes(eventType.default as (typeof EVENT_TYPES)[number]),
          `${file}: EventType default`,
        );
      }
      const source = named.get('CandidateSource');
      if (source !== undefined) {
        assert.deepStrictEqual(source.symbols, [...CANDIDATE_SOURCES], file);
        assert.equal(source.default, 'unknown', file);
      }
    }
  });
});

for (const old of history) {
  const cur = current.find((c) => c.fullName === old.fullName);
  if (cur === undefined) continue; // reported by 'schema files' above
  const schemaName = schemaNameOf(old.fullName);
  const version = /\.([^.]+)\.avsc$/.exec(old.file)?.[1] ?? '';
  const oldType = parseSchema(old.json as AvroSchema);
  const curType = parseSchema(cur.json as AvroSchema);
  const named = { newer: namedTypes(cur.json), older: namedTypes(old.json) };

  describe(`${old.file} ↔ ${cur.file}`, () => {
    it('differs from the current schema on the wire (otherwise the fixture tests nothing)', () => {
      assert.notEqual(fingerprint64(canonicalForm(oldType)), fingerprint64(canonicalForm(curType)));
    });

    it('old writer → current reader: values kept, added fields defaulted', () => {
      const resolver = curType.createResolver(oldType);
      for (const value of samples(oldType, SAMPLES)) {
        const read = curType.fromBuffer(oldType.toBuffer(value), resolver);
        assert.deepStrictEqual(project(read, old.json, named.older), project(value, old.json, named.older));
        assertAddedFieldsDefaulted(read, cur.json, old.json, named, '');
      }
    });

    it('current writer → old reader: the old fields read back unchanged', () => {
      const resolver = oldType.createResolver(curType);
      for (const value of samples(curType, SAMPLES)) {
        const read = oldType.fromBuffer(curType.toBuffer(value), resolver);
        assert.deepStrictEqual(read, project(value, old.json, named.older));
      }
    });

    it(`codec decodes ${version} single-object records into the current shape`, () => {
      const codec = codecFor(schemaName);
      assert.ok(codec.versions.includes(version), `codec does not know ${version}`);
      const resolver = curType.createResolver(oldType);
      for (const value of samples(oldType, SAMPLES)) {
        const bytes = encodeWith(schemaName, version, value);
        assert.equal(bytes.readBigUInt64LE(2), fingerprint64(canonicalForm(oldType)));
        assert.deepStrictEqual(codec.decode(bytes), curType.fromBuffer(oldType.toBuffer(value), resolver));
      }
    });
  });
}

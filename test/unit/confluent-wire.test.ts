import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Schema as AvroSchema } from 'avsc';
import { RegistryCodecs } from '../../streams/adapters/kafka/schema-registry.js';
import { codecs, createCodec, parseSchema, SCHEMA_HISTORY_DIR } from '../../streams/codec/avro.js';
import { InvalidRecordError } from '../../streams/errors.js';
import type { ClickEvent, RecommendationList } from '../../streams/model/events.js';
import { topicNames } from '../../streams/pipeline/topics.js';
import type { SourceRecord } from '../../streams/ports/event-log.js';
import { type FakeRegistry, startFakeRegistry } from '../support/fake-registry.js';

/**
 * The Confluent wire format (magic 0, big-endian schema id, Avro body) next to single-object
 * encoding: framing, writer-schema resolution by registry id, and the dead-letter reasons of ids
 * that cannot be read — against a fake registry, so no broker is needed.
 */

const CLICK: ClickEvent = {
  eventId: 'e-1',
  userId: 'u-1',
  itemId: 'i-1',
  type: 'like',
  eventTime: Date.UTC(2026, 0, 1),
  sessionId: 's-1',
  context: { device: 'tv' },
};

const V1_CLICK_SCHEMA = JSON.parse(
  readFileSync(join(SCHEMA_HISTORY_DIR, 'click-event.v1.avsc'), 'utf8'),
) as AvroSchema;

function confluent(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidRecordError, `expected InvalidRecordError, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('expected a throw');
}

function record(topic: string, offset: number, value: Buffer): SourceRecord {
  return { topic, partition: 0, offset, key: 'u-1', value, timestamp: 0, headers: {} };
}

describe('AvroCodec: Confluent wire format', () => {
  it('frames with magic 0 and the big-endian id, and decodes once the id is registered', () => {
    const codec = createCodec('ClickEvent');
    const bytes = codec.encodeConfluent(258, CLICK);
    assert.equal(bytes[0], 0);
    assert.equal(bytes.readInt32BE(1), 258);
    assert.deepEqual(bytes.subarray(5), Buffer.from(codec.type.toBuffer(CLICK)));
    assert.equal(
      reasonOf(() => codec.decode(bytes)),
      'unknown_schema',
    );
    codec.addRegistryWriter(258, codec.type.schema());
    assert.deepEqual(codec.decode(bytes), CLICK);
    // Single-object records still decode through the same codec.
    assert.deepEqual(codec.decode(codecs.clickEvent.encode(CLICK)), CLICK);
  });

  it('resolves an older writer registered under its own id into the current shape', () => {
    const codec = createCodec('ClickEvent');
    codec.addRegistryWriter(7, V1_CLICK_SCHEMA);
    const v1 = parseSchema(V1_CLICK_SCHEMA);
    const { sessionId: _s, context: _c, ...old } = CLICK;
    const decoded = codec.decode(confluent(7, v1.toBuffer(old)));
    assert.deepEqual(decoded, { ...old, sessionId: null, context: {} });
  });

  it('refuses a writer of another record type, and checks bodies like single-object ones', () => {
    const codec = createCodec('ClickEvent');
    assert.throws(
      () => codec.addRegistryWriter(3, codecs.itemEvent.type.schema()),
      (e: unknown) => e instanceof InvalidRecordError && e.reason === 'wrong_schema',
    );
    codec.addRegistryWriter(4, codec.type.schema());
    const good = codec.encodeConfluent(4, CLICK);
    assert.equal(
      reasonOf(() => codec.decode(good.subarray(0, good.length - 3))),
      'not_avro',
    );
    assert.equal(
      reasonOf(() => codec.decode(Buffer.concat([good, Buffer.from([1])]))),
      'not_avro',
    );
  });

  it('the shared codec (no registry) names SCHEMA_REGISTRY_URL for Confluent-framed records', () => {
    assert.throws(
      () => codecs.clickEvent.decode(confluent(1, Buffer.from([0]))),
      (e: unknown) => e instanceof InvalidRecordError && /SCHEMA_REGISTRY_URL/.test(e.detail),
    );
  });
});

describe('RegistryCodecs against a registry', () => {
  let registry: FakeRegistry;
  const topics = topicNames('unit');

  before(async () => {
    registry = await startFakeRegistry();
  });
  after(async () => {
    await registry.close();
  });

  it('registers the list schema and writes lists the registry client reads back', async () => {
    const rc = new RegistryCodecs({ url: registry.url, topics, dimension: 4 });
    await rc.prepare();
    const id = rc.listSchemaIdentifier;
    assert.ok(id !== null && id > 0);
    const list: RecommendationList = {
      userId: 'u-1',
      listId: 'unit.clicks-0-5',
      triggeringEventId: 'e-1',
      generatedAt: 1,
      modelVersion: 'eddy/test',
      items: [{ itemId: 'i-9', score: 0.5, rank: 1, source: 'trending' }],
    };
    const bytes = Buffer.from(rc.pipelineCodecs().encodeList(list));
    assert.equal(bytes.readInt32BE(1), id);
    const client = new SchemaRegistry({ host: registry.url });
    // The client decodes into avsc record classes; compare as plain data.
    assert.deepEqual(JSON.parse(JSON.stringify(await client.decode(bytes))), list);
    // A second instance finds the same id instead of registering again.
    const again = new RegistryCodecs({ url: registry.url, topics, dimension: 4 });
    await again.prepare();
    assert.equal(again.listSchemaIdentifier, id);
  });

  it('resolves ids per batch: current and v1 writers decode, unknown and foreign ids get their reason', async () => {
    const current = registry.register(`${topics.clicks}-value`, codecs.clickEvent.type.schema());
    const v1 = registry.register(`${topics.clicks}-value`, V1_CLICK_SCHEMA);
    const item = registry.register(`${topics.items}-value`, codecs.itemEvent.type.schema());
    const rc = new RegistryCodecs({ url: registry.url, topics, dimension: 4 });
    const { sessionId: _s, context: _c, ...old } = CLICK;
    const values = [
      codecs.clickEvent.encodeConfluent(current, CLICK),
      confluent(v1, parseSchema(V1_CLICK_SCHEMA).toBuffer(old)),
      confluent(
        item,
        codecs.itemEvent.type.toBuffer({
          itemId: 'i-1',
          op: 'upsert',
          title: 't',
          categories: [],
          tags: [],
          available: true,
          contentVector: null,
          updatedAt: 1,
        }),
      ),
      confluent(424242, Buffer.from([2, 65])),
      codecs.clickEvent.encode(CLICK),
    ];
    const before = registry.requests.length;
    await rc.resolve(
      topics.clicks,
      values.map((v, i) => record(topics.clicks, i, v)),
    );
    const fetched = registry.requests.slice(before).filter((r) => r.startsWith('GET /schemas/ids/'));
    assert.equal(fetched.length, 4, 'each distinct id is fetched once');
    const decode = rc.pipelineCodecs().decodeClick;
    assert.deepEqual(decode(values[0]!), CLICK);
    assert.deepEqual(decode(values[1]!), { ...old, sessionId: null, context: {} });
    assert.equal(
      reasonOf(() => decode(values[2]!)),
      'wrong_schema',
    );
    assert.equal(
      reasonOf(() => decode(values[3]!)),
      'unknown_schema',
    );
    assert.deepEqual(decode(values[4]!), CLICK);
    // Resolved and unreadable ids are remembered: the next batch asks the registry nothing.
    const count = registry.requests.length;
    await rc.resolve(
      topics.clicks,
      values.map((v, i) => record(topics.clicks, i, v)),
    );
    assert.equal(registry.requests.length, count);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RegistryCodecs,
  type RegistryCodecsOptions,
  SchemaRegistryUnavailableError,
} from '../../streams/adapters/kafka/schema-registry.js';
import { codecs, schemaDocument } from '../../streams/codec/avro.js';
import type { ClickEvent } from '../../streams/model/events.js';
import { createLogger } from '../../streams/observe/logger.js';
import { topicNames } from '../../streams/pipeline/topics.js';
import type { SourceRecord } from '../../streams/ports/event-log.js';
import { type FakeRegistry, startFakeRegistry } from '../support/fake-registry.js';

/**
 * A schema registry that is briefly down is waited out, as Qdrant is: lookups retry with backoff,
 * readiness follows the outage, and only a configured give-up turns it into a failure, one that
 * says the registry could not be reached (not the client library's "status 400").
 */

const topics = topicNames('outage');
const CLICK: ClickEvent = {
  eventId: 'e1',
  userId: 'u1',
  itemId: 'i1',
  type: 'click',
  eventTime: Date.UTC(2024, 0, 1),
  sessionId: null,
  context: {},
};

function framedClick(schemaId: number): SourceRecord {
  return {
    topic: topics.clicks,
    partition: 0,
    offset: 0,
    key: CLICK.userId,
    value: codecs.clickEvent.encodeConfluent(schemaId, CLICK),
    timestamp: 0,
    headers: {},
  };
}

describe('schema registry outages', () => {
  let registry: FakeRegistry;
  const logged: { level: string; msg: string }[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    write: (line) => logged.push(JSON.parse(line) as { level: string; msg: string }),
  });

  before(async () => {
    registry = await startFakeRegistry();
  });
  after(async () => {
    await registry.close();
  });

  const codecsOn = (options: Partial<RegistryCodecsOptions> = {}): RegistryCodecs =>
    new RegistryCodecs({
      url: registry.url,
      topics,
      dimension: 0,
      logger,
      retryBaseMs: 5,
      retryMaxMs: 20,
      breakerCooldownMs: 20,
      ...options,
    });

  test('a lookup waits out an outage (not ready meanwhile) and completes when the registry is back', async () => {
    const id = registry.register(`${topics.clicks}-value`, schemaDocument('ClickEvent'));
    const wire = codecsOn();
    logged.length = 0;
    await registry.stopListening();
    let resolved = false;
    const resolving = wire.resolve(topics.clicks, [framedClick(id)]).then(() => {
      resolved = true;
    });
    while (wire.healthy) await sleep(2);
    await sleep(150);
    assert.equal(resolved, false, 'the batch waits for its writer schema');
    assert.equal(wire.healthy, false);
    await registry.listenAgain();
    await resolving;
    assert.equal(wire.healthy, true);
    assert.deepEqual(wire.pipelineCodecs().decodeClick(framedClick(id).value!), CLICK);
    const messages = logged.map((l) => `${l.level} ${l.msg}`);
    assert.ok(
      messages.some((m) => m.startsWith('warn schema registry call failed')),
      messages.join('\n'),
    );
    assert.ok(messages.some((m) => m === 'info schema registry answers again'));
    wire.close();
  });

  test('start-up waits for a registry that comes up late', async () => {
    const wire = codecsOn();
    await registry.stopListening();
    const preparing = wire.prepare();
    await sleep(100);
    await registry.listenAgain();
    await preparing;
    assert.equal(typeof wire.listSchemaIdentifier, 'number');
    wire.close();
  });

  test('past the give-up time the failure says the registry cannot be reached, not "status 400"', async () => {
    const wire = codecsOn({ giveUpAfterMs: 100 });
    await registry.stopListening();
    try {
      await assert.rejects(wire.resolve(topics.clicks, [framedClick(4242)]), (error: unknown) => {
        assert.ok(error instanceof SchemaRegistryUnavailableError, String(error));
        assert.match(error.message, /cannot connect \(ECONNREFUSED 127\.0\.0\.1:\d+\)/);
        assert.doesNotMatch(error.message, /status 400/);
        return true;
      });
    } finally {
      await registry.listenAgain();
      wire.close();
    }
  });

  test('an id the registry does not know is still a dead-letter reason, not an outage', async () => {
    const wire = codecsOn();
    await wire.resolve(topics.clicks, [framedClick(98_765)]);
    assert.equal(wire.healthy, true);
    assert.throws(() => wire.pipelineCodecs().decodeClick(framedClick(98_765).value!), /unknown_schema/);
    wire.close();
  });
});

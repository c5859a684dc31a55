import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createQdrantVectorStore,
  defaultQdrantSettings,
  QDRANT_SETTINGS,
} from '../../streams/adapters/qdrant/qdrant-settings.js';
import { formatHelp, parseSettings } from '../../streams/cli/settings.js';
import { ConfigError } from '../../streams/errors.js';

test('Qdrant settings: defaults, environment, flags and validation from one table', () => {
  const defaults = parseSettings(QDRANT_SETTINGS, [], {}).values;
  assert.deepEqual(defaults, defaultQdrantSettings());
  assert.equal(defaults.qdrantUrl, null);
  assert.equal(defaults.qdrantCollectionPrefix, '');

  const { values } = parseSettings(QDRANT_SETTINGS, ['--qdrant-timeout', '750ms', '--qdrant-exact'], {
    QDRANT_URL: 'http://qdrant:6333',
    QDRANT_COLLECTION_PREFIX: 'prod_',
    QDRANT_UPSERT_BATCH: '512',
    QDRANT_GIVE_UP_AFTER: 'never',
  });
  assert.equal(values.qdrantUrl, 'http://qdrant:6333');
  assert.equal(values.qdrantCollectionPrefix, 'prod_');
  assert.equal(values.qdrantTimeout, 750);
  assert.equal(values.qdrantUpsertBatch, 512);
  assert.equal(values.qdrantExact, true);
  assert.equal(values.qdrantGiveUpAfter, 0);

  assert.throws(
    () => parseSettings(QDRANT_SETTINGS, [], { QDRANT_URL: 'qdrant:6333' }),
    (e) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /QDRANT_URL \(--qdrant-url \/ QDRANT_URL\): expected an http:\/\/ or https:\/\/ URL/,
      );
      return true;
    },
  );
  assert.throws(() => parseSettings(QDRANT_SETTINGS, [], { QDRANT_COLLECTION_PREFIX: 'a/b' }), ConfigError);
  assert.throws(() => parseSettings(QDRANT_SETTINGS, [], { QDRANT_UPSERT_BATCH: '0' }), ConfigError);

  const help = formatHelp('usage', 'summary', QDRANT_SETTINGS);
  for (const s of Object.values(QDRANT_SETTINGS)) assert.ok(help.includes(s.env), s.env);
});

test('createQdrantVectorStore needs a URL and builds the store without contacting Qdrant', async () => {
  assert.throws(() => createQdrantVectorStore(defaultQdrantSettings()), ConfigError);
  const store = createQdrantVectorStore(
    defaultQdrantSettings({ qdrantUrl: 'http://127.0.0.1:6333', qdrantCollectionPrefix: 'x_' }),
  );
  assert.equal(store.qdrantName('eddy_items'), 'x_eddy_items');
  assert.equal(store.circuitState, 'closed');
  await store.close();
});

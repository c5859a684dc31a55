import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EDDY_SETTINGS, vectorStoreDescription } from '../../streams/cli/eddy-settings.js';
import { parseSettings } from '../../streams/cli/settings.js';

const describe = (argv: string[]): string =>
  vectorStoreDescription(parseSettings(EDDY_SETTINGS, argv, {}).values);

test('the start-up log says how vectors are searched: Qdrant, or which scan kernel and from where the graph', () => {
  assert.equal(
    describe([]),
    'in-process (exact scan with the WebAssembly SIMD kernel, HNSW graph from 50,000 items)',
  );
  // The SIMD kernel takes four components at a time; any other dimension scans in JavaScript.
  assert.equal(
    describe(['--dimension', '30', '--approximate-from', '0']),
    'in-process (exact scan with the JavaScript kernel)',
  );
  assert.equal(describe(['--qdrant-url', 'http://qdrant:6333']), 'qdrant http://qdrant:6333');
});

// The `eddy` command with QDRANT_URL set, as a user runs it: vectors live in Qdrant (the contract
// server standing in for it), every request held to the 1.19 spec; an unreachable Qdrant fails
// start-up with exit code 2 and the reason, instead of running without its vector store.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { killAll, parseLogLine, runEddy } from '../support/cli.js';
import { QdrantContractServer, specUnavailable } from './qdrant-contract-server.js';
import { assertNoViolations } from './support.js';

const skip = specUnavailable();
const SMALL = ['--users', '80', '--items', '150', '--http-port', '0', '--log-format', 'json'] as const;

after(killAll);

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('eddy --qdrant-url (contract server)', { skip }, () => {
  let server: QdrantContractServer;
  before(async () => {
    server = await QdrantContractServer.start();
  });
  after(async () => {
    await server?.close();
  });

  test('runs the stream with its vectors in Qdrant and exits 0', async () => {
    const run = await runEddy([...SMALL, '--events', '1500', '--examples', '1'], {
      env: { QDRANT_URL: server.url, QDRANT_COLLECTION_PREFIX: 'cli_', QDRANT_EXACT: 'true' },
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stderr
      .split('\n')
      .filter((l) => l !== '')
      .map(parseLogLine);
    assert.ok(
      lines.some((l) => l.msg === 'connected to Qdrant'),
      'logs the Qdrant connection',
    );
    const started = lines.find((l) => l.msg === 'eddy started');
    assert.match(String(started?.vectorStore), /^qdrant http/);
    for (const op of ['upsert_points', 'query_batch_points']) {
      assert.ok((server.requests.get(op) ?? 0) > 0, `${op} requests reached Qdrant`);
    }
    assert.ok(server.model.collection('cli_eddy_items').points.size > 100, 'item vectors stored');
    assert.ok(server.model.collection('cli_eddy_users').points.size > 10, 'user vectors stored');
    assert.ok(
      lines.some((l) => l.msg === 'example list'),
      'an example list, ranked with Qdrant, is logged',
    );
    assertNoViolations(server);
  });

  test('an unreachable Qdrant stops start-up with exit code 2 and the reason', async () => {
    const port = await closedPort();
    const run = await runEddy([...SMALL, '--events', '100'], {
      env: { QDRANT_URL: `http://127.0.0.1:${port}`, QDRANT_STARTUP_TIMEOUT: '300ms' },
      timeoutMs: 30_000,
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /cannot use Qdrant/);
  });
});

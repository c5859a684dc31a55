// A KafkaEddy stopped at once after it started (its item-updates follower still connecting or
// joining its group) must release everything: the process exits on its own. It did not before the
// follower's close waited for its start-up (a socket stayed open). Skipped when KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import { BROKERS, deleteTopics, SKIP_KAFKA, testKafka, testTopics, uniquePrefix } from '../support/kafka.js';

const SCRIPT = fileURLToPath(new URL('../support/start-stop.js', import.meta.url));

function runScript(prefix: string, delayMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, BROKERS, prefix, String(delayMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('stopping right after start', { skip: SKIP_KAFKA }, () => {
  let admin: Admin;
  const prefixes: string[] = [];

  before(async () => {
    admin = testKafka('eddy-it-stop').admin();
    await admin.connect();
  });

  after(async () => {
    for (const prefix of prefixes) await deleteTopics(admin, testTopics(prefix));
    await admin.disconnect();
  });

  test('the process exits by itself however soon the instance is stopped', { timeout: 120_000 }, async () => {
    for (const delayMs of [0, 0, 10, 50]) {
      const prefix = uniquePrefix('stop');
      prefixes.push(prefix);
      const { code, output } = await runScript(prefix, delayMs);
      assert.equal(
        code,
        0,
        `stopped after ${delayMs} ms: exit ${code} (killed after 30 s if it hung)\n${output}`,
      );
      assert.match(output, /stopped/);
    }
  });
});

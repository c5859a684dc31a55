import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { SCHEMAS_DIR } from '../../streams/codec/avro.js';

/**
 * `npm start` / `npm test` run scripts/setup.mjs first: it installs the locked dependencies only
 * when node_modules does not hold what package-lock.json locks (npm's own record of an install is
 * node_modules/.package-lock.json).
 */

const root = mkdtempSync(join(tmpdir(), 'eddy-setup-'));
after(() => rmSync(root, { recursive: true, force: true }));

type StaleReason = (dir: string) => string | null;

async function staleReason(): Promise<StaleReason> {
  const script = join(SCHEMAS_DIR, '..', 'scripts', 'setup.mjs');
  const module = (await import(pathToFileURL(script).href)) as { staleReason: StaleReason };
  return module.staleReason;
}

function project(name: string, locked: object, installed: object | null): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ packages: { '': {}, ...locked } }));
  if (installed !== null) {
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), JSON.stringify({ packages: installed }));
  }
  return dir;
}

test('setup installs only when node_modules is missing or differs from the lock', async () => {
  const stale = await staleReason();
  const locked = {
    'node_modules/a': { version: '1.0.0' },
    'node_modules/@x/native-other-os': { version: '2.0.0', optional: true },
  };
  assert.equal(stale(project('fresh-clone', locked, null)), 'node_modules is missing');
  assert.equal(stale(project('installed', locked, { 'node_modules/a': { version: '1.0.0' } })), null);
  assert.match(
    stale(project('older', locked, { 'node_modules/a': { version: '0.9.0' } })) ?? '',
    /node_modules\/a is 0\.9\.0, the lock says 1\.0\.0/,
  );
  assert.match(stale(project('missing-one', locked, {})) ?? '', /node_modules\/a is not installed/);
  assert.match(
    stale(
      project('extra', locked, {
        'node_modules/a': { version: '1.0.0' },
        'node_modules/gone': { version: '1.0.0' },
      }),
    ) ?? '',
    /node_modules\/gone is installed but no longer locked/,
  );
});

test('this checkout is installed as locked (what CI’s npm ci leaves), so npm test does not reinstall', async () => {
  const stale = await staleReason();
  assert.equal(stale(join(SCHEMAS_DIR, '..')), null);
});

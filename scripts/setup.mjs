#!/usr/bin/env node
// Makes `npm start` and `npm test` work verbatim on a fresh clone: installs the locked dependencies
// (npm ci) when node_modules is missing or does not match package-lock.json, then builds (tsc).
// Plain Node with built-ins only, since it runs before any dependency is there.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const args = new Set(process.argv.slice(2));

if (args.has('--help') && process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(
    'Usage: node scripts/setup.mjs [--no-build]\n' +
      'Installs the locked dependencies (npm ci) when node_modules is missing or stale, then builds.\n' +
      'npm start and npm test run it first.\n',
  );
  process.exit(0);
}

/** Why `dir`/node_modules does not hold what `dir`/package-lock.json locks, or null when it does. */
export function staleReason(dir = root) {
  const installedPath = join(dir, 'node_modules', '.package-lock.json');
  if (!existsSync(installedPath)) return 'node_modules is missing';
  const locked = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages ?? {};
  const installed = JSON.parse(readFileSync(installedPath, 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(locked)) {
    if (path === '') continue;
    const have = installed[path];
    // Optional packages for other platforms (native binaries) are legitimately absent.
    if (have === undefined) {
      if (entry.optional) continue;
      return `${path} is not installed`;
    }
    if (have.version !== entry.version) return `${path} is ${have.version}, the lock says ${entry.version}`;
  }
  for (const path of Object.keys(installed)) {
    if (!(path in locked)) return `${path} is installed but no longer locked`;
  }
  return null;
}

function run(command, commandArgs, what) {
  const started = Date.now();
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`setup: ${what} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(result.status ?? 1);
  }
  return ((Date.now() - started) / 1000).toFixed(1);
}

// Imported (by its test) it only provides staleReason; run, it sets up.
const invoked = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
const reason = invoked ? staleReason() : null;
if (reason !== null) {
  process.stderr.write(`setup: installing the locked dependencies (npm ci): ${reason}\n`);
  const seconds = run(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], 'npm ci');
  process.stderr.write(`setup: dependencies installed in ${seconds}s\n`);
}
if (invoked && !args.has('--no-build')) run(npm, ['run', '--silent', 'build'], 'the build (tsc)');

// Shared helpers for the API tests: start the real ctms binary on a free
// loopback port with a fresh database, and talk to it with fetch.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.CTMS_BIN || new URL('../../build/ctms', import.meta.url).pathname;

/** Runs a ctms command to completion; returns {status, stdout, stderr}. */
export function ctms(args, options = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', ...options });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Creates a database (optionally with the demo portfolio) and starts
 * `ctms serve --listen 127.0.0.1:0`. Resolves to a server handle with
 * .url, .db, .dir, .request(method, path, {body, headers}) and .stop().
 */
export async function startServer({ demo = false, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-test-'));
  const db = join(dir, 'ctms.db');
  let r = ctms(['init', '--db', db]);
  if (r.status !== 0) throw new Error(`ctms init failed: ${r.stderr}`);
  if (demo) {
    r = ctms(['demo', '--db', db]);
    if (r.status !== 0) throw new Error(`ctms demo failed: ${r.stderr}`);
  }
  const child = spawn(BIN, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--threads', '2', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${stderr}`)); });
  });
  const server = {
    url, db, dir, child,
    get stderr() { return stderr; },
    async request(method, path, { body, headers = {}, raw } = {}) {
      const init = { method, headers: { ...headers } };
      if (raw !== undefined) init.body = raw;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers['content-type'] = 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
  return server;
}

/** Counts audit events in the database, straight from the store. */
export function auditCount(db) {
  const r = spawnSync('sqlite3', [db, 'SELECT count(*) FROM audit_event'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

/** A study body that passes validation, with overrides. */
export function studyBody(overrides = {}) {
  return {
    protocol_number: `P-${Math.random().toString(36).slice(2, 10)}`,
    title: 'A test study',
    phase: 'PHASE2',
    target_enrollment: 100,
    ...overrides,
  };
}

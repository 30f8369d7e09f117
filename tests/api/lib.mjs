// Shared helpers for the API tests: start the real ctms binary on a free
// loopback port with a fresh database, and talk to it with fetch.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.CTMS_BIN || new URL('../../build/ctms', import.meta.url).pathname;

/**
 * The store the suite runs on: SQLite files by default; with CTMS_TEST_PG_DIR
 * naming a running scripts/pg-test-server cluster, a fresh PostgreSQL
 * database per server instead. The same tests run on both.
 */
export const PG_DIR = process.env.CTMS_TEST_PG_DIR || '';
const PG_SERVER = new URL('../../scripts/pg-test-server', import.meta.url).pathname;

function newDatabase(dir) {
  if (!PG_DIR) return join(dir, 'ctms.db');
  const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync(PG_SERVER, ['createdb', PG_DIR, name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot create a PostgreSQL database: ${r.stderr}`);
  return r.stdout.trim();
}

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
  const db = newDatabase(dir);
  let r = ctms(['init', '--db', db]);
  if (r.status !== 0) throw new Error(`ctms init failed: ${r.stderr}`);
  if (demo) {
    r = ctms(['demo', '--db', db]);
    if (r.status !== 0) throw new Error(`ctms demo failed: ${r.stderr}`);
  }
  return serveDatabase(db, dir, { args });
}

/**
 * Starts `ctms serve --listen 127.0.0.1:0` on an existing database (a server
 * restarted on the store another one left behind). dir is the directory
 * the handle's stop() removes. Resolves to the same handle as startServer.
 */
export const ADMIN = {
  username: 'test-admin', password: 'correct horse battery staple', display_name: 'Test Administrator',
};

/**
 * An administrator for the tests to act as, and an API token of theirs:
 * every request of a server handle carries it unless told otherwise
 * (headers.authorization: null sends none).
 */
export function adminToken(db) {
  let r = ctms(['user', 'list', '--db', db]);
  if (r.status !== 0) throw new Error(`ctms user list failed: ${r.stderr}`);
  if (!r.stdout.split('\n').some((line) => line.startsWith(`${ADMIN.username} `))) {
    r = ctms(['user', 'add', '--db', db, '--username', ADMIN.username, '--role', 'admin',
      '--display-name', ADMIN.display_name, '--unblinded', '--password-stdin'], { input: `${ADMIN.password}\n` });
    if (r.status !== 0) throw new Error(`ctms user add failed: ${r.stderr}`);
    r = ctms(['user', 'grant', '--db', db, '--username', ADMIN.username, '--role', 'manager']);
    if (r.status !== 0) throw new Error(`ctms user grant failed: ${r.stderr}`);
  }
  r = ctms(['token', 'create', '--db', db, '--username', ADMIN.username, '--days', '1']);
  if (r.status !== 0) throw new Error(`ctms token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

export async function serveDatabase(db, dir, { args = [] } = {}) {
  const token = adminToken(db);
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
    url, db, dir, child, token,
    get stderr() { return stderr; },
    async request(method, path, { body, headers = {}, raw } = {}) {
      const init = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
      if (init.headers.authorization === null) delete init.headers.authorization;
      if (raw !== undefined) init.body = raw;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers['content-type'] = 'application/json';
      }
      let res;
      try {
        res = await fetch(url + path, init);
      } catch (e) {
        // A kept-alive connection the server closed while this process sat
        // in a synchronous command (spawnSync blocks the timers that would
        // have dropped it): the request never reached the server. Once more
        // on a fresh connection.
        if (!(e instanceof TypeError) || !/fetch failed/.test(e.message)) throw e;
        res = await fetch(url + path, init);
      }
      const text = await res.text();
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
    get(path, headers = {}) { return this.request('GET', path, { headers }); },
    post(path, body, headers = {}) { return this.request('POST', path, { body, headers }); },
    patch(path, body, version, headers = {}) {
      const h = { ...headers };
      if (version !== undefined) h['if-match'] = `"${version}"`;
      return this.request('PATCH', path, { body, headers: h });
    },
    /** POST /api/v1/<collection>/<id>/transition; expects 200 unless told otherwise. */
    async transition(collection, id, to, on, reason, headers = {}) {
      const body = { to, on };
      if (reason !== undefined) body.reason = reason;
      return this.request('POST', `/api/v1/${collection}/${id}/transition`, { body, headers });
    },
    /** Stops with SIGTERM and answers the exit code; keep:true leaves the database in place. */
    async stop({ keep = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
    cleanup() { rmSync(dir, { recursive: true, force: true }); },
  };
  return server;
}

/** Counts audit events in the database, straight from the store. */
export function auditCount(db) {
  const r = sql(db, 'SELECT count(*) FROM audit_event');
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout);
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

/**
 * Runs SQL straight on the store, behind the application's back: the sqlite3
 * CLI for a file, psql for a PostgreSQL URL. Rows come out as "a|b" lines.
 * Returns {status, stdout, stderr}.
 */
export function sql(db, statements) {
  const r = db.startsWith('postgresql://')
    ? spawnSync(PG_SERVER, ['psql', PG_DIR, '-d', db.slice(db.lastIndexOf('/') + 1), '-At', '-F', '|',
      '-v', 'ON_ERROR_STOP=1', '-q', '-c', statements], { encoding: 'utf8' })
    : spawnSync('sqlite3', [db, statements], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}
export const sqlite = sql;

/**
 * Runs one SELECT straight on the store and answers its rows as objects
 * (column name to value; integers as numbers, TEXT as strings).
 */
export function sqlRows(db, query) {
  const pg = db.startsWith('postgresql://');
  const r = pg
    ? spawnSync(PG_SERVER, ['psql', PG_DIR, '-d', db.slice(db.lastIndexOf('/') + 1), '-At',
      '-v', 'ON_ERROR_STOP=1', '-q', '-c', `SELECT coalesce(json_agg(q), '[]'::json) FROM (${query}) q`],
    { encoding: 'utf8', maxBuffer: 1 << 28 })
    : spawnSync('sqlite3', ['-json', db, query], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${query}: ${r.stderr}`);
  const text = r.stdout.trim();
  return text ? JSON.parse(text) : [];
}

/** Removes the store's guards on the audit table, as a tamperer with the owner's rights would. */
export function dropAuditGuards(db) {
  return sql(db, db.startsWith('postgresql://')
    ? 'ALTER TABLE audit_event DISABLE TRIGGER USER'
    : 'DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete;');
}

/**
 * Checks the health of a server and stops it: no 5xx was ever answered, no
 * sanitizer complained, and the process exits 0 on SIGTERM (leaks make the
 * sanitized binary exit non-zero).
 */
export async function stopChecked(s, options) {
  let fivexx = null;
  if (s.child.exitCode === null) {
    const m = await s.get('/metrics');
    const hit = m.text.match(/ctms_http_requests_total\{class="5xx"\} (\d+)/);
    fivexx = hit ? Number(hit[1]) : null;
  }
  const code = await s.stop(options);
  const tail = s.stderr.slice(-4000);
  assert.equal(code, 0, `server exited with ${code} (signal ${s.child.signalCode}):\n${tail}`);
  assert.doesNotMatch(s.stderr, /runtime error|AddressSanitizer|LeakSanitizer/, tail);
  assert.equal(fivexx, 0, `the server answered ${fivexx} requests with 5xx:\n${tail}`);
}

/**
 * Asserts r is an RFC 9457 problem with the given status; each of fields
 * must be named in the "errors" list. Returns the problem.
 */
export function assertProblem(r, status, fields = []) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') || '', /^application\/problem\+json/, r.text);
  assert.ok(r.json, `problem body is not JSON: ${r.text}`);
  assert.equal(r.json.status, status);
  assert.equal(typeof r.json.type, 'string');
  assert.equal(typeof r.json.title, 'string');
  assert.doesNotMatch(r.text, /sqlite|SQL logic|constraint failed/i, 'the problem leaks store internals');
  for (const f of fields) {
    const errors = r.json.errors || [];
    const hit = errors.find((e) => e.field === f);
    assert.ok(hit, `errors do not name "${f}": ${r.text}`);
    assert.equal(typeof hit.message, 'string');
    assert.ok(hit.message.length > 0);
  }
  return r.json;
}

/** Runs fn and asserts it added no audit event (that is: wrote nothing). */
export async function assertNoWrite(s, fn) {
  const before = auditCount(s.db);
  const result = await fn();
  assert.equal(auditCount(s.db), before, 'a refused request wrote to the store');
  return result;
}

/**
 * Sends raw bytes on a fresh TCP connection. Resolves to {data, closed}:
 * what came back within timeoutMs, and whether the server closed the
 * connection by then.
 */
export function rawHttp(url, text, { timeoutMs = 1500 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname);
    let data = '';
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.write(text);
  });
}

/** Past dates used throughout: every step happens in 2024 or 2025. */
export const SITE_STEPS = ['feasibility', 'selected', 'approved', 'contracted', 'initiated', 'activated'];

let serial = 0;
/** A unique short suffix for numbers and names. */
export function uniq(prefix = 'X') {
  serial += 1;
  return `${prefix}${process.pid % 1000}-${serial}`;
}

/** A study-site body that passes validation, with overrides. */
export function siteBody(overrides = {}) {
  return {
    site_number: uniq('S'),
    institution_name: `Hospital ${uniq('H')}`,
    city: 'Boston',
    country: 'US',
    time_zone: 'America/New_York',
    investigator_name: 'Dr. Test',
    identified_on: '2024-02-01',
    ...overrides,
  };
}

/** A subject body that passes validation at site siteNumber, with overrides. */
export function subjectBody(siteNumber, overrides = {}) {
  return {
    site_number: siteNumber,
    screening_number: uniq('SCR'),
    sex: 'F',
    age: 52,
    screened_on: '2024-06-10',
    ...overrides,
  };
}

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

/** Creates a study and moves it planned -> start_up -> enrolling (2024). */
export async function createEnrollingStudy(s, overrides = {}) {
  const study = await ok(await s.post('/api/v1/studies', studyBody(overrides)), 201);
  await ok(await s.transition('studies', study.id, 'start_up', '2024-01-15'));
  return ok(await s.transition('studies', study.id, 'enrolling', '2024-03-01'));
}

/** Creates an approved protocol version of a study. */
export async function createApprovedProtocol(s, studyId, number = '1.0') {
  const pv = await ok(await s.post(`/api/v1/studies/${studyId}/protocol-versions`,
    { number, version_date: '2024-01-05' }), 201);
  await signApproval(s, pv.id);
  return ok(await s.transition('protocol-versions', pv.id, 'approved', '2024-01-20'));
}

/**
 * The test administrator (also a manager) signs protocol version pvId with
 * meaning "approved", which its approval needs (21 CFR 11.50).
 */
export async function signApproval(s, pvId) {
  return ok(await s.post('/api/v1/signatures', {
    entity: 'protocol_version', id: pvId, meaning: 'approved',
    username: ADMIN.username, password: ADMIN.password,
  }), 201);
}

/** Creates a study-site and walks it from identified to `upTo` (default activated). */
export async function createSite(s, studyId, overrides = {}, upTo = 'activated') {
  let site = await ok(await s.post(`/api/v1/studies/${studyId}/sites`, siteBody(overrides)), 201);
  if (upTo === 'identified') return site;
  for (const step of SITE_STEPS) {
    site = await ok(await s.transition('study-sites', site.id, step, '2024-04-01'));
    if (step === upTo) break;
  }
  return site;
}

/** An enrolling study with an approved protocol 1.0 and one activated site. */
export async function createEnrollingSetup(s) {
  const study = await createEnrollingStudy(s);
  const protocol = await createApprovedProtocol(s, study.id);
  const site = await createSite(s, study.id);
  return { study, protocol, site };
}

/** Walks a list through next_cursor; answers every item seen, in order. */
export async function walk(s, path, limit) {
  const items = [];
  let cursor = null;
  for (let pages = 0; pages < 1000; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await s.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.items));
    assert.ok(r.json.items.length <= limit);
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (cursor === null) return items;
    assert.equal(typeof cursor, 'string');
  }
  throw new Error('the list never ended');
}

// Accounts for the access and sign-in tests.
import { createHmac, randomBytes } from 'node:crypto';

/**
 * Adds a user with the command line (one argon2id hash) and answers
 * {username, password, token}: an API token of theirs (`days` long; 0 for
 * none; null for no token). role, study (protocol number), site (site
 * number) and unblinded give the first grant.
 */
export function addUser(db, { username, role, study, site, unblinded = false, password,
  displayName, days = 1 } = {}) {
  password = password || `Secret pass ${randomBytes(6).toString('hex')}`;
  const args = ['user', 'add', '--db', db, '--username', username, '--role', role,
    '--display-name', displayName || `User ${username}`, '--password-stdin'];
  if (study) args.push('--study', study);
  if (site) args.push('--site', site);
  if (unblinded) args.push('--unblinded');
  let r = ctms(args, { input: `${password}\n` });
  if (r.status !== 0) throw new Error(`ctms user add ${username} failed: ${r.stderr}`);
  let token = null;
  if (days !== null) {
    r = ctms(['token', 'create', '--db', db, '--username', username, '--days', String(days)]);
    if (r.status !== 0) throw new Error(`ctms token create failed: ${r.stderr}`);
    token = r.stdout.trim();
  }
  return { username, password, token };
}

/** The RFC 6238 code (HMAC-SHA-1, 30 s, 6 digits) of a base32 secret at unix time t. */
export function totpCode(secret, t = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${secret}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

// The command line around the store: init and schema versions, serve's
// refusals, CTMS_DB, and the demo portfolio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, adminToken, ctms, sqlite, startServer, stopChecked, walk } from './lib.mjs';

function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const envWithout = (extra = {}) => {
  const env = { ...process.env, ...extra };
  if (!('CTMS_DB' in extra)) delete env.CTMS_DB;
  return env;
};

/** Runs `ctms serve` expecting it to refuse: resolves to {code, stderr} (kills it after 5 s). */
function serveRefusal(args, env = envWithout()) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => { stdout += d; });
    const timer = setTimeout(() => child.kill('SIGTERM'), 5000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      assert.doesNotMatch(stderr, /Sanitizer|runtime error/, stderr);
      resolve({ code, signal, stderr, stdout });
    });
  });
}

/** ctms(), and no sanitizer report whatever the exit status. */
function run(args, options) {
  const r = ctms(args, options);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
  return r;
}

test('init creates a database, is idempotent, and records the schema version', (t) => {
  const db = join(tempDir(t), 'a.db');
  const r = run(['init', '--db', db], { env: envWithout() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /schema version \d+/);
  const again = run(['init', '--db', db], { env: envWithout() });
  assert.equal(again.status, 0, again.stderr);
  const versions = sqlite(db, 'SELECT count(*), max(version) FROM schema_migrations').stdout.split('|').map(Number);
  assert.ok(versions[0] >= 1);
  const v = run(['version']);
  assert.match(v.stdout, new RegExp(`schema ${versions[1]}\\b`));
  const verify = run(['audit', 'verify', '--db', db], { env: envWithout() });
  assert.equal(verify.status, 0);
  assert.match(verify.stdout, /intact: 0 events/);
});

test('init refuses a database with a newer schema, with a clear message', (t) => {
  const db = join(tempDir(t), 'f.db');
  assert.equal(run(['init', '--db', db], { env: envWithout() }).status, 0);
  const ins = sqlite(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)");
  assert.equal(ins.status, 0, ins.stderr);
  const r = run(['init', '--db', db], { env: envWithout() });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /9999/);
  assert.match(r.stderr, /newer/);
  // Nothing was changed: the future version is still there, alone at the top.
  assert.equal(sqlite(db, 'SELECT max(version) FROM schema_migrations').stdout, '9999');
  // audit verify refuses it too, and says why.
  for (const args of [['audit', 'verify', '--db', db]]) {
    const x = run(args, { env: envWithout() });
    assert.notEqual(x.status, 0);
    assert.match(x.stderr, /9999|newer/);
  }
});

test('serve refuses a database with a newer schema and says so', async (t) => {
  const db = join(tempDir(t), 'f.db');
  assert.equal(run(['init', '--db', db], { env: envWithout() }).status, 0);
  sqlite(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)");
  const r = await serveRefusal(['--db', db]);
  assert.equal(r.signal, null, 'serve started on a database from a newer ctms');
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stdout, /serving/);
  assert.match(r.stderr, /newer/, 'the message says the database is newer, not that it needs migrating');
});

test('serve refuses a file that is not an initialised database', async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  const r = await serveRefusal(['--db', empty]);
  assert.equal(r.signal, null, 'serve started on an empty file');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ctms init/);
  assert.doesNotMatch(r.stdout, /serving/);

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the tables you are looking for\n'.repeat(100));
  const r2 = await serveRefusal(['--db', text]);
  assert.equal(r2.signal, null);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /ctms: /);

  const r3 = await serveRefusal(['--db', join(dir, 'missing.db')]);
  assert.equal(r3.signal, null);
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /ctms init/);

  const r4 = await serveRefusal([]);
  assert.notEqual(r4.code, 0);
  assert.match(r4.stderr, /--db|CTMS_DB/);
});

test('CTMS_DB works instead of --db', async (t) => {
  const db = join(tempDir(t), 'env.db');
  const env = envWithout({ CTMS_DB: db });
  const r = run(['init'], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(db));
  const demo = run(['demo'], { env });
  assert.equal(demo.status, 0, demo.stderr);
  const v = run(['audit', 'verify'], { env });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /intact: [1-9]\d* events/);

  // serve takes it from the environment too.
  const token = adminToken(db);
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--threads', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${stderr}`)); });
  });
  try {
    const res = await fetch(`${url}/api/v1/studies`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json();
    assert.equal(body.items.length, 3);
  } finally {
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  }

  // --db wins over CTMS_DB.
  const other = join(tempDir(t), 'other.db');
  assert.equal(run(['init', '--db', other], { env }).status, 0);
  const ov = run(['audit', 'verify', '--db', other], { env });
  assert.match(ov.stdout, /intact: 0 events/);
});

test('the demo portfolio: three studies; DEMO-ONC-301 summary agrees with its lists', async () => {
  const s = await startServer({ demo: true });
  try {
    const studies = await s.get('/api/v1/studies');
    assert.equal(studies.status, 200);
    assert.equal(studies.json.items.length, 3);
    assert.deepEqual(studies.json.items.map((x) => x.protocol_number).sort(), ['DEMO-CV-201', 'DEMO-NEU-101', 'DEMO-ONC-301']);
    const onc = studies.json.items.find((x) => x.protocol_number === 'DEMO-ONC-301');
    assert.equal(onc.status, 'enrolling');
    assert.ok(onc.current_protocol_version, 'the oncology study has an approved protocol');

    const sum = await s.get(`/api/v1/studies/${onc.id}/summary`);
    assert.equal(sum.status, 200, sum.text);
    const subjects = await walk(s, `/api/v1/studies/${onc.id}/subjects`, 17);
    const sites = await walk(s, `/api/v1/studies/${onc.id}/sites`, 4);
    assert.ok(subjects.length > 0);
    assert.equal(sum.json.subjects.total, subjects.length);
    const bySubject = Object.fromEntries(Object.keys(sum.json.subjects.by_status).map((k) => [k, 0]));
    for (const x of subjects) bySubject[x.status] += 1;
    assert.deepEqual(sum.json.subjects.by_status, bySubject);
    assert.equal(sum.json.sites.total, sites.length);
    const bySite = Object.fromEntries(Object.keys(sum.json.sites.by_status).map((k) => [k, 0]));
    for (const x of sites) bySite[x.status] += 1;
    assert.deepEqual(sum.json.sites.by_status, bySite);
    const everEnrolled = subjects.filter((x) => ['enrolled', 'completed', 'withdrawn'].includes(x.status)).length;
    assert.equal(sum.json.enrollment.enrolled, everEnrolled);
    assert.equal(sum.json.enrollment.target, onc.target_enrollment);
    assert.equal(sum.json.enrollment.percent_of_target, Math.round((everEnrolled * 1000) / onc.target_enrollment) / 10);

    // Every subject is at a site of the study, and every enrolled one consented first.
    const siteIds = new Set(sites.map((x) => x.id));
    for (const x of subjects) {
      assert.ok(siteIds.has(x.study_site_id));
      if (x.enrolled_on) assert.ok(x.consented_on && x.consented_on <= x.enrolled_on, JSON.stringify(x));
    }
    // Sites with subjects have moved on from activated.
    for (const site of sites) {
      const n = subjects.filter((x) => x.study_site_id === site.id && x.enrolled_on).length;
      if (n > 0) assert.equal(site.status, 'enrolling', site.site_number);
    }
    // The demo's audit chain is intact, and demo refuses to load twice.
    const verify = run(['audit', 'verify', '--db', s.db], { env: envWithout() });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    const twice = run(['demo', '--db', s.db], { env: envWithout() });
    assert.equal(twice.status, 0);
    assert.equal((await s.get('/api/v1/studies')).json.items.length, 3);
  } finally {
    await stopChecked(s);
  }
});

test('serve on a path that does not exist leaves no file behind', async (t) => {
  const missing = join(tempDir(t), 'typo.db');
  const r = await serveRefusal(['--db', missing]);
  assert.notEqual(r.code, 0);
  assert.equal(existsSync(missing), false);
});

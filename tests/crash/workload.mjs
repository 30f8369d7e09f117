// Writers for the crash and backup tests, the ledger of what they were told,
// and the check of a store against that ledger.
//
// Several clients write through the API: create organisations and studies,
// PATCH them with If-Match, move studies through their lifecycle. Every POST
// carries an Idempotency-Key and is retried with it until it gets an answer,
// so a request the server never answered is settled by its retry; a PATCH
// that got no answer stays "unknown" and the check finds out from the audit
// trail whether it was applied. The ledger keeps every 2xx body. checkStore
// then proves, straight from the store:
//   - every acknowledged version of every record is there with exactly the
//     acknowledged content (replayed from the record's audit events);
//   - every record agrees with its audit events: as many events as versions,
//     a create first, each change's old value the previous new one, and the
//     replayed values equal to the row (no row without its event, no event
//     without its row, no change without its event);
//   - the number of audit events equals the number of writes applied: the
//     acknowledged ones plus the unanswered ones the store shows.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ctms, sql, sqlRows } from '../api/lib.mjs';

/** The seed of every random choice; CTMS_CRASH_SEED replays a run. */
export const SEED = Number(process.env.CTMS_CRASH_SEED || 20251122);

/** A small seeded generator (mulberry32): a function answering [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS = {
  organisation: { table: 'organisations', path: 'organisations', unique: 'name' },
  study: { table: 'studies', path: 'studies', unique: 'protocol_number' },
};
const META = new Set(['id', 'version', 'created_at', 'updated_at']);
const ACCOUNTS = new Set(['user', 'grant', 'api_token']);
const NEXT_STEP = {
  planned: ['start_up', '2024-01-15'],
  start_up: ['enrolling', '2024-03-01'],
  enrolling: ['follow_up', '2024-09-01'],
  follow_up: ['closed', '2025-01-10'],
};
const REQUEST_TIMEOUT_MS = 15000;

/** Raised when a request got no answer: the server died under it. */
class NoAnswer extends Error {}
/** Raised in every client once the test gives up (abort()). */
class Aborted extends Error {}

const pick = (rnd, list) => list[Math.floor(rnd() * list.length)];

/**
 * Writers and their ledger. `server` is the handle of the running server;
 * replace it after a restart. close() stops new requests (they wait),
 * quiet() waits until no request is in flight, open() lets them go on.
 */
export class Workload {
  constructor(server, { clients = 4, seed = SEED } = {}) {
    this.server = server;
    this.nclients = clients;
    this.seed = seed;
    this.gate = Promise.resolve();
    this.release = null;
    this.inflight = 0;
    this.stopping = false;
    this.aborted = false;
    this.records = [];           // {entity, id, version, status, owner}
    this.acks = new Map();       // "entity/id/version" -> the 2xx body
    this.unknown = [];           // writes without an answer (yet): {kind, entity, id?, field, value}
    this.failures = [];          // answers no correct server gives
    this.stats = { requests: 0, unanswered: 0, stale: 0, busy: 0, retried: 0 };
    this.workers = [];
  }

  start() {
    for (let k = 0; k < this.nclients; k++) this.workers.push(this.client(k));
  }

  close() {
    if (!this.release) this.gate = new Promise((resolve) => { this.release = resolve; });
  }

  open() {
    const release = this.release;
    this.release = null;
    if (release) release();
  }

  async quiet() {
    while (this.inflight > 0) await sleep(5);
  }

  /** Lets every client finish what it started (retries included) and return. */
  async stop() {
    this.stopping = true;
    this.open();
    await Promise.all(this.workers);
  }

  /** Ends every client at its next request, finished or not (a failed test). */
  async abort() {
    this.aborted = true;
    this.stopping = true;
    this.open();
    await Promise.allSettled(this.workers);
  }

  get acknowledged() { return this.acks.size; }

  /** Waits until n writes are acknowledged; fails on a wrong answer or after ms. */
  async until(n, ms = 30000) {
    const deadline = Date.now() + ms;
    while (this.acks.size < n) {
      assert.deepEqual(this.failures, [], 'answers no correct server gives');
      assert.ok(Date.now() < deadline, `only ${this.acks.size} of ${n} writes acknowledged in ${ms} ms`);
      await sleep(20);
    }
  }

  async request(method, path, body, headers = {}) {
    for (;;) {
      const g = this.gate;
      await g;
      if (g === this.gate) break;
    }
    if (this.aborted) throw new Aborted('the test gave up');
    const init = { method, headers: { authorization: `Bearer ${this.server.token}`, ...headers }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    this.inflight++;
    this.stats.requests++;
    try {
      const res = await fetch(this.server.url + path, init);
      const text = await res.text();
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, text, json };
    } catch (err) {
      if (err.name === 'TimeoutError') {
        this.failures.push(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms from a live server`);
      }
      this.stats.unanswered++;
      throw new NoAnswer(`${method} ${path}: ${err.cause?.code || err.message}`);
    } finally {
      this.inflight--;
    }
  }

  /** A POST retried with its Idempotency-Key until some answer other than 503 comes. */
  async post(path, body, key, pending) {
    let attempts = 0;
    for (;;) {
      attempts++;
      if (attempts > 1) this.stats.retried++;
      let r;
      try {
        r = await this.request('POST', path, body, { 'idempotency-key': key });
      } catch (err) {
        if (!(err instanceof NoAnswer)) throw err;
        if (!this.unknown.includes(pending)) this.unknown.push(pending);
        await sleep(5);
        continue;
      }
      if (r.status === 503) {
        this.stats.busy++;
        await sleep(20);
        continue;
      }
      const i = this.unknown.indexOf(pending);
      if (i >= 0) this.unknown.splice(i, 1);
      return { ...r, retried: attempts > 1 };
    }
  }

  /** A GET retried until it is answered. */
  async get(path) {
    for (;;) {
      try {
        const r = await this.request('GET', path);
        if (r.status !== 503) {
          if (r.status !== 200) this.failures.push(`GET ${path}: ${r.status} ${r.text}`);
          return r;
        }
      } catch (err) {
        if (!(err instanceof NoAnswer)) throw err;
      }
      await sleep(10);
    }
  }

  ack(entity, r, expected, what) {
    if (r.status !== expected || !r.json || typeof r.json.id !== 'number') {
      this.failures.push(`${what}: expected ${expected}${r.retried ? ' (a retry with the same Idempotency-Key)' : ''}, got ${r.status}: ${r.text}`);
      return null;
    }
    this.acks.set(`${entity}/${r.json.id}/${r.json.version}`, r.json);
    return r.json;
  }

  learn(rec, body) {
    if (body && body.version > rec.version) {
      rec.version = body.version;
      if (body.status) rec.status = body.status;
    }
  }

  async client(k) {
    try {
      await this.write(k);
    } catch (err) {
      if (!(err instanceof Aborted)) throw err;
    }
  }

  async write(k) {
    const rnd = prng(this.seed + 7919 * (k + 1));
    let n = 0;
    while (!this.stopping) {
      n++;
      const tag = `${k}-${n}`;
      const roll = rnd();
      const orgs = this.records.filter((r) => r.entity === 'organisation');
      const mine = this.records.filter((r) => r.entity === 'study' && r.owner === k && NEXT_STEP[r.status]);
      if (roll < 0.25 || orgs.length === 0) {
        const body = { name: `Org ${tag}`, kind: pick(rnd, ['sponsor', 'cro', 'vendor', 'institution']) };
        if (rnd() < 0.7) body.country = pick(rnd, ['US', 'DE', 'FR', 'GB', 'JP']);
        const pending = { kind: 'create', entity: 'organisation', field: 'name', value: body.name };
        const got = this.ack('organisation', await this.post('/api/v1/organisations', body, `c-${this.seed}-${tag}`, pending),
          201, `create organisation ${body.name}`);
        if (got) this.records.push({ entity: 'organisation', id: got.id, version: got.version, owner: k });
      } else if (roll < 0.45) {
        const body = {
          protocol_number: `P-${tag}`, title: `Study ${tag}`,
          phase: pick(rnd, ['PHASE1', 'PHASE2', 'PHASE3']), target_enrollment: 10 + Math.floor(rnd() * 500),
        };
        if (rnd() < 0.6) body.sponsor_id = pick(rnd, orgs).id;
        const pending = { kind: 'create', entity: 'study', field: 'protocol_number', value: body.protocol_number };
        const got = this.ack('study', await this.post('/api/v1/studies', body, `c-${this.seed}-${tag}`, pending),
          201, `create study ${body.protocol_number}`);
        if (got) this.records.push({ entity: 'study', id: got.id, version: got.version, status: got.status, owner: k });
      } else if (roll < 0.8 || mine.length === 0) {
        await this.patch(pick(rnd, this.records), tag, rnd);
      } else {
        const rec = pick(rnd, mine);
        const [to, on] = NEXT_STEP[rec.status];
        const pending = { kind: 'transition', entity: 'study', id: rec.id, field: 'status', value: to };
        const r = await this.post(`/api/v1/studies/${rec.id}/transition`, { to, on }, `t-${this.seed}-${tag}`, pending);
        this.learn(rec, this.ack('study', r, 200, `study ${rec.id} ${rec.status} -> ${to}`));
      }
    }
  }

  async patch(rec, tag, rnd) {
    const { path } = KINDS[rec.entity];
    const url = `/api/v1/${path}/${rec.id}`;
    const body = rec.entity === 'organisation'
      ? { name: `Org ${tag} renamed`, country: pick(rnd, ['US', 'DE', 'FR', 'GB', 'JP']) }
      : { title: `Title ${tag}`, target_enrollment: 10 + Math.floor(rnd() * 500) };
    if (rnd() < 0.3) body.change_reason = `correction ${tag}`;
    const field = rec.entity === 'organisation' ? 'name' : 'title';
    let r;
    try {
      r = await this.request('PATCH', url, body, { 'if-match': `"${rec.version}"` });
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      this.unknown.push({ kind: 'patch', entity: rec.entity, id: rec.id, field, value: body[field] });
      this.learn(rec, (await this.get(url)).json);
      return;
    }
    if (r.status === 412) {
      this.stats.stale++;
      this.learn(rec, r.json && r.json.current);
    } else if (r.status === 503) {
      this.stats.busy++;
    } else {
      this.learn(rec, this.ack(rec.entity, r, 200, `PATCH ${url} at version ${rec.version}`));
    }
  }
}

/** The API's form of a stored timestamp (integer microseconds, UTC). */
function isoMicros(us) {
  const seconds = Math.floor(us / 1e6);
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(us - seconds * 1e6).padStart(6, '0')}Z`;
}

/** Does an audit event show this unanswered write? */
function shows(ev, w) {
  if (ev.entity !== w.entity || (w.id !== undefined && ev.entity_id !== w.id)) return false;
  if (w.kind === 'create' && ev.action !== 'create') return false;
  if (w.kind === 'transition' && ev.action !== 'transition') return false;
  return ev.changes.some((c) => c.field === w.field && c.new === w.value);
}

/**
 * Checks the store against what the clients were told (see the top of this
 * file). `acks` are the acknowledged writes that must be there; `unknown`
 * lists writes that got no answer, which may or may not be applied. With
 * exact: false (a backup, taken while writes went on) the store may hold
 * writes beyond `acks`. Throws an assertion naming the first disagreement;
 * answers counts and the unanswered writes found applied.
 */
export function checkStore(db, { acks, unknown = [], label = '', exact = true }) {
  const at = label ? ` (${label})` : '';
  // The harness's own account and tokens (lib.mjs adminToken) are set up
  // through the command line, apart from the clients' writes.
  const events = sqlRows(db, 'SELECT seq, entity, entity_id, action, changes FROM audit_event ORDER BY seq')
    .filter((ev) => !ACCOUNTS.has(ev.entity));
  const byRecord = new Map();
  for (const ev of events) {
    assert.ok(KINDS[ev.entity], `audit event ${ev.seq} is about a ${ev.entity}, which no client wrote${at}`);
    ev.changes = JSON.parse(ev.changes);
    const key = `${ev.entity}/${ev.entity_id}`;
    if (!byRecord.has(key)) byRecord.set(key, []);
    byRecord.get(key).push(ev);
  }

  // Every record against its own audit events; states[v - 1] is version v.
  const rows = new Map();
  const states = new Map();
  let versions = 0;
  for (const [entity, { table }] of Object.entries(KINDS)) {
    for (const row of sqlRows(db, `SELECT * FROM ${table} ORDER BY id`)) {
      const key = `${entity}/${row.id}`;
      const evs = byRecord.get(key) || [];
      assert.equal(evs.length, row.version,
        `${key} is at version ${row.version} but has ${evs.length} audit events: a half-applied write${at}`);
      assert.equal(evs[0].action, 'create', `${key}: its first audit event is a ${evs[0].action}${at}`);
      const state = {};
      const history = [];
      for (const ev of evs) {
        for (const c of ev.changes) {
          assert.ok(c.field in row, `${key}: audit event ${ev.seq} changes ${c.field}, not a column${at}`);
          assert.deepEqual(c.old, state[c.field] ?? null,
            `${key}: audit event ${ev.seq} says ${c.field} was ${JSON.stringify(c.old)}, the events before it say ${JSON.stringify(state[c.field] ?? null)}${at}`);
          state[c.field] = c.new;
        }
        history.push({ ...state });
      }
      for (const column of Object.keys(row)) {
        if (META.has(column)) continue;
        assert.deepEqual(row[column], state[column] ?? null,
          `${key}: ${column} is ${JSON.stringify(row[column])} in the row but ${JSON.stringify(state[column] ?? null)} by its audit events${at}`);
      }
      rows.set(key, row);
      states.set(key, history);
      versions += row.version;
    }
  }
  for (const key of byRecord.keys()) {
    assert.ok(rows.has(key), `audit events for ${key}, which is not in the store: a half-applied create${at}`);
  }
  assert.equal(events.length, versions, `${events.length} audit events for ${versions} record versions${at}`);

  // Every acknowledged version, with exactly the content acknowledged.
  for (const [ackKey, body] of acks) {
    const key = ackKey.slice(0, ackKey.lastIndexOf('/'));
    const row = rows.get(key);
    assert.ok(row, `${key} was acknowledged (version ${body.version}) and is gone${at}`);
    assert.ok(row.version >= body.version,
      `${key} was acknowledged at version ${body.version} and is at version ${row.version}: an acknowledged write was lost${at}`);
    const state = states.get(key)[body.version - 1];
    for (const column of Object.keys(row)) {
      if (META.has(column)) continue;
      assert.deepEqual(body[column] ?? null, state[column] ?? null,
        `${key} version ${body.version}: acknowledged ${column} = ${JSON.stringify(body[column])}, the store has ${JSON.stringify(state[column] ?? null)}${at}`);
    }
    assert.equal(body.created_at, isoMicros(row.created_at), `${key}: created_at differs${at}`);
    if (row.version === body.version) {
      assert.equal(body.updated_at, isoMicros(row.updated_at), `${key}: updated_at differs${at}`);
    }
  }

  // Applied writes: the acknowledged ones and the unanswered ones the trail shows.
  const applied = [];
  const explained = new Set();
  for (const w of unknown) {
    const hits = events.filter((ev) => shows(ev, w));
    assert.ok(hits.length <= 1, `the unanswered ${w.kind} of ${w.entity} ${w.field}=${w.value} was applied ${hits.length} times${at}`);
    if (hits.length) {
      applied.push(w);
      explained.add(hits[0].seq);
    }
  }
  if (exact) {
    for (const ackKey of acks.keys()) {
      const cut = ackKey.lastIndexOf('/');
      explained.add(byRecord.get(ackKey.slice(0, cut))[Number(ackKey.slice(cut + 1)) - 1].seq);
    }
    const stray = events.filter((ev) => !explained.has(ev.seq)).slice(0, 5)
      .map((ev) => `${ev.seq} ${ev.action} ${ev.entity} ${ev.entity_id} ${JSON.stringify(ev.changes)}`);
    assert.equal(events.length, acks.size + applied.length,
      `${events.length} audit events, but ${acks.size} acknowledged writes and ${applied.length} applied unanswered ones${at}; `
      + `events no client was told of: ${stray.join('; ') || 'none'}`);
  }
  return { events: events.length, records: rows.size, applied };
}

/** `ctms audit verify` exits 0 on the store. */
export function assertAuditVerifies(db, label = '') {
  const r = ctms(['audit', 'verify', '--db', db]);
  assert.equal(r.status, 0, `ctms audit verify ${label}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /audit trail intact/);
}

/** PRAGMA integrity_check answers ok (SQLite). */
export function assertIntegrity(db, label = '') {
  const r = sql(db, 'PRAGMA integrity_check');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ok', `PRAGMA integrity_check ${label}: ${r.stdout}`);
}

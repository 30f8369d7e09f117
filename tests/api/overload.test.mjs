// Overload and slow clients: more work than the server takes is answered
// 503 busy at once, never queued without bound or dropped; a client that
// trickles its request cannot hold connections (docs/api.md, "Overload and
// slow clients"). All traffic goes to 127.0.0.1; every wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { PG_DIR, assertProblem, sql, startServer, studyBody } from './lib.mjs';

const PG_SERVER = new URL('../../scripts/pg-test-server', import.meta.url).pathname;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Holds the store's write lock from another process, as a long transaction
 * would: writes through the server wait for it. Resolves once the lock is
 * held to {release()}, which commits and resolves when the process is gone.
 */
async function holdWriteLock(db) {
  const pg = db.startsWith('postgresql://');
  const child = pg
    ? spawn(PG_SERVER, ['psql', PG_DIR, '-d', db.slice(db.lastIndexOf('/') + 1), '-At', '-q',
      '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const locked = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lock was not taken in 10 s: ${err}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('locked')) { clearTimeout(timer); resolve(); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`lock holder exited ${code}: ${err}`)); });
  });
  // SQLite: the write lock itself. PostgreSQL: a lock that makes inserting a
  // study wait (ctms waits up to lock_timeout, 10 s, on either store).
  child.stdin.write(pg
    ? "BEGIN; LOCK TABLE studies IN EXCLUSIVE MODE; SELECT 'locked';\n"
    : "BEGIN IMMEDIATE;\nSELECT 'locked';\n");
  await locked;
  return {
    async release() {
      child.stdin.end('COMMIT;\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * One HTTP/1.1 exchange on a fresh TCP connection, with Connection: close,
 * carrying the API token given (as every request but /healthz must).
 * Resolves (never rejects) to {status, headers, body, json, ms, error}:
 * status is null when no answer came (error says what happened instead).
 */
function rawRequest(port, method, path, { body, token, timeoutMs = 15000 } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let error = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const ms = performance.now() - started;
      const head = data.indexOf('\r\n\r\n');
      const m = data.match(/^HTTP\/1\.1 (\d{3}) /);
      if (!m || head < 0) {
        resolve({ status: null, error: error || `no answer (${data.length} bytes)`, ms });
        return;
      }
      const headers = new Map();
      for (const line of data.slice(0, head).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const text = data.slice(head + 4);
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      resolve({ status: Number(m[1]), headers: { get: (k) => headers.get(k) ?? null }, text, json, ms });
    };
    const timer = setTimeout(() => { error = 'timed out'; finish(); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => { data += d; });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', (e) => { error = e.code || e.message; finish(); });
    const payload = body === undefined ? '' : JSON.stringify(body);
    sock.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`
      + (token === undefined ? '' : `Authorization: Bearer ${token}\r\n`)
      + (body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`)
      + `\r\n${payload}`);
  });
}

/** A counter or gauge from /metrics (labels written as in the exposition). */
async function metric(s, name) {
  const r = await s.get('/metrics');
  assert.equal(r.status, 200, r.text);
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `/metrics has no ${name}:\n${r.text}`);
  return Number(line.slice(name.length + 1));
}

/** Asserts r is the 503 busy problem with a usable Retry-After. */
function assertBusy(r) {
  const p = assertProblem(r, 503);
  assert.equal(p.type, 'urn:ctms:problem:busy');
  assert.equal(typeof p.detail, 'string');
  const retry = r.headers.get('retry-after');
  assert.match(retry || '', /^[1-9]\d*$/, `Retry-After is ${retry}`);
}

/** Stops the server and checks it exited 0 without a sanitizer report. */
async function stopClean(s) {
  const code = await s.stop();
  const tail = s.stderr.slice(-4000);
  assert.equal(code, 0, `server exited with ${code} (signal ${s.child.signalCode}):\n${tail}`);
  assert.doesNotMatch(s.stderr, /runtime error|AddressSanitizer|LeakSanitizer/, tail);
}

test('more requests than --max-inflight are answered 503 busy at once; the admitted ones complete', async () => {
  const s = await startServer({ args: ['--threads', '1', '--max-inflight', '4', '--per-ip-limit', '0'] });
  const port = Number(new URL(s.url).port);
  try {
    const lock = await holdWriteLock(s.db);
    let released = false;
    try {
      // 200 writes at once against one worker stuck behind the lock: 4 are
      // admitted (one running, three queued), the rest must not wait.
      const t0 = performance.now();
      const pending = Array.from({ length: 200 }, (_, i) =>
        rawRequest(port, 'POST', '/api/v1/studies', { body: studyBody({ protocol_number: `FLOOD-${i}` }), token: s.token }));
      // The store waits 10 s for a lock before giving up: release before.
      let answered = 0;
      for (const p of pending) p.then((r) => { if (r.status) answered += 1; });
      for (let i = 0; i < 160 && answered < 196; i++) await sleep(50);
      const busyAfterMs = performance.now() - t0;
      const refusedWhileHeld = answered;
      assert.ok(refusedWhileHeld >= 150, `only ${answered} of 196 refusals came while the lock was held`);

      // Still saturated: /metrics answers (it needs no worker) and shows it;
      // /healthz, which needs the store, is refused like any request.
      assert.equal(await metric(s, 'ctms_http_requests_in_flight'), 4);
      assert.equal(await metric(s, 'ctms_http_requests_in_flight_limit'), 4);
      assertBusy(await s.get('/healthz'));
      const refusedBefore = await metric(s, 'ctms_http_busy_total{reason="in_flight"}');

      await lock.release();
      released = true;
      const rs = await Promise.all(pending);

      const lost = rs.filter((r) => r.status === null);
      assert.deepEqual(lost, [], 'every request gets an answer: none is reset or dropped');
      const created = rs.filter((r) => r.status === 201);
      const busy = rs.filter((r) => r.status === 503);
      assert.equal(created.length + busy.length, 200, `statuses: ${[...new Set(rs.map((r) => r.status))]}`);
      for (const r of busy) assertBusy(r);
      // Normally all 196 refusals come while the lock is held; on a starved
      // machine a few requests may arrive after it, and be admitted.
      assert.ok(created.length >= 4, 'the admitted requests complete once the store is free');
      assert.ok(busy.length >= refusedWhileHeld);
      const slowestBusy = Math.max(...busy.map((r) => r.ms));
      console.log(`# flood: 200 writes, max-inflight 4: ${created.length} created, ${busy.length} answered 503 `
        + `(${refusedWhileHeld} within ${Math.round(busyAfterMs)} ms, slowest ${Math.round(slowestBusy)} ms)`);

      // A refused request wrote nothing; the admitted ones wrote once each.
      const stored = sql(s.db, "SELECT count(*) FROM studies WHERE protocol_number LIKE 'FLOOD-%'");
      assert.equal(stored.status, 0, stored.stderr);
      assert.equal(Number(stored.stdout), created.length);

      // The counters agree, and every 5xx answered was a busy refusal.
      assert.ok(refusedBefore >= refusedWhileHeld + 1); // + /healthz
      assert.equal(await metric(s, 'ctms_http_busy_total{reason="in_flight"}'), busy.length + 1);
      assert.equal(await metric(s, 'ctms_http_requests_total{class="5xx"}'), busy.length + 1);
      assert.equal(await metric(s, 'ctms_http_requests_in_flight'), 0);

      // Healthy afterwards.
      assert.equal((await s.get('/healthz')).status, 200);
      assert.equal((await s.post('/api/v1/studies', studyBody())).status, 201);
    } finally {
      if (!released) await lock.release();
    }
  } finally {
    await stopClean(s);
  }
});

test('a request on a connection beyond --max-connections is answered 503 and the connection closed', async () => {
  const s = await startServer({ args: ['--threads', '1', '--max-connections', '4', '--per-ip-limit', '0'] });
  const port = Number(new URL(s.url).port);
  const idle = [];
  try {
    // Four connections that send nothing (one I/O thread accepts them in the
    // order they connected), then a fifth that asks.
    for (let i = 0; i < 4; i++) {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise((resolve) => sock.once('connect', resolve));
      idle.push(sock);
    }
    const r = await rawRequest(port, 'GET', '/api/v1/studies', { token: s.token });
    assertBusy(r);
    assert.equal(r.headers.get('connection'), 'close');
    for (const sock of idle) sock.destroy();
    // Until the server has seen them close, a newcomer may still be refused.
    let after;
    let refused = 1;
    for (let i = 0; i < 50; i++) {
      after = await rawRequest(port, 'GET', '/api/v1/studies', { token: s.token });
      if (after.status === 200) break;
      assertBusy(after);
      refused += 1;
      await sleep(50);
    }
    assert.equal(after.status, 200, 'served again once connections close');
    assert.equal(await metric(s, 'ctms_http_busy_total{reason="connections"}'), refused);
  } finally {
    for (const sock of idle) sock.destroy();
    await stopClean(s);
  }
});

test('slowloris: clients trickling their headers neither keep others out nor hold on past --timeout', async () => {
  const TIMEOUT_S = 2;
  const SLOW = 20;
  const s = await startServer({ args: ['--threads', '2', '--timeout', String(TIMEOUT_S), '--per-ip-limit', '24'] });
  const port = Number(new URL(s.url).port);
  const slow = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < SLOW; i++) {
      const sock = net.connect(port, '127.0.0.1');
      const c = { sock, closedAt: null, data: '', sent: 0 };
      sock.on('data', (d) => { c.data += d; });
      sock.on('error', () => {});
      sock.on('close', () => { c.closedAt = performance.now() - t0; });
      sock.write('GET /api/v1/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      // One more byte every 250 ms: well inside an idle timeout, so only a
      // deadline on the whole request can end it. At most 40 bytes.
      c.timer = setInterval(() => {
        if (c.closedAt !== null || c.sent >= 40) { clearInterval(c.timer); return; }
        c.sent += 1;
        sock.write('a');
      }, 250);
      slow.push(c);
    }
    await sleep(200);
    assert.equal(slow.filter((c) => c.closedAt !== null).length, 0, 'the slow clients were let in');

    // While they trickle, normal requests from the same address are served.
    const latencies = [];
    while (performance.now() - t0 < (TIMEOUT_S - 0.4) * 1000) {
      for (const path of ['/healthz', '/api/v1/studies']) {
        const started = performance.now();
        const r = await s.get(path);
        latencies.push(performance.now() - started);
        assert.equal(r.status, 200, `${path} during the slow clients: ${r.text}`);
      }
      await sleep(50);
    }
    assert.ok(latencies.length >= 10, `only ${latencies.length} requests were made`);
    const worst = Math.max(...latencies);
    assert.ok(worst < 1000, `a normal request took ${Math.round(worst)} ms while the slow clients trickled`);
    assert.equal(slow.filter((c) => c.closedAt !== null).length, 0, 'the slow clients are held until their deadline');

    // Then each slow client is cut off: about --timeout after it connected
    // (plus half a second, and the reaper's round), although it never
    // stopped sending.
    for (let i = 0; i < 100 && slow.some((c) => c.closedAt === null); i++) await sleep(50);
    const open = slow.filter((c) => c.closedAt === null).length;
    assert.equal(open, 0, `${open} slow clients still connected ${Math.round(performance.now() - t0)} ms in`);
    const closedAt = slow.map((c) => c.closedAt);
    assert.ok(Math.min(...closedAt) >= TIMEOUT_S * 1000, `cut at ${Math.round(Math.min(...closedAt))} ms`);
    assert.ok(Math.max(...closedAt) <= TIMEOUT_S * 1000 + 1700, `cut at ${Math.round(Math.max(...closedAt))} ms`);
    assert.ok(slow.every((c) => c.sent > 4), 'the slow clients kept sending until cut off');
    assert.ok(await metric(s, 'ctms_http_slow_clients_cut_total') >= SLOW);
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`# slowloris: ${SLOW} trickling clients, ${latencies.length} normal requests, latency median `
      + `${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms, worst ${worst.toFixed(1)} ms; slow clients cut `
      + `${Math.round(Math.min(...closedAt))}-${Math.round(Math.max(...closedAt))} ms after connecting`);

    assert.equal((await s.get('/api/v1/studies')).status, 200);
  } finally {
    for (const c of slow) { clearInterval(c.timer); c.sock.destroy(); }
    await stopClean(s);
  }
});

test('--per-ip-limit: one address cannot hold more connections than the limit', async () => {
  const s = await startServer({ args: ['--threads', '1', '--per-ip-limit', '8'] });
  const port = Number(new URL(s.url).port);
  const socks = [];
  try {
    const results = await Promise.all(Array.from({ length: 12 }, () => new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const c = { closed: false, data: '' };
      socks.push(sock);
      sock.on('data', (d) => { c.data += d; });
      sock.on('error', () => {});
      sock.on('close', () => { c.closed = true; });
      setTimeout(() => resolve(c), 700);
    })));
    const refused = results.filter((c) => c.closed);
    assert.equal(refused.length, 4, `${refused.length} of 12 connections were refused`);
    assert.ok(refused.every((c) => c.data === ''), 'a refused connection gets no answer');
    // The eight let in are served.
    const kept = socks[results.findIndex((c) => !c.closed)];
    const answer = await new Promise((resolve) => {
      let data = '';
      kept.on('data', (d) => { data += d; });
      kept.on('close', () => resolve(data));
      kept.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      setTimeout(() => resolve(data), 5000);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    for (const sock of socks) sock.destroy();
    let r;
    for (let i = 0; i < 50; i++) {
      r = await rawRequest(port, 'GET', '/healthz');
      if (r.status === 200) break;
      await sleep(50);
    }
    assert.equal(r.status, 200);
  } finally {
    for (const sock of socks) sock.destroy();
    await stopClean(s);
  }
});

test('SIGTERM with requests admitted: they are finished and answered, then the server exits 0', async () => {
  const s = await startServer({ args: ['--threads', '1'] });
  const port = Number(new URL(s.url).port);
  const lock = await holdWriteLock(s.db);
  let released = false;
  try {
    const pending = Array.from({ length: 3 }, (_, i) =>
      rawRequest(port, 'POST', '/api/v1/studies', { body: studyBody({ protocol_number: `TERM-${i}` }), token: s.token }));
    for (let i = 0; i < 100 && (await metric(s, 'ctms_http_requests_in_flight')) < 3; i++) await sleep(20);
    assert.equal(await metric(s, 'ctms_http_requests_in_flight'), 3);
    const exited = new Promise((resolve) => s.child.on('exit', resolve));
    s.child.kill('SIGTERM');
    await sleep(300);
    assert.equal(s.child.exitCode, null, 'the server waits for the admitted requests');
    await lock.release();
    released = true;
    const rs = await Promise.all(pending);
    assert.deepEqual(rs.map((r) => r.status), [201, 201, 201], rs.map((r) => r.error || r.text).join('\n'));
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  } finally {
    if (!released) await lock.release();
    await stopClean(s);
  }
});

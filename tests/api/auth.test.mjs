// Signing in and out, sessions, API tokens, passwords, second factors and
// account administration (21 CFR 11.10(d), 11.300): what a browser and a
// script see, and what the audit trail keeps of every attempt. Time-based
// rules (idle and absolute expiry, lockout, token expiry) are exercised by
// moving the stored instants back in the real store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  startServer, stopChecked, ctms, addUser, totpCode, auditCount, assertProblem, sql, sqlRows,
  createEnrollingStudy,
} from './lib.mjs';

let s;
const U = {}; // username -> {username, password, token, id}
const MINUTE_US = 60 * 1000000;

before(async () => {
  s = await startServer();
  // One argon2id hash each, here and nowhere else.
  U.alice = addUser(s.db, { username: 'alice', role: 'monitor', displayName: 'Alice Monitor' });
  U.bob = addUser(s.db, { username: 'bob', role: 'viewer' });
  U.carol = addUser(s.db, { username: 'carol', role: 'viewer' });
  U.dave = addUser(s.db, { username: 'dave', role: 'viewer' });
  U.erin = addUser(s.db, { username: 'erin', role: 'finance' });
  U.frank = addUser(s.db, { username: 'frank', role: 'viewer' });
  U.heidi = addUser(s.db, { username: 'heidi', role: 'safety' });
  for (const u of (await ok(await s.get('/api/v1/users'))).items) if (U[u.username]) U[u.username].id = u.id;
});

after(async () => { await stopChecked(s); });

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

const NOBODY = { authorization: null };
const GENERIC = 'the username, password or second factor is not right';

/** POST /sessions as a browser would (no bearer token). */
function login(username, password, extra = {}, headers = {}) {
  return s.request('POST', '/api/v1/sessions', { body: { username, password, ...extra }, headers: { ...NOBODY, ...headers } });
}

/** Signs in; answers {cookie, csrf, user, setCookie, expires_at}. */
async function signIn(u, extra = {}) {
  const r = await login(u.username, u.password, extra);
  const body = await ok(r, 201);
  const setCookie = r.headers.get('set-cookie') || '';
  const m = setCookie.match(/(?:^|,\s*)ctms_session=([^;]*)/);
  assert.ok(m, `no session cookie: ${setCookie}`);
  return { cookie: m[1], csrf: body.csrf_token, user: body.user, setCookie, expires_at: body.expires_at, body, headers: r.headers };
}

/** A request with the session's cookie; csrf: true sends its X-CSRF-Token. */
function withSession(sess, method, path, { body, csrf = false, headers = {} } = {}) {
  const h = { ...NOBODY, cookie: `ctms_session=${sess.cookie}`, ...headers };
  if (csrf === true) h['x-csrf-token'] = sess.csrf;
  else if (typeof csrf === 'string') h['x-csrf-token'] = csrf;
  return s.request(method, path, { body, headers: h });
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const nowUs = () => Date.now() * 1000;

/** Moves a session's instants in the store, by its cookie. */
function moveSession(sess, set) {
  const r = sql(s.db, `UPDATE sessions SET ${set} WHERE token_hash = '${sha256(sess.cookie)}'`);
  assert.equal(r.status, 0, r.stderr);
}

/** The audit events after seq `since` (through the API, as the test administrator). */
async function eventsSince(since) {
  const items = [];
  let cursor = null;
  do {
    const page = await ok(await s.get(`/api/v1/audit?limit=1000${cursor ? `&cursor=${cursor}` : ''}`));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items.filter((e) => e.seq > since);
}
const lastSeq = () => Number(sql(s.db, 'SELECT coalesce(max(seq), 0) FROM audit_event').stdout);

const median = (xs) => { const a = [...xs].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };

// ------------------------------------------------------------------ sessions

test('signing in: a session cookie (HttpOnly, SameSite=Strict), a CSRF token, and who I am', async () => {
  const since = lastSeq();
  const t0 = Date.now();
  const sess = await signIn(U.alice);
  assert.match(sess.cookie, /^[0-9a-f]{64}$/);
  assert.match(sess.setCookie, /HttpOnly/i);
  assert.match(sess.setCookie, /SameSite=Strict/i);
  assert.match(sess.setCookie, /Path=\//);
  const maxAge = Number(sess.setCookie.match(/Max-Age=(\d+)/i)?.[1]);
  assert.ok(Math.abs(maxAge - 12 * 3600) <= 5, `Max-Age ${maxAge}`);
  assert.match(sess.csrf, /^[0-9a-f]{64}$/);
  assert.notEqual(sess.csrf, sess.cookie);
  const expires = Date.parse(sess.expires_at);
  assert.ok(Math.abs(expires - (t0 + 12 * 3600 * 1000)) < 60000, `expires_at ${sess.expires_at}`);
  assert.equal(sess.user.username, 'alice');
  assert.equal(sess.user.display_name, 'Alice Monitor');
  assert.deepEqual(sess.user.grants.map((g) => g.role), ['monitor']);
  for (const secret of ['password', 'password_hash', 'totp_secret']) assert.ok(!(secret in sess.user), secret);
  assert.ok(!JSON.stringify(sess.body).includes(sess.cookie), 'the session token is in the body too');
  assert.match(sess.headers.get('cache-control') || '', /no-store/);

  const me = await ok(await withSession(sess, 'GET', '/api/v1/sessions/current'));
  assert.equal(me.username, 'alice');
  assert.equal(me.session, true);
  await ok(await withSession(sess, 'GET', '/api/v1/studies'));
  // The store keeps hashes only: a copy of it signs no one in.
  const rows = sqlRows(s.db, `SELECT token_hash, csrf_hash FROM sessions WHERE user_id = ${U.alice.id}`);
  assert.ok(rows.some((r) => r.token_hash === sha256(sess.cookie)));
  assert.ok(rows.every((r) => r.token_hash !== sess.cookie && r.csrf_hash !== sess.csrf));

  const events = await eventsSince(since);
  const login = events.find((e) => e.entity === 'user' && e.action === 'login');
  assert.ok(login, JSON.stringify(events));
  assert.equal(login.entity_id, U.alice.id);
  assert.equal(login.actor_id, U.alice.id);
  assert.ok(!JSON.stringify(events).includes(U.alice.password), 'a password reached the audit trail');
});

test('no session, a made-up one, or a malformed Authorization: 401', async () => {
  assertProblem(await s.request('GET', '/api/v1/sessions/current', { headers: NOBODY }), 401);
  assertProblem(await withSession({ cookie: 'a'.repeat(64) }, 'GET', '/api/v1/sessions/current'), 401);
  assertProblem(await withSession({ cookie: "x' OR '1'='1" }, 'GET', '/api/v1/studies'), 401);
  for (const authorization of [`Basic ${Buffer.from('alice:x').toString('base64')}`, 'Bearer ', 'Bearer nope',
    `Bearer ${'f'.repeat(5000)}`, `Bearer ${U.alice.token}x`]) {
    assertProblem(await s.request('GET', '/api/v1/studies', { headers: { authorization } }), 401);
  }
});

test('wrong password and unknown user: the same answer, after the same work', async () => {
  const since = lastSeq();
  const wrong = await login('frank', 'not the right password');
  const unknown = await login('nobody-here', 'not the right password');
  assertProblem(wrong, 401);
  assertProblem(unknown, 401);
  assert.equal(wrong.json.detail, unknown.json.detail);
  assert.equal(wrong.json.detail, GENERIC);
  assert.equal(wrong.json.type, unknown.json.type);
  assert.equal(wrong.json.title, unknown.json.title);
  assert.equal(wrong.headers.get('set-cookie'), null);

  // Timing: medians of a few of each, interleaved. An unknown user must cost
  // a password hash too, or its answer comes back many times faster.
  const timed = async (username) => {
    const t = process.hrtime.bigint();
    const r = await login(username, 'not the right password');
    assert.equal(r.status, 401, r.text);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const known = [];
  const unknownMs = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) { // below the lockout of 5
      known.push(await timed('frank'));
      unknownMs.push(await timed(`ghost-${round}-${i}`));
    }
    await ok(await login('frank', U.frank.password), 201); // resets the failure count
  }
  const ratio = median(unknownMs) / median(known);
  assert.ok(ratio > 0.5 && ratio < 2,
    `unknown user ${median(unknownMs).toFixed(1)} ms, wrong password ${median(known).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);

  // Every attempt is in the audit trail, with the reason.
  const events = (await eventsSince(since)).filter((e) => e.entity === 'user');
  const failed = events.filter((e) => e.action === 'login_failed');
  assert.equal(failed.length, 2 + 18);
  const unknownEvents = failed.filter((e) => e.entity_id === 0);
  assert.equal(unknownEvents.length, 10);
  assert.ok(unknownEvents.every((e) => e.reason === 'unknown user'));
  // Not the name as typed (it may be a password typed in the wrong field):
  // the first 16 hex digits of its SHA-256, which ties attempts together.
  const digest = createHash('sha256').update('nobody-here').digest('hex').slice(0, 16);
  assert.equal(unknownEvents.filter((e) => e.changes.some((c) => c.field === 'username_sha256' && c.new === digest)).length, 1);
  assert.ok(unknownEvents.every((e) => e.changes.some((c) => c.field === 'username_sha256' && /^[0-9a-f]{16}$/.test(c.new))));
  assert.ok(!/nobody-here|ghost-/.test(JSON.stringify(unknownEvents)));
  const frankEvents = failed.filter((e) => e.entity_id === U.frank.id);
  assert.equal(frankEvents.length, 10);
  assert.ok(frankEvents.every((e) => e.reason === 'wrong password'));
  assert.equal(events.filter((e) => e.action === 'login' && e.entity_id === U.frank.id).length, 3);
  assert.ok(!JSON.stringify(events).includes('not the right password'), 'a typed password reached the audit trail');
});

test('five failures lock the account for 15 minutes: 423 even with the right password, each attempt audited', async () => {
  const since = lastSeq();
  for (let i = 0; i < 5; i++) assertProblem(await login('bob', `wrong password ${i}`), 401);
  const locked = assertProblem(await login('bob', U.bob.password), 423);
  assert.match(locked.detail, /locked/);
  assertProblem(await login('bob', `wrong password again`), 423);
  const user = await ok(await s.get(`/api/v1/users/${U.bob.id}`));
  const until = Date.parse(user.locked_until);
  assert.ok(Math.abs(until - (Date.now() + 15 * 60000)) < 60000, `locked until ${user.locked_until}`);
  // API tokens are not sign-ins: a script keeps working (and cannot unlock anyone).
  await ok(await s.request('GET', '/api/v1/sessions/current', { headers: { authorization: `Bearer ${U.bob.token}` } }));

  const events = (await eventsSince(since)).filter((e) => e.entity === 'user' && e.entity_id === U.bob.id);
  assert.deepEqual(events.map((e) => [e.action, e.reason]), [
    ...Array(5).fill(['login_failed', 'wrong password']),
    ['login_failed', 'account locked'], ['login_failed', 'account locked'],
  ]);
  assert.ok(events[4].changes.some((c) => c.field === 'locked_until'), 'the fifth failure records the lock');

  // Fifteen minutes later (moved in the store) the right password works again and clears the count.
  const r = sql(s.db, `UPDATE users SET locked_until = ${nowUs() - 1000000} WHERE id = ${U.bob.id}`);
  assert.equal(r.status, 0, r.stderr);
  await signIn(U.bob);
  const after = await ok(await s.get(`/api/v1/users/${U.bob.id}`));
  assert.equal(after.locked_until, null);
  assert.equal(sqlRows(s.db, `SELECT failed_logins FROM users WHERE id = ${U.bob.id}`)[0].failed_logins, 0);
});

test('a disabled account: no sign-in (same answer as a wrong password), its session and token stop', async () => {
  const sess = await signIn(U.carol);
  const bearer = { authorization: `Bearer ${U.carol.token}` };
  await ok(await s.request('GET', '/api/v1/studies', { headers: bearer }));
  const since = lastSeq();
  const d = await ok(await s.patch(`/api/v1/users/${U.carol.id}`, { status: 'disabled', reason: 'left the company' }));
  assert.equal(d.status, 'disabled');

  assertProblem(await withSession(sess, 'GET', '/api/v1/sessions/current'), 401);
  assertProblem(await s.request('GET', '/api/v1/studies', { headers: bearer }), 401);
  const refused = assertProblem(await login('carol', U.carol.password), 401);
  assert.equal(refused.detail, GENERIC);
  const events = (await eventsSince(since)).filter((e) => e.entity === 'user' && e.entity_id === U.carol.id);
  assert.deepEqual(events.map((e) => [e.action, e.reason]),
    [['update', 'left the company'], ['login_failed', 'account disabled']]);

  await ok(await s.patch(`/api/v1/users/${U.carol.id}`, { status: 'active', reason: 'back' }));
  await signIn(U.carol);
  // The old session stays ended.
  assertProblem(await withSession(sess, 'GET', '/api/v1/sessions/current'), 401);
});

test('no session fixation: a cookie sent at sign-in is never the one given, and each sign-in is new', async () => {
  const planted = randomBytes(32).toString('hex');
  const r = await login('alice', U.alice.password, {}, { cookie: `ctms_session=${planted}` });
  assert.equal(r.status, 201, r.text);
  const given = r.headers.get('set-cookie').match(/ctms_session=([0-9a-f]{64})/)[1];
  assert.notEqual(given, planted);
  assertProblem(await withSession({ cookie: planted }, 'GET', '/api/v1/sessions/current'), 401);

  const again = await signIn(U.alice);
  assert.notEqual(again.cookie, given);
  assert.notEqual(again.csrf, r.json.csrf_token);
  await ok(await withSession(again, 'GET', '/api/v1/sessions/current'));
});

test('CSRF: a state change with the cookie needs the session\'s X-CSRF-Token, else 403 and nothing written', async () => {
  const sess = await signIn(U.alice);
  const other = await signIn(U.alice);
  const study = await createEnrollingStudy(s);
  const ms = await ok(await s.post(`/api/v1/studies/${study.id}/milestones`, { name: 'Lock', kind: 'database_lock' }), 201);
  const path = `/api/v1/milestones/${ms.id}`;
  const ifMatch = { 'if-match': `"${ms.version}"` };
  const before = auditCount(s.db);
  for (const csrf of [false, '', 'x', randomBytes(32).toString('hex'), other.csrf, sess.cookie, sess.csrf.toUpperCase()]) {
    const r = await withSession(sess, 'PATCH', path, { body: { notes: 'forged' }, csrf, headers: ifMatch });
    assertProblem(r, 403);
  }
  assertProblem(await withSession(sess, 'POST', `/api/v1/users/${U.alice.id}/tokens`, { body: { name: 'forged' } }), 403);
  assertProblem(await withSession(sess, 'DELETE', '/api/v1/sessions/current'), 403);
  assert.equal(auditCount(s.db), before, 'a request without the CSRF token wrote');
  assert.equal((await ok(await s.get(path))).notes, null);
  await ok(await withSession(sess, 'GET', '/api/v1/sessions/current')); // still signed in

  const changed = await ok(await withSession(sess, 'PATCH', path, { body: { notes: 'by alice' }, csrf: true, headers: ifMatch }));
  assert.equal(changed.notes, 'by alice');
  assert.equal(changed.version, ms.version + 1);
});

test('a session ends after 30 idle minutes or 12 hours, and at sign-out', async () => {
  // 29 idle minutes: still alive, and the request counts as activity.
  const idle = await signIn(U.alice);
  moveSession(idle, `last_seen_at = ${nowUs() - 29 * MINUTE_US}`);
  await ok(await withSession(idle, 'GET', '/api/v1/sessions/current'));
  // 31: gone, also for reading.
  moveSession(idle, `last_seen_at = ${nowUs() - 31 * MINUTE_US}`);
  assertProblem(await withSession(idle, 'GET', '/api/v1/sessions/current'), 401);
  assertProblem(await withSession(idle, 'GET', '/api/v1/studies'), 401);

  // Twelve hours after sign-in, activity or not.
  const old = await signIn(U.alice);
  moveSession(old, `created_at = created_at - ${12 * 60 * MINUTE_US}, expires_at = ${nowUs() - 1000000}`);
  assertProblem(await withSession(old, 'GET', '/api/v1/sessions/current'), 401);

  // Signing out: 204, the cookie cleared, the session gone, the event audited.
  const sess = await signIn(U.alice);
  const since = lastSeq();
  const out = await withSession(sess, 'DELETE', '/api/v1/sessions/current', { csrf: true });
  assert.equal(out.status, 204, out.text);
  assert.match(out.headers.get('set-cookie') || '', /ctms_session=;.*Max-Age=0/);
  assertProblem(await withSession(sess, 'GET', '/api/v1/sessions/current'), 401);
  assertProblem(await withSession(sess, 'DELETE', '/api/v1/sessions/current', { csrf: true }), 401);
  const events = (await eventsSince(since)).filter((e) => e.entity === 'user');
  assert.deepEqual(events.map((e) => [e.action, e.entity_id]), [['logout', U.alice.id]]);
});

test('sign-in takes JSON only: a cross-site form (text/plain) cannot sign a browser in as someone else', async () => {
  // What <form enctype="text/plain"> with one field named '{"username":..., "totp":"' and value '"}' sends.
  const raw = `{"username":"alice","password":"${U.alice.password}","totp":"="}\r\n`;
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const r = await s.request('POST', '/api/v1/sessions', { raw, headers: { ...NOBODY, 'content-type': type } });
    assert.equal(r.headers.get('set-cookie'), null, `${type}: signed in (${r.status})`);
    assertProblem(r, 415);
  }
});

// ------------------------------------------------------------------ tokens

test('API tokens: usable until they expire or are revoked; listed without their secret', async () => {
  const created = await ok(await s.post(`/api/v1/users/${U.heidi.id}/tokens`, { name: 'nightly export', days: 1 }), 201);
  assert.match(created.token, /^ctms_[0-9a-f]{64}$/);
  const bearer = { authorization: `Bearer ${created.token}` };
  const me = await ok(await s.request('GET', '/api/v1/sessions/current', { headers: bearer }));
  assert.equal(me.username, 'heidi');
  assert.equal(me.session, false);
  // A token needs no CSRF token: it is not sent by a browser on its own.
  await ok(await s.request('POST', `/api/v1/users/${U.heidi.id}/tokens`, { body: { name: 'second' }, headers: bearer }), 201);

  const listed = await ok(await s.get(`/api/v1/users/${U.heidi.id}/tokens`));
  const row = listed.items.find((t) => t.id === created.id);
  assert.equal(row.name, 'nightly export');
  assert.ok(row.expires_at && row.revoked_at === null);
  assert.ok(!JSON.stringify(listed).includes(created.token.slice(5)), 'a token secret is listed');
  const stored = sqlRows(s.db, 'SELECT token_hash FROM api_tokens').map((t) => t.token_hash);
  assert.ok(stored.includes(sha256(created.token)), 'tokens are kept as their SHA-256');
  assert.ok(!stored.some((h) => h.includes(created.token.slice(5))), 'a token is kept in clear');

  // Expired (moved in the store): 401.
  let r = sql(s.db, `UPDATE api_tokens SET expires_at = ${nowUs() - 1000000} WHERE id = ${created.id}`);
  assert.equal(r.status, 0, r.stderr);
  assertProblem(await s.request('GET', '/api/v1/studies', { headers: bearer }), 401);
  r = sql(s.db, `UPDATE api_tokens SET expires_at = ${nowUs() + 3600 * 1000000} WHERE id = ${created.id}`);
  await ok(await s.request('GET', '/api/v1/studies', { headers: bearer }));

  // Revoked: by the owner (its own token) or an administrator; then 401, audited.
  const since = lastSeq();
  const del = await s.request('DELETE', `/api/v1/tokens/${created.id}`, { headers: bearer });
  assert.equal(del.status, 204, del.text);
  assertProblem(await s.request('GET', '/api/v1/studies', { headers: bearer }), 401);
  assertProblem(await s.request('DELETE', `/api/v1/tokens/${created.id}`), 404);
  const events = await eventsSince(since);
  assert.deepEqual(events.map((e) => [e.entity, e.entity_id, e.action, e.actor_id]),
    [['api_token', created.id, 'revoke', U.heidi.id]]);
  assert.ok((await ok(await s.get(`/api/v1/users/${U.heidi.id}/tokens`))).items.find((t) => t.id === created.id).revoked_at);

  // Someone else's token does not exist for a user who does not administer.
  const admins = (await ok(await s.get(`/api/v1/users/${(await ok(await s.get('/api/v1/sessions/current'))).id}/tokens`))).items;
  assertProblem(await s.request('DELETE', `/api/v1/tokens/${admins[0].id}`, { headers: { authorization: `Bearer ${U.heidi.token}` } }), 404);
  assertProblem(await s.request('GET', `/api/v1/users/${U.alice.id}/tokens`, { headers: { authorization: `Bearer ${U.heidi.token}` } }), 403);

  // The command line's tokens: --days 0 never expires; refusals for bad values.
  const forever = ctms(['token', 'create', '--db', s.db, '--username', 'heidi', '--days', '0']);
  assert.equal(forever.status, 0, forever.stderr);
  await ok(await s.request('GET', '/api/v1/studies', { headers: { authorization: `Bearer ${forever.stdout.trim()}` } }));
  assert.notEqual(ctms(['token', 'create', '--db', s.db, '--username', 'heidi', '--days', '-1']).status, 0);
  assert.notEqual(ctms(['token', 'create', '--db', s.db, '--username', 'nobody-here']).status, 0);
  await s.request('POST', `/api/v1/users/${U.heidi.id}/tokens`, { body: { days: 99999 } }).then((x) => assertProblem(x, 422, ['days']));
});

// ------------------------------------------------------------------ passwords and accounts

test('password rules: at least 12 characters, not containing the username; refused ones write nothing', async () => {
  const before = auditCount(s.db);
  const users = () => Number(sql(s.db, 'SELECT count(*) FROM users').stdout);
  const n = users();
  const body = (password, username = 'grace') => ({ username, display_name: 'Grace Hopper', password });
  assertProblem(await s.post('/api/v1/users', body('short pw 11')), 422, ['password']);
  assertProblem(await s.post('/api/v1/users', body('')), 422, ['password']);
  assertProblem(await s.post('/api/v1/users', body('my name is GRACE, ok?')), 422, ['password']);
  assertProblem(await s.post('/api/v1/users', body('grace.h-grace.h', 'grace.h')), 422, ['password']);
  assertProblem(await s.post('/api/v1/users', { username: 'grace', display_name: 'Grace Hopper' }), 422, ['password']);
  assertProblem(await s.post('/api/v1/users', body('x'.repeat(1025))), 422, ['password']);
  assert.equal(auditCount(s.db), before);
  assert.equal(users(), n);
  // Twelve characters, UTF-8 counted as characters: fine.
  const grace = await ok(await s.post('/api/v1/users', body('ééééééééééé1')), 201);
  assert.equal(grace.username, 'grace');

  // The command line applies the same rules.
  const cli = ctms(['user', 'password', '--db', s.db, '--username', 'grace', '--password-stdin'], { input: 'short\n' });
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /12 characters/);

  // A user changes their own password with the current one; a wrong one is a failed attempt.
  const g = { username: 'grace', password: 'ééééééééééé1' };
  const sess = await signIn(g);
  const path = `/api/v1/users/${grace.id}`;
  const before2 = auditCount(s.db);
  assertProblem(await withSession(sess, 'PATCH', path, { body: { password: 'short' , current_password: g.password }, csrf: true }), 422, ['password']);
  assert.equal(auditCount(s.db), before2);
  const wrong = await withSession(sess, 'PATCH', path, { body: { password: 'a new long password', current_password: 'not it at all' }, csrf: true });
  assert.ok([401, 403].includes(wrong.status), wrong.text);
  // A token from a signed-in session takes the password again; a wrong one
  // is a failed attempt, audited, and mints nothing.
  const tokensBefore = sqlRows(s.db, `SELECT count(*) AS n FROM api_tokens WHERE user_id = ${grace.id}`)[0].n;
  assertProblem(await withSession(sess, 'POST', `${path}/tokens`, { body: { name: 'mine', days: 1 }, csrf: true }), 422, ['password']);
  const badMint = await withSession(sess, 'POST', `${path}/tokens`, { body: { name: 'mine', days: 1, password: 'not it at all' }, csrf: true });
  assert.ok([401, 403].includes(badMint.status), badMint.text);
  assert.equal(sqlRows(s.db, `SELECT count(*) AS n FROM api_tokens WHERE user_id = ${grace.id}`)[0].n, tokensBefore);
  // A token minted before the change dies with the old password.
  const minted = await ok(await withSession(sess, 'POST', `${path}/tokens`, { body: { name: 'mine', days: 1, password: g.password }, csrf: true }), 201);
  const withToken = () => s.request('GET', '/api/v1/sessions/current', { headers: { authorization: `Bearer ${minted.token}` } });
  await ok(await withToken());
  await ok(await withSession(sess, 'PATCH', path, { body: { password: 'a new long password', current_password: g.password }, csrf: true }));
  assertProblem(await withToken(), 401);
  const revoked = sqlRows(s.db, `SELECT reason FROM audit_event WHERE entity = 'api_token' AND entity_id = ${minted.id} AND action = 'revoke'`);
  assert.equal(revoked.length, 1);
  assertProblem(await login('grace', g.password), 401);
  await signIn({ username: 'grace', password: 'a new long password' });

  // The minimum is a setting.
  assert.equal(ctms(['settings', 'set', '--db', s.db, 'password_min', '16']).status, 0);
  try {
    assertProblem(await s.patch(path, { password: 'fifteen chars!!' }), 422, ['password']);
    await ok(await s.patch(path, { password: 'sixteen chars!!!' }));
  } finally {
    assert.equal(ctms(['settings', 'set', '--db', s.db, 'password_min', '12']).status, 0);
  }
});

test('administering accounts through the API, and a user who does not administer getting 403', async () => {
  const since = lastSeq();
  const pw = 'he has a long password';
  const c = await s.post('/api/v1/users', { username: 'ivan', display_name: 'Ivan Site', email: 'ivan@example.org', password: pw });
  const ivan = await ok(c, 201);
  assert.equal(c.headers.get('location'), `/api/v1/users/${ivan.id}`);
  assert.equal(ivan.status, 'active');
  assert.deepEqual(ivan.grants, []);
  assertProblem(await s.post('/api/v1/users', { username: 'ivan', display_name: 'Again', password: 'another long password' }), 409, ['username']);

  // No grant, no records: signed in, but sees no study.
  const study = await createEnrollingStudy(s);
  const sess = await signIn({ username: 'ivan', password: pw });
  assert.deepEqual((await ok(await withSession(sess, 'GET', '/api/v1/studies'))).items, []);
  const granted = await ok(await s.post(`/api/v1/users/${ivan.id}/grants`, { role: 'manager', study_id: study.id }), 201);
  const grant = granted.grants[0];
  assert.deepEqual([grant.role, grant.study_id, grant.study_site_id, grant.unblinded], ['manager', study.id, null, false]);
  assert.deepEqual((await ok(await withSession(sess, 'GET', '/api/v1/studies'))).items.map((x) => x.id), [study.id]);
  for (const bad of [{ role: 'king' }, { role: 'site', study_id: 'one' }, { role: 'site', study_id: 99999999 },
    { role: 'site', study_site_id: 99999999 }, { role: 'site', unblinded: 'yes' }, { role: 'site', colour: 'red' }]) {
    assertProblem(await s.post(`/api/v1/users/${ivan.id}/grants`, bad), 422);
  }
  assertProblem(await s.post('/api/v1/users/99999999/grants', { role: 'viewer' }), 404);

  // A user who does not administer: 403 on all of it, nothing written.
  const alice = { authorization: `Bearer ${U.alice.token}` };
  const before = auditCount(s.db);
  assertProblem(await s.request('GET', '/api/v1/users', { headers: alice }), 403);
  assertProblem(await s.request('POST', '/api/v1/users', { body: { username: 'mallory', display_name: 'M', password: 'a long enough secret' }, headers: alice }), 403);
  assertProblem(await s.request('GET', `/api/v1/users/${ivan.id}`, { headers: alice }), 403);
  assertProblem(await s.request('POST', `/api/v1/users/${ivan.id}/grants`, { body: { role: 'admin' }, headers: alice }), 403);
  assertProblem(await s.request('POST', `/api/v1/users/${U.alice.id}/grants`, { body: { role: 'admin' }, headers: alice }), 403);
  assertProblem(await s.request('DELETE', `/api/v1/grants/${grant.id}`, { headers: alice }), 403);
  assertProblem(await s.request('PATCH', `/api/v1/users/${ivan.id}`, { body: { status: 'disabled' }, headers: alice }), 403);
  assertProblem(await s.request('PATCH', `/api/v1/users/${U.alice.id}`, { body: { status: 'disabled' }, headers: alice }), 403);
  assertProblem(await s.request('POST', `/api/v1/users/${ivan.id}/tokens`, { body: {}, headers: alice }), 403);
  assertProblem(await s.request('GET', `/api/v1/users/${ivan.id}/tokens`, { headers: alice }), 403);
  assertProblem(await s.request('PATCH', `/api/v1/users/${ivan.id}`, { body: { password: 'a takeover password' }, headers: alice }), 403);
  assert.equal(auditCount(s.db), before);

  // The administrator: a token for ivan, revoke the grant, disable him.
  const token = await ok(await s.post(`/api/v1/users/${ivan.id}/tokens`, { name: 'import', days: 7 }), 201);
  const bearer = { authorization: `Bearer ${token.token}` };
  assert.equal((await ok(await s.request('GET', '/api/v1/studies', { headers: bearer }))).items.length, 1);
  assert.equal((await s.request('DELETE', `/api/v1/grants/${grant.id}`)).status, 204);
  assert.deepEqual((await ok(await s.request('GET', '/api/v1/studies', { headers: bearer }))).items, []);
  await ok(await s.patch(`/api/v1/users/${ivan.id}`, { status: 'disabled', reason: 'project over' }));
  assertProblem(await s.request('GET', '/api/v1/studies', { headers: bearer }), 401);
  assertProblem(await withSession(sess, 'GET', '/api/v1/studies'), 401);
  assertProblem(await s.patch(`/api/v1/users/${ivan.id}`, { status: 'gone' }), 422, ['status']);
  const listed = (await ok(await s.get('/api/v1/users'))).items.find((u) => u.id === ivan.id);
  assert.equal(listed.status, 'disabled');

  const events = (await eventsSince(since)).filter((e) => ['user', 'grant', 'api_token'].includes(e.entity) && e.action !== 'login' && e.action !== 'login_failed');
  assert.deepEqual(events.map((e) => [e.entity, e.action]), [
    ['user', 'create'], ['grant', 'create'], ['api_token', 'create'], ['grant', 'revoke'], ['user', 'update'],
  ]);
  assert.ok(events.every((e) => e.actor !== 'system' && e.actor_id > 0), 'API changes are the administrator\'s');
});

test('SQL metacharacters and oversized values: refused or taken literally, nothing else changes', async () => {
  const users = () => sqlRows(s.db, 'SELECT id, username, display_name, status, password_hash FROM users ORDER BY id');
  const snapshot = users();
  const since = lastSeq();
  const attempts = [
    ["alice' --", U.alice.password], ["alice' OR '1'='1", "x' OR '1'='1"], ['alice"; DROP TABLE users; --', 'x'],
    ['alice', "' OR ''='"], ['alice', `${U.alice.password}' --`], ['ALICE', U.alice.password], [' alice', U.alice.password],
    ['%', U.alice.password], ['alic_', U.alice.password], ['a'.repeat(70000), 'x'], ['alice', 'p'.repeat(70000)],
  ];
  for (const [username, password] of attempts) {
    const r = await login(username, password);
    assert.equal(r.status, 401, `${username.slice(0, 40)}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(r.json.detail, GENERIC);
  }
  // Not strings, NUL bytes, unknown fields, not JSON: refused without signing in.
  for (const [raw, want] of [['{"username":"alice\\u0000x","password":"x"}', [400, 401, 422]],
    [`{"username":["alice"],"password":"${U.alice.password}"}`, [400, 401, 422]],
    [`{"username":"alice","password":"${U.alice.password}","admin":true}`, [422]], ['alice', [400]], ['', [400, 401]]]) {
    const r = await s.request('POST', '/api/v1/sessions', { raw, headers: { ...NOBODY, 'content-type': 'application/json' } });
    assert.ok(want.includes(r.status), `${raw.slice(0, 60)}: ${r.status} ${r.text}`);
    assert.equal(r.headers.get('set-cookie'), null);
  }
  // Failed sign-ins are audited; nothing else is written.
  const written = sqlRows(s.db, `SELECT entity, action FROM audit_event WHERE seq > ${since}`);
  assert.ok(written.every((e) => e.entity === 'user' && e.action === 'login_failed'), JSON.stringify(written));
  const now = users();
  assert.deepEqual(now.map((u) => [u.id, u.username, u.display_name, u.status, u.password_hash]),
    snapshot.map((u) => [u.id, u.username, u.display_name, u.status, u.password_hash]));

  // Creating users: a bad username is refused; a display name is text, kept to the byte.
  const audit0 = auditCount(s.db);
  for (const body of [
    { username: "x'); DROP TABLE users; --", display_name: 'X', password: 'a long enough secret' },
    { username: 'Robert', display_name: 'X', password: 'a long enough secret' },
    { username: 'u'.repeat(65), display_name: 'X', password: 'a long enough secret' },
    { username: 'x', display_name: 'X', password: 'a long enough secret' },
    { username: 'mallory', display_name: 'D'.repeat(201), password: 'a long enough secret' },
    { username: 'mallory', display_name: 'tab\there', password: 'a long enough secret' },
    { username: 'mallory', display_name: '', password: 'a long enough secret' },
    { username: 'mallory', display_name: 'M', password: 'a long enough secret', role: 'admin' },
    { username: 'mallory', display_name: 'M', password: 12345678901234 },
  ]) {
    assertProblem(await s.post('/api/v1/users', body), 422);
  }
  const big = await s.request('POST', '/api/v1/users', { raw: JSON.stringify({ username: 'mallory', display_name: 'M', password: 'p'.repeat(2 << 20) }), headers: { 'content-type': 'application/json' } });
  assert.ok([413, 422].includes(big.status), `${big.status} ${big.text.slice(0, 200)}`);
  assert.equal(auditCount(s.db), audit0);
  const name = "O'Brien\"; DROP TABLE users; -- 田中 %_\\";
  const obrien = await ok(await s.post('/api/v1/users', { username: "o.brien_1@site-2", display_name: name, password: 'a long enough secret' }), 201);
  assert.equal(obrien.display_name, name);
  assert.equal((await ok(await s.get(`/api/v1/users/${obrien.id}`))).display_name, name);
  assert.equal(users().length, snapshot.length + 1);
  await signIn({ username: 'o.brien_1@site-2', password: 'a long enough secret' });
});

// ------------------------------------------------------------------ second factor

test('a user with a second factor needs the current code (one step either way)', async () => {
  const r = ctms(['user', 'totp', '--db', s.db, '--username', 'dave']);
  assert.equal(r.status, 0, r.stderr);
  const secret = r.stdout.split('\n')[0].trim();
  assert.match(secret, /^[A-Z2-7]+=*$/);
  assert.match(r.stdout.split('\n')[1], /^otpauth:\/\/totp\//);
  assert.equal((await ok(await s.get(`/api/v1/users/${U.dave.id}`))).totp, true);
  assert.ok(!JSON.stringify(await ok(await s.get('/api/v1/users'))).includes(secret), 'the TOTP secret is listed');

  const since = lastSeq();
  const missing = assertProblem(await login('dave', U.dave.password), 401);
  assert.match(missing.detail, /totp|code/i);
  const now = Date.now() / 1000;
  const current = totpCode(secret, now);
  const wrongCode = String((Number(current) + 1) % 1000000).padStart(6, '0');
  assert.equal(assertProblem(await login('dave', U.dave.password, { totp: wrongCode }), 401).detail, GENERIC);
  assertProblem(await login('dave', U.dave.password, { totp: 'abcdef' }), 401);
  // A right code with a wrong password is still a wrong password.
  assert.equal(assertProblem(await login('dave', 'not the right one', { totp: current }), 401).detail, GENERIC);
  const events = (await eventsSince(since)).filter((e) => e.entity_id === U.dave.id);
  assert.deepEqual(events.map((e) => e.reason), ['second factor missing', 'wrong or reused second factor',
    'wrong or reused second factor', 'wrong password']);
  // Four failures so far: the fifth would lock. The code of the previous step still works...
  await signIn({ ...U.dave }, { totp: totpCode(secret, Date.now() / 1000 - 30) });
  // ...not one of four steps ago.
  assertProblem(await login('dave', U.dave.password, { totp: totpCode(secret, Date.now() / 1000 - 120) }), 401);
  await signIn({ ...U.dave }, { totp: totpCode(secret) });
});

test('a second-factor code, once used, is not accepted again (RFC 6238 5.2)', async () => {
  const secret = ctms(['user', 'totp', '--db', s.db, '--username', 'dave']).stdout.split('\n')[0].trim();
  const code = totpCode(secret);
  await signIn({ ...U.dave }, { totp: code });
  const replay = await login('dave', U.dave.password, { totp: code });
  const fresh = totpCode(secret, Date.now() / 1000 + 30); // the next step's, to leave dave unlocked
  await signIn({ ...U.dave }, { totp: fresh });
  assertProblem(replay, 401);
});

test('settings totp_roles: a role listed there cannot sign in without a second factor', async () => {
  assert.equal(ctms(['settings', 'set', '--db', s.db, 'totp_roles', 'finance,admin']).status, 0);
  try {
    assert.notEqual(ctms(['settings', 'set', '--db', s.db, 'totp_roles', 'finance,king']).status, 0);
    const since = lastSeq();
    const r = await login('erin', U.erin.password);
    assert.ok([401, 403].includes(r.status), r.text);
    assertProblem(r, r.status);
    assert.match(r.json.detail, /second factor/);
    assert.equal(r.headers.get('set-cookie'), null);
    // Other roles are not concerned.
    await signIn(U.alice);
    const events = (await eventsSince(since)).filter((e) => e.entity === 'user' && e.entity_id === U.erin.id);

    const t = ctms(['user', 'totp', '--db', s.db, '--username', 'erin']);
    assert.equal(t.status, 0, t.stderr);
    await signIn(U.erin, { totp: totpCode(t.stdout.split('\n')[0].trim()) });

    // The refused attempt is in the audit trail like any other (11.300).
    assert.deepEqual(events.map((e) => e.action), ['login_failed'],
      `the refused sign-in of erin left ${events.length} audit events`);
  } finally {
    assert.equal(ctms(['settings', 'set', '--db', s.db, 'totp_roles', '']).status, 0);
  }
});

test('lockout and timeouts follow the settings', async () => {
  assert.equal(ctms(['settings', 'set', '--db', s.db, 'lockout_failures', '2']).status, 0);
  assert.equal(ctms(['settings', 'set', '--db', s.db, 'idle_minutes', '5']).status, 0);
  try {
    assertProblem(await login('heidi', 'wrong once more'), 401);
    assertProblem(await login('heidi', 'wrong twice more'), 401);
    assertProblem(await login('heidi', U.heidi.password), 423);
    sql(s.db, `UPDATE users SET locked_until = ${nowUs() - 1000000} WHERE id = ${U.heidi.id}`);
    const sess = await signIn(U.heidi);
    moveSession(sess, `last_seen_at = ${nowUs() - 6 * MINUTE_US}`);
    assertProblem(await withSession(sess, 'GET', '/api/v1/sessions/current'), 401);
    for (const [name, value] of [['lockout_failures', '0'], ['idle_minutes', 'soon'], ['colour', 'red']]) {
      assert.notEqual(ctms(['settings', 'set', '--db', s.db, name, value]).status, 0, `${name}=${value}`);
    }
  } finally {
    assert.equal(ctms(['settings', 'set', '--db', s.db, 'lockout_failures', '5']).status, 0);
    assert.equal(ctms(['settings', 'set', '--db', s.db, 'idle_minutes', '30']).status, 0);
  }
});

test('a user mints their own tokens for at most 90 days; an administrator for longer', async () => {
  const u = addUser(s.db, { username: 'tina-tokens', role: 'viewer' });
  u.id = Number(sqlRows(s.db, "SELECT id FROM users WHERE username = 'tina-tokens'")[0].id);
  const me = { authorization: `Bearer ${u.token}` };
  const before = auditCount(s.db);
  for (const days of [0, 91, 3650]) {
    assertProblem(await s.request('POST', `/api/v1/users/${u.id}/tokens`, { body: { days }, headers: me }), 422, ['days']);
  }
  assert.equal(auditCount(s.db), before);
  const ok90 = await s.request('POST', `/api/v1/users/${u.id}/tokens`, { body: { days: 90 }, headers: me });
  assert.equal(ok90.status, 201, ok90.text);
  const forever = await s.post(`/api/v1/users/${u.id}/tokens`, { days: 0, name: 'integration' });
  assert.equal(forever.status, 201, forever.text);
});

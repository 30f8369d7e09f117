// Electronic signatures (21 CFR 11.50, 11.70, 11.200): re-authentication,
// the manifestation on every view, invalidation by a later change, the
// manager's approval a protocol version needs, and `ctms audit verify`
// checking every signature against the version it signed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, assertNoWrite, assertProblem, auditCount, createEnrollingStudy, createSite, ctms, signApproval, sql,
  sqlRows, startServer, stopChecked,
} from './lib.mjs';

let s;
const PASSWORD = 'a long enough password 42';
const tokens = {};

/** Creates a user with one grant and an API token; answers its bearer header. */
function user(name, role, extra = []) {
  let r = ctms(['user', 'add', '--db', s.db, '--username', name, '--role', role,
    '--display-name', `${name} Signer`, ...extra, '--password-stdin'], { input: `${PASSWORD}\n` });
  assert.equal(r.status, 0, r.stderr);
  r = ctms(['token', 'create', '--db', s.db, '--username', name]);
  assert.equal(r.status, 0, r.stderr);
  tokens[name] = { authorization: `Bearer ${r.stdout.trim()}` };
  return tokens[name];
}

/** Signs in with a password: answers {cookie, csrf} headers for the session. */
async function signIn(username, password = PASSWORD) {
  const r = await s.request('POST', '/api/v1/sessions', { body: { username, password }, headers: { authorization: null } });
  assert.equal(r.status, 201, r.text);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  return { authorization: null, cookie, 'x-csrf-token': r.json.csrf_token };
}

const draftProtocol = async (studyId, number) => {
  const r = await s.post(`/api/v1/studies/${studyId}/protocol-versions`, { number, version_date: '2024-01-05' });
  assert.equal(r.status, 201, r.text);
  return r.json;
};

const sign = (headers, body) => s.request('POST', '/api/v1/signatures', { body, headers });

before(async () => {
  s = await startServer();
  user('mara', 'manager');
  user('otto', 'monitor');
  user('vera', 'viewer');
});
after(async () => { await stopChecked(s); });

test('a session signs first with username and password, then with the password alone', async () => {
  const study = await createEnrollingStudy(s);
  const a = await draftProtocol(study.id, '1.0');
  const b = await draftProtocol(study.id, '2.0');
  const session = await signIn('mara');

  await assertNoWrite(s, async () => {
    // 11.200(a)(1)(i): the first signing of a session takes both components.
    assertProblem(await sign(session, { entity: 'protocol_version', id: a.id, meaning: 'reviewed', password: PASSWORD }), 422, ['username']);
  });
  const first = await sign(session, { entity: 'protocol_version', id: a.id, meaning: 'reviewed', username: 'mara', password: PASSWORD });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json.signer_name, 'mara Signer');
  assert.equal(first.json.meaning, 'reviewed');
  assert.equal(first.json.record_version, 1);
  assert.equal(first.json.valid, true);
  assert.match(first.json.content_hash, /^[0-9a-f]{64}$/);
  // 11.200(a)(1)(ii): later signings in the same session, the password.
  const second = await sign(session, { entity: 'protocol_version', id: b.id, meaning: 'reviewed', password: PASSWORD });
  assert.equal(second.status, 201, second.text);

  // A new session starts over; a bearer token is never a continuous session.
  const fresh = await signIn('mara');
  assertProblem(await sign(fresh, { entity: 'protocol_version', id: b.id, meaning: 'approved', password: PASSWORD }), 422, ['username']);
  assertProblem(await sign(tokens.mara, { entity: 'protocol_version', id: b.id, meaning: 'approved', password: PASSWORD }), 422, ['username']);
  const byToken = await sign(tokens.mara, { entity: 'protocol_version', id: b.id, meaning: 'approved', username: 'mara', password: PASSWORD });
  assert.equal(byToken.status, 201, byToken.text);
});

test('a wrong password, or someone else\'s, signs nothing and is audited', async () => {
  const study = await createEnrollingStudy(s);
  const pv = await draftProtocol(study.id, '1.0');
  const before = sqlRows(s.db, "SELECT count(*) AS n FROM audit_event WHERE action = 'signature_auth_failed'")[0].n;
  const signaturesBefore = sqlRows(s.db, 'SELECT count(*) AS n FROM signatures')[0].n;
  assertProblem(await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'approved', username: 'mara', password: 'not the password at all' }), 403);
  // Otto's credentials on Mara's request: the signer is who is signed in.
  assertProblem(await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'approved', username: 'otto', password: PASSWORD }), 403);
  assert.equal(sqlRows(s.db, "SELECT count(*) AS n FROM audit_event WHERE action = 'signature_auth_failed'")[0].n, Number(before) + 2);
  assert.equal(sqlRows(s.db, 'SELECT count(*) AS n FROM signatures')[0].n, signaturesBefore);
  // Roles that do not sign, and meanings that do not exist.
  assertProblem(await sign(tokens.vera, { entity: 'protocol_version', id: pv.id, meaning: 'reviewed', username: 'vera', password: PASSWORD }), 403);
  assertProblem(await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'liked', username: 'mara', password: PASSWORD }), 422, ['meaning']);
  assertProblem(await sign(tokens.mara, { entity: 'organisation', id: 1, meaning: 'reviewed', username: 'mara', password: PASSWORD }), 422, ['entity']);
  assertProblem(await sign(tokens.mara, { entity: 'protocol_version', id: 999999, meaning: 'reviewed', username: 'mara', password: PASSWORD }), 404);
});

test('a protocol version is approved only with a manager\'s valid "approved" signature', async () => {
  const study = await createEnrollingStudy(s);
  const pv = await draftProtocol(study.id, '1.0');
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('protocol-versions', pv.id, 'approved', '2024-02-01'), 409);
  });
  // A monitor's approval is not a manager's; a manager's "reviewed" is not an approval.
  assert.equal((await sign(tokens.otto, { entity: 'protocol_version', id: pv.id, meaning: 'approved', username: 'otto', password: PASSWORD })).status, 201);
  assert.equal((await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'reviewed', username: 'mara', password: PASSWORD })).status, 201);
  assertProblem(await s.transition('protocol-versions', pv.id, 'approved', '2024-02-01'), 409);
  // A manager's approval of a content that then changed does not count either.
  assert.equal((await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'approved', username: 'mara', password: PASSWORD })).status, 201);
  const changed = await s.patch(`/api/v1/protocol-versions/${pv.id}`, { summary: 'edited after approval' }, 1);
  assert.equal(changed.status, 200, changed.text);
  assert.ok(changed.json.signatures.length >= 3);
  assert.ok(changed.json.signatures.every((sig) => sig.valid === false), JSON.stringify(changed.json.signatures));
  assertProblem(await s.transition('protocol-versions', pv.id, 'approved', '2024-02-01'), 409);
  assert.equal((await sign(tokens.mara, { entity: 'protocol_version', id: pv.id, meaning: 'approved', username: 'mara', password: PASSWORD })).status, 201);
  const ok = await s.transition('protocol-versions', pv.id, 'approved', '2024-02-01');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.status, 'approved');
  // The lifecycle is not the signed content: the approval keeps its signature valid.
  const last = ok.json.signatures.at(-1);
  assert.deepEqual(Object.keys(last).sort(), ['id', 'meaning', 'signed_at', 'signer_name', 'valid']);
  assert.equal(last.valid, true);
  assert.equal(last.meaning, 'approved');
  assert.equal(last.signer_name, 'mara Signer');
});

test('every view shows the signatures: the record, its list and the signature list', async () => {
  const study = await createEnrollingStudy(s);
  const pv = await draftProtocol(study.id, '1.0');
  await signApproval(s, pv.id);
  const one = await s.get(`/api/v1/protocol-versions/${pv.id}`);
  assert.equal(one.json.signatures.length, 1);
  assert.equal(one.json.signatures[0].signer_name, 'Test Administrator');
  const list = await s.get(`/api/v1/studies/${study.id}/protocol-versions`);
  assert.equal(list.json.items[0].signatures.length, 1);
  const sigs = await s.get(`/api/v1/signatures?entity=protocol_version&id=${pv.id}`);
  assert.equal(sigs.status, 200, sigs.text);
  assert.equal(sigs.json.items.length, 1);
  assert.equal(sigs.json.items[0].meaning, 'approved');
  assert.equal(sigs.json.items[0].valid, true);
  // Unsigned kinds of record carry no signature list; signable ones an empty one.
  assert.deepEqual((await s.get(`/api/v1/studies/${study.id}`)).json.signatures, []);
  assertProblem(await s.get('/api/v1/signatures?entity=protocol_version&id=abc'), 422, ['id']);
});

test('audit verify checks each signature against the version it signed', async () => {
  const study = await createEnrollingStudy(s);
  const pv = await draftProtocol(study.id, '1.0');
  const sig = await signApproval(s, pv.id);
  let v = ctms(['audit', 'verify', '--db', s.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /[1-9]\d* signatures match/);
  // A signature moved onto other content is found, though the chain is intact.
  const guard = s.db.startsWith('postgresql://')
    ? 'ALTER TABLE signatures DISABLE TRIGGER USER'
    : 'DROP TRIGGER signatures_no_update';
  assert.equal(sql(s.db, `${guard}; UPDATE signatures SET content_hash = '${'0'.repeat(64)}' WHERE id = ${sig.id}`).status, 0);
  v = ctms(['audit', 'verify', '--db', s.db]);
  assert.equal(v.status, 1, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`signature ${sig.id} BROKEN`));
  // Put it back for the server's own health check at the end.
  const events = auditCount(s.db);
  assert.ok(events > 0);
  const hash = sqlRows(s.db, `SELECT changes FROM audit_event WHERE entity = 'signature' AND entity_id = ${sig.id}`)[0].changes;
  const original = JSON.parse(hash).find((c) => c.field === 'content_hash').new;
  assert.equal(sql(s.db, `UPDATE signatures SET content_hash = '${original}' WHERE id = ${sig.id}`).status, 0);
  v = ctms(['audit', 'verify', '--db', s.db]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(ADMIN.username, 'test-admin');
});

test('a site investigator signs their own site\'s records, and no other site\'s', async () => {
  const study = await createEnrollingStudy(s, { protocol_number: 'SIG-SITE-1' });
  const mine = await createSite(s, study.id, { site_number: '601' });
  const theirs = await createSite(s, study.id, { site_number: '602' });
  const inv = user('ines', 'site', ['--study', 'SIG-SITE-1', '--site', '601']);
  // The site record itself: in scope, signed as responsible.
  const signed = await sign(inv, { entity: 'study_site', id: mine.id, meaning: 'responsible', username: 'ines', password: PASSWORD });
  assert.equal(signed.status, 201, signed.text);
  assert.equal(signed.json.signer_name, 'ines Signer');
  // Another site's: not even its existence.
  const before = auditCount(s.db);
  assertProblem(await sign(inv, { entity: 'study_site', id: theirs.id, meaning: 'responsible', username: 'ines', password: PASSWORD }), 404);
  assert.equal(auditCount(s.db), before);
  // A study-level record is not a site's to sign.
  const pv = await draftProtocol(study.id, '9.0');
  assertProblem(await sign(inv, { entity: 'protocol_version', id: pv.id, meaning: 'reviewed', username: 'ines', password: PASSWORD }), 403);
});

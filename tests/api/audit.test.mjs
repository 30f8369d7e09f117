// The audit trail: every write of every record shows old and new values and
// the reason; the hash chain detects tampering; the store refuses edits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, dropAuditGuards,
  startServer, stopChecked, ctms, sqlite, auditCount, studyBody, siteBody, subjectBody,
  assertProblem, assertNoWrite, walk, createEnrollingSetup,
} from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

const trail = async (entity, id) => {
  const r = await s.get(`/api/v1/audit?entity=${entity}&id=${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items;
};
const change = (ev, field) => ev.changes.find((c) => c.field === field);
const verify = (db) => {
  const r = ctms(['audit', 'verify', '--db', db]);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
  return r;
};

test('each kind of record has a trail: create with new values, update with old and new and the reason', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const org = (await s.post('/api/v1/organisations', { name: 'Audit Org', kind: 'sponsor', country: 'NL' })).json;
  const inst = (await s.post('/api/v1/sites', { name: 'Audit Clinic', country: 'NL', city: 'Leiden' })).json;
  const pv = (await s.post(`/api/v1/studies/${study.id}/protocol-versions`, { number: '2.0', version_date: '2024-05-01' })).json;
  const ms = (await s.post(`/api/v1/studies/${study.id}/milestones`, { name: 'Lock', kind: 'database_lock', planned_on: '2025-01-01' })).json;
  const subj = (await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, { age: 40 }))).json;
  // Writes through the API are the signed-in user's, by their printed name.
  const me = (await s.get('/api/v1/sessions/current')).json;
  assert.equal(me.display_name, ADMIN.display_name);

  const records = [
    ['organisation', `/api/v1/organisations/${org.id}`, org, 'country', 'NL', 'BE'],
    ['site', `/api/v1/sites/${inst.id}`, inst, 'city', 'Leiden', 'Utrecht'],
    ['study', `/api/v1/studies/${study.id}`, study, 'title', study.title, 'Renamed study'],
    ['study_site', `/api/v1/study-sites/${site.id}`, site, 'investigator_name', site.investigator_name, 'Dr. Successor'],
    ['subject', `/api/v1/subjects/${subj.id}`, subj, 'age', 40, 41],
    ['protocol_version', `/api/v1/protocol-versions/${pv.id}`, pv, 'version_date', '2024-05-01', '2024-05-02'],
    ['milestone', `/api/v1/milestones/${ms.id}`, ms, 'planned_on', '2025-01-01', '2025-02-01'],
  ];
  for (const [entity, path, rec, field, oldValue, newValue] of records) {
    const reason = `correcting ${entity} ${field}`;
    const p = await s.patch(path, { [field]: newValue, change_reason: reason }, rec.version);
    assert.equal(p.status, 200, `${entity}: ${p.text}`);
    assert.equal(p.json.change_reason, undefined, 'the reason is not a field of the record');
    const events = await trail(entity, rec.id);
    const create = events.find((e) => e.action === 'create');
    assert.ok(create, `${entity} has a create event`);
    assert.equal(create.entity, entity);
    assert.equal(create.entity_id, rec.id);
    assert.equal(change(create, field).old, null, `${entity} create: old is null`);
    assert.equal(change(create, field).new, oldValue, `${entity} create: new value`);
    const last = events[events.length - 1];
    assert.equal(last.action, 'update');
    assert.equal(last.reason, reason);
    assert.deepEqual(last.changes, [{ field, old: oldValue, new: newValue }], `${entity} update changes`);
    assert.equal(last.actor, ADMIN.display_name);
    assert.equal(last.actor_id, me.id);
    assert.equal(create.actor_id, me.id);
    assert.match(last.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.match(last.hash, /^[0-9a-f]{64}$/);
    for (const e of events) {
      assert.equal(e.entity, entity);
      assert.equal(e.entity_id, rec.id);
    }
  }
});

test('transitions are audited with the status change, its date and the reason', async () => {
  const st = (await s.post('/api/v1/studies', studyBody())).json;
  await s.transition('studies', st.id, 'start_up', '2024-02-01', 'funding secured');
  await s.transition('studies', st.id, 'withdrawn', '2024-03-01', 'sponsor withdrew');
  const events = await trail('study', st.id);
  assert.deepEqual(events.map((e) => e.action), ['create', 'transition', 'transition']);
  assert.deepEqual(events.map((e) => e.reason), [null, 'funding secured', 'sponsor withdrew']);
  assert.deepEqual(change(events[1], 'status'), { field: 'status', old: 'planned', new: 'start_up' });
  assert.deepEqual(change(events[1], 'start_up_on'), { field: 'start_up_on', old: null, new: '2024-02-01' });
  assert.deepEqual(change(events[2], 'status'), { field: 'status', old: 'start_up', new: 'withdrawn' });
  assert.deepEqual(change(events[2], 'withdrawn_on'), { field: 'withdrawn_on', old: null, new: '2024-03-01' });
  assert.deepEqual(change(events[2], 'status_reason'), { field: 'status_reason', old: 'funding secured', new: 'sponsor withdrew' });
  assert.ok(events[0].seq < events[1].seq && events[1].seq < events[2].seq);
});

test('the site moved by a first enrollment is audited with its own reason', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const subj = (await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, { consented_on: '2024-06-01' }))).json;
  await s.transition('subjects', subj.id, 'enrolled', '2024-06-15');
  const siteEvents = await trail('study_site', site.id);
  const last = siteEvents[siteEvents.length - 1];
  assert.equal(last.action, 'transition');
  assert.deepEqual(change(last, 'status'), { field: 'status', old: 'activated', new: 'enrolling' });
  assert.equal(change(last, 'enrolling_on').new, '2024-06-15');
  assert.equal(last.reason, 'first subject enrolled');
  const subjEvents = await trail('subject', subj.id);
  assert.deepEqual(change(subjEvents[subjEvents.length - 1], 'status'), { field: 'status', old: 'screened', new: 'enrolled' });
  // Both in one transaction: consecutive events.
  assert.equal(Math.abs(subjEvents[subjEvents.length - 1].seq - last.seq), 1);
});

test('a new institution created by a study-site is audited too', async () => {
  const st = (await s.post('/api/v1/studies', studyBody())).json;
  const ss = (await s.post(`/api/v1/studies/${st.id}/sites`, siteBody({ institution_name: 'Brand New Institute', country: 'IE', time_zone: 'Europe/Dublin' }))).json;
  const events = await trail('site', ss.site_id);
  assert.equal(events.length, 1);
  assert.equal(change(events[0], 'name').new, 'Brand New Institute');
});

test('refused writes leave no trace; the audit list pages and filters', async () => {
  const st = (await s.post('/api/v1/studies', studyBody())).json;
  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/studies/${st.id}`, { title: '' }, 1), 422);
    assertProblem(await s.transition('studies', st.id, 'closed', '2024-01-01'), 409);
  });
  assert.equal((await trail('study', st.id)).length, 1);
  for (let i = 0; i < 12; i++) await s.patch(`/api/v1/studies/${st.id}`, { target_enrollment: 10 + i }, i + 1);
  const all = await walk(s, `/api/v1/audit?entity=study&id=${st.id}`, 5);
  assert.equal(all.length, 13);
  assert.deepEqual(all.map((e) => e.seq), [...all.map((e) => e.seq)].sort((a, b) => a - b));
  assert.equal(new Set(all.map((e) => e.seq)).size, 13);
  const everything = await walk(s, '/api/v1/audit', 50);
  assert.equal(everything.length, auditCount(s.db));
  assert.deepEqual(everything.map((e) => e.seq), everything.map((_, i) => i + 1));
  const studies = await walk(s, '/api/v1/audit?entity=study', 1000);
  for (const e of studies) assert.equal(e.entity, 'study');
  assertProblem(await s.get('/api/v1/audit?entity=nothing'), 422, ['entity']);
  assertProblem(await s.get('/api/v1/audit?actor=someone'), 422, ['actor']);
});

test('the store refuses UPDATE and DELETE of audit events while the triggers are in place', async () => {
  await s.post('/api/v1/studies', studyBody());
  const before = sqlite(s.db, 'SELECT changes FROM audit_event WHERE seq = 1');
  const upd = sqlite(s.db, "UPDATE audit_event SET changes = '[]' WHERE seq = 1");
  assert.notEqual(upd.status, 0);
  assert.match(upd.stderr, /append-only/);
  const del = sqlite(s.db, 'DELETE FROM audit_event WHERE seq = 1');
  assert.notEqual(del.status, 0);
  assert.match(del.stderr, /append-only/);
  assert.equal(sqlite(s.db, 'SELECT changes FROM audit_event WHERE seq = 1').stdout, before.stdout);
  assert.equal(sqlite(s.db, 'SELECT count(*) FROM audit_event WHERE seq = 1').stdout, '1');
});

test('tampering: ctms audit verify exits 0 on an intact trail and 1 naming the altered event', async () => {
  const t = await startServer();
  let stopped = false;
  try {
    // The trail already holds the events of setting up the test's account
    // (user, grant, token); the four writes below follow them.
    const base = auditCount(t.db);
    assert.ok(base > 0, 'setting up the account is audited');
    const st = (await t.post('/api/v1/studies', studyBody({ title: 'Tamper me' }))).json;
    await t.patch(`/api/v1/studies/${st.id}`, { title: 'Changed once', change_reason: 'typo' }, 1);
    await t.transition('studies', st.id, 'start_up', '2024-02-01');
    await t.post('/api/v1/organisations', { name: 'Bystander', kind: 'cro' });
    await stopChecked(t, { keep: true });
    stopped = true;

    const count = auditCount(t.db);
    assert.equal(count, base + 4);
    const ok = verify(t.db);
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, new RegExp(`intact: ${count} events`));

    // Alter the update event (the second write): the title it recorded.
    const seq = Number(sqlite(t.db, "SELECT seq FROM audit_event WHERE action = 'update' AND entity = 'study'").stdout);
    assert.equal(seq, base + 2);
    assert.equal(dropAuditGuards(t.db).status, 0);
    const tamper = sqlite(t.db,
      `UPDATE audit_event SET changes = replace(changes, 'Changed once', 'Nothing to see') WHERE seq = ${seq};`);
    assert.equal(tamper.status, 0, tamper.stderr);
    assert.match(sqlite(t.db, `SELECT changes FROM audit_event WHERE seq = ${seq}`).stdout, /Nothing to see/);
    const bad = verify(t.db);
    assert.equal(bad.status, 1, bad.stderr + bad.stdout);
    assert.match(bad.stdout + bad.stderr, new RegExp(`event ${seq}\\b`));
    assert.doesNotMatch(bad.stdout + bad.stderr, new RegExp(`event (${base + 1}|${base + 3}|${base + 4})\\b`));

    // Put it back: intact again. Then alter a reason alone (the transition).
    sqlite(t.db, `UPDATE audit_event SET changes = replace(changes, 'Nothing to see', 'Changed once') WHERE seq = ${seq}`);
    assert.equal(verify(t.db).status, 0);
    const transition = base + 3;
    sqlite(t.db, `UPDATE audit_event SET reason = 'approved by QA' WHERE seq = ${transition}`);
    const bad3 = verify(t.db);
    assert.equal(bad3.status, 1);
    assert.match(bad3.stdout + bad3.stderr, new RegExp(`event ${transition}\\b`));
    sqlite(t.db, `UPDATE audit_event SET reason = NULL WHERE seq = ${transition}`);
    assert.equal(verify(t.db).status, 0);

    // Deleting the last event is caught by the chain head.
    const last = base + 4;
    const drop = sqlite(t.db, `DELETE FROM audit_event WHERE seq = ${last};`);
    assert.equal(drop.status, 0, drop.stderr);
    const bad4 = verify(t.db);
    assert.equal(bad4.status, 1);
    assert.match(bad4.stdout + bad4.stderr, new RegExp(`event ${last}\\b`));
  } finally {
    if (!stopped) await t.stop();
    t.cleanup();
  }
});

test('the trail filters by actor and time range as well as by record', async () => {
  const mine = await s.post('/api/v1/organisations', { name: `Filtered ${Date.now()}`, kind: 'vendor' });
  assert.equal(mine.status, 201, mine.text);
  const [created] = await trail('organisation', mine.json.id);
  // The command line writes as actor 0; the test administrator is a user.
  const byAdmin = await walk(s, `/api/v1/audit?actor_id=${created.actor_id}`, 1000);
  assert.ok(created.actor_id > 0);
  assert.ok(byAdmin.length > 0 && byAdmin.every((e) => e.actor_id === created.actor_id));
  assert.ok(byAdmin.some((e) => e.seq === created.seq));
  const bySystem = await walk(s, '/api/v1/audit?actor_id=0', 1000);
  assert.ok(bySystem.length > 0 && bySystem.every((e) => e.actor_id === 0 && e.actor === 'system'));
  // from/to take an instant (inclusive) or a whole UTC day.
  const at = (await s.get(`/api/v1/audit?from=${created.at}&to=${created.at}`)).json.items;
  assert.ok(at.length >= 1 && at.every((e) => e.at === created.at), JSON.stringify(at));
  const day = created.at.slice(0, 10);
  const today = await walk(s, `/api/v1/audit?from=${day}&to=${day}&entity=organisation`, 1000);
  assert.ok(today.some((e) => e.seq === created.seq));
  assert.deepEqual((await s.get('/api/v1/audit?to=2000-01-01')).json.items, []);
  assertProblem(await s.get('/api/v1/audit?actor_id=someone'), 422, ['actor_id']);
  assertProblem(await s.get('/api/v1/audit?from=yesterday'), 422, ['from']);
  assertProblem(await s.get(`/api/v1/audit?from=${day}&to=2000-01-01`), 422, ['to']);
});

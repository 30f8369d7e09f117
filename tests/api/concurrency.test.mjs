// Optimistic concurrency (If-Match, 412 with the current record, 428) and
// idempotent retries (Idempotency-Key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, studyBody, subjectBody, assertProblem, assertNoWrite, auditCount,
  createEnrollingSetup, uniq,
} from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

const newStudy = async (o) => {
  const r = await s.post('/api/v1/studies', studyBody(o));
  assert.equal(r.status, 201, r.text);
  return r.json;
};

test('two PATCHes with the same If-Match: the first wins, the second gets 412 and the current record', async () => {
  const st = await newStudy({ title: 'Original' });
  const path = `/api/v1/studies/${st.id}`;
  const a = await s.patch(path, { title: 'Alice was here' }, 1);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.version, 2);
  const b = await assertNoWrite(s, () => s.patch(path, { title: 'Bob was here' }, 1));
  const p = assertProblem(b, 412);
  assert.match(p.detail, /version 2/);
  assert.ok(p.current, 'a 412 carries the current record');
  assert.equal(p.current.id, st.id);
  assert.equal(p.current.version, 2);
  assert.equal(p.current.title, 'Alice was here');
  assert.deepEqual(p.current, a.json, 'current is the record exactly as a GET shows it');
  // Bob re-reads and retries with the version he was shown.
  const retry = await s.patch(path, { title: 'Bob was here' }, p.current.version);
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.json.version, 3);
  assert.equal((await s.get(path)).json.title, 'Bob was here');
});

test('concurrent PATCHes with the same If-Match: exactly one succeeds', async () => {
  const st = await newStudy();
  const path = `/api/v1/studies/${st.id}`;
  const before = auditCount(s.db);
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    s.patch(path, { title: `Writer ${i}` }, 1)));
  const statuses = rs.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 412, 412, 412, 412, 412], rs.map((r) => r.text).join('\n'));
  const winner = rs.find((r) => r.status === 200).json;
  for (const r of rs.filter((x) => x.status === 412)) assert.equal(r.json.current.title, winner.title);
  assert.equal(auditCount(s.db), before + 1);
  const now = (await s.get(path)).json;
  assert.equal(now.version, 2);
  assert.equal(now.title, winner.title);
});

test('PATCH without If-Match answers 428 and writes nothing', async () => {
  const st = await newStudy();
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.patch(`/api/v1/studies/${st.id}`, { title: 'x' }), 428);
    assert.match(r.detail, /If-Match/);
    // Every record kind alike.
    assertProblem(await s.patch('/api/v1/organisations/1', { name: 'x' }), 428);
    assertProblem(await s.patch('/api/v1/subjects/1', { age: 3 }), 428);
  });
  assert.equal((await s.get(`/api/v1/studies/${st.id}`)).json.version, 1);
});

test('If-Match accepts "N", W/"N" and N; refuses anything else with 400', async () => {
  const st = await newStudy();
  const path = `/api/v1/studies/${st.id}`;
  let r = await s.request('PATCH', path, { body: { title: 'one' }, headers: { 'if-match': 'W/"1"' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('etag'), '"2"');
  r = await s.request('PATCH', path, { body: { title: 'two' }, headers: { 'if-match': '"2"' } });
  assert.equal(r.status, 200, r.text);
  r = await s.request('PATCH', path, { body: { title: 'three' }, headers: { 'if-match': '3' } });
  assert.equal(r.status, 200, r.text);
  // The ETag of a GET is what If-Match takes.
  const g = await s.get(path);
  r = await s.request('PATCH', path, { body: { title: 'four' }, headers: { 'if-match': g.headers.get('etag') } });
  assert.equal(r.status, 200, r.text);
  await assertNoWrite(s, async () => {
    for (const bad of ['abc', '"abc"', '"0"', '"-1"', '""', '"5', 'W/', '"5"x', '1.5']) {
      assertProblem(await s.request('PATCH', path, { body: { title: 'bad' }, headers: { 'if-match': bad } }), 400);
    }
    // A version from the future is stale too.
    assertProblem(await s.request('PATCH', path, { body: { title: 'bad' }, headers: { 'if-match': '"99"' } }), 412);
  });
});

test('a stale If-Match on a transition answers 412; without If-Match a transition applies', async () => {
  const st = await newStudy();
  await s.patch(`/api/v1/studies/${st.id}`, { title: 'moved on' }, 1);
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.transition('studies', st.id, 'start_up', '2024-03-01', undefined, { 'if-match': '"1"' }), 412);
    assert.equal(r.current.version, 2);
    assert.equal(r.current.status, 'planned');
  });
  const ok = await s.transition('studies', st.id, 'start_up', '2024-03-01', undefined, { 'if-match': '"2"' });
  assert.equal(ok.status, 200, ok.text);
  const free = await s.transition('studies', st.id, 'enrolling', '2024-04-01');
  assert.equal(free.status, 200, free.text);
});

test('a 412 on a child record carries that record with its derived fields', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const subj = (await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, { age: 80 }))).json;
  await s.patch(`/api/v1/subjects/${subj.id}`, { age: 81 }, 1);
  const r = assertProblem(await s.patch(`/api/v1/subjects/${subj.id}`, { age: 90 }, 1), 412);
  assert.equal(r.current.age, 81);
  assert.equal(r.current.age_band, '75-84');
  assert.equal(r.current.site_number, site.site_number);
});

test('Idempotency-Key: the same key and body twice give one record and the same answer', async () => {
  const { study } = await createEnrollingSetup(s);
  const path = `/api/v1/studies/${study.id}/milestones`;
  const body = { name: 'Ethics approval', kind: 'ethics_approval', planned_on: '2024-02-01' };
  const key = uniq('key-');
  const before = auditCount(s.db);
  const first = await s.post(path, body, { 'idempotency-key': key });
  assert.equal(first.status, 201, first.text);
  const second = await s.post(path, body, { 'idempotency-key': key });
  assert.equal(second.status, 201, second.text);
  assert.equal(second.text, first.text, 'the replay is the first answer, byte for byte');
  assert.equal(second.headers.get('location'), first.headers.get('location'));
  assert.match(second.headers.get('content-type'), /^application\/json/);
  assert.equal(second.headers.get('etag'), first.headers.get('etag'), 'the replay carries the same ETag');
  assert.equal(auditCount(s.db), before + 1);
  const list = await s.get(path);
  assert.equal(list.json.items.filter((m) => m.name === 'Ethics approval').length, 1);
});

test('Idempotency-Key: the same key with a different body answers 422 and writes nothing', async () => {
  const { study } = await createEnrollingSetup(s);
  const path = `/api/v1/studies/${study.id}/milestones`;
  const key = uniq('key-');
  const first = await s.post(path, { name: 'A', kind: 'other' }, { 'idempotency-key': key });
  assert.equal(first.status, 201, first.text);
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.post(path, { name: 'B', kind: 'other' }, { 'idempotency-key': key }), 422);
    assert.match(r.detail, /Idempotency-Key/);
    // The same body on another path is another request too.
    const st2 = await newStudyNoWriteGuard();
    assertProblem(await s.post(`/api/v1/studies/${st2}/milestones`, { name: 'A', kind: 'other' }, { 'idempotency-key': key }), 422);
  });
  const list = await s.get(path);
  assert.deepEqual(list.json.items.map((m) => m.name), ['A']);
});

// A study id that exists, found without writing (the first study of the server).
async function newStudyNoWriteGuard() {
  return (await s.get('/api/v1/studies?limit=1')).json.items[0].id;
}

test('without an Idempotency-Key the same POST twice makes two records', async () => {
  const { study } = await createEnrollingSetup(s);
  const path = `/api/v1/studies/${study.id}/milestones`;
  const body = { name: 'Site initiation visit', kind: 'site_initiation' };
  const a = await s.post(path, body);
  const b = await s.post(path, body);
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.notEqual(a.json.id, b.json.id);
  const list = await s.get(path);
  assert.equal(list.json.items.filter((m) => m.name === body.name).length, 2);
});

test('Idempotency-Key on a transition applies it once; a refused first try is not remembered', async () => {
  const st = await newStudy();
  const key = uniq('tkey-');
  const body = { to: 'start_up', on: '2024-02-01' };
  const a = await s.post(`/api/v1/studies/${st.id}/transition`, body, { 'idempotency-key': key });
  assert.equal(a.status, 200, a.text);
  const b = await s.post(`/api/v1/studies/${st.id}/transition`, body, { 'idempotency-key': key });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.text, a.text);
  assert.equal((await s.get(`/api/v1/studies/${st.id}`)).json.version, 2);

  // A first try that failed validation is not stored: the corrected retry under the same key goes through.
  const key2 = uniq('k2-');
  const bad = await s.post('/api/v1/studies', studyBody({ phase: 'PHASE9' }), { 'idempotency-key': key2 });
  assertProblem(bad, 422, ['phase']);
  const good = await s.post('/api/v1/studies', studyBody(), { 'idempotency-key': key2 });
  assert.equal(good.status, 201, good.text);
});

test('concurrent retries with one Idempotency-Key create one record', async () => {
  const st = await newStudy();
  const path = `/api/v1/studies/${st.id}/milestones`;
  const key = uniq('race-');
  const body = { name: 'Raced', kind: 'other' };
  const rs = await Promise.all(Array.from({ length: 5 }, () => s.post(path, body, { 'idempotency-key': key })));
  for (const r of rs) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(rs.map((r) => r.json.id)).size, 1);
  assert.equal((await s.get(path)).json.items.length, 1);
});

test('Idempotency-Key must be 1 to 255 characters', async () => {
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody(), { 'idempotency-key': 'k'.repeat(256) }), 400);
  });
});

test('concurrent creates of one protocol number: one 201, the rest 409', async () => {
  const body = studyBody();
  const rs = await Promise.all(Array.from({ length: 6 }, () => s.post('/api/v1/studies', body)));
  const statuses = rs.map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409], rs.map((r) => r.text).join('\n'));
  for (const r of rs.filter((x) => x.status === 409)) assertProblem(r, 409, ['protocol_number']);
  const l = await s.get(`/api/v1/studies?protocol_number=${body.protocol_number}`);
  assert.equal(l.json.items.length, 1);
});

test('concurrent first enrollments at one site move the site to enrolling exactly once', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const subjects = [];
  for (let i = 0; i < 5; i++) {
    const r = await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, { consented_on: '2024-06-01' }));
    assert.equal(r.status, 201, r.text);
    subjects.push(r.json);
  }
  const rs = await Promise.all(subjects.map((x) => s.transition('subjects', x.id, 'enrolled', '2024-06-20')));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const after = (await s.get(`/api/v1/study-sites/${site.id}`)).json;
  assert.equal(after.status, 'enrolling');
  assert.equal(after.version, site.version + 1);
  const events = (await s.get(`/api/v1/audit?entity=study_site&id=${site.id}`)).json.items;
  assert.equal(events.filter((e) => e.changes.some((c) => c.field === 'status' && c.new === 'enrolling')).length, 1);
  const sum = (await s.get(`/api/v1/studies/${study.id}/summary`)).json;
  assert.equal(sum.subjects.by_status.enrolled, 5);
});

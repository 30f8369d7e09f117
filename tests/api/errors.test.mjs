// Bad input: every refusal is a 4xx problem+json that names what was wrong,
// and writes nothing (the audit trail does not grow).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, studyBody, siteBody, subjectBody, assertProblem, assertNoWrite,
  rawHttp, createEnrollingSetup, createSite,
} from './lib.mjs';

let s;
let setup; // an enrolling study with protocol 1.0 and one activated site
let subject; // a screened subject of that study
let planned; // a planned study
before(async () => {
  s = await startServer();
  setup = await createEnrollingSetup(s);
  subject = (await s.post(`/api/v1/studies/${setup.study.id}/subjects`,
    subjectBody(setup.site.site_number, { consented_on: '2024-06-01' }))).json;
  planned = (await s.post('/api/v1/studies', studyBody())).json;
});
after(async () => { await stopChecked(s); });

const raw = (method, path, body, headers = {}) =>
  s.request(method, path, { raw: body, headers: { 'content-type': 'application/json', ...headers } });

test('wrong JSON types are refused field by field (422)', async () => {
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.post('/api/v1/studies', {
      protocol_number: 123, title: ['a'], phase: 2, target_enrollment: '100', planned_start_on: 20240101, acronym: {},
    }), 422, ['protocol_number', 'title', 'phase', 'target_enrollment', 'planned_start_on', 'acronym']);
    assert.equal(r.errors.length, 6);
    assertProblem(await s.post('/api/v1/studies', studyBody({ target_enrollment: 10.5 })), 422, ['target_enrollment']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ target_enrollment: true })), 422, ['target_enrollment']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ title: null })), 422, ['title']);
    assertProblem(await s.post('/api/v1/organisations', { name: 'N', kind: 'sponsor', country: 49 }), 422, ['country']);
    assertProblem(await s.post('/api/v1/sites', { name: 'N', country: 'DE', organisation_id: '1' }), 422, ['organisation_id']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/protocol-versions`, { number: 2, version_date: '2024-01-01' }), 422, ['number']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/milestones`, { name: 'M', kind: 'other', planned_on: true }), 422, ['planned_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/sites`, siteBody({ target_enrollment: '5' })), 422, ['target_enrollment']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`, subjectBody(setup.site.site_number, { age: '52' })), 422, ['age']);
    assertProblem(await s.patch(`/api/v1/studies/${planned.id}`, { title: 42 }, planned.version), 422, ['title']);
    assertProblem(await s.patch(`/api/v1/studies/${planned.id}`, { change_reason: 7 }, planned.version), 422, ['change_reason']);
  });
});

test('unknown fields are refused and named (422)', async () => {
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody({ colour: 'blue' })), 422, ['colour']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ Title: 'x' })), 422, ['Title']);
    assertProblem(await s.post('/api/v1/organisations', { name: 'N', kind: 'cro', id: 5 }), 422, ['id']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`,
      subjectBody(setup.site.site_number, { dob: '1970-01-01' })), 422, ['dob']);
    assertProblem(await s.patch(`/api/v1/studies/${planned.id}`, { created_at: '2024-01-01T00:00:00Z' }, planned.version), 422, ['created_at']);
    assertProblem(await s.patch(`/api/v1/subjects/${subject.id}`, { study_id: planned.id }, subject.version), 422, ['study_id']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 'start_up', on: '2024-01-01', by: 'me' }), 422, ['by']);
  });
});

test('missing required fields are each named (422)', async () => {
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', {}), 422, ['protocol_number', 'title', 'phase', 'target_enrollment']);
    assertProblem(await s.post('/api/v1/organisations', {}), 422, ['name', 'kind']);
    assertProblem(await s.post('/api/v1/sites', {}), 422, ['name', 'country']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/sites`, {}), 422,
      ['site_number', 'institution_name', 'investigator_name', 'country', 'time_zone']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`, {}), 422,
      ['site_number', 'screening_number', 'sex', 'age', 'screened_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/protocol-versions`, {}), 422, ['number', 'version_date']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/milestones`, {}), 422, ['name', 'kind']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { on: '2024-01-01' }), 422, ['to']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 'start_up' }), 422, ['on']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ title: '' })), 422, ['title']);
  });
});

test('text values: control characters, edge spaces and over-long values are refused', async () => {
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody({ title: 'bell\u0007' })), 422, ['title']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ title: ' padded' })), 422, ['title']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ protocol_number: 'P'.repeat(65) })), 422, ['protocol_number']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ title: 'é'.repeat(501) })), 422, ['title']);
    // An escaped NUL would cut the string short in C: never accepted.
    const r = await raw('POST', '/api/v1/studies', JSON.stringify(studyBody()).replace('"A test study"', '"A\\u0000B"'));
    assert.ok(r.status === 400 || r.status === 422, r.text);
    assertProblem(r, r.status);
  });
});

test('oversize bodies are refused with 413', async () => {
  const big = JSON.stringify(studyBody({ title: 'x'.repeat(1024 * 1024) }));
  assert.ok(Buffer.byteLength(big) > 1024 * 1024);
  await assertNoWrite(s, async () => {
    const r = await raw('POST', '/api/v1/studies', big);
    assertProblem(r, 413);
    // The same without a Content-Length: chunked transfer.
    const enc = new TextEncoder().encode(big);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < enc.length; i += 65536) controller.enqueue(enc.subarray(i, i + 65536));
        controller.close();
      },
    });
    const res = await fetch(`${s.url}/api/v1/studies`, {
      method: 'POST', body: stream, duplex: 'half',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
    });
    const text = await res.text();
    assertProblem({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 413);
    // A declared length over the limit is refused however little is sent.
    const p = await s.patch(`/api/v1/studies/${planned.id}`, { title: 'y'.repeat(1024 * 1024 + 10) }, planned.version);
    assertProblem(p, 413);
  });
  // Just under the limit is read (and refused for its content, not its size).
  const under = JSON.stringify(studyBody({ title: 'x'.repeat(1024 * 1024 - 200) }));
  assert.ok(Buffer.byteLength(under) <= 1024 * 1024);
  assertProblem(await raw('POST', '/api/v1/studies', under), 422, ['title']);
});

test('invalid UTF-8 in a body is refused (400)', async () => {
  const prefix = Buffer.from('{"protocol_number":"UTF-');
  const suffix = Buffer.from('","title":"T","phase":"PHASE2","target_enrollment":10}');
  const cases = [
    Buffer.from([0xff, 0xfe]), // never valid
    Buffer.from([0xc3]), // truncated sequence
    Buffer.from([0xc0, 0xaf]), // overlong "/"
    Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
  ];
  await assertNoWrite(s, async () => {
    for (const bad of cases) {
      const r = await raw('POST', '/api/v1/studies', Buffer.concat([prefix, bad, suffix]));
      assertProblem(r, 400);
    }
    const surrogate = await raw('POST', '/api/v1/studies', '{"protocol_number":"\\ud800","title":"T","phase":"PHASE2","target_enrollment":10}');
    assertProblem(surrogate, 400);
  });
});

test('duplicate keys, non-JSON and non-object bodies are refused (400)', async () => {
  const dup = '{"protocol_number":"DUP-1","title":"T","phase":"PHASE2","target_enrollment":10,"title":"U"}';
  await assertNoWrite(s, async () => {
    const r = assertProblem(await raw('POST', '/api/v1/studies', dup), 400);
    assert.match(r.detail, /duplicate/);
    for (const body of ['hello', '', '[]', '[{"title":"x"}]', 'null', '"str"', '42', '{"title":', '{"a":1} trailing', "{'a':1}", '{"a":NaN}']) {
      assertProblem(await raw('POST', '/api/v1/studies', body), 400);
    }
    assertProblem(await raw('PATCH', `/api/v1/studies/${planned.id}`, 'not json', { 'if-match': '"1"' }), 400);
    assertProblem(await raw('PATCH', `/api/v1/studies/${planned.id}`, '{"title":"a","title":"b"}', { 'if-match': '"1"' }), 400);
    assertProblem(await raw('POST', `/api/v1/studies/${planned.id}/transition`, '{"to":"start_up","to":"withdrawn","on":"2024-01-01"}'), 400);
    assertProblem(await raw('POST', `/api/v1/studies/${planned.id}/transition`, '<to>start_up</to>'), 400);
    // Deep nesting is refused, not recursed into.
    assertProblem(await raw('POST', '/api/v1/studies', '['.repeat(100000)), 400);
    assertProblem(await raw('POST', '/api/v1/studies', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`), 400);
    // A number written as a real is not an integer.
    assertProblem(await raw('POST', '/api/v1/studies', '{"protocol_number":"R-1","title":"T","phase":"PHASE2","target_enrollment":10.0}'),
      422, ['target_enrollment']);
  });
  assert.equal((await s.get(`/api/v1/studies/${planned.id}`)).json.status, 'planned');
});

test('non-existent ids answer 404', async () => {
  await assertNoWrite(s, async () => {
    for (const c of ['studies', 'organisations', 'sites', 'study-sites', 'subjects', 'protocol-versions', 'milestones']) {
      const r = assertProblem(await s.get(`/api/v1/${c}/987654`), 404);
      assert.match(r.detail, /987654/);
      assertProblem(await s.patch(`/api/v1/${c}/987654`, {}, 1), 404);
    }
    for (const [c, to] of [['studies', 'start_up'], ['study-sites', 'feasibility'], ['subjects', 'enrolled'], ['protocol-versions', 'approved']]) {
      assertProblem(await s.transition(c, 987654, to, '2024-01-01', 'r'), 404);
    }
    assertProblem(await s.post('/api/v1/studies/987654/subjects', subjectBody('101')), 404);
    assertProblem(await s.post('/api/v1/studies/987654/sites', siteBody()), 404);
    assertProblem(await s.post('/api/v1/studies/987654/protocol-versions', { number: '1', version_date: '2024-01-01' }), 404);
    assertProblem(await s.post('/api/v1/studies/987654/milestones', { name: 'M', kind: 'other' }), 404);
    assertProblem(await s.get('/api/v1/studies/987654/summary'), 404);
    assertProblem(await s.get('/api/v1/nothing-here'), 404);
    assertProblem(await s.get('/api/v2/studies'), 404);
    assertProblem(await s.get(`/api/v1/studies/${planned.id}/nothing`), 404);
  });
});

test('ids like abc, 0, -1 in paths answer 404', async () => {
  const bad = ['abc', '0', '-1', '1.5', '1e3', '0x10', '%20', '99999999999999999999', `${planned.id}abc`, "1'%20OR%20'1'='1"];
  await assertNoWrite(s, async () => {
    for (const id of bad) {
      assertProblem(await s.get(`/api/v1/studies/${id}`), 404);
      assertProblem(await s.get(`/api/v1/subjects/${id}`), 404);
      assertProblem(await s.get(`/api/v1/studies/${id}/subjects`), 404);
      assertProblem(await s.patch(`/api/v1/studies/${id}`, { title: 'x' }, 1), 404);
      assertProblem(await s.post(`/api/v1/studies/${id}/transition`, { to: 'start_up', on: '2024-01-01' }), 404);
      assertProblem(await s.post(`/api/v1/studies/${id}/subjects`, subjectBody('101')), 404);
    }
  });
});

test('illegal transitions answer 409 and change nothing', async () => {
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.transition('studies', planned.id, 'enrolling', '2024-02-01'), 409);
    assert.match(r.detail, /planned/);
    assert.match(r.detail, /start_up/);
    assertProblem(await s.transition('studies', planned.id, 'closed', '2024-02-01'), 409);
    assertProblem(await s.transition('studies', planned.id, 'planned', '2024-02-01'), 409);
    assertProblem(await s.transition('studies', setup.study.id, 'start_up', '2024-05-01'), 409);
    assertProblem(await s.transition('study-sites', setup.site.id, 'initiated', '2024-05-01'), 409);
    assertProblem(await s.transition('subjects', subject.id, 'completed', '2024-07-01'), 409);
    assertProblem(await s.transition('protocol-versions', setup.protocol.id, 'rejected', '2024-07-01', 'late'), 409);
    // A state no record has is a validation error naming "to".
    assertProblem(await s.transition('studies', planned.id, 'paused', '2024-02-01'), 422, ['to']);
    assertProblem(await s.transition('studies', planned.id, 'START_UP', '2024-02-01'), 422, ['to']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 5, on: '2024-02-01' }), 422, ['to']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 'start_up', on: 20240201 }), 422, ['on']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 'start_up', on: '2024-02-01', reason: 5 }), 422, ['reason']);
    assertProblem(await s.post(`/api/v1/studies/${planned.id}/transition`, { to: 'start_up', on: '2024-02-01', reason: 'r'.repeat(1001) }), 422, ['reason']);
    // Organisations, sites and milestones have no lifecycle route at all.
    assertProblem(await s.post('/api/v1/milestones/1/transition', { to: 'x', on: '2024-01-01' }), 404);
  });
  assert.equal((await s.get(`/api/v1/studies/${planned.id}`)).json.version, planned.version);
});

test('dates: malformed, in the future or out of order are refused (422)', async () => {
  const future = new Date(Date.now() + 3 * 86400e3).toISOString().slice(0, 10);
  const site = await createSite(s, setup.study.id, { identified_on: '2024-02-01' }, 'identified');
  await assertNoWrite(s, async () => {
    for (const on of ['2013-02', 'UNK', '2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '24-01-01',
      '2024/01/01', '2024-1-1', '01-02-2024', '2024-01-01T00:00:00Z', ' 2024-01-01', '', 'UN-UNK-2024', '0000-01-01']) {
      assertProblem(await s.transition('studies', planned.id, 'start_up', on), 422, ['on']);
      assertProblem(await s.post('/api/v1/studies', studyBody({ planned_start_on: on })), 422, ['planned_start_on']);
    }
    assertProblem(await s.transition('studies', planned.id, 'start_up', future), 422, ['on']);
    assertProblem(await s.transition('studies', planned.id, 'start_up', '2999-12-31'), 422, ['on']);
    assertProblem(await s.transition('study-sites', site.id, 'feasibility', future), 422, ['on']);
    // Out of order: before the last step's date.
    assertProblem(await s.transition('study-sites', site.id, 'feasibility', '2024-01-31'), 422, ['on']);
    assertProblem(await s.transition('studies', setup.study.id, 'follow_up', '2024-02-01'), 422, ['on']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ planned_start_on: '2025-06-01', planned_end_on: '2025-05-31' })),
      422, ['planned_end_on']);
    assertProblem(await s.patch(`/api/v1/studies/${planned.id}`, { planned_start_on: '2025-06-01', planned_end_on: '2024-01-01' }, planned.version),
      422, ['planned_end_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/sites`, siteBody({ identified_on: future })), 422, ['identified_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`,
      subjectBody(setup.site.site_number, { screened_on: future })), 422, ['screened_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`,
      subjectBody(setup.site.site_number, { screened_on: '2013-02' })), 422, ['screened_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/subjects`,
      subjectBody(setup.site.site_number, { consented_on: 'UNK' })), 422, ['consented_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/milestones`,
      { name: 'M', kind: 'other', actual_on: future }), 422, ['actual_on']);
    assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/protocol-versions`,
      { number: '5.0', version_date: '2024-02' }), 422, ['version_date']);
  });
  // Planned dates may lie in the future.
  const ok = await s.post('/api/v1/studies', studyBody({ planned_start_on: future, planned_end_on: '2030-01-01' }));
  assert.equal(ok.status, 201, ok.text);
});

test('codes: phase, country, time zone, sex, race, ethnicity, age', async () => {
  const subj = (o) => s.post(`/api/v1/studies/${setup.study.id}/subjects`, subjectBody(setup.site.site_number, o));
  await assertNoWrite(s, async () => {
    for (const phase of ['PHASE5', 'phase2', 'Phase 2', 'II', '', 'PHASE2 ']) {
      assertProblem(await s.post('/api/v1/studies', studyBody({ phase })), 422, ['phase']);
    }
    assertProblem(await s.patch(`/api/v1/studies/${planned.id}`, { phase: 'PHASE0' }, planned.version), 422, ['phase']);
    for (const country of ['XX', 'ZZ', 'uk', 'UK', 'EU', 'DEU']) {
      assertProblem(await s.post('/api/v1/organisations', { name: 'C', kind: 'cro', country }), 422, ['country']);
      assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/sites`, siteBody({ country })), 422, ['country']);
    }
    for (const time_zone of ['Nowhere/Place', 'EST5EDT ', 'Europe/../Europe/Paris', 'right/UTC', 'zone.tab', 'Europe/Paris\n']) {
      assertProblem(await s.post(`/api/v1/studies/${setup.study.id}/sites`, siteBody({ time_zone })), 422, ['time_zone']);
    }
    assertProblem(await s.patch(`/api/v1/study-sites/${setup.site.id}`, { time_zone: 'Atlantis/Central' }, setup.site.version), 422, ['time_zone']);
    assertProblem(await subj({ sex: 'Male' }), 422, ['sex']);
    assertProblem(await subj({ race: 'Asian' }), 422, ['race']);
    assertProblem(await subj({ ethnicity: 'HISPANIC' }), 422, ['ethnicity']);
    assertProblem(await subj({ age: 200 }), 422, ['age']);
    assertProblem(await subj({ age: -5 }), 422, ['age']);
    assertProblem(await s.patch(`/api/v1/subjects/${subject.id}`, { age: 131 }, subject.version), 422, ['age']);
  });
});

test('SQL metacharacters are stored and returned verbatim', async () => {
  const nasty = [
    "Robert'); DROP TABLE studies;--",
    'a" OR "1"="1',
    "x' OR '1'='1",
    '%_\\ LIKE \'%\' ;',
    '日本語 — ü ß 🧪',
  ];
  for (const title of nasty) {
    const c = await s.post('/api/v1/studies', studyBody({ title, acronym: title.slice(0, 60) }));
    assert.equal(c.status, 201, c.text);
    assert.equal(c.json.title, title);
    const g = await s.get(`/api/v1/studies/${c.json.id}`);
    assert.equal(g.json.title, title);
    assert.equal(g.json.acronym, title.slice(0, 60));
  }
  const pn = "PN'; DELETE FROM studies; --";
  const c = await s.post('/api/v1/studies', studyBody({ protocol_number: pn }));
  assert.equal(c.status, 201, c.text);
  const byPn = await s.get(`/api/v1/studies?protocol_number=${encodeURIComponent(pn)}`);
  assert.deepEqual(byPn.json.items.map((x) => x.id), [c.json.id]);
  // A filter value is a value, never SQL.
  const inj = await s.get(`/api/v1/studies?protocol_number=${encodeURIComponent("x' OR '1'='1")}`);
  assert.equal(inj.status, 200);
  assert.deepEqual(inj.json.items, []);
  const inj2 = await s.get(`/api/v1/studies?sponsor_id=${encodeURIComponent('1 OR 1=1')}`);
  assert.deepEqual(inj2.json.items, []);
  const all = await s.get('/api/v1/studies?limit=1000');
  assert.ok(all.json.items.length >= 7);
  await assertNoWrite(s, async () => {
    assertProblem(await s.get(`/api/v1/studies?${encodeURIComponent('status; DROP TABLE studies')}=1`), 422);
    assertProblem(await s.get('/api/v1/studies?id=1'), 422, ['id']);
  });
  const audit = await s.get(`/api/v1/audit?entity=study&id=${c.json.id}`);
  assert.equal(audit.json.items[0].changes.find((x) => x.field === 'protocol_number').new, pn);
});

test('bad paging parameters answer 400; unknown filters 422', async () => {
  const lists = ['/api/v1/studies', '/api/v1/organisations', '/api/v1/sites', `/api/v1/studies/${setup.study.id}/subjects`,
    `/api/v1/studies/${setup.study.id}/sites`, `/api/v1/studies/${setup.study.id}/milestones`,
    `/api/v1/studies/${setup.study.id}/protocol-versions`, '/api/v1/audit'];
  const badCursors = ['zzz', 'abc!', 'YWZ0ZXI6LTE', Buffer.from('after:').toString('base64url'),
    Buffer.from('before:5').toString('base64url'), Buffer.from('after:5x').toString('base64url'),
    Buffer.from('after:99999999999999999999').toString('base64url'), 'A'.repeat(200), '%00'];
  await assertNoWrite(s, async () => {
    for (const list of lists) {
      for (const q of ['limit=0', 'limit=abc', 'limit=-1', 'limit=1001', 'limit=', 'limit=10abc', 'limit=1.5', 'limit=99999999999999999999']) {
        const r = assertProblem(await s.get(`${list}?${q}`), 400);
        assert.match(r.detail, /limit/);
      }
      for (const c of badCursors) {
        const r = assertProblem(await s.get(`${list}?cursor=${c}`), 400);
        assert.match(r.detail, /cursor/);
      }
      assert.equal((await s.get(`${list}?limit=1000`)).status, 200);
      assert.equal((await s.get(`${list}?limit=1`)).status, 200);
    }
    for (const list of lists.filter((l) => !l.endsWith('audit'))) {
      const r = assertProblem(await s.get(`${list}?frobnicate=1`), 422, ['frobnicate']);
      assert.ok(r.errors.length >= 1);
    }
    // Fields that exist but are not filters are refused the same way.
    assertProblem(await s.get('/api/v1/studies?title=x'), 422, ['title']);
    assertProblem(await s.get(`/api/v1/studies/${setup.study.id}/subjects?age=52`), 422, ['age']);
    assertProblem(await s.get('/api/v1/audit?id=abc'), 400);
    const many = Array.from({ length: 9 }, (_, i) => `f${i}=1`).join('&');
    assertProblem(await s.get(`/api/v1/studies?${many}`), 400);
    assertProblem(await s.get('/api/v1/audit?id=0'), 400);
  });
});

test('a wrong method answers 405 with an Allow header', async () => {
  const cases = [
    ['DELETE', `/api/v1/studies/${planned.id}`, ['GET', 'PATCH']],
    ['PUT', `/api/v1/studies/${planned.id}`, ['GET', 'PATCH']],
    ['POST', `/api/v1/studies/${planned.id}`, ['GET', 'PATCH']],
    ['DELETE', '/api/v1/studies', ['GET', 'POST']],
    ['PATCH', '/api/v1/studies', ['GET', 'POST']],
    ['GET', `/api/v1/studies/${planned.id}/transition`, ['POST']],
    ['POST', `/api/v1/studies/${planned.id}/summary`, ['GET']],
    ['POST', '/api/v1/audit', ['GET']],
    ['DELETE', `/api/v1/subjects/${subject.id}`, ['GET', 'PATCH']],
    ['POST', '/healthz', ['GET']],
  ];
  await assertNoWrite(s, async () => {
    for (const [method, path, allowed] of cases) {
      const r = await s.request(method, path, method === 'GET' ? {} : { body: {} });
      assertProblem(r, 405);
      const allow = (r.headers.get('allow') || '').split(',').map((x) => x.trim()).filter(Boolean).sort();
      assert.deepEqual(allow, allowed, `${method} ${path}`);
    }
  });
});

test('Content-Length with Transfer-Encoding is refused and cannot smuggle a request', async () => {
  const { host } = new URL(s.url);
  // Each request carries valid credentials: only its framing is wrong.
  const auth = `Authorization: Bearer ${s.token}\r\n`;
  const body = JSON.stringify({ name: 'Smuggled Org', kind: 'cro' });
  const smuggled = `GET /api/v1/smuggled HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\n`;
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  await assertNoWrite(s, async () => {
    // CL.TE: the length covers the chunked body and a second request.
    const r = await rawHttp(s.url,
      `POST /api/v1/organisations HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${chunked.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}${smuggled}`);
    assert.ok(r.closed || /^HTTP\/1\.1 400/.test(r.data), `neither refused nor closed: ${r.data}`);
    if (r.data) assert.match(r.data, /^HTTP\/1\.1 400 /);
    assert.equal((r.data.match(/HTTP\/1\.1 \d{3}/g) || []).length, r.data ? 1 : 0,
      `the connection answered a smuggled request:\n${r.data}`);
    // RFC 9112 6.1: the server must close the connection after such a request.
    assert.ok(r.closed, `the connection stayed open after a CL+TE request:\n${r.data}`);

    // TE.CL order of headers, and two different Content-Lengths.
    const r2 = await rawHttp(s.url,
      `POST /api/v1/organisations HTTP/1.1\r\nHost: ${host}\r\n${auth}Transfer-Encoding: chunked\r\n` +
      `Content-Type: application/json\r\nContent-Length: 4\r\n\r\n${chunked}`);
    assert.ok(r2.closed || /^HTTP\/1\.1 400/.test(r2.data), r2.data);
    if (r2.data) assert.match(r2.data, /^HTTP\/1\.1 400 /);
    const r3 = await rawHttp(s.url,
      `POST /api/v1/organisations HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nContent-Length: 2\r\n\r\n${body}`);
    assert.ok(r3.closed || /^HTTP\/1\.1 400/.test(r3.data), r3.data);
    if (r3.data) assert.match(r3.data, /^HTTP\/1\.1 400 /);
  });
  const orgs = await s.get('/api/v1/organisations?name=Smuggled%20Org');
  assert.deepEqual(orgs.json.items, []);
  // The server is still healthy and a plain chunked request works.
  assert.deepEqual((await s.get('/healthz')).json, { status: 'ok' });
  const ok = await rawHttp(s.url,
    `POST /api/v1/organisations HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\n` +
    `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
  assert.match(ok.data, /^HTTP\/1\.1 201 /, ok.data);
});

test('the server stays healthy after all of the above', async () => {
  const h = await s.get('/healthz');
  assert.equal(h.status, 200);
  const m = await s.get('/metrics');
  assert.match(m.text, /ctms_http_requests_total\{class="4xx"\} [1-9]/);
  assert.match(m.text, /ctms_http_requests_total\{class="5xx"\} 0\b/);
});

test('a malformed transition date is described as malformed, not as missing', async () => {
  const r = assertProblem(await s.transition('studies', planned.id, 'start_up', '2013-02'), 422, ['on']);
  const msg = r.errors.find((e) => e.field === 'on').message;
  assert.doesNotMatch(msg, /required/);
  assert.match(msg, /YYYY-MM-DD/);
});

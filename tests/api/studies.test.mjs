// Studies, protocol versions and milestones: create, read, list, update,
// lifecycles, pagination and filters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoWrite, assertProblem, createEnrollingStudy, signApproval, startServer, stopChecked, studyBody, uniq, walk } from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

test('a study is created, read, listed and patched', async () => {
  const body = studyBody({
    nct_id: 'NCT01234567', acronym: 'ALPHA', therapeutic_area: 'Oncology',
    planned_start_on: '2024-01-01', planned_end_on: '2026-12-31',
  });
  const c = await s.post('/api/v1/studies', body);
  assert.equal(c.status, 201, c.text);
  assert.match(c.headers.get('content-type'), /^application\/json/);
  assert.equal(c.headers.get('etag'), '"1"');
  assert.equal(c.headers.get('location'), `/api/v1/studies/${c.json.id}`);
  for (const [k, v] of Object.entries(body)) assert.equal(c.json[k], v, k);
  assert.equal(c.json.version, 1);
  assert.equal(c.json.status, 'planned');
  assert.equal(c.json.current_protocol_version, null);
  assert.ok(Number.isInteger(c.json.id) && c.json.id > 0);
  assert.match(c.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  const g = await s.get(c.headers.get('location'));
  assert.equal(g.status, 200);
  assert.equal(g.headers.get('etag'), '"1"');
  assert.deepEqual(g.json, c.json);

  const l = await s.get(`/api/v1/studies?protocol_number=${encodeURIComponent(body.protocol_number)}`);
  assert.equal(l.status, 200);
  assert.deepEqual(Object.keys(l.json).sort(), ['items', 'next_cursor']);
  assert.equal(l.json.items.length, 1);
  assert.equal(l.json.items[0].id, c.json.id);
  assert.equal(l.json.next_cursor, null);

  const p = await s.patch(`/api/v1/studies/${c.json.id}`, { title: 'A better title', target_enrollment: 250 }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.headers.get('etag'), '"2"');
  assert.equal(p.json.version, 2);
  assert.equal(p.json.title, 'A better title');
  assert.equal(p.json.target_enrollment, 250);
  assert.equal(p.json.protocol_number, body.protocol_number);
  assert.equal(p.json.created_at, c.json.created_at);

  const g2 = await s.get(`/api/v1/studies/${c.json.id}`);
  assert.equal(g2.json.title, 'A better title');
  assert.equal(g2.json.version, 2);
});

test('a patch may clear an optional field with null, never a required one', async () => {
  const c = await s.post('/api/v1/studies', studyBody({ acronym: 'GONE', planned_end_on: '2026-01-01' }));
  const p = await s.patch(`/api/v1/studies/${c.json.id}`, { acronym: null, planned_end_on: null, change_reason: 'not used' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.acronym, null);
  assert.equal(p.json.planned_end_on, null);
  assert.equal((await s.get(`/api/v1/studies/${c.json.id}`)).json.acronym, null);
  const ev = (await s.get(`/api/v1/audit?entity=study&id=${c.json.id}`)).json.items.at(-1);
  assert.deepEqual(ev.changes.find((x) => x.field === 'acronym'), { field: 'acronym', old: 'GONE', new: null });
  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/studies/${c.json.id}`, { title: null }, 2), 422, ['title']);
    assertProblem(await s.patch(`/api/v1/studies/${c.json.id}`, { phase: null, target_enrollment: null }, 2), 422, ['phase', 'target_enrollment']);
  });
});

test('registration data: design codes, lists of conditions, collaborators and arms, eligibility', async () => {
  const registration = {
    registry_status: 'RECRUITING', start_date_type: 'ACTUAL', study_type: 'INTERVENTIONAL',
    allocation: 'RANDOMIZED', intervention_model: 'PARALLEL', masking: 'DOUBLE', primary_purpose: 'TREATMENT',
    conditions: ['Asthma', 'COPD'], collaborators: ['Acme CRO'],
    arms: [
      { label: 'Drug A', type: 'EXPERIMENTAL', description: '10 mg daily', interventions: ['Drug: A'] },
      { label: 'Placebo', type: 'PLACEBO_COMPARATOR' },
    ],
    eligibility_sex: 'ALL', eligibility_minimum_age: '18 Years', healthy_volunteers: false,
    eligibility_criteria: 'Inclusion Criteria:\n\n* adults\n\nExclusion Criteria:\n\n* pregnancy',
  };
  const c = await s.post('/api/v1/studies', studyBody({ planned_start_on: '2024-01-01', ...registration }));
  assert.equal(c.status, 201, c.text);
  for (const [k, v] of Object.entries(registration)) assert.deepEqual(c.json[k], v, k);
  const g = await s.get(`/api/v1/studies/${c.json.id}`);
  assert.deepEqual(g.json, c.json);
  assert.equal((await s.get(`/api/v1/studies?registry_status=RECRUITING&protocol_number=${c.json.protocol_number}`)).json.items.length, 1);

  // One arm more: the audit trail holds the list before and after.
  const arms = [...registration.arms, { label: 'Drug B', interventions: ['Drug: B'] }];
  const p = await s.patch(`/api/v1/studies/${c.json.id}`, { arms }, 1);
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json.arms, arms);
  const ev = (await s.get(`/api/v1/audit?entity=study&id=${c.json.id}`)).json.items.at(-1);
  assert.deepEqual(ev.changes, [{ field: 'arms', old: registration.arms, new: arms }]);

  // Each bad item is named by its place in the list; nothing is written.
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody({ conditions: 'Asthma' })), 422, ['conditions']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ conditions: ['Asthma', '', 7, null] })), 422,
      ['conditions[1]', 'conditions[2]', 'conditions[3]']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ conditions: Array(201).fill('x') })), 422, ['conditions']);
    assertProblem(await s.post('/api/v1/studies', studyBody({
      arms: [{ type: 'EXPERIMENTAL' }, { label: 'B', type: 'BEST' }, { label: 'C', dose: 5 }, 'D', { label: 'E', interventions: ['x'.repeat(301)] }],
    })), 422, ['arms[0].label', 'arms[1].type', 'arms[2].dose', 'arms[3]', 'arms[4].interventions[0]']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ registry_status: 'recruiting', masking: 'BLIND', healthy_volunteers: 'no' })), 422,
      ['registry_status', 'masking', 'healthy_volunteers']);
    assertProblem(await s.patch(`/api/v1/studies/${c.json.id}`, { arms: [{}] }, 2), 422, ['arms[0].label']);
  });
});

test('a patch that changes nothing keeps the version and writes nothing', async () => {
  const c = await s.post('/api/v1/studies', studyBody({ title: 'Same' }));
  await assertNoWrite(s, async () => {
    const p = await s.patch(`/api/v1/studies/${c.json.id}`, { title: 'Same' }, 1);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.version, 1);
  });
});

test('server-set fields cannot be written through create or patch', async () => {
  await assertNoWrite(s, async () => {
    const r = await s.post('/api/v1/studies', studyBody({ status: 'enrolling', enrolling_on: '2024-01-01' }));
    assertProblem(r, 422, ['status', 'enrolling_on']);
  });
  const c = await s.post('/api/v1/studies', studyBody());
  await assertNoWrite(s, async () => {
    const r = await s.patch(`/api/v1/studies/${c.json.id}`, { status: 'closed' }, 1);
    assertProblem(r, 422, ['status']);
    const r2 = await s.patch(`/api/v1/studies/${c.json.id}`, { id: 99, version: 7 }, 1);
    assertProblem(r2, 422, ['id', 'version']);
  });
});

test('protocol_number and nct_id are unique across studies (409)', async () => {
  const c = await s.post('/api/v1/studies', studyBody({ nct_id: 'NCT07654321' }));
  assert.equal(c.status, 201);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody({ protocol_number: c.json.protocol_number })),
      409, ['protocol_number']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ nct_id: 'NCT07654321' })), 409, ['nct_id']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ nct_id: 'NCT123' })), 422, ['nct_id']);
  });
});

test('a study moves along its lifecycle and records each date', async () => {
  const c = await s.post('/api/v1/studies', studyBody());
  const id = c.json.id;
  let r = await s.transition('studies', id, 'start_up', '2024-02-01');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'start_up');
  assert.equal(r.json.start_up_on, '2024-02-01');
  assert.equal(r.json.version, 2);
  assert.equal(r.headers.get('etag'), '"2"');
  r = await s.transition('studies', id, 'enrolling', '2024-02-01');
  assert.equal(r.status, 200, r.text);
  r = await s.transition('studies', id, 'follow_up', '2025-01-10');
  assert.equal(r.status, 200, r.text);
  r = await s.transition('studies', id, 'closed', '2025-06-30', 'all subjects completed');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'closed');
  assert.equal(r.json.status_reason, 'all subjects completed');
  assert.deepEqual(
    [r.json.start_up_on, r.json.enrolling_on, r.json.follow_up_on, r.json.closed_on],
    ['2024-02-01', '2024-02-01', '2025-01-10', '2025-06-30'],
  );
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('studies', id, 'enrolling', '2025-07-01'), 409);
  });
});

test('terminating or withdrawing a study needs a reason', async () => {
  const c = await s.post('/api/v1/studies', studyBody());
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('studies', c.json.id, 'withdrawn', '2024-05-01'), 422, ['reason']);
    assertProblem(await s.transition('studies', c.json.id, 'withdrawn', '2024-05-01', ''), 422, ['reason']);
  });
  const r = await s.transition('studies', c.json.id, 'withdrawn', '2024-05-01', 'sponsor decision');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.withdrawn_on, '2024-05-01');
});

test('pagination walks 25 studies with limit=10, each exactly once', async () => {
  const area = uniq('Area');
  const ids = [];
  for (let i = 0; i < 25; i++) {
    const r = await s.post('/api/v1/studies', studyBody({ therapeutic_area: area }));
    assert.equal(r.status, 201, r.text);
    ids.push(r.json.id);
  }
  const pages = [];
  let cursor = null;
  do {
    const r = await s.get(`/api/v1/studies?therapeutic_area=${area}&limit=10${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    pages.push(r.json.items.map((x) => x.id));
    cursor = r.json.next_cursor;
  } while (cursor !== null);
  assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
  assert.deepEqual(pages.flat(), ids);

  // The whole table the same way, with a different page size.
  const all = await walk(s, '/api/v1/studies', 7);
  const seen = all.map((x) => x.id);
  assert.equal(new Set(seen).size, seen.length, 'an item was seen twice');
  for (const id of ids) assert.ok(seen.includes(id));
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
});

test('an exact page leaves no dangling empty page', async () => {
  const area = uniq('Exact');
  for (let i = 0; i < 4; i++) await s.post('/api/v1/studies', studyBody({ therapeutic_area: area }));
  const r = await s.get(`/api/v1/studies?therapeutic_area=${area}&limit=4`);
  assert.equal(r.json.items.length, 4);
  assert.equal(r.json.next_cursor, null);
});

test('study lists filter by status, phase and sponsor', async () => {
  const org = await s.post('/api/v1/organisations', { name: uniq('Sponsor '), kind: 'sponsor', country: 'CH' });
  assert.equal(org.status, 201, org.text);
  const enrolling = await createEnrollingStudy(s, { sponsor_id: org.json.id, phase: 'PHASE3' });
  const planned = await s.post('/api/v1/studies', studyBody({ sponsor_id: org.json.id, phase: 'PHASE1' }));

  const bySponsor = await s.get(`/api/v1/studies?sponsor_id=${org.json.id}`);
  assert.deepEqual(bySponsor.json.items.map((x) => x.id), [enrolling.id, planned.json.id]);
  const both = await s.get(`/api/v1/studies?sponsor_id=${org.json.id}&status=enrolling`);
  assert.deepEqual(both.json.items.map((x) => x.id), [enrolling.id]);
  const byPhase = await s.get(`/api/v1/studies?sponsor_id=${org.json.id}&phase=PHASE1`);
  assert.deepEqual(byPhase.json.items.map((x) => x.id), [planned.json.id]);
  const allEnrolling = await s.get('/api/v1/studies?status=enrolling&limit=1000');
  assert.ok(allEnrolling.json.items.length >= 1);
  for (const x of allEnrolling.json.items) assert.equal(x.status, 'enrolling');
  const none = await s.get('/api/v1/studies?status=no_such_status');
  assert.deepEqual(none.json.items, []);
});

test('a study must name an existing sponsor', async () => {
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/studies', studyBody({ sponsor_id: 999999 })), 422, ['sponsor_id']);
    assertProblem(await s.post('/api/v1/studies', studyBody({ sponsor_id: 0 })), 422, ['sponsor_id']);
  });
});

test('protocol versions: create, get, list, patch while draft, approve, then frozen', async () => {
  const study = await s.post('/api/v1/studies', studyBody());
  const base = `/api/v1/studies/${study.json.id}/protocol-versions`;
  const c = await s.post(base, { number: '1.0', version_date: '2024-03-01', summary: 'Original' });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/protocol-versions/${c.json.id}`);
  assert.equal(c.json.status, 'draft');
  assert.equal(c.json.study_id, study.json.id);
  assert.equal(c.json.current, false);

  const g = await s.get(`/api/v1/protocol-versions/${c.json.id}`);
  assert.equal(g.status, 200);
  assert.deepEqual(g.json, c.json);

  const p = await s.patch(`/api/v1/protocol-versions/${c.json.id}`, { summary: 'Original protocol' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.summary, 'Original protocol');
  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/protocol-versions/${c.json.id}`, { number: '9.9' }, 2), 422, ['number']);
    assertProblem(await s.post(base, { number: '1.0', version_date: '2024-03-02' }), 409, ['number']);
    // Approval cannot precede the version's own date.
    assertProblem(await s.transition('protocol-versions', c.json.id, 'approved', '2024-02-28'), 422, ['on']);
  });

  // 21 CFR 11.50: approval needs a manager's "approved" signature first.
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('protocol-versions', c.json.id, 'approved', '2024-03-15'), 409);
  });
  await signApproval(s, c.json.id);
  const a = await s.transition('protocol-versions', c.json.id, 'approved', '2024-03-15');
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.approved_on, '2024-03-15');
  assert.equal(a.json.current, true);
  const st = await s.get(`/api/v1/studies/${study.json.id}`);
  assert.deepEqual(st.json.current_protocol_version, { id: c.json.id, number: '1.0' });

  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/protocol-versions/${c.json.id}`, { summary: 'x' }, 3), 409);
    assertProblem(await s.transition('protocol-versions', c.json.id, 'draft', '2024-04-01'), 409);
    assertProblem(await s.transition('protocol-versions', c.json.id, 'rejected', '2024-04-01', 'no'), 409);
  });

  const v2 = await s.post(base, { number: '2.0', version_date: '2024-06-01' });
  await signApproval(s, v2.json.id);
  await s.transition('protocol-versions', v2.json.id, 'approved', '2024-06-20');
  const v3 = await s.post(base, { number: '3.0', version_date: '2024-07-01' });
  assertProblem(await s.transition('protocol-versions', v3.json.id, 'rejected', '2024-07-05'), 422, ['reason']);
  const rej = await s.transition('protocol-versions', v3.json.id, 'rejected', '2024-07-05', 'ethics committee objection');
  assert.equal(rej.status, 200, rej.text);

  const l = await s.get(base);
  assert.deepEqual(l.json.items.map((x) => x.number), ['1.0', '2.0', '3.0']);
  assert.deepEqual(l.json.items.map((x) => x.current), [false, true, false]);
  const approved = await s.get(`${base}?status=approved`);
  assert.deepEqual(approved.json.items.map((x) => x.number), ['1.0', '2.0']);
  const st2 = await s.get(`/api/v1/studies/${study.json.id}`);
  assert.equal(st2.json.current_protocol_version.number, '2.0');

  // The same number may be used by another study.
  const other = await s.post('/api/v1/studies', studyBody());
  const o = await s.post(`/api/v1/studies/${other.json.id}/protocol-versions`, { number: '1.0', version_date: '2024-03-01' });
  assert.equal(o.status, 201, o.text);
  const ol = await s.get(`/api/v1/studies/${other.json.id}/protocol-versions`);
  assert.equal(ol.json.items.length, 1);
});

test('milestones: create, get, list, patch, derived overdue and variance', async () => {
  const study = await createEnrollingStudy(s);
  const base = `/api/v1/studies/${study.id}/milestones`;
  const c = await s.post(base, {
    name: 'First subject enrolled', kind: 'first_subject_enrolled',
    baseline_on: '2024-03-01', planned_on: '2024-03-11',
  });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/milestones/${c.json.id}`);
  assert.equal(c.json.study_id, study.id);
  assert.equal(c.json.overdue, true, 'planned in the past with no actual date');
  assert.equal(c.json.variance_days, 10);

  const g = await s.get(`/api/v1/milestones/${c.json.id}`);
  assert.equal(g.status, 200);
  assert.deepEqual(g.json, c.json);

  const p = await s.patch(`/api/v1/milestones/${c.json.id}`, { actual_on: '2024-03-05', notes: 'early' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.overdue, false);
  assert.equal(p.json.variance_days, 4);
  assert.equal(p.json.notes, 'early');

  const m2 = await s.post(base, { name: 'Database lock', kind: 'database_lock' });
  assert.equal(m2.status, 201);
  assert.equal(m2.json.overdue, false);
  assert.equal(m2.json.variance_days, null);

  const l = await s.get(base);
  assert.deepEqual(l.json.items.map((x) => x.id), [c.json.id, m2.json.id]);
  const byKind = await s.get(`${base}?kind=database_lock`);
  assert.deepEqual(byKind.json.items.map((x) => x.id), [m2.json.id]);

  await assertNoWrite(s, async () => {
    assertProblem(await s.post(base, { name: 'x', kind: 'party' }), 422, ['kind']);
    assertProblem(await s.post(base, { kind: 'other' }), 422, ['name']);
    assertProblem(await s.post(base, { name: 'x', kind: 'other', actual_on: '2099-01-01' }), 422, ['actual_on']);
    assertProblem(await s.post(base, { name: 'x', kind: 'other', study_site_id: 999999 }), 422, ['study_site_id']);
  });
});

test('a milestone may only name a site of its own study', async () => {
  const a = await createEnrollingStudy(s);
  const b = await createEnrollingStudy(s);
  const siteOfB = await s.post(`/api/v1/studies/${b.id}/sites`, {
    site_number: '900', institution_name: 'Other Hospital', country: 'FR',
    time_zone: 'Europe/Paris', investigator_name: 'Dr B',
  });
  assert.equal(siteOfB.status, 201, siteOfB.text);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${a.id}/milestones`,
      { name: 'Site activated', kind: 'site_activation', study_site_id: siteOfB.json.id }), 422, ['study_site_id']);
  });
  const ok = await s.post(`/api/v1/studies/${b.id}/milestones`,
    { name: 'Site activated', kind: 'site_activation', study_site_id: siteOfB.json.id });
  assert.equal(ok.status, 201, ok.text);
  const bySite = await s.get(`/api/v1/studies/${b.id}/milestones?study_site_id=${siteOfB.json.id}`);
  assert.deepEqual(bySite.json.items.map((x) => x.id), [ok.json.id]);
});

test('child collections of a missing study answer 404', async () => {
  for (const child of ['protocol-versions', 'sites', 'subjects', 'milestones']) {
    assertProblem(await s.get(`/api/v1/studies/999999/${child}`), 404);
  }
  assertProblem(await s.get('/api/v1/studies/999999/summary'), 404);
});

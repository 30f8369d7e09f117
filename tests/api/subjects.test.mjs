// Subjects: screening and enrollment rules, the study summary after a
// realistic flow, and subject lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SITE_STEPS, assertNoWrite, assertProblem, createApprovedProtocol, createEnrollingSetup, createEnrollingStudy, createSite, signApproval, siteBody, startServer, stopChecked, studyBody, subjectBody, walk } from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

test('a subject is created, read, listed and patched', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const body = subjectBody(site.site_number, {
    race: 'ASIAN', ethnicity: 'NOT HISPANIC OR LATINO', age: 70,
    consented_on: '2024-06-09', consent_version: '1.0',
  });
  const c = await s.post(`/api/v1/studies/${study.id}/subjects`, body);
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/subjects/${c.json.id}`);
  assert.equal(c.headers.get('etag'), '"1"');
  for (const [k, v] of Object.entries(body)) assert.equal(c.json[k], v, k);
  assert.equal(c.json.status, 'screened');
  assert.equal(c.json.study_id, study.id);
  assert.equal(c.json.study_site_id, site.id);
  assert.equal(c.json.age_band, '65-74');

  const g = await s.get(`/api/v1/subjects/${c.json.id}`);
  assert.deepEqual(g.json, c.json);

  const p = await s.patch(`/api/v1/subjects/${c.json.id}`, { subject_number: 'R-0001', age: 71 }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.subject_number, 'R-0001');
  assert.equal(p.json.version, 2);

  const l = await s.get(`/api/v1/studies/${study.id}/subjects`);
  assert.deepEqual(l.json.items.map((x) => x.id), [c.json.id]);
  assert.equal(l.json.items[0].site_number, site.site_number);

  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { screening_number: 'NEW' }, 2), 422, ['screening_number']);
    assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { site_number: 'NEW' }, 2), 422, ['site_number']);
    assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { screened_on: '2024-06-11' }, 2), 422, ['screened_on']);
    assertProblem(await s.post(`/api/v1/studies/${study.id}/subjects`,
      subjectBody(site.site_number, { screening_number: body.screening_number })), 409, ['screening_number']);
  });
});

test('enrollment needs a consent date on or before it', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const c = await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number));
  assert.equal(c.status, 201, c.text);
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', c.json.id, 'enrolled', '2024-06-20'), 422, ['consented_on']);
  });
  const p = await s.patch(`/api/v1/subjects/${c.json.id}`, { consented_on: '2024-06-15' }, 1);
  assert.equal(p.status, 200, p.text);
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', c.json.id, 'enrolled', '2024-06-14'), 422, ['on']);
  });
  const e = await s.transition('subjects', c.json.id, 'enrolled', '2024-06-15');
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json.enrolled_on, '2024-06-15');
  await assertNoWrite(s, async () => {
    // Consent cannot move after the enrollment it allowed.
    assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { consented_on: '2024-06-16' }, 3), 422, ['consented_on']);
    assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { consented_on: '2099-01-01' }, 3), 422, ['consented_on']);
    // Nor can it be erased.
    const erased = assertProblem(await s.patch(`/api/v1/subjects/${c.json.id}`, { consented_on: null }, 3), 422, ['consented_on']);
    assert.equal(erased.errors.length, 1, JSON.stringify(erased.errors));
  });
  assert.equal((await s.get(`/api/v1/subjects/${c.json.id}`)).json.consented_on, '2024-06-15');
});

test('consent_version must name an approved protocol version of the study', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const draft = await s.post(`/api/v1/studies/${study.id}/protocol-versions`, { number: '2.0', version_date: '2024-05-01' });
  assert.equal(draft.status, 201);
  const other = await createEnrollingStudy(s);
  await createApprovedProtocol(s, other.id, '7.0');
  const base = `/api/v1/studies/${study.id}/subjects`;
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(base, subjectBody(site.site_number, { consent_version: '2.0' })), 422, ['consent_version']);
    assertProblem(await s.post(base, subjectBody(site.site_number, { consent_version: '7.0' })), 422, ['consent_version']);
    assertProblem(await s.post(base, subjectBody(site.site_number, { consent_version: '9.9' })), 422, ['consent_version']);
  });
  const ok = await s.post(base, subjectBody(site.site_number, { consent_version: '1.0' }));
  assert.equal(ok.status, 201, ok.text);
  await signApproval(s, draft.json.id);
  await s.transition('protocol-versions', draft.json.id, 'approved', '2024-05-10');
  const p = await s.patch(`/api/v1/subjects/${ok.json.id}`, { consent_version: '2.0' }, 1);
  assert.equal(p.status, 200, p.text);
});

test('a subject at the site number of another study is refused (422)', async () => {
  const a = await createEnrollingSetup(s);
  const b = await createEnrollingStudy(s);
  await createSite(s, b.id, { site_number: 'B-ONLY' });
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${b.id}/subjects`, subjectBody(a.site.site_number)), 422, ['site_number']);
    assertProblem(await s.post(`/api/v1/studies/${a.study.id}/subjects`, subjectBody('B-ONLY')), 422, ['site_number']);
    assertProblem(await s.post(`/api/v1/studies/${a.study.id}/subjects`, subjectBody('NO-SUCH-SITE')), 422, ['site_number']);
  });
});

test('screening at a site that is not activated is refused (409)', async () => {
  const study = await createEnrollingStudy(s);
  for (const upTo of ['identified', 'selected', 'initiated']) {
    const site = await createSite(s, study.id, {}, upTo);
    await assertNoWrite(s, async () => {
      const r = assertProblem(await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number)), 409);
      assert.match(r.detail, new RegExp(upTo));
    });
  }
  const closed = await createSite(s, study.id);
  await s.transition('study-sites', closed.id, 'closed', '2024-05-01', 'no recruitment');
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(closed.site_number)), 409);
  });
});

test('screening before the site was activated, or while the study is not enrolling, is refused', async () => {
  const { study, site } = await createEnrollingSetup(s);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${study.id}/subjects`,
      subjectBody(site.site_number, { screened_on: '2024-03-31' })), 422, ['screened_on']);
  });
  const startUp = await s.post('/api/v1/studies', studyBody());
  await s.transition('studies', startUp.json.id, 'start_up', '2024-01-01');
  const site2 = await createSite(s, startUp.json.id);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${startUp.json.id}/subjects`, subjectBody(site2.site_number)), 409);
  });
});

test('subject codes and age are validated', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const base = `/api/v1/studies/${study.id}/subjects`;
  const bad = [
    [{ sex: 'X' }, 'sex'], [{ sex: 'female' }, 'sex'], [{ sex: 'f' }, 'sex'], [{ sex: null }, 'sex'],
    [{ race: 'CAUCASIAN' }, 'race'], [{ race: 'white' }, 'race'], [{ race: 5 }, 'race'],
    [{ ethnicity: 'LATINO' }, 'ethnicity'], [{ ethnicity: '' }, 'ethnicity'],
    [{ age: -1 }, 'age'], [{ age: 131 }, 'age'], [{ age: 30.5 }, 'age'], [{ age: '30' }, 'age'],
    [{ screened_on: 'UNK' }, 'screened_on'], [{ screened_on: '2024-06' }, 'screened_on'],
    [{ screened_on: '2099-06-01' }, 'screened_on'], [{ consented_on: '2024-02-30' }, 'consented_on'],
    [{ consented_on: '2099-01-01' }, 'consented_on'],
  ];
  await assertNoWrite(s, async () => {
    for (const [override, field] of bad) {
      assertProblem(await s.post(base, subjectBody(site.site_number, override)), 422, [field]);
    }
    // An integer beyond 64 bits cannot even be parsed: a malformed body.
    const huge = assertProblem(await s.post(base, subjectBody(site.site_number, { age: 1e20 })), 400);
    assert.match(huge.detail, /integer/);
  });
  for (const [age, band] of [[0, '0-17'], [17, '0-17'], [18, '18-64'], [64, '18-64'], [65, '65-74'], [84, '75-84'], [85, '85+'], [130, '85+']]) {
    const r = await s.post(base, subjectBody(site.site_number, { age, sex: 'U', race: 'NOT REPORTED', ethnicity: 'UNKNOWN' }));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.age_band, band, `age ${age}`);
  }
});

test('subject lifecycle: screen failure and withdrawal need reasons, illegal steps are 409', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const base = `/api/v1/studies/${study.id}/subjects`;
  const a = (await s.post(base, subjectBody(site.site_number))).json;
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', a.id, 'completed', '2024-07-01'), 409);
    assertProblem(await s.transition('subjects', a.id, 'withdrawn', '2024-07-01', 'x'), 409);
    assertProblem(await s.transition('subjects', a.id, 'screen_failed', '2024-07-01'), 422, ['reason']);
    assertProblem(await s.transition('subjects', a.id, 'screened', '2024-07-01'), 409);
    assertProblem(await s.transition('subjects', a.id, 'randomised', '2024-07-01'), 422, ['to']);
  });
  const f = await s.transition('subjects', a.id, 'screen_failed', '2024-06-12', 'ECOG 3');
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.screen_failure_reason, 'ECOG 3');
  assert.equal(f.json.screen_failed_on, '2024-06-12');
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', a.id, 'enrolled', '2024-07-01'), 409);
  });

  const b = (await s.post(base, subjectBody(site.site_number, { consented_on: '2024-06-01' }))).json;
  assert.equal((await s.transition('subjects', b.id, 'enrolled', '2024-06-20')).status, 200);
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', b.id, 'withdrawn', '2024-08-01'), 422, ['reason']);
    assertProblem(await s.transition('subjects', b.id, 'withdrawn', '2024-06-19', 'moved away'), 422, ['on']);
  });
  // Enrollment cannot precede screening.
  const c = (await s.post(base, subjectBody(site.site_number, { consented_on: '2024-06-01', screened_on: '2024-06-10' }))).json;
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', c.id, 'enrolled', '2024-06-05'), 422, ['on']);
  });
  const w = await s.transition('subjects', b.id, 'withdrawn', '2024-08-01', 'moved away');
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.withdrawal_reason, 'moved away');
});

test('a realistic flow: summary counts match what happened', async () => {
  const study = (await s.post('/api/v1/studies', studyBody({ target_enrollment: 8 }))).json;
  const id = study.id;
  const summary0 = (await s.get(`/api/v1/studies/${id}/summary`)).json;
  assert.equal(summary0.status, 'planned');
  assert.equal(summary0.subjects.total, 0);
  assert.equal(summary0.sites.total, 0);
  assert.deepEqual(summary0.enrollment, { enrolled: 0, target: 8, percent_of_target: 0 });

  assert.equal((await s.transition('studies', id, 'start_up', '2024-01-10')).status, 200);
  await createApprovedProtocol(s, id, '1.0');

  // Site 1 goes all the way through start-up while the study starts up.
  let site1 = (await s.post(`/api/v1/studies/${id}/sites`, siteBody({ site_number: '101', identified_on: '2024-01-12' }))).json;
  const steps = { feasibility: '2024-01-20', selected: '2024-02-01', approved: '2024-02-15', contracted: '2024-03-01', initiated: '2024-03-10', activated: '2024-03-15' };
  for (const step of SITE_STEPS) {
    const r = await s.transition('study-sites', site1.id, step, steps[step]);
    assert.equal(r.status, 200, `${step}: ${r.text}`);
    site1 = r.json;
  }
  assert.equal(site1.status, 'activated');
  // Site 2 is still in feasibility; site 3 is activated but recruits no one.
  const site2 = await createSite(s, id, { site_number: '102' }, 'feasibility');
  const site3 = await createSite(s, id, { site_number: '201', country: 'DE', time_zone: 'Europe/Berlin' });

  // No screening before the study enrolls.
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/studies/${id}/subjects`, subjectBody('101')), 409);
  });
  assert.equal((await s.transition('studies', id, 'enrolling', '2024-04-01')).status, 200);

  const base = `/api/v1/studies/${id}/subjects`;
  const mk = async (o) => {
    const r = await s.post(base, subjectBody('101', { consented_on: '2024-05-01', consent_version: '1.0', screened_on: '2024-05-02', ...o }));
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const subs = [];
  for (let i = 0; i < 7; i++) subs.push(await mk({ screening_number: `101-00${i + 1}` }));

  // The first enrollment moves the activated site to enrolling.
  const first = await s.transition('subjects', subs[0].id, 'enrolled', '2024-05-10');
  assert.equal(first.status, 200, first.text);
  const site1After = (await s.get(`/api/v1/study-sites/${site1.id}`)).json;
  assert.equal(site1After.status, 'enrolling');
  assert.equal(site1After.enrolling_on, '2024-05-10');
  assert.equal(site1After.version, site1.version + 1);
  assert.equal((await s.get(`/api/v1/study-sites/${site3.id}`)).json.status, 'activated');

  for (const i of [1, 2, 3, 4]) {
    assert.equal((await s.transition('subjects', subs[i].id, 'enrolled', '2024-05-20')).status, 200);
  }
  // Later enrollments leave the site as it is.
  assert.equal((await s.get(`/api/v1/study-sites/${site1.id}`)).json.version, site1After.version);
  assert.equal((await s.transition('subjects', subs[3].id, 'completed', '2025-01-15')).status, 200);
  assert.equal((await s.transition('subjects', subs[4].id, 'withdrawn', '2024-09-01', 'adverse event')).status, 200);
  assert.equal((await s.transition('subjects', subs[5].id, 'screen_failed', '2024-05-05', 'lab values')).status, 200);
  // subs[6] stays screened.

  const sum = await s.get(`/api/v1/studies/${id}/summary`);
  assert.equal(sum.status, 200, sum.text);
  assert.equal(sum.json.study_id, id);
  assert.equal(sum.json.protocol_number, study.protocol_number);
  assert.equal(sum.json.status, 'enrolling');
  assert.deepEqual(sum.json.subjects, {
    total: 7,
    by_status: { screened: 1, screen_failed: 1, enrolled: 3, completed: 1, withdrawn: 1 },
  });
  assert.deepEqual(sum.json.sites, {
    total: 3,
    by_status: {
      identified: 0, feasibility: 1, selected: 0, approved: 0, contracted: 0,
      initiated: 0, activated: 1, enrolling: 1, closed: 0,
    },
  });
  // Ever enrolled: 3 enrolled + 1 completed + 1 withdrawn, of 8.
  assert.deepEqual(sum.json.enrollment, { enrolled: 5, target: 8, percent_of_target: 62.5 });

  // Filters agree with the summary.
  const count = async (q) => (await s.get(`${base}?${q}&limit=1000`)).json.items.length;
  assert.equal(await count('status=enrolled'), 3);
  assert.equal(await count('status=screened'), 1);
  assert.equal(await count(`study_site_id=${site1.id}`), 7);
  assert.equal(await count(`study_site_id=${site2.id}`), 0);
  assert.equal(await count('screening_number=101-003'), 1);
  const enrollingSites = (await s.get(`/api/v1/studies/${id}/sites?status=enrolling`)).json.items;
  assert.deepEqual(enrollingSites.map((x) => x.site_number), ['101']);
});

test('a subject list walks 25 subjects with limit=10, each exactly once', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const base = `/api/v1/studies/${study.id}/subjects`;
  const ids = [];
  for (let i = 0; i < 25; i++) {
    const r = await s.post(base, subjectBody(site.site_number, { sex: i % 2 ? 'M' : 'F' }));
    assert.equal(r.status, 201, r.text);
    ids.push(r.json.id);
  }
  const all = await walk(s, base, 10);
  assert.deepEqual(all.map((x) => x.id), ids);
  const males = await walk(s, `${base}?sex=M`, 10);
  assert.deepEqual(males.map((x) => x.id), ids.filter((_, i) => i % 2));
  // Subjects of other studies never appear.
  const other = await createEnrollingSetup(s);
  await s.post(`/api/v1/studies/${other.study.id}/subjects`, subjectBody(other.site.site_number));
  assert.equal((await walk(s, base, 1000)).length, 25);
});

test('a screened subject cannot be enrolled once the site has closed (409)', async () => {
  const { study } = await createEnrollingSetup(s);
  const site = await createSite(s, study.id);
  const subj = (await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, { consented_on: '2024-06-01' }))).json;
  assert.equal((await s.transition('study-sites', site.id, 'closed', '2024-06-15', 'PI left')).status, 200);
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', subj.id, 'enrolled', '2024-06-20'), 409);
  });
  assert.equal((await s.get(`/api/v1/subjects/${subj.id}`)).json.status, 'screened');
});

test('no one is enrolled once the study has left enrolling (409)', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const base = `/api/v1/studies/${study.id}/subjects`;
  const a = (await s.post(base, subjectBody(site.site_number, { consented_on: '2024-06-01' }))).json;
  const b = (await s.post(base, subjectBody(site.site_number, { consented_on: '2024-06-01' }))).json;
  assert.equal((await s.transition('subjects', a.id, 'enrolled', '2024-06-20')).status, 200);
  assert.equal((await s.transition('studies', study.id, 'follow_up', '2024-07-01')).status, 200);
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.transition('subjects', b.id, 'enrolled', '2024-07-15'), 409);
    assert.match(r.detail, /follow_up/);
  });
  assert.equal((await s.transition('studies', study.id, 'closed', '2024-08-01')).status, 200);
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('subjects', b.id, 'enrolled', '2024-08-15'), 409);
    assertProblem(await s.post(base, subjectBody(site.site_number)), 409);
  });
  // Follow-up of those already enrolled goes on.
  assert.equal((await s.transition('subjects', a.id, 'completed', '2024-07-20')).status, 200);
  const sum = (await s.get(`/api/v1/studies/${study.id}/summary`)).json;
  assert.deepEqual([sum.subjects.by_status.enrolled, sum.subjects.by_status.completed, sum.subjects.by_status.screened], [0, 1, 1]);
});

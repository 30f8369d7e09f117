// Organisations, sites (institutions) and study-sites: records, the site
// start-up lifecycle, and filters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, studyBody, siteBody, assertProblem, assertNoWrite, walk, uniq,
  createEnrollingStudy, createSite, SITE_STEPS,
} from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

test('organisations: create, get, list, patch, filters, unique name', async () => {
  const name = uniq('Acme Pharma ');
  const c = await s.post('/api/v1/organisations', { name, kind: 'sponsor', country: 'DE' });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/organisations/${c.json.id}`);
  assert.equal(c.headers.get('etag'), '"1"');
  assert.equal(c.json.name, name);
  const g = await s.get(`/api/v1/organisations/${c.json.id}`);
  assert.deepEqual(g.json, c.json);
  const p = await s.patch(`/api/v1/organisations/${c.json.id}`, { kind: 'cro', country: 'AT' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.kind, 'cro');
  assert.equal(p.json.country, 'AT');
  assert.equal(p.json.version, 2);
  const cro = await s.post('/api/v1/organisations', { name: uniq('Ethics '), kind: 'ethics_committee' });
  assert.equal(cro.status, 201, cro.text);
  assert.equal(cro.json.country, null);

  const byName = await s.get(`/api/v1/organisations?name=${encodeURIComponent(name)}`);
  assert.deepEqual(byName.json.items.map((x) => x.id), [c.json.id]);
  const byKind = await s.get('/api/v1/organisations?kind=cro');
  assert.ok(byKind.json.items.some((x) => x.id === c.json.id));
  for (const x of byKind.json.items) assert.equal(x.kind, 'cro');

  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/organisations', { name, kind: 'vendor' }), 409, ['name']);
    assertProblem(await s.post('/api/v1/organisations', { name: 'X', kind: 'pharma' }), 422, ['kind']);
    assertProblem(await s.patch(`/api/v1/organisations/${cro.json.id}`, { name }, 1), 409, ['name']);
  });
});

test('sites: create, get, list, patch; one record per institution and country', async () => {
  const org = await s.post('/api/v1/organisations', { name: uniq('Hospital group '), kind: 'institution' });
  const name = uniq('Universitaetsklinikum ');
  const c = await s.post('/api/v1/sites', {
    name, address: 'Hauptstr. 1', city: 'Heidelberg', region: 'BW', postal_code: '69120',
    country: 'DE', organisation_id: org.json.id,
  });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/sites/${c.json.id}`);
  assert.equal(c.json.organisation_id, org.json.id);
  const g = await s.get(`/api/v1/sites/${c.json.id}`);
  assert.deepEqual(g.json, c.json);
  const p = await s.patch(`/api/v1/sites/${c.json.id}`, { postal_code: '69117', change_reason: 'typo' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.postal_code, '69117');

  const l = await s.get(`/api/v1/sites?city=Heidelberg`);
  assert.ok(l.json.items.some((x) => x.id === c.json.id));
  const byCountry = await s.get('/api/v1/sites?country=DE&limit=1000');
  for (const x of byCountry.json.items) assert.equal(x.country, 'DE');

  // The same name in another country is another site.
  const fr = await s.post('/api/v1/sites', { name, country: 'FR' });
  assert.equal(fr.status, 201, fr.text);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post('/api/v1/sites', { name, country: 'DE' }), 409, ['name']);
    assertProblem(await s.post('/api/v1/sites', { name: 'Nowhere', country: 'XX' }), 422, ['country']);
    assertProblem(await s.post('/api/v1/sites', { name: 'Nowhere', country: 'DE', organisation_id: 999999 }),
      422, ['organisation_id']);
    assertProblem(await s.patch(`/api/v1/sites/${fr.json.id}`, { country: 'DE' }, 1), 409, ['name']);
  });
});

test('study-sites: create, get, list under the study, patch', async () => {
  const study = await s.post('/api/v1/studies', studyBody());
  const body = siteBody({ target_enrollment: 12, planned_activation_on: '2024-05-01' });
  const c = await s.post(`/api/v1/studies/${study.json.id}/sites`, body);
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/api/v1/study-sites/${c.json.id}`);
  assert.equal(c.json.study_id, study.json.id);
  assert.equal(c.json.status, 'identified');
  assert.equal(c.json.identified_on, '2024-02-01');
  for (const k of ['site_number', 'institution_name', 'city', 'country', 'time_zone', 'investigator_name', 'target_enrollment'])
    assert.equal(c.json[k], body[k], k);
  assert.ok(c.json.site_id > 0);

  // The institution became a site record of its own.
  const inst = await s.get(`/api/v1/sites/${c.json.site_id}`);
  assert.equal(inst.status, 200);
  assert.equal(inst.json.name, body.institution_name);

  const g = await s.get(`/api/v1/study-sites/${c.json.id}`);
  assert.deepEqual(g.json, c.json);

  const p = await s.patch(`/api/v1/study-sites/${c.json.id}`,
    { investigator_name: 'Dr. New', time_zone: 'America/Chicago', change_reason: 'PI changed' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.investigator_name, 'Dr. New');
  assert.equal(p.json.time_zone, 'America/Chicago');

  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/study-sites/${c.json.id}`, { site_number: '999' }, 2), 422, ['site_number']);
    assertProblem(await s.patch(`/api/v1/study-sites/${c.json.id}`, { institution_name: 'Else' }, 2), 422, ['institution_name']);
    assertProblem(await s.patch(`/api/v1/study-sites/${c.json.id}`, { identified_on: '2024-01-01' }, 2), 422, ['identified_on']);
    assertProblem(await s.post(`/api/v1/studies/${study.json.id}/sites`, siteBody({ site_number: body.site_number })),
      409, ['site_number']);
  });

  // A second study may reuse the site number and the institution.
  const other = await s.post('/api/v1/studies', studyBody());
  const again = await s.post(`/api/v1/studies/${other.json.id}/sites`,
    siteBody({ site_number: body.site_number, institution_name: body.institution_name }));
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.site_id, c.json.site_id);

  const l = await s.get(`/api/v1/studies/${study.json.id}/sites`);
  assert.deepEqual(l.json.items.map((x) => x.id), [c.json.id]);
});

test('a study-site walks identified -> ... -> activated and records each date', async () => {
  const study = await createEnrollingStudy(s);
  let site = (await s.post(`/api/v1/studies/${study.id}/sites`, siteBody({ identified_on: '2024-03-01' }))).json;
  const dates = ['2024-03-10', '2024-03-20', '2024-04-01', '2024-04-15', '2024-05-01', '2024-05-10'];
  for (const [i, step] of SITE_STEPS.entries()) {
    const r = await s.transition('study-sites', site.id, step, dates[i]);
    assert.equal(r.status, 200, `${step}: ${r.text}`);
    assert.equal(r.json.status, step);
    assert.equal(r.json[`${step}_on`], dates[i]);
    assert.equal(r.json.version, site.version + 1);
    site = r.json;
  }
  // Skipping and going back are refused.
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('study-sites', site.id, 'identified', '2024-06-01'), 409);
    assertProblem(await s.transition('study-sites', site.id, 'feasibility', '2024-06-01'), 409);
    assertProblem(await s.transition('study-sites', site.id, 'closed', '2024-06-01'), 422, ['reason']);
    assertProblem(await s.transition('study-sites', site.id, 'closed', '2024-05-01', 'x'), 422, ['on']);
  });
  const skip = (await s.post(`/api/v1/studies/${study.id}/sites`, siteBody())).json;
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('study-sites', skip.id, 'activated', '2024-06-01'), 409);
    assertProblem(await s.transition('study-sites', skip.id, 'selected', '2024-06-01'), 409);
  });
  const closed = await s.transition('study-sites', site.id, 'closed', '2025-02-01', 'site closed out');
  assert.equal(closed.status, 200, closed.text);
  assert.equal(closed.json.status_reason, 'site closed out');
  await assertNoWrite(s, async () => {
    assertProblem(await s.transition('study-sites', site.id, 'enrolling', '2025-03-01'), 409);
  });
});

test('a site is activated only while its study is in start_up or enrolling (409)', async () => {
  const study = await s.post('/api/v1/studies', studyBody());
  const site = await createSite(s, study.json.id, {}, 'initiated');
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.transition('study-sites', site.id, 'activated', '2024-05-01'), 409);
    assert.match(r.detail, /planned/);
  });
  await s.transition('studies', study.json.id, 'start_up', '2024-04-20');
  const r = await s.transition('study-sites', site.id, 'activated', '2024-05-01');
  assert.equal(r.status, 200, r.text);
});

test('study-site lists filter by status, site_number and country', async () => {
  const study = await createEnrollingStudy(s);
  const a = await createSite(s, study.id, { site_number: '101', country: 'US' });
  const b = await createSite(s, study.id, { site_number: '201', country: 'DE', time_zone: 'Europe/Berlin' }, 'selected');
  const c = await createSite(s, study.id, { site_number: '202', country: 'DE', time_zone: 'Europe/Berlin' }, 'identified');
  const base = `/api/v1/studies/${study.id}/sites`;
  const ids = async (q) => (await s.get(`${base}?${q}`)).json.items.map((x) => x.id);
  assert.deepEqual(await ids('status=activated'), [a.id]);
  assert.deepEqual(await ids('status=selected'), [b.id]);
  assert.deepEqual(await ids('site_number=202'), [c.id]);
  assert.deepEqual(await ids('country=DE'), [b.id, c.id]);
  assert.deepEqual(await ids('country=DE&status=identified'), [c.id]);
  assert.deepEqual(await ids('site_number=999'), []);
  assert.deepEqual(await ids(`site_id=${a.site_id}`), [a.id]);
  assert.deepEqual((await walk(s, base, 2)).map((x) => x.id), [a.id, b.id, c.id]);
  await assertNoWrite(s, async () => {
    assertProblem(await s.get(`${base}?investigator_name=Dr.%20Test`), 422, ['investigator_name']);
  });
});

test('study-site fields are validated: time zone, country, dates', async () => {
  const study = await s.post('/api/v1/studies', studyBody());
  const base = `/api/v1/studies/${study.json.id}/sites`;
  await assertNoWrite(s, async () => {
    for (const tz of ['Mars/Olympus_Mons', 'posix/UTC', '../../etc/passwd', 'Europe', '', 'Europe/Paris ', 42]) {
      assertProblem(await s.post(base, siteBody({ time_zone: tz })), 422, ['time_zone']);
    }
    for (const country of ['XX', 'us', 'USA', 'U', '', null]) {
      assertProblem(await s.post(base, siteBody({ country })), 422, ['country']);
    }
    assertProblem(await s.post(base, siteBody({ identified_on: '2099-01-01' })), 422, ['identified_on']);
    assertProblem(await s.post(base, siteBody({ identified_on: '2024-02' })), 422, ['identified_on']);
    assertProblem(await s.post(base, siteBody({ target_enrollment: -1 })), 422, ['target_enrollment']);
    const missing = siteBody();
    delete missing.investigator_name;
    delete missing.institution_name;
    assertProblem(await s.post(base, missing), 422, ['investigator_name', 'institution_name']);
  });
  for (const tz of ['UTC', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires']) {
    const r = await s.post(base, siteBody({ time_zone: tz }));
    assert.equal(r.status, 201, `${tz}: ${r.text}`);
  }
});

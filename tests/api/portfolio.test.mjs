// GET /api/v1/portfolio: every visible study with the figures the portfolio
// screen shows, in one request. Its numbers must be the study reports' own
// (summary, enrollment totals, the milestones' overdue flags), and what it
// counts for a site-scoped user must be their own study-sites alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { startServer, stopChecked, addUser, assertProblem } from './lib.mjs';

let s;
const U = {};

before(async () => {
  s = await startServer({ demo: true });
  U.site = addUser(s.db, { username: 'pf-site', role: 'site', study: 'DEMO-ONC-301', site: '201' });
  U.monitorSite = addUser(s.db, { username: 'pf-monitor-site', role: 'monitor', study: 'DEMO-ONC-301', site: '201' });
  U.viewer = addUser(s.db, { username: 'pf-viewer', role: 'viewer' });
  U.viewerSite = addUser(s.db, { username: 'pf-viewer-site', role: 'viewer', study: 'DEMO-ONC-301', site: '201' });
  U.siteStudy = addUser(s.db, { username: 'pf-site-study', role: 'site', study: 'DEMO-CV-201' });
  U.manager = addUser(s.db, { username: 'pf-manager', role: 'manager', study: 'DEMO-CV-201' });
  U.none = addUser(s.db, { username: 'pf-none', role: 'viewer' });
  // A registered study: its registry status is in the portfolio too.
  const registered = await s.post('/api/v1/studies', { protocol_number: 'PF-REG-1', nct_id: 'NCT09999999', title: 'Registered',
    phase: 'PHASE3', target_enrollment: 10, registry_status: 'RECRUITING' });
  assert.equal(registered.status, 201, registered.text);
});
after(async () => { await stopChecked(s); });

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.doesNotMatch(r.text, /NaN|Infinity/);
  return r.json;
}
const as = (u, path) => s.request('GET', path, { headers: { authorization: `Bearer ${u.token}` } });
const portfolio = async (u) => (await ok(u ? await as(u, '/api/v1/portfolio') : await s.get('/api/v1/portfolio')));
const studies = async () => (await ok(await s.get('/api/v1/studies?limit=1000'))).items;
const byStatus = (items) => items.reduce((o, x) => ({ ...o, [x.status]: (o[x.status] || 0) + 1 }), {});

/** What the study's own reports say, as the administrator reads them. */
async function reports(id) {
  const summary = await ok(await s.get(`/api/v1/studies/${id}/summary`));
  const enrollment = await ok(await s.get(`/api/v1/studies/${id}/enrollment`));
  const milestones = (await ok(await s.get(`/api/v1/studies/${id}/milestones?limit=1000`))).items;
  return { summary, totals: enrollment.totals, overdue: milestones.filter((m) => m.overdue).length };
}

test('every study, with the numbers of its summary, its enrollment totals and its milestones', async () => {
  const all = await studies();
  const p = await portfolio();
  assert.equal(p.as_of, (await ok(await s.get(`/api/v1/studies/${all[0].id}/enrollment`))).as_of);
  assert.deepEqual(p.items.map((x) => x.id), all.map((x) => x.id));
  assert.ok(all.length >= 3);
  let withSubjects = 0, withPlan = 0, withOverdue = 0;
  assert.equal(p.items.find((x) => x.protocol_number === 'PF-REG-1')?.registry_status, 'RECRUITING');
  for (const item of p.items) {
    const study = all.find((x) => x.id === item.id);
    for (const k of ['protocol_number', 'nct_id', 'acronym', 'title', 'phase', 'status', 'therapeutic_area',
      'target_enrollment', 'planned_start_on', 'planned_end_on', 'registry_status']) assert.deepEqual(item[k], study[k] ?? null, `${study.protocol_number} ${k}`);
    const { summary, totals, overdue } = await reports(item.id);
    const f = item.figures;
    assert.equal(f.scope, 'study');
    assert.deepEqual(f.subjects, summary.subjects, `${study.protocol_number} subjects`);
    assert.equal(f.enrolled, summary.enrollment.enrolled, `${study.protocol_number} enrolled`);
    assert.equal(f.sites.total, summary.sites.total);
    assert.deepEqual(f.sites.by_status, summary.sites.by_status, `${study.protocol_number} sites`);
    assert.equal(f.sites.known, totals.sites.known, `${study.protocol_number} sites known`);
    assert.equal(f.sites.active, totals.sites.active, `${study.protocol_number} sites active`);
    assert.deepEqual(f.plan, totals.plan, `${study.protocol_number} plan`);
    assert.equal(item.milestones_overdue, overdue, `${study.protocol_number} overdue milestones`);
    withSubjects += f.subjects.total > 0;
    withPlan += f.plan !== null;
    withOverdue += overdue > 0;
  }
  // The demo exercises every figure, so a zero everywhere would not pass.
  assert.ok(withSubjects >= 1 && withPlan >= 1 && withOverdue >= 1, JSON.stringify({ withSubjects, withPlan, withOverdue }));
});

test('figures follow a change at once (nothing cached)', async () => {
  const [study] = await studies();
  const beforeItem = (await portfolio()).items.find((x) => x.id === study.id);
  await ok(await s.post(`/api/v1/studies/${study.id}/milestones`,
    { name: 'Late one', kind: 'other', planned_on: '2020-01-01' }), 201);
  const afterItem = (await portfolio()).items.find((x) => x.id === study.id);
  assert.equal(afterItem.milestones_overdue, beforeItem.milestones_overdue + 1);
});

test('a site user: only their study, counted over their study-site alone, no plan', async () => {
  const all = await studies();
  const onc = all.find((x) => x.protocol_number === 'DEMO-ONC-301');
  const sites = (await ok(await s.get(`/api/v1/studies/${onc.id}/sites?limit=1000`))).items;
  const mine = sites.find((x) => x.site_number === '201');
  assert.ok(sites.length > 1, 'the demo study has other sites whose numbers must not leak');
  const subjects = (await ok(await s.get(`/api/v1/studies/${onc.id}/subjects?limit=1000`))).items
    .filter((x) => x.study_site_id === mine.id);
  const whole = (await portfolio()).items.find((x) => x.id === onc.id).figures;

  for (const u of [U.site, U.monitorSite]) {
    const r = await as(u, '/api/v1/portfolio');
    const p = await ok(r);
    assert.deepEqual(p.items.map((x) => x.id), [onc.id]);
    const f = p.items[0].figures;
    assert.equal(f.scope, 'sites');
    assert.equal(f.sites.total, 1);
    assert.equal(f.sites.by_status[mine.status], 1);
    assert.equal(f.subjects.total, subjects.length);
    assert.ok(f.subjects.total > 0 && f.subjects.total < whole.subjects.total, 'the site has some, not all, of the subjects');
    const want = byStatus(subjects);
    for (const [k, v] of Object.entries(f.subjects.by_status)) assert.equal(v, want[k] || 0, `${u.username} ${k}`);
    assert.equal(f.enrolled, subjects.filter((x) => ['enrolled', 'completed', 'withdrawn'].includes(x.status)).length);
    assert.equal(f.plan, null);
    assert.equal(p.items[0].milestones_overdue, (await portfolio()).items.find((x) => x.id === onc.id).milestones_overdue);
    assert.doesNotMatch(r.text, /site_number|study_site_id/);
    // The study-wide report stays refused to them.
    assert.equal((await as(u, `/api/v1/studies/${onc.id}/enrollment`)).status, 403);
  }
});

test('figures by role and scope: the study list, and counts only where the reports or the subjects are readable', async () => {
  const all = await studies();
  const cv = all.find((x) => x.protocol_number === 'DEMO-CV-201');
  const onc = all.find((x) => x.protocol_number === 'DEMO-ONC-301');
  const admin = await portfolio();

  // A global viewer: every study, the administrator's numbers.
  assert.deepEqual(await portfolio(U.viewer), admin);
  // A viewer at a study-site reads no subjects: the study, without figures.
  const vs = await portfolio(U.viewerSite);
  assert.deepEqual(vs.items.map((x) => [x.id, x.figures]), [[onc.id, null]]);
  // The site role over a whole study has no study reports and no site grant.
  const ss = await portfolio(U.siteStudy);
  assert.deepEqual(ss.items.map((x) => [x.id, x.figures]), [[cv.id, null]]);
  // A manager of one study sees that study whole.
  const m = await portfolio(U.manager);
  assert.deepEqual(m.items, admin.items.filter((x) => x.id === cv.id));
});

test('a grant revoked or never given: nothing; bad requests are refused', async () => {
  const users = (await ok(await s.get('/api/v1/users?limit=1000'))).items;
  const none = users.find((x) => x.username === 'pf-none');
  for (const g of none.grants) assert.equal((await s.request('DELETE', `/api/v1/grants/${g.id}`)).status, 204);
  assert.deepEqual((await portfolio(U.none)).items, []);
  assert.equal((await s.request('GET', '/api/v1/portfolio', { headers: { authorization: null } })).status, 401);
  const r = await s.get('/api/v1/portfolio?status=enrolling');
  assertProblem(r, 422, ['status']);
  assert.equal((await s.request('POST', '/api/v1/portfolio', { body: {} })).status, 405);
});

test('the answer holds exactly the fields docs/openapi.yaml declares', async () => {
  const spec = YAML.parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8'));
  const fields = (name) => Object.keys(spec.components.schemas[name].properties).sort();
  for (const u of [undefined, U.site, U.viewerSite]) {
    const p = await portfolio(u);
    assert.deepEqual(Object.keys(p).sort(), fields('Portfolio'));
    for (const item of p.items) {
      assert.deepEqual(Object.keys(item).sort(), fields('PortfolioStudy'));
      if (item.figures) assert.deepEqual(Object.keys(item.figures).sort(), fields('PortfolioFigures'));
    }
  }
});

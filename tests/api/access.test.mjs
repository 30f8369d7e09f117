// Who may see and do what (21 CFR 11.10(d), (g)): the role matrix of
// src/domain/access.c, checked route by route. Every route that `ctms
// routes` lists is called as every role in every scope (global, study A,
// study-site A1) and as no one, on records inside and outside the scope,
// and the answer must be the one the table below derives from the matrix:
// allowed, 403 (in scope, the role may not), or 404 (outside the scope,
// the record does not exist for the caller). A refused write changes
// nothing. Lists hold exactly what the caller may read; the randomised arm
// is shown only to unblinded grants.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, ctms, addUser, auditCount, assertProblem, createEnrollingStudy,
  createSite, subjectBody, siteBody, studyBody, uniq,
} from './lib.mjs';

// ------------------------------------------------------------------ the matrix

const ROLES = ['admin', 'manager', 'monitor', 'site', 'safety', 'finance', 'auditor', 'viewer'];

/**
 * Mirrors the rules of src/domain/access.c: where each kind of record lives
 * and what each role may do with it there (R read, C create, U update,
 * T transition). Change both together.
 */
const MATRIX = {
  //                          admin   manager monitor site    safety finance auditor viewer
  organisation: ['global', ['RCUT', 'RCU', 'R', 'R', 'R', 'R', 'R', 'R']],
  site: ['global', ['RCUT', 'RCU', 'R', 'R', 'R', 'R', 'R', 'R']],
  study: ['study', ['RCUT', 'RCUT', 'R', 'R', 'R', 'R', 'R', 'R']],
  protocol_version: ['study', ['RCUT', 'RCUT', 'R', 'R', 'R', 'R', 'R', 'R']],
  study_site: ['site', ['RCUT', 'RCUT', 'RUT', 'R', 'R', 'R', 'R', 'R']],
  subject: ['site', ['RCUT', 'R', 'R', 'RCUT', 'R', 'R', 'R', '']],
  milestone: ['study', ['RCUT', 'RCU', 'RU', 'R', 'R', 'R', 'R', 'R']],
  visit_definition: ['study', ['RCUT', 'RCU', 'R', 'R', 'R', 'R', 'R', 'R']],
  subject_visit: ['site', ['RCUT', 'R', 'R', 'RCU', 'R', 'R', 'R', '']],
  enrollment_plan_point: ['study', ['RCUT', 'RCU', 'R', '', 'R', 'R', 'R', 'R']],
  diversity_goal: ['study', ['RCUT', 'RCU', 'R', '', 'R', 'R', 'R', 'R']],
  adverse_event: ['site', ['RCUT', 'R', 'R', 'RCU', 'RCU', '', 'R', '']],
  exposure: ['site', ['RCUT', 'R', 'R', 'RCU', 'R', '', 'R', '']],
};

/** Capabilities that are not a kind of record: the roles that have them. */
const CAPABILITY = {
  reports: ['admin', 'manager', 'monitor', 'safety', 'finance', 'auditor', 'viewer'], // over a whole study
  audit: ['admin', 'auditor'], // global grants only
  administer: ['admin'], // global grants only
};

/** A user's one grant: scope 'global', a study key ('A') or a study-site key ('A1'). */
function covers(u, entity, op, at) {
  if (u.anonymous) return false;
  const [level, allow] = MATRIX[entity];
  if (!allow[ROLES.indexOf(u.role)].includes(op)) return false;
  if (level === 'global' || u.scope === 'global') return true;
  if (!at.study) return false; // a new study: only a global grant creates one
  if (u.scope.length === 2) { // a study-site grant
    if (level === 'site') return at.site === u.scope;
    return op === 'R' && at.study === u.scope[0];
  }
  return at.study === u.scope;
}
const readable = (u, entity, at) => covers(u, entity, 'R', at);
const hasCapability = (u, cap) => !u.anonymous && CAPABILITY[cap].includes(u.role);
const globalAdmin = (u) => hasCapability(u, 'administer') && u.scope === 'global';

/** Where the fixture's targets live. */
const AT = {
  G: {}, A: { study: 'A' }, B: { study: 'B' },
  A1: { study: 'A', site: 'A1' }, A2: { study: 'A', site: 'A2' }, B1: { study: 'B', site: 'B1' },
};
const STUDIES = ['A', 'B'];
const SITES = ['A1', 'A2', 'B1'];

// ------------------------------------------------------------------ fixture

let s;
const F = { study: {}, studySite: {}, siteNumber: {}, protocol: {}, rec: {} };
const USERS = [];
const ANONYMOUS = { key: 'anonymous', anonymous: true };
const named = {}; // username -> user

/** F.rec[entity][target] = id */
function put(entity, target, rec) {
  (F.rec[entity] ||= {})[target] = rec.id;
  return rec;
}

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

before(async () => {
  s = await startServer();
  put('organisation', 'G', await ok(await s.post('/api/v1/organisations', { name: uniq('Org '), kind: 'cro' }), 201));
  put('site', 'G', await ok(await s.post('/api/v1/sites', { name: uniq('Clinic '), country: 'US' }), 201));
  for (const key of STUDIES) {
    const study = put('study', key, await createEnrollingStudy(s));
    F.study[key] = study.id;
    F.protocol[key] = study.protocol_number;
    put('protocol_version', key, await ok(await s.post(`/api/v1/studies/${study.id}/protocol-versions`,
      { number: '1.0', version_date: '2024-01-05' }), 201));
    put('milestone', key, await ok(await s.post(`/api/v1/studies/${study.id}/milestones`,
      { name: 'Database lock', kind: 'database_lock', planned_on: '2025-06-01' }), 201));
    put('visit_definition', key, await ok(await s.post(`/api/v1/studies/${study.id}/visit-definitions`,
      { number: '1', name: 'SCREENING', planned_day: -7 }), 201));
    put('enrollment_plan_point', key, await ok(await s.post(`/api/v1/studies/${study.id}/enrollment-plan`,
      { planned_on: '2024-04-01', target_cumulative: 0 }), 201));
    put('diversity_goal', key, await ok(await s.post(`/api/v1/studies/${study.id}/diversity-goals`,
      { dimension: 'sex', category: 'F', goal_percent: 50 }), 201));
    for (const n of ['1', '2']) {
      const target = key + n;
      const site = put('study_site', target, await createSite(s, study.id));
      F.studySite[target] = site.id;
      F.siteNumber[target] = site.site_number;
      const subject = put('subject', target, await ok(await s.post(`/api/v1/studies/${study.id}/subjects`,
        subjectBody(site.site_number, { consented_on: '2024-06-10' })), 201));
      await ok(await s.patch(`/api/v1/subjects/${subject.id}`, { arm: target === 'A1' ? 'ACTIVE 10 MG' : 'PLACEBO' }, 1));
      put('subject_visit', target, await ok(await s.post(`/api/v1/subjects/${subject.id}/visits`,
        { name: 'UNSCHEDULED', visit_on: '2024-06-11' }), 201));
      put('adverse_event', target, await ok(await s.post(`/api/v1/subjects/${subject.id}/adverse-events`,
        { term: 'HEADACHE', serious: 'N', onset_on: '2024-06-11' }), 201));
      put('exposure', target, await ok(await s.post(`/api/v1/subjects/${subject.id}/exposures`,
        { treatment: 'PLACEBO', dose: '0', start_on: '2024-06-11' }), 201));
    }
  }

  // Every role in every scope, blinded; then a few for the blinding tests.
  const scopes = { global: {}, A: { study: F.protocol.A }, A1: { study: F.protocol.A, site: F.siteNumber.A1 } };
  for (const role of ROLES) {
    for (const [scope, where] of Object.entries(scopes)) {
      const username = `${role}-${scope.toLowerCase()}`;
      const u = { key: `${role}@${scope}`, role, scope, ...addUser(s.db, { username, role, ...where }) };
      USERS.push(u);
      named[username] = u;
    }
  }
  named.victim = { key: 'victim', role: 'viewer', scope: 'B', ...addUser(s.db, { username: 'victim', role: 'viewer', study: F.protocol.B }) };
  named['site-a1-unblinded'] = addUser(s.db, { username: 'site-a1-unblinded', role: 'site',
    study: F.protocol.A, site: F.siteNumber.A1, unblinded: true });
  named['auditor-unblinded'] = addUser(s.db, { username: 'auditor-unblinded', role: 'auditor', unblinded: true });
  named['monitor-mixed'] = addUser(s.db, { username: 'monitor-mixed', role: 'monitor' });
  const g = ctms(['user', 'grant', '--db', s.db, '--username', 'monitor-mixed', '--role', 'monitor',
    '--study', F.protocol.A, '--unblinded']);
  assert.equal(g.status, 0, g.stderr);
  for (const u of (await ok(await s.get('/api/v1/users'))).items) if (named[u.username]) named[u.username].id = u.id;
});

after(async () => { await stopChecked(s); });

/** Sends as u: its bearer token, or none for the anonymous caller. */
function as(u, method, path, { body, headers = {} } = {}) {
  const authorization = u.anonymous ? null : `Bearer ${u.token}`;
  return s.request(method, path, { body, headers: { authorization, ...headers } });
}

// ------------------------------------------------------------------ the routes

// What an allowed call answers. PATCH sends {} with the current ETag (a
// real, empty update); a transition sends a stale If-Match, so an allowed
// one stops at 412 after the authority check and nothing moves.
const STALE = { 'if-match': '"999999"' };
const ON = '2024-06-12';

const recordId = (entity) => (t) => F.rec[entity][t];
const scopeOf = (t) => AT[t];

/** GET of one record. */
const getOne = (entity, targets) => ({
  targets, id: recordId(entity),
  expect: (u, t) => (readable(u, entity, AT[t]) ? 200 : 404),
  check: (u, t, r) => { if (r.status === 200) assertArm(entity, r.json, false); },
});

/** PATCH {} with the record's current version. */
const patchOne = (entity, targets) => ({
  targets, id: recordId(entity), body: () => ({}),
  prepare: async (t, path) => ({ 'if-match': `"${(await ok(await s.get(path))).version}"` }),
  expect: (u, t) => (covers(u, entity, 'U', AT[t]) ? 200 : readable(u, entity, AT[t]) ? 403 : 404),
  check: (u, t, r) => { if (r.status === 200) assertArm(entity, r.json, false); },
});

const transitionOne = (entity, targets, to) => ({
  targets, id: recordId(entity), body: () => ({ to, on: ON }), headers: STALE,
  expect: (u, t) => (covers(u, entity, 'T', AT[t]) ? 412 : readable(u, entity, AT[t]) ? 403 : 404),
});

/**
 * A list: 200 when the parent (if any) is readable, and then exactly the
 * records the caller may read, compared with the administrator's list.
 */
const list = (entity, { parent, targets, parentId } = {}) => ({
  targets: targets || ['-'],
  id: parentId || (parent ? recordId(parent) : undefined),
  expect: (u, t) => (!parent || u.anonymous || readable(u, parent, AT[t]) ? 200 : 404),
  check: async (u, t, r, path) => {
    if (r.status !== 200) return;
    const all = (await ok(await s.get(`${path}?limit=1000`))).items;
    const want = all.filter((rec) => readable(u, entity, recordScope(entity, rec))).map((rec) => rec.id);
    const mine = (await ok(await as(u, 'GET', `${path}?limit=1000`))).items;
    assert.deepEqual(mine.map((rec) => rec.id), want, `${u.key} lists ${path}`);
    for (const rec of mine) assertArm(entity, rec, false);
  },
});

/**
 * A create: 404 when the parent is not readable, 201 when allowed, else 403.
 * With bodySite, the body names a study-site: one the caller cannot read
 * answers as a site number that does not exist (422), so none leaks.
 */
const create = (entity, body, { parent, targets, parentId, at, bodySite } = {}) => ({
  targets: targets || ['-'],
  id: parentId || (parent ? recordId(parent) : undefined),
  body,
  expect: (u, t) => {
    if (parent && !readable(u, parent, AT[parent === 'study' ? t[0] : t])) return 404;
    if (bodySite && !readable(u, 'study_site', AT[t])) return 422;
    return covers(u, entity, 'C', at ? at(t) : AT[t] || {}) ? 201 : 403;
  },
});

/** A study-wide report: a grant over the whole study. */
const report = (method = 'GET', body) => ({
  targets: STUDIES, id: (t) => F.study[t], body: body && (() => body),
  expect: (u, t) => {
    if (u.anonymous) return 401;
    const whole = u.scope === 'global' || u.scope === t;
    const visible = u.scope === 'global' || u.scope[0] === t;
    return hasCapability(u, 'reports') && whole ? 200 : visible ? 403 : 404;
  },
});

const userId = (t, u) => (t === 'self' && u.id ? u.id : named.victim.id);
let planDay = 0;
const goals = { A: ['0-17', '18-64', '65-74', '75-84'], B: ['0-17', '18-64', '65-74', '75-84'] };

/**
 * Every route of `ctms routes`: add a row whenever a route is added. targets
 * name fixture records (A1 a subject, visit or study-site of study-site A1;
 * A a study or a study-level record of study A; G a reference record; self
 * and other a user). expect(u, target) is the status u must get.
 */
const ROUTES = {
  'GET /healthz': { public: true, expect: () => 200 },
  'GET /metrics': { public: true, expect: () => 200 },
  'POST /api/v1/sessions': { public: true, body: () => ({}), expect: () => 401 }, // no credentials
  'GET /api/v1/sessions/current': { expect: () => 200 },
  'DELETE /api/v1/sessions/current': { expect: () => 400 }, // a token is not a session

  'GET /api/v1/users': { expect: (u) => (globalAdmin(u) ? 200 : 403) },
  'POST /api/v1/users': {
    body: () => ({ username: uniq('new-').toLowerCase(), display_name: 'New User', password: 'a long enough secret' }),
    expect: (u) => (globalAdmin(u) ? 201 : 403),
  },
  'GET /api/v1/users/{id}': {
    targets: ['self', 'other'], id: userId, expect: (u, t) => (t === 'self' || globalAdmin(u) ? 200 : 403),
  },
  'PATCH /api/v1/users/{id}': {
    targets: ['self', 'other'], id: userId, body: () => ({ status: 'active', reason: 'access test' }),
    expect: (u) => (globalAdmin(u) ? 200 : 403),
  },
  'POST /api/v1/users/{id}/grants': {
    targets: ['self', 'other'], id: userId, body: () => ({ role: 'viewer', study_id: F.study.B }),
    expect: (u) => (globalAdmin(u) ? 201 : 403),
  },
  'DELETE /api/v1/grants/{id}': {
    targets: ['other'],
    id: async () => (await ok(await s.post(`/api/v1/users/${named.victim.id}/grants`, { role: 'viewer', study_id: F.study.B }), 201))
      .grants.at(-1).id,
    expect: (u) => (globalAdmin(u) ? 204 : 403),
  },
  'GET /api/v1/users/{id}/tokens': {
    targets: ['self', 'other'], id: userId, expect: (u, t) => (t === 'self' || globalAdmin(u) ? 200 : 403),
  },
  'POST /api/v1/users/{id}/tokens': {
    targets: ['self', 'other'], id: userId, body: () => ({ name: 'access test', days: 1 }),
    expect: (u, t) => (t === 'self' || globalAdmin(u) ? 201 : 403),
  },
  'DELETE /api/v1/tokens/{id}': {
    targets: ['self', 'other'],
    id: async (t, u) => (await ok(await s.post(`/api/v1/users/${t === 'self' && u.id ? u.id : named.victim.id}/tokens`,
      { name: 'to revoke', days: 1 }), 201)).id,
    expect: (u, t) => (t === 'self' || globalAdmin(u) ? 204 : 404), // someone else's token does not exist for you
  },

  'GET /api/v1/organisations': list('organisation'),
  'POST /api/v1/organisations': create('organisation', () => ({ name: uniq('Org '), kind: 'vendor' })),
  'GET /api/v1/organisations/{id}': getOne('organisation', ['G']),
  'PATCH /api/v1/organisations/{id}': patchOne('organisation', ['G']),
  'GET /api/v1/sites': list('site'),
  'POST /api/v1/sites': create('site', () => ({ name: uniq('Clinic '), country: 'FR' })),
  'GET /api/v1/sites/{id}': getOne('site', ['G']),
  'PATCH /api/v1/sites/{id}': patchOne('site', ['G']),

  'GET /api/v1/studies': list('study'),
  'POST /api/v1/studies': create('study', () => studyBody()),
  'GET /api/v1/studies/{id}': getOne('study', STUDIES),
  'PATCH /api/v1/studies/{id}': patchOne('study', STUDIES),
  'POST /api/v1/studies/{id}/transition': transitionOne('study', STUDIES, 'follow_up'),
  'GET /api/v1/studies/{id}/summary': report(),
  'GET /api/v1/studies/{id}/protocol-versions': list('protocol_version', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/protocol-versions': create('protocol_version',
    () => ({ number: uniq('V'), version_date: '2024-01-05' }), { parent: 'study', targets: STUDIES }),
  'GET /api/v1/protocol-versions/{id}': getOne('protocol_version', STUDIES),
  'PATCH /api/v1/protocol-versions/{id}': patchOne('protocol_version', STUDIES),
  'POST /api/v1/protocol-versions/{id}/transition': transitionOne('protocol_version', STUDIES, 'rejected'),

  'GET /api/v1/studies/{id}/sites': list('study_site', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/sites': create('study_site', () => siteBody(),
    { parent: 'study', targets: STUDIES, at: (t) => ({ study: t, site: 'new' }) }),
  'GET /api/v1/study-sites/{id}': getOne('study_site', SITES),
  'PATCH /api/v1/study-sites/{id}': patchOne('study_site', SITES),
  'POST /api/v1/study-sites/{id}/transition': transitionOne('study_site', SITES, 'enrolling'),

  'GET /api/v1/studies/{id}/subjects': list('subject', { parent: 'study', targets: STUDIES }),
  // Screening at each study-site: the path names the study, the body the site.
  'POST /api/v1/studies/{id}/subjects': create('subject',
    (t) => subjectBody(F.siteNumber[t], { consented_on: '2024-06-10' }),
    { parent: 'study', targets: SITES, parentId: (t) => F.study[t[0]], bodySite: true }),
  'GET /api/v1/subjects/{id}': getOne('subject', SITES),
  'PATCH /api/v1/subjects/{id}': patchOne('subject', SITES),
  'POST /api/v1/subjects/{id}/transition': transitionOne('subject', SITES, 'enrolled'),

  'GET /api/v1/studies/{id}/milestones': list('milestone', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/milestones': create('milestone', () => ({ name: uniq('M '), kind: 'other' }),
    { parent: 'study', targets: STUDIES }),
  'GET /api/v1/milestones/{id}': getOne('milestone', STUDIES),
  'PATCH /api/v1/milestones/{id}': patchOne('milestone', STUDIES),

  'GET /api/v1/studies/{id}/visit-definitions': list('visit_definition', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/visit-definitions': create('visit_definition',
    () => ({ number: uniq('V').slice(0, 16), name: 'FOLLOW-UP' }), { parent: 'study', targets: STUDIES }),
  'GET /api/v1/visit-definitions/{id}': getOne('visit_definition', STUDIES),
  'PATCH /api/v1/visit-definitions/{id}': patchOne('visit_definition', STUDIES),

  'GET /api/v1/subjects/{id}/visits': list('subject_visit', { parent: 'subject', targets: SITES }),
  'POST /api/v1/subjects/{id}/visits': create('subject_visit', () => ({ name: 'UNSCHEDULED', visit_on: ON }),
    { parent: 'subject', targets: SITES }),
  'GET /api/v1/visits/{id}': getOne('subject_visit', SITES),
  'PATCH /api/v1/visits/{id}': patchOne('subject_visit', SITES),

  'GET /api/v1/studies/{id}/enrollment': report(),
  'GET /api/v1/studies/{id}/enrollment-plan': list('enrollment_plan_point', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/enrollment-plan': create('enrollment_plan_point', () => {
    planDay += 1; // later dates, higher targets: every point is valid
    const d = new Date(Date.UTC(2024, 4, 1 + planDay)).toISOString().slice(0, 10);
    return { planned_on: d, target_cumulative: planDay };
  }, { parent: 'study', targets: STUDIES }),
  'GET /api/v1/enrollment-plan/{id}': getOne('enrollment_plan_point', STUDIES),
  'PATCH /api/v1/enrollment-plan/{id}': patchOne('enrollment_plan_point', STUDIES),
  'GET /api/v1/studies/{id}/forecast': report(),
  'POST /api/v1/studies/{id}/forecast': report('POST', {}),
  'GET /api/v1/studies/{id}/diversity': report(),
  'GET /api/v1/studies/{id}/diversity-goals': list('diversity_goal', { parent: 'study', targets: STUDIES }),
  'POST /api/v1/studies/{id}/diversity-goals': create('diversity_goal',
    // A category per allowed goal (they are unique); the refused may repeat one.
    (t, want) => ({ dimension: 'age_band', category: want === 201 ? goals[t].shift() : '85+', goal_count: 5 }),
    { parent: 'study', targets: STUDIES }),
  'GET /api/v1/diversity-goals/{id}': getOne('diversity_goal', STUDIES),
  'PATCH /api/v1/diversity-goals/{id}': patchOne('diversity_goal', STUDIES),

  'GET /api/v1/audit': { expect: (u) => (hasCapability(u, 'audit') && u.scope === 'global' ? 200 : 403) },
  'GET /api/v1/studies/{id}/odm': {
    targets: STUDIES, id: (t) => F.study[t],
    expect: (u, t) => (readable(u, 'study', AT[t]) ? 200 : 404),
    check: (u, t, r) => { if (r.status === 200) assert.doesNotMatch(r.text, /CTMS\.ARM" Value=/, `${u.key} got an arm`); },
  },

  'GET /api/v1/adverse-events': list('adverse_event'),
  'GET /api/v1/subjects/{id}/adverse-events': list('adverse_event', { parent: 'subject', targets: SITES }),
  'POST /api/v1/subjects/{id}/adverse-events': create('adverse_event',
    () => ({ term: 'HEADACHE', serious: 'N', onset_on: ON }), { parent: 'subject', targets: SITES }),
  'GET /api/v1/adverse-events/{id}': getOne('adverse_event', SITES),
  'PATCH /api/v1/adverse-events/{id}': patchOne('adverse_event', SITES),
  'GET /api/v1/exposures': list('exposure'),
  'GET /api/v1/subjects/{id}/exposures': list('exposure', { parent: 'subject', targets: SITES }),
  // Without treatment and dose, which only unblinded roles set.
  'POST /api/v1/subjects/{id}/exposures': create('exposure', () => ({ start_on: ON, dose_unit: 'mg' }),
    { parent: 'subject', targets: SITES }),
  'GET /api/v1/exposures/{id}': getOne('exposure', SITES),
  'PATCH /api/v1/exposures/{id}': patchOne('exposure', SITES),

  // Imports. The table's calls send JSON, so an allowed CSV import stops at
  // 415 after the authority checks; tests/api/import_*.test.mjs import for real.
  'POST /api/v1/imports/ctgov': {
    body: () => [], // no records: counts of zero
    expect: (u) => (covers(u, 'study', 'C', {}) ? 200 : 403),
  },
  'POST /api/v1/studies/{id}/imports/sites': {
    targets: STUDIES, id: (t) => F.study[t], body: () => ({}),
    expect: (u, t) => (!readable(u, 'study', AT[t]) ? 404
      : covers(u, 'study_site', 'C', { study: t, site: 'new' }) ? 415 : 403),
  },
  'POST /api/v1/studies/{id}/imports/subjects': {
    targets: STUDIES, id: (t) => F.study[t], body: () => ({}),
    expect: (u, t) => (!readable(u, 'study', AT[t]) ? 404
      : MATRIX.subject[1][ROLES.indexOf(u.role)].includes('C') && (u.scope === 'global' || u.scope[0] === t) ? 415 : 403),
  },
  'GET /api/v1/imports/templates/sites.csv': { expect: () => 200 },
  'GET /api/v1/imports/templates/subjects.csv': { expect: () => 200 },

  // A study's downloads: whoever reads the study, holding what their lists hold.
  'GET /api/v1/studies/{id}/fhir': {
    targets: STUDIES, id: (t) => F.study[t], expect: (u, t) => (readable(u, 'study', AT[t]) ? 200 : 404),
    check: async (u, t, r, path) => {
      if (r.status !== 200) return;
      const all = (await ok(await s.get(`/api/v1/studies/${F.study[t]}/subjects?limit=1000`))).items;
      const want = all.filter((rec) => readable(u, 'subject', recordScope('subject', rec))).map((rec) => rec.screening_number);
      const got = r.json.entry.map((e) => e.resource).filter((x) => x.resourceType === 'ResearchSubject');
      assert.deepEqual(got.map((x) => x.individual.identifier.value).sort(), want.sort(), `${u.key} ${path}`);
      for (const x of got) assert.ok(!('assignedArm' in x), `${u.key} is shown no arm`);
      assert.ok(!('arm' in r.json.entry[0].resource), `${u.key} is shown no study arms`);
    },
  },
  'GET /api/v1/studies/{id}/ctgov': {
    targets: STUDIES, id: (t) => F.study[t], expect: (u, t) => (readable(u, 'study', AT[t]) ? 200 : 404),
    check: async (u, t, r, path) => {
      if (r.status !== 200) return;
      const all = (await ok(await s.get(`/api/v1/studies/${F.study[t]}/sites?limit=1000`))).items;
      const want = all.filter((rec) => readable(u, 'study_site', recordScope('study_site', rec))).map((rec) => rec.institution_name);
      const got = r.json.protocolSection.contactsLocationsModule.locations.map((l) => l.facility);
      assert.deepEqual(got.sort(), want.sort(), `${u.key} ${path}`);
    },
  },
  // Every study the caller may list, with figures over what they may count:
  // the whole study with the reports capability, else their study-site's.
  'GET /api/v1/portfolio': {
    expect: () => 200,
    check: async (u, t, r) => {
      if (r.status !== 200) return;
      const studies = (await ok(await s.get('/api/v1/studies?limit=1000'))).items;
      const want = studies.filter((rec) => readable(u, 'study', recordScope('study', rec))).map((rec) => rec.id);
      assert.deepEqual(r.json.items.map((x) => x.id), want, `${u.key} portfolio studies`);
      for (const item of r.json.items) {
        const key = recordScope('study', item).study;
        const whole = hasCapability(u, 'reports') && (u.scope === 'global' || u.scope === key);
        const mine = !whole && u.scope.length === 2 && u.scope[0] === key && readable(u, 'subject', AT[u.scope]);
        assert.equal(item.figures?.scope ?? null, whole ? 'study' : mine ? 'sites' : null, `${u.key} figures of ${key}`);
        if (!mine) continue;
        const subjects = (await ok(await s.get(`/api/v1/studies/${item.id}/subjects?limit=1000`))).items
          .filter((x) => x.study_site_id === F.studySite[u.scope]);
        assert.equal(item.figures.sites.total, 1, `${u.key} counts its study-site alone`);
        assert.equal(item.figures.subjects.total, subjects.length, `${u.key} counts its study-site's subjects alone`);
        assert.equal(item.figures.plan, null, `${u.key} is shown no study-wide plan`);
      }
    },
  },
};

/** Routes walked by tests of their own, each with the reason. */
const ELSEWHERE = {
  'POST /api/v1/imports/odm': 'takes ?study= and an XML body: import_odm.test.mjs walks its roles (admin 200, manager 403, other study 404)',
  'POST /api/v1/signatures': 'electronic signatures have their own tests',
  'GET /api/v1/signatures': 'electronic signatures have their own tests',
};

/** The scope of a listed record, in the fixture's keys (others: 'new'). */
function recordScope(entity, rec) {
  const key = (map, id) => Object.keys(map).find((k) => map[k] === id) || `new${id}`;
  const [level] = MATRIX[entity];
  if (level === 'global') return {};
  if (entity === 'study') return { study: key(F.study, rec.id) };
  const at = { study: key(F.study, rec.study_id) };
  if (level === 'site') at.site = key(F.studySite, entity === 'study_site' ? rec.id : rec.study_site_id);
  return at;
}

/** Every walked user here is blinded: no arm anywhere. */
function assertArm(entity, rec, shown) {
  if (entity !== 'subject' || !rec || typeof rec !== 'object') return;
  assert.equal('arm' in rec, shown, `arm ${shown ? 'hidden from' : 'shown to'} the caller: ${JSON.stringify(rec)}`);
}

function listRoutes() {
  const r = ctms(['routes']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('every route of `ctms routes` has a row in the access table (add one whenever a route is added)', () => {
  const routes = listRoutes();
  const missing = routes.filter((r) => !ROUTES[r] && !ELSEWHERE[r]);
  assert.deepEqual(missing, [], `routes without a row in ROUTES of access.test.mjs: ${missing.join(', ')}`);
  const stale = [...Object.keys(ROUTES), ...Object.keys(ELSEWHERE)].filter((r) => !routes.includes(r));
  assert.deepEqual(stale, [], `rows for routes that no longer exist: ${stale.join(', ')}`);
});

test('the role matrix, route by route: allowed, 403 in scope, 404 outside, 401 for no one', async (t) => {
  const callers = [...USERS, ANONYMOUS];
  for (const route of listRoutes()) {
    const row = ROUTES[route];
    if (!row) continue;
    const [method, pattern] = route.split(' ');
    await t.test(route, async () => {
      for (const target of row.targets || ['-']) {
        // Refused calls first, all of them between two counts of the audit trail.
        const plans = [];
        for (const u of callers) {
          const want = u.anonymous && !row.public ? 401 : row.expect(u, target);
          const id = row.id ? await row.id(target, u) : undefined;
          const path = pattern.replace('{id}', id);
          const headers = { ...(row.headers || {}), ...(row.prepare ? await row.prepare(target, path) : {}) };
          plans.push({ u, want, path, headers });
        }
        const refused = plans.filter((p) => p.want >= 400);
        const before = method === 'GET' ? 0 : auditCount(s.db);
        for (const p of refused) await call(p, row, method, route, target);
        if (method !== 'GET') assert.equal(auditCount(s.db), before, `a refused ${route} (${target}) wrote to the store`);
        for (const p of plans.filter((q) => q.want < 400)) await call(p, row, method, route, target);
      }
    });
  }
});

async function call(p, row, method, route, target) {
  const r = await as(p.u, method, p.path, { body: row.body?.(target, p.want), headers: p.headers });
  assert.equal(r.status, p.want, `${p.u.key} ${method} ${p.path} (${route}, target ${target}): expected ${p.want}, got ${r.status}: ${r.text}`);
  if (r.status >= 400 && r.status !== 412) assertProblem(r, r.status);
  if (row.check) await row.check(p.u, target, r, p.path);
}

// ------------------------------------------------------------------ by hand

test('spot checks of the table, written out by hand', async () => {
  const cases = [
    ['site-a1', 'GET', `/api/v1/subjects/${F.rec.subject.A1}`, 200],
    ['site-a1', 'GET', `/api/v1/subjects/${F.rec.subject.A2}`, 404],
    ['site-a1', 'GET', `/api/v1/studies/${F.study.A}`, 200],
    ['site-a1', 'GET', `/api/v1/studies/${F.study.B}`, 404],
    ['site-a1', 'GET', `/api/v1/studies/${F.study.A}/summary`, 403],
    ['site-a1', 'GET', `/api/v1/studies/${F.study.B}/summary`, 404],
    ['site-a1', 'GET', `/api/v1/study-sites/${F.studySite.A2}`, 404],
    ['monitor-a1', 'GET', `/api/v1/studies/${F.study.A}/summary`, 403],
    ['monitor-a', 'GET', `/api/v1/studies/${F.study.A}/summary`, 200],
    ['monitor-a', 'GET', `/api/v1/studies/${F.study.B}/forecast`, 404],
    ['viewer-global', 'GET', `/api/v1/studies/${F.study.B}/diversity`, 200],
    ['viewer-global', 'GET', `/api/v1/subjects/${F.rec.subject.A1}`, 404],
    ['auditor-a', 'GET', '/api/v1/audit', 403],
    ['auditor-global', 'GET', '/api/v1/audit', 200],
    ['admin-a', 'GET', '/api/v1/users', 403],
    ['admin-global', 'GET', '/api/v1/users', 200],
    ['site-global', 'GET', `/api/v1/studies/${F.study.B}/enrollment`, 403],
  ];
  for (const [who, method, path, want] of cases) {
    const r = await as(named[who], method, path);
    assert.equal(r.status, want, `${who} ${method} ${path}: ${r.text}`);
  }
});

test("a site user guessing another site's subject ids finds nothing, and writes nothing", async () => {
  const me = named['site-a1'];
  const before = auditCount(s.db);
  const problems = [];
  for (const target of ['A2', 'B1']) {
    const id = F.rec.subject[target];
    const version = (await ok(await s.get(`/api/v1/subjects/${id}`))).version;
    const visit = F.rec.subject_visit[target];
    const visitVersion = (await ok(await s.get(`/api/v1/visits/${visit}`))).version;
    for (const [method, path, body, headers] of [
      ['GET', `/api/v1/subjects/${id}`],
      ['PATCH', `/api/v1/subjects/${id}`, { age: 60 }, { 'if-match': `"${version}"` }],
      ['PATCH', `/api/v1/subjects/${id}`, { age: 60 }, STALE],
      ['POST', `/api/v1/subjects/${id}/transition`, { to: 'enrolled', on: ON }],
      ['POST', `/api/v1/subjects/${id}/transition`, { to: 'screen_failed', on: ON, reason: 'guess' }],
      ['GET', `/api/v1/subjects/${id}/visits`],
      ['POST', `/api/v1/subjects/${id}/visits`, { name: 'UNSCHEDULED', visit_on: ON }],
      ['GET', `/api/v1/visits/${visit}`],
      ['PATCH', `/api/v1/visits/${visit}`, { notes: 'guess' }, { 'if-match': `"${visitVersion}"` }],
      ['GET', `/api/v1/study-sites/${F.studySite[target]}`],
    ]) {
      const r = await as(me, method, path, { body, headers });
      problems.push([method, path, assertProblem(r, 404)]);
      // Indistinguishable from an id that does not exist at all.
      const none = path.replace(/\/\d+/, '/99999999');
      const n = await as(me, method, none, { body, headers });
      assertProblem(n, 404);
      assert.equal(r.json.detail.replace(/\d+/g, 'N'), n.json.detail.replace(/\d+/g, 'N'), `${method} ${path}`);
      assert.equal(r.json.type, n.json.type);
    }
  }
  assert.equal(auditCount(s.db), before, 'a guessed id was written to');
  for (const [, , p] of problems) assert.doesNotMatch(JSON.stringify(p), /PLACEBO|ACTIVE|screening_number|SCR/);
});

test('a site user screens, enrolls (the first enrollment moves its site to enrolling) and records visits', async () => {
  const me = named['site-a1'];
  assert.equal((await ok(await s.get(`/api/v1/study-sites/${F.studySite.A1}`))).status, 'activated');
  const mine = await ok(await as(me, 'POST', `/api/v1/studies/${F.study.A}/subjects`,
    { body: subjectBody(F.siteNumber.A1, { consented_on: '2024-06-10' }) }), 201);
  const enrolled = await ok(await as(me, 'POST', `/api/v1/subjects/${mine.id}/transition`, { body: { to: 'enrolled', on: ON } }));
  assert.equal(enrolled.status, 'enrolled');
  assert.equal((await ok(await s.get(`/api/v1/study-sites/${F.studySite.A1}`))).status, 'enrolling');
  await ok(await as(me, 'POST', `/api/v1/subjects/${mine.id}/visits`, { body: { name: 'UNSCHEDULED', visit_on: ON } }), 201);
  const patched = await ok(await as(me, 'PATCH', `/api/v1/subjects/${mine.id}`,
    { body: { age: 53 }, headers: { 'if-match': `"${enrolled.version}"` } }));
  assert.equal(patched.age, 53);
  // ...but not at the other site of the same study, which answers as a site
  // number that does not exist: which sites exist does not leak.
  const other = await as(me, 'POST', `/api/v1/studies/${F.study.A}/subjects`,
    { body: subjectBody(F.siteNumber.A2, { consented_on: '2024-06-10' }) });
  const none = await as(me, 'POST', `/api/v1/studies/${F.study.A}/subjects`,
    { body: subjectBody('NO-SUCH-SITE', { consented_on: '2024-06-10' }) });
  assertProblem(other, 422, ['site_number']);
  assert.deepEqual(other.json, none.json);
  await assertRefused(me, 'POST', `/api/v1/studies/${F.study.A}/subjects`,
    subjectBody(F.siteNumber.A2, { consented_on: '2024-06-10' }), 422);
});

/** Asserts the call is refused with status and that it wrote nothing. */
async function assertRefused(u, method, path, body, status, headers = {}) {
  const before = auditCount(s.db);
  const r = await as(u, method, path, { body, headers });
  assertProblem(r, status);
  assert.equal(auditCount(s.db), before, `${method} ${path} was refused but wrote`);
  return r.json;
}

test('a viewer reads but cannot write (403), and does not see subjects at all', async () => {
  const v = named['viewer-global'];
  const study = await ok(await as(v, 'GET', `/api/v1/studies/${F.study.A}`));
  const ms = await ok(await as(v, 'GET', `/api/v1/milestones/${F.rec.milestone.A}`));
  await assertRefused(v, 'PATCH', `/api/v1/studies/${F.study.A}`, { title: 'Viewer was here' }, 403, { 'if-match': `"${study.version}"` });
  await assertRefused(v, 'POST', `/api/v1/studies/${F.study.A}/transition`, { to: 'follow_up', on: ON }, 403);
  await assertRefused(v, 'POST', '/api/v1/studies', studyBody(), 403);
  await assertRefused(v, 'POST', '/api/v1/organisations', { name: uniq('Org '), kind: 'cro' }, 403);
  await assertRefused(v, 'POST', `/api/v1/studies/${F.study.A}/milestones`, { name: 'M', kind: 'other' }, 403);
  await assertRefused(v, 'PATCH', `/api/v1/milestones/${ms.id}`, { notes: 'x' }, 403, { 'if-match': `"${ms.version}"` });
  await assertRefused(v, 'POST', `/api/v1/studies/${F.study.A}/sites`, siteBody(), 403);
  await assertRefused(v, 'POST', `/api/v1/studies/${F.study.A}/subjects`, subjectBody(F.siteNumber.A1), 403);
  // Subjects and their visits are not in a viewer's matrix row, not even to read.
  await assertRefused(v, 'PATCH', `/api/v1/subjects/${F.rec.subject.A1}`, { age: 60 }, 404, STALE);
  await assertRefused(v, 'POST', `/api/v1/subjects/${F.rec.subject.A1}/visits`, { name: 'U', visit_on: ON }, 404);
  assert.deepEqual((await ok(await as(v, 'GET', `/api/v1/studies/${F.study.A}/subjects`))).items, []);
  // The study-wide reports, yes.
  await ok(await as(v, 'GET', `/api/v1/studies/${F.study.A}/summary`));
});

test('lists hold only what the caller may read', async () => {
  const ids = (r) => r.json.items.map((x) => x.id).sort((a, b) => a - b);
  const site = named['site-a1'];
  let r = await as(site, 'GET', '/api/v1/studies');
  assert.deepEqual(ids(r), [F.study.A]);
  r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/sites`);
  assert.deepEqual(ids(r), [F.studySite.A1]);
  r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/subjects?limit=1000`);
  assert.ok(r.json.items.length >= 1);
  assert.ok(r.json.items.every((x) => x.study_site_id === F.studySite.A1), r.text);
  assert.ok(r.json.items.some((x) => x.id === F.rec.subject.A1));
  // Asking for the other site by filter finds nothing; the other study does not exist.
  r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/subjects?study_site_id=${F.studySite.A2}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.items, []);
  assertProblem(await as(site, 'GET', `/api/v1/studies/${F.study.B}/subjects`), 404);
  // Study-level records of its study are readable; the plan is not in a site role's row.
  r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/milestones`);
  assert.ok(ids(r).includes(F.rec.milestone.A));
  r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/enrollment-plan`);
  assert.deepEqual(r.json.items, []);

  const monitor = named['monitor-a'];
  r = await as(monitor, 'GET', '/api/v1/studies');
  assert.deepEqual(ids(r), [F.study.A]);
  r = await as(monitor, 'GET', `/api/v1/studies/${F.study.A}/subjects?limit=1000`);
  const sites = new Set(r.json.items.map((x) => x.study_site_id));
  assert.ok(sites.has(F.studySite.A1) && sites.has(F.studySite.A2), r.text);
  // Paging does not leak either: every page is filtered.
  let cursor = null;
  const seen = [];
  do {
    r = await as(site, 'GET', `/api/v1/studies/${F.study.A}/subjects?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.items);
    cursor = r.json.next_cursor;
  } while (cursor);
  assert.ok(seen.every((x) => x.study_site_id === F.studySite.A1));
});

test('blinding: the arm is shown to unblinded grants only, in records, lists and the audit trail', async () => {
  const blind = named['site-a1'];
  const open = named['site-a1-unblinded'];
  const subject = `/api/v1/subjects/${F.rec.subject.A1}`;
  const listA = `/api/v1/studies/${F.study.A}/subjects?limit=1000`;

  let r = await ok(await as(blind, 'GET', subject));
  assert.ok(!('arm' in r), JSON.stringify(r));
  r = await ok(await as(blind, 'GET', listA));
  assert.ok(r.items.every((x) => !('arm' in x)));
  r = await ok(await as(open, 'GET', subject));
  assert.equal(r.arm, 'ACTIVE 10 MG');
  r = await ok(await as(open, 'GET', listA));
  assert.equal(r.items.find((x) => x.id === F.rec.subject.A1).arm, 'ACTIVE 10 MG');

  // Neither can a blinded caller set it, nor learn it from a stale write or a filter.
  const version = (await ok(await s.get(subject))).version;
  await assertRefused(blind, 'PATCH', subject, { arm: 'PLACEBO' }, 403, { 'if-match': `"${version}"` });
  await assertRefused(blind, 'PATCH', subject, { arm: null }, 403, { 'if-match': `"${version}"` });
  await assertRefused(blind, 'POST', `/api/v1/studies/${F.study.A}/subjects`,
    subjectBody(F.siteNumber.A1, { arm: 'PLACEBO' }), 403);
  const stale = await as(blind, 'PATCH', subject, { body: { age: 61 }, headers: STALE });
  assert.equal(stale.status, 412, stale.text);
  assert.doesNotMatch(stale.text, /ACTIVE 10 MG|"arm"/);
  assertProblem(await as(blind, 'GET', `${listA}&arm=PLACEBO`), 422);

  // The unblinded one may: to a new value and back.
  let rec = await ok(await as(open, 'PATCH', subject, { body: { arm: 'ACTIVE 20 MG' }, headers: { 'if-match': `"${version}"` } }));
  assert.equal(rec.arm, 'ACTIVE 20 MG');
  rec = await ok(await as(open, 'PATCH', subject, { body: { arm: 'ACTIVE 10 MG' }, headers: { 'if-match': `"${rec.version}"` } }));
  assert.equal(rec.arm, 'ACTIVE 10 MG');

  // A study grant unblinds its study only.
  const mixed = named['monitor-mixed'];
  assert.equal((await ok(await as(mixed, 'GET', subject))).arm, 'ACTIVE 10 MG');
  assert.ok(!('arm' in (await ok(await as(mixed, 'GET', `/api/v1/subjects/${F.rec.subject.B1}`)))));
  r = await ok(await as(mixed, 'GET', `/api/v1/studies/${F.study.B}/subjects`));
  assert.ok(r.items.length > 0 && r.items.every((x) => !('arm' in x)));

  // The audit trail keeps arm changes; a blinded auditor's view drops them.
  const trail = async (u) => {
    const events = [];
    let cursor = null;
    do {
      const page = await ok(await as(u, 'GET', `/api/v1/audit?entity=subject&id=${F.rec.subject.A1}${cursor ? `&cursor=${cursor}` : ''}`));
      events.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return events;
  };
  const fields = (events) => events.flatMap((e) => e.changes.map((c) => c.field));
  const seenOpen = await trail(named['auditor-unblinded']);
  assert.ok(fields(seenOpen).includes('arm'), 'an unblinded auditor sees arm changes');
  assert.ok(JSON.stringify(seenOpen).includes('ACTIVE 20 MG'));
  const seenBlind = await trail(named['auditor-global']);
  assert.equal(seenBlind.length, seenOpen.length, 'the events themselves stay');
  assert.ok(!fields(seenBlind).includes('arm'), 'a blinded auditor sees no arm change');
  assert.doesNotMatch(JSON.stringify(seenBlind), /ACTIVE|PLACEBO/);
  assert.ok(fields(seenBlind).includes('sex'), 'the other fields stay');
  // No hashes either: with every other input of the chain in view, a hash
  // would let a blinded reader try each arm until one matched.
  assert.ok(seenOpen.every((e) => /^[0-9a-f]{64}$/.test(e.hash)), 'an unblinded auditor sees the hashes');
  assert.ok(seenBlind.every((e) => !('hash' in e)), 'a blinded auditor sees no hash');
});

test('a grant takes effect, and its revocation too, at the next request', async () => {
  const v = named.victim;
  const path = `/api/v1/subjects/${F.rec.subject.A1}`;
  assertProblem(await as(v, 'GET', path), 404);
  const user = await ok(await s.post(`/api/v1/users/${v.id}/grants`,
    { role: 'site', study_site_id: F.studySite.A1 }), 201);
  const grant = user.grants.find((g) => g.role === 'site');
  assert.equal(grant.study_id, F.study.A, 'a study-site grant names its study');
  await ok(await as(v, 'GET', path));
  assert.equal((await s.request('DELETE', `/api/v1/grants/${grant.id}`)).status, 204);
  assertProblem(await as(v, 'GET', path), 404);
  assertProblem(await s.request('DELETE', `/api/v1/grants/${grant.id}`), 404);
});

test("a user who does not administer cannot read or change another user's account", async () => {
  const v = named['viewer-global'];
  const other = `/api/v1/users/${named.victim.id}`;
  assertProblem(await as(v, 'GET', other), 403);
  // Whatever the body: an empty PATCH must not answer the account either.
  for (const body of [{}, { reason: 'just looking' }, { status: 'disabled' }]) {
    const r = await assertRefused(v, 'PATCH', other, body, 403);
    assert.ok(!('grants' in r) && !('username' in r), JSON.stringify(r));
  }
  await assertRefused(v, 'PATCH', other, { password: 'a brand new password' }, 403);
  await assertRefused(v, 'POST', `/api/v1/users/${v.id}/grants`, { role: 'admin' }, 403);
  await assertRefused(named['admin-a'], 'POST', `/api/v1/users/${named['admin-a'].id}/grants`, { role: 'admin' }, 403);
  await assertRefused(named['admin-a'], 'POST', '/api/v1/users',
    { username: 'sneaky', display_name: 'Sneaky', password: 'a long enough secret' }, 403);
  // Its own account, yes.
  const me = await ok(await as(v, 'GET', `/api/v1/users/${v.id}`));
  assert.equal(me.username, 'viewer-global');
  assert.ok(!('password_hash' in me) && !('totp_secret' in me));
});

test("a site user cannot tell another site's number from one that does not exist", async () => {
  const me = named['site-a1'];
  const path = `/api/v1/studies/${F.study.A}/subjects`;
  const other = await as(me, 'POST', path, { body: subjectBody(F.siteNumber.A2, { consented_on: '2024-06-10' }) });
  const none = await as(me, 'POST', path, { body: subjectBody('NO-SUCH-SITE', { consented_on: '2024-06-10' }) });
  assert.ok(other.status >= 400 && none.status >= 400);
  assert.equal(other.status, none.status, `site ${F.siteNumber.A2} (another site's) answers ${other.status}: ${other.text}; `
    + `a site number that does not exist answers ${none.status}: ${none.text}`);
});

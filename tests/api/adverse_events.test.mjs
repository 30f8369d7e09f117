// Adverse events and exposure as records: partial dates kept as given and
// validated, onset and end ordered against each other and the subject's
// screening, sequence numbers unique per subject, filters by study, subject
// and seriousness, and the treatment of an exposure blinded like the arm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, addUser, assertProblem, assertNoWrite, createEnrollingSetup,
  subjectBody,
} from './lib.mjs';

let s;
let setup;
let subject;
let other;

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

const ae = (overrides = {}) => ({
  term: 'HEADACHE', decoded_term: 'Headache', body_system: 'NERVOUS SYSTEM DISORDERS',
  onset_on: '2024-06-20', severity: 'MILD', serious: 'N', relationship: 'POSSIBLE',
  outcome: 'RECOVERED/RESOLVED', ...overrides,
});

before(async () => {
  s = await startServer();
  setup = await createEnrollingSetup(s);
  const n = setup.site.site_number;
  subject = await ok(await s.post(`/api/v1/studies/${setup.study.id}/subjects`, subjectBody(n, { screened_on: '2024-06-10' })), 201);
  other = await ok(await s.post(`/api/v1/studies/${setup.study.id}/subjects`, subjectBody(n, { screened_on: '2024-06-12' })), 201);
});

after(async () => { await stopChecked(s); });

test('an adverse event is created, numbered, read, listed and changed with If-Match', async () => {
  const first = await ok(await s.post(`/api/v1/subjects/${subject.id}/adverse-events`, ae()), 201);
  assert.equal(first.sequence_number, 1);
  assert.equal(first.subject_id, subject.id);
  assert.equal(first.study_id, setup.study.id);
  assert.equal(first.study_site_id, setup.site.id);
  assert.equal(first.screening_number, subject.screening_number);
  const second = await ok(await s.post(`/api/v1/subjects/${subject.id}/adverse-events`,
    ae({ term: 'SYNCOPE', serious: 'Y', hospitalisation: 'Y', severity: 'SEVERE', onset_on: '2024-07' })), 201);
  assert.equal(second.sequence_number, 2);
  assert.equal(second.onset_on, '2024-07', 'a partial date is kept as given');
  const got = await ok(await s.get(`/api/v1/adverse-events/${second.id}`));
  assert.equal(got.term, 'SYNCOPE');

  // A sequence number is unique within its subject, not across subjects.
  assertProblem(await s.post(`/api/v1/subjects/${subject.id}/adverse-events`, ae({ sequence_number: 1 })), 409, ['sequence_number']);
  const theirs = await ok(await s.post(`/api/v1/subjects/${other.id}/adverse-events`, ae({ sequence_number: 1 })), 201);

  // Filters: study, subject, seriousness.
  const list = async (q) => (await ok(await s.get(`/api/v1/adverse-events?${q}`))).items.map((x) => x.id);
  assert.deepEqual(await list(`study_id=${setup.study.id}`), [first.id, second.id, theirs.id]);
  assert.deepEqual(await list(`subject_id=${subject.id}`), [first.id, second.id]);
  assert.deepEqual(await list(`study_id=${setup.study.id}&serious=Y`), [second.id]);
  assert.deepEqual(await list('study_id=999999'), []);
  assertProblem(await s.get('/api/v1/adverse-events?onset_on=2024'), 422);
  assert.deepEqual((await ok(await s.get(`/api/v1/subjects/${other.id}/adverse-events`))).items.map((x) => x.id), [theirs.id]);

  // Changed, then stale.
  const patched = await ok(await s.patch(`/api/v1/adverse-events/${first.id}`,
    { end_on: '2024-06-22', outcome: 'RECOVERED/RESOLVED', change_reason: 'resolved' }, first.version));
  assert.equal(patched.end_on, '2024-06-22');
  assert.equal(patched.version, 2);
  assert.equal((await s.patch(`/api/v1/adverse-events/${first.id}`, { severity: 'MODERATE' }, 1)).status, 412);
  assertProblem(await s.patch(`/api/v1/adverse-events/${first.id}`, { sequence_number: 9 }, 2), 422, ['sequence_number']);
});

test('bad dates, bad codes and dates out of order are refused with a reason, and write nothing', async () => {
  const post = (body) => s.post(`/api/v1/subjects/${subject.id}/adverse-events`, body);
  const cases = [
    [ae({ onset_on: '2024-13' }), 'onset_on'],
    [ae({ onset_on: '2024-02-30' }), 'onset_on'],
    [ae({ onset_on: 'UNK' }), 'onset_on'],
    [ae({ onset_on: '24-06-20' }), 'onset_on'],
    [ae({ onset_on: '2999-01-01' }), 'onset_on'],
    [ae({ end_on: '2024-06-19' }), 'end_on'],
    [ae({ onset_on: '2024-07', end_on: '2024-06' }), 'end_on'],
    [ae({ onset_on: '2024-06-01' }), 'onset_on'], // before screening on 2024-06-10
    [ae({ onset_on: '2023' }), 'onset_on'],
    [ae({ severity: 'mild' }), 'severity'],
    [ae({ serious: 'YES' }), 'serious'],
    [ae({ outcome: 'RESOLVED' }), 'outcome'],
    [ae({ action_taken: 'STOPPED' }), 'action_taken'],
    [ae({ results_in_death: true }), 'results_in_death'],
    [ae({ serious: undefined }), 'serious'],
    [ae({ term: '' }), 'term'],
    [ae({ study_id: 1 }), 'study_id'],
  ];
  for (const [body, field] of cases) {
    const p = await assertNoWrite(s, () => post(JSON.parse(JSON.stringify(body))));
    const problem = assertProblem(p, 422, [field]);
    const message = problem.errors.find((e) => e.field === field).message;
    assert.ok(message.length > 8, message);
  }
  const before = await assertNoWrite(s, () => post(ae({ onset_on: '2024-06-01' })));
  assert.match(before.json.errors[0].message, /before the subject's screening on 2024-06-10/);
  // Same month as the screening: not known to be before it.
  await ok(await post(ae({ onset_on: '2024-06' })), 201);
  // With the reason, an event that began before screening is recorded.
  const history = await ok(await post(ae({ onset_on: '2019', onset_before_screening_reason: 'worsened during the trial' })), 201);
  assert.equal(history.onset_on, '2019');
  // An unknown subject answers 404.
  assertProblem(await s.post('/api/v1/subjects/999999/adverse-events', ae()), 404);
});

test('exposure: dates in order, a decimal dose, treatment and dose blinded', async () => {
  const ex = await ok(await s.post(`/api/v1/subjects/${subject.id}/exposures`, {
    treatment: 'XANOMELINE', dose: '54', dose_unit: 'mg', dose_form: 'PATCH', dose_frequency: 'QD',
    route: 'TRANSDERMAL', start_on: '2024-06-15', end_on: '2024-07-01',
  }), 201);
  assert.equal(ex.sequence_number, 1);
  assert.equal(ex.treatment, 'XANOMELINE');
  for (const [body, field] of [
    [{ start_on: '2024-06-15', end_on: '2024-06-14' }, 'end_on'],
    [{ start_on: '2024-06-01' }, 'start_on'],
    [{ start_on: '2024-06-15', dose: '5,4' }, 'dose'],
    [{ start_on: '2024-06-15', dose: 54 }, 'dose'],
    [{ dose: '1' }, 'start_on'],
  ]) {
    assertProblem(await assertNoWrite(s, () => s.post(`/api/v1/subjects/${subject.id}/exposures`, body)), 422, [field]);
  }
  assert.deepEqual((await ok(await s.get(`/api/v1/exposures?subject_id=${subject.id}`))).items.map((x) => x.id), [ex.id]);

  // A blinded site user sees the record without treatment and dose, also in
  // lists, and may record exposure without them but not set them.
  const site = addUser(s.db, { username: 'site-blind', role: 'site', study: setup.study.protocol_number, site: setup.site.site_number });
  const as = (method, path, body, headers = {}) =>
    s.request(method, path, { body, headers: { authorization: `Bearer ${site.token}`, ...headers } });
  const seen = await ok(await as('GET', `/api/v1/exposures/${ex.id}`));
  assert.ok(!('treatment' in seen) && !('dose' in seen), JSON.stringify(seen));
  assert.equal(seen.dose_unit, 'mg');
  const listed = (await ok(await as('GET', `/api/v1/subjects/${subject.id}/exposures`))).items;
  assert.ok(listed.length === 1 && !('treatment' in listed[0]));
  await ok(await as('POST', `/api/v1/subjects/${subject.id}/exposures`, { start_on: '2024-07-02', dose_unit: 'mg' }), 201);
  assertProblem(await assertNoWrite(s, () => as('POST', `/api/v1/subjects/${subject.id}/exposures`,
    { start_on: '2024-07-02', treatment: 'PLACEBO' })), 403);
  // Adverse events, yes: a site user records them at its site.
  await ok(await as('POST', `/api/v1/subjects/${subject.id}/adverse-events`, ae({ term: 'NAUSEA' })), 201);

  // The audit trail drops the blinded values for a blinded auditor.
  const auditor = addUser(s.db, { username: 'auditor-blind', role: 'auditor' });
  const trail = await ok(await s.request('GET', `/api/v1/audit?entity=exposure&id=${ex.id}`,
    { headers: { authorization: `Bearer ${auditor.token}` } }));
  assert.equal(trail.items.length, 1);
  const fields = trail.items[0].changes.map((c) => c.field);
  assert.ok(fields.includes('start_on') && !fields.includes('treatment') && !fields.includes('dose'), fields.join());
  const open = await ok(await s.get(`/api/v1/audit?entity=exposure&id=${ex.id}`));
  assert.ok(open.items[0].changes.some((c) => c.field === 'treatment'));
});

test('roles: finance and viewers do not see adverse events; monitors read but do not write', async () => {
  const event = await ok(await s.post(`/api/v1/subjects/${subject.id}/adverse-events`, ae({ term: 'RASH' })), 201);
  const protocol = setup.study.protocol_number;
  const user = (role) => addUser(s.db, { username: `${role}-ae`, role, study: protocol });
  const as = (u, method, path, body) => s.request(method, path, { body, headers: { authorization: `Bearer ${u.token}` } });
  for (const role of ['finance', 'viewer']) {
    const u = user(role);
    assertProblem(await as(u, 'GET', `/api/v1/adverse-events/${event.id}`), 404);
    assert.deepEqual((await ok(await as(u, 'GET', `/api/v1/adverse-events?study_id=${setup.study.id}`))).items, []);
  }
  const monitor = user('monitor');
  await ok(await as(monitor, 'GET', `/api/v1/adverse-events/${event.id}`));
  assertProblem(await assertNoWrite(s, () => as(monitor, 'POST', `/api/v1/subjects/${subject.id}/adverse-events`, ae())), 403);
  const safety = user('safety');
  await ok(await as(safety, 'POST', `/api/v1/subjects/${subject.id}/adverse-events`, ae({ term: 'FALL' })), 201);
});

// The visit schedule of a study and the visits subjects made: study days
// (day 1 is the day of enrollment, there is no day 0), the derived planned
// date and window of each visit, every refusal, the audit trail, lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, startServer, stopChecked, subjectBody, assertProblem, assertNoWrite, auditCount, walk,
  createEnrollingSetup, createEnrollingStudy, uniq,
} from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

// The trial visits (TV) of the CDISC SDTM pilot study CDISCPILOT01:
// VISITNUM, VISIT, VISITDY. The "(T)" visits are telephone contacts; AE
// FOLLOW-UP and Rash followup have no planned day. Windows are ours.
const PILOT_TV = [
  ['1', 'SCREENING 1', -7, { window_before: 7 }],
  ['2', 'SCREENING 2', -1],
  ['3', 'BASELINE', 1],
  ['3.5', 'AMBUL ECG PLACEMENT', 13, { window_before: 1, window_after: 1 }],
  ['4', 'WEEK 2', 14, { window_before: 3, window_after: 3 }],
  ['5', 'WEEK 4', 28, { window_before: 3, window_after: 3 }],
  ['6', 'AMBUL ECG REMOVAL', 30, { window_before: 1, window_after: 1 }],
  ['7', 'WEEK 6', 42, { window_before: 3, window_after: 3 }],
  ['8', 'WEEK 8', 56, { window_before: 3, window_after: 3 }],
  ['8.1', 'WEEK 10 (T)', 70, { window_before: 3, window_after: 3, kind: 'phone' }],
  ['9', 'WEEK 12', 84, { window_before: 7, window_after: 7 }],
  ['9.1', 'WEEK 14 (T)', 98, { window_before: 3, window_after: 3, kind: 'phone' }],
  ['10', 'WEEK 16', 112, { window_before: 7, window_after: 7 }],
  ['10.1', 'WEEK 18 (T)', 126, { window_before: 3, window_after: 3, kind: 'phone' }],
  ['11', 'WEEK 20', 140, { window_before: 7, window_after: 7 }],
  ['11.1', 'WEEK 22 (T)', 154, { window_before: 3, window_after: 3, kind: 'phone' }],
  ['12', 'WEEK 24', 168, { window_before: 7, window_after: 7 }],
  ['13', 'WEEK 26', 182, { window_before: 7, window_after: 7 }],
  ['101', 'AE FOLLOW-UP', null],
  ['201', 'RETRIEVAL', 168, { window_before: 14, window_after: 14 }],
  ['501', 'Rash followup', null, { kind: 'remote' }],
];

function definitionBody([number, name, planned_day, extra = {}]) {
  const body = { number, name, ...extra };
  if (planned_day !== null) body.planned_day = planned_day;
  return body;
}

/** Creates the pilot schedule on a study; answers the definitions by number. */
async function createSchedule(studyId) {
  const byNumber = {};
  for (const row of PILOT_TV) {
    const r = await s.post(`/api/v1/studies/${studyId}/visit-definitions`, definitionBody(row));
    assert.equal(r.status, 201, r.text);
    byNumber[row[0]] = r.json;
  }
  return byNumber;
}

/** YYYY-MM-DD plus n days (UTC calendar arithmetic, independent of ctms). */
function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The SDTM study-day convention: day 1 is the reference date, day -1 the day before. */
const studyDayDate = (enrolledOn, day) => addDays(enrolledOn, day >= 1 ? day - 1 : day);

/** Today's UTC date plus n days. */
const fromToday = (n) => addDays(new Date().toISOString().slice(0, 10), n);

/**
 * An enrolling study with the pilot schedule and a subject screened on
 * screenedOn and, unless enrolledOn is null, enrolled on enrolledOn.
 */
async function scheduledSubject({ screenedOn = '2024-06-10', enrolledOn = '2024-06-17' } = {}) {
  const { study, site } = await createEnrollingSetup(s);
  const schedule = await createSchedule(study.id);
  const c = await s.post(`/api/v1/studies/${study.id}/subjects`,
    subjectBody(site.site_number, { screened_on: screenedOn, consented_on: screenedOn }));
  assert.equal(c.status, 201, c.text);
  let subject = c.json;
  if (enrolledOn) {
    const e = await s.transition('subjects', subject.id, 'enrolled', enrolledOn);
    assert.equal(e.status, 200, e.text);
    subject = e.json;
  }
  return { study, site, schedule, subject };
}

async function recordVisit(subjectId, body, status = 201) {
  const r = await s.post(`/api/v1/subjects/${subjectId}/visits`, body);
  assert.equal(r.status, status, r.text);
  return r.json;
}

// ------------------------------------------------------------ the schedule

test('the CDISC pilot schedule is created, read, listed, filtered and paged', async () => {
  const study = await createEnrollingStudy(s);
  const first = await s.post(`/api/v1/studies/${study.id}/visit-definitions`, definitionBody(PILOT_TV[0]));
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get('location'), `/api/v1/visit-definitions/${first.json.id}`);
  assert.equal(first.headers.get('etag'), '"1"');
  const { id, created_at, updated_at, ...fields } = first.json;
  assert.ok(id > 0 && created_at && updated_at);
  assert.deepEqual(fields, { version: 1, study_id: study.id, number: '1', name: 'SCREENING 1', planned_day: -7,
    window_before: 7, window_after: 0, kind: 'in_person' }); // windows and kind default to 0 and in_person
  const g = await s.get(`/api/v1/visit-definitions/${first.json.id}`);
  assert.equal(g.status, 200);
  assert.deepEqual(g.json, first.json);

  const rest = [];
  for (const row of PILOT_TV.slice(1)) {
    const r = await s.post(`/api/v1/studies/${study.id}/visit-definitions`, definitionBody(row));
    assert.equal(r.status, 201, r.text);
    rest.push(r.json);
  }
  const ae = rest.find((d) => d.number === '101');
  assert.equal(ae.planned_day, null, 'a visit without a planned day');
  assert.equal(ae.window_before, 0);
  assert.equal(ae.kind, 'in_person');
  assert.equal(rest.find((d) => d.number === '3.5').name, 'AMBUL ECG PLACEMENT');

  // Every page, in id order, with the schedule as created.
  const all = await walk(s, `/api/v1/studies/${study.id}/visit-definitions`, 4);
  assert.deepEqual(all.map((d) => d.number), PILOT_TV.map((row) => row[0]));
  assert.deepEqual(all.map((d) => d.planned_day), PILOT_TV.map((row) => row[2]));
  assert.deepEqual(all.slice(1), rest);

  // Filters: number, kind; anything else is refused.
  let l = await s.get(`/api/v1/studies/${study.id}/visit-definitions?number=3.5`);
  assert.deepEqual(l.json.items.map((d) => d.name), ['AMBUL ECG PLACEMENT']);
  l = await s.get(`/api/v1/studies/${study.id}/visit-definitions?kind=phone`);
  assert.deepEqual(l.json.items.map((d) => d.number), ['8.1', '9.1', '10.1', '11.1']);
  l = await s.get(`/api/v1/studies/${study.id}/visit-definitions?kind=phone&number=9.1`);
  assert.deepEqual(l.json.items.map((d) => d.name), ['WEEK 14 (T)']);
  const phones = await walk(s, `/api/v1/studies/${study.id}/visit-definitions?kind=phone`, 3);
  assert.equal(phones.length, 4);
  for (const q of ['planned_day=1', 'name=BASELINE', 'colour=red']) {
    assertProblem(await s.get(`/api/v1/studies/${study.id}/visit-definitions?${q}`), 422, [q.split('=')[0]]);
  }
  assertProblem(await s.get('/api/v1/studies/999999/visit-definitions'), 404);

  // Numbers are unique within a study, not across studies.
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.post(`/api/v1/studies/${study.id}/visit-definitions`,
      { number: '3.5', name: 'AGAIN' }), 409, ['number']);
    assert.equal(r.type, 'urn:ctms:problem:conflict');
  });
  const other = await createEnrollingStudy(s);
  const again = await s.post(`/api/v1/studies/${other.id}/visit-definitions`, { number: '3.5', name: 'AMBUL ECG PLACEMENT' });
  assert.equal(again.status, 201, again.text);
  assert.equal((await s.get(`/api/v1/studies/${other.id}/visit-definitions`)).json.items.length, 1);
});

test('visit definitions: day 0, ranges, codes and unknown fields are refused; number is immutable', async () => {
  const study = await createEnrollingStudy(s);
  const base = `/api/v1/studies/${study.id}/visit-definitions`;
  const ok = { number: uniq('V'), name: 'WEEK 2', planned_day: 14 };
  await assertNoWrite(s, async () => {
    const zero = assertProblem(await s.post(base, { ...ok, planned_day: 0 }), 422, ['planned_day']);
    assert.equal(zero.errors.length, 1);
    assert.match(zero.errors[0].message, /day 1 .* -1/);
    assertProblem(await s.post(base, { ...ok, planned_day: 3651 }), 422, ['planned_day']);
    assertProblem(await s.post(base, { ...ok, planned_day: -3651 }), 422, ['planned_day']);
    assertProblem(await s.post(base, { ...ok, planned_day: 1.5 }), 422, ['planned_day']);
    assertProblem(await s.post(base, { ...ok, planned_day: '14' }), 422, ['planned_day']);
    assertProblem(await s.post(base, { ...ok, window_before: -1 }), 422, ['window_before']);
    assertProblem(await s.post(base, { ...ok, window_after: 366 }), 422, ['window_after']);
    assertProblem(await s.post(base, { ...ok, window_before: null }), 422, ['window_before']);
    assertProblem(await s.post(base, { ...ok, window_after: null }), 422, ['window_after']);
    assertProblem(await s.post(base, { ...ok, kind: 'video' }), 422, ['kind']);
    assertProblem(await s.post(base, { ...ok, kind: null }), 422, ['kind']);
    assertProblem(await s.post(base, { ...ok, number: '' }), 422, ['number']);
    assertProblem(await s.post(base, { ...ok, number: '12345678901234567' }), 422, ['number']);
    assertProblem(await s.post(base, { ...ok, name: ' WEEK 2' }), 422, ['name']);
    assertProblem(await s.post(base, { ...ok, visitdy: 14, study_id: study.id }), 422, ['visitdy', 'study_id']);
    const empty = assertProblem(await s.post(base, {}), 422, ['number', 'name']);
    assert.equal(empty.errors.length, 2);
    assertProblem(await s.post('/api/v1/studies/999999/visit-definitions', ok), 404);
  });
  // The edges of the ranges are fine.
  for (const [planned_day, w] of [[-3650, 0], [3650, 365], [-1, 365], [1, 0]]) {
    const r = await s.post(base, { ...ok, number: uniq('V'), planned_day, window_before: w, window_after: w });
    assert.equal(r.status, 201, r.text);
  }

  const d = (await s.post(base, ok)).json;
  const one = `/api/v1/visit-definitions/${d.id}`;
  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(one, { number: 'X' }, 1), 422, ['number']);
    assertProblem(await s.patch(one, { planned_day: 0 }, 1), 422, ['planned_day']);
    const nulls = assertProblem(await s.patch(one, { window_before: null, window_after: null, kind: null }, 1), 422,
      ['window_before', 'window_after', 'kind']);
    assert.equal(nulls.errors.length, 3, JSON.stringify(nulls.errors));
    assertProblem(await s.patch(one, { window_after: null }, 1), 422, ['window_after']);
    assertProblem(await s.patch(one, { name: null }, 1), 422, ['name']);
    assertProblem(await s.patch(one, { study_id: 1 }, 1), 422, ['study_id']);
    assertProblem(await s.patch(one, { name: 'WEEK TWO' }), 428);
    assertProblem(await s.patch('/api/v1/visit-definitions/999999', { name: 'X' }, 1), 404);
  });
  const p = await s.patch(one, { name: 'WEEK TWO', planned_day: null, kind: 'remote', change_reason: 'renamed' }, 1);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.headers.get('etag'), '"2"');
  assert.deepEqual([p.json.version, p.json.name, p.json.planned_day, p.json.kind, p.json.number],
    [2, 'WEEK TWO', null, 'remote', ok.number]);
  await assertNoWrite(s, async () => {
    const stale = assertProblem(await s.patch(one, { name: 'WEEK 2' }, 1), 412);
    assert.equal(stale.type, 'urn:ctms:problem:stale-version');
    assert.deepEqual(stale.current, p.json);
  });
});

// ------------------------------------------------ planned dates and windows

test('planned dates follow SDTM study days: day 1 is enrollment, day -1 the day before', async () => {
  const enrolled = '2024-06-17';
  const { subject } = await scheduledSubject({ screenedOn: '2024-06-10', enrolledOn: enrolled });
  assert.equal(subject.enrolled_on, enrolled);
  // [visit_number, visit_on, planned_on, window_from, window_to, in_window]
  const cases = [
    ['1', '2024-06-10', '2024-06-10', '2024-06-03', '2024-06-10', true], // day -7 = 7 days before day 1
    ['2', '2024-06-16', '2024-06-16', '2024-06-16', '2024-06-16', true], // day -1 = the day before
    ['3', '2024-06-17', '2024-06-17', '2024-06-17', '2024-06-17', true], // day 1 = enrollment
    ['3.5', '2024-06-28', '2024-06-29', '2024-06-28', '2024-06-30', true], // day 13, a day early
    ['4', '2024-07-04', '2024-06-30', '2024-06-27', '2024-07-03', false], // day 14, a day too late
    ['5', '2024-07-11', '2024-07-14', '2024-07-11', '2024-07-17', true], // day 28, first day of its window
    ['6', '2024-07-15', '2024-07-16', '2024-07-15', '2024-07-17', true],
    ['7', '2024-07-24', '2024-07-28', '2024-07-25', '2024-07-31', false], // a day before its window
    ['8.1', '2024-08-25', '2024-08-25', '2024-08-22', '2024-08-28', true], // day 70, by phone
    ['13', '2024-12-16', '2024-12-15', '2024-12-08', '2024-12-22', true], // day 182
  ];
  for (const [number, visitOn, plannedOn, from, to, inWindow] of cases) {
    const row = PILOT_TV.find((r) => r[0] === number);
    // The expected dates, computed here as well as written out above.
    assert.equal(studyDayDate(enrolled, row[2]), plannedOn, `day ${row[2]}`);
    assert.equal(addDays(plannedOn, -(row[3]?.window_before || 0)), from);
    assert.equal(addDays(plannedOn, row[3]?.window_after || 0), to);
    const v = await recordVisit(subject.id, { visit_number: number, visit_on: visitOn });
    assert.deepEqual(
      [v.visit_number, v.name, v.kind, v.visit_on, v.planned_on, v.window_from, v.window_to, v.in_window],
      [number, row[1], row[3]?.kind || 'in_person', visitOn, plannedOn, from, to, inWindow],
      `visit ${number}`,
    );
    assert.deepEqual((await s.get(`/api/v1/visits/${v.id}`)).json, v);
  }

  // A visit of the schedule without a planned day, and an unscheduled visit:
  // nothing to compare with.
  const ae = await recordVisit(subject.id, { visit_number: '101', visit_on: '2024-09-02', notes: 'headache' });
  assert.deepEqual([ae.name, ae.planned_on, ae.window_from, ae.window_to, ae.in_window], ['AE FOLLOW-UP', null, null, null, null]);
  const un = await recordVisit(subject.id, { name: 'UNSCHEDULED 8.2', visit_on: '2024-08-30', end_on: '2024-08-31' });
  assert.deepEqual(
    [un.visit_number, un.visit_definition_id, un.kind, un.end_on, un.planned_on, un.window_from, un.window_to, un.in_window],
    [null, null, 'in_person', '2024-08-31', null, null, null, null],
  );
  // Unscheduled visits may repeat, even on the same day; name and kind are the caller's.
  const un2 = await recordVisit(subject.id, { name: 'UNSCHEDULED 8.2', visit_on: '2024-08-30', kind: 'remote' });
  assert.equal(un2.kind, 'remote');
  // A scheduled visit may be given its own name and kind.
  const own = await recordVisit(subject.id, { visit_number: '9.1', visit_on: '2024-09-22', name: 'WEEK 14 CALL', kind: 'remote' });
  assert.deepEqual([own.name, own.kind, own.planned_on, own.in_window], ['WEEK 14 CALL', 'remote', '2024-09-22', true]);
});

test('study days cross month and year ends as calendar days', async () => {
  const enrolled = '2024-12-20';
  const { subject } = await scheduledSubject({ screenedOn: '2024-12-01', enrolledOn: enrolled });
  for (const [number, planned] of [['1', '2024-12-13'], ['2', '2024-12-19'], ['4', '2025-01-02'], ['5', '2025-01-16'],
    ['12', '2025-06-05']]) {
    assert.equal(studyDayDate(enrolled, PILOT_TV.find((r) => r[0] === number)[2]), planned);
    const v = await recordVisit(subject.id, { visit_number: number, visit_on: planned });
    assert.equal(v.planned_on, planned, `visit ${number}`);
    assert.equal(v.in_window, true);
  }
});

test('the window is derived on read: enrollment, schedule changes and visit dates show at once', async () => {
  const { schedule, subject } = await scheduledSubject({ screenedOn: '2024-06-10', enrolledOn: null });

  // Screened, not yet enrolled: there is no day 1 yet.
  const scr = await recordVisit(subject.id, { visit_number: '1', visit_on: '2024-06-11' });
  assert.deepEqual([scr.planned_on, scr.window_from, scr.window_to, scr.in_window], [null, null, null, null]);
  const e = await s.transition('subjects', subject.id, 'enrolled', '2024-06-20');
  assert.equal(e.status, 200, e.text);
  let v = (await s.get(`/api/v1/visits/${scr.id}`)).json;
  assert.deepEqual([v.version, v.planned_on, v.window_from, v.window_to, v.in_window],
    [1, '2024-06-13', '2024-06-06', '2024-06-13', true]);

  // WEEK 2 (day 14, window 3 days either side) on day 18: late...
  const wk2 = await recordVisit(subject.id, { visit_number: '4', visit_on: '2024-07-07' });
  assert.deepEqual([wk2.planned_on, wk2.window_to, wk2.in_window], ['2024-07-03', '2024-07-06', false]);
  // ...until an amendment widens the window; the visit itself is unchanged.
  const p = await s.patch(`/api/v1/visit-definitions/${schedule['4'].id}`, { window_after: 4, change_reason: 'amendment 1' }, 1);
  assert.equal(p.status, 200, p.text);
  v = (await s.get(`/api/v1/visits/${wk2.id}`)).json;
  assert.deepEqual([v.version, v.window_to, v.in_window], [1, '2024-07-07', true]);
  // A new planned day moves the planned date and the window with it.
  assert.equal((await s.patch(`/api/v1/visit-definitions/${schedule['4'].id}`, { planned_day: 21 }, 2)).status, 200);
  v = (await s.get(`/api/v1/visits/${wk2.id}`)).json;
  assert.deepEqual([v.planned_on, v.window_from, v.window_to, v.in_window], ['2024-07-10', '2024-07-07', '2024-07-14', true]);
  // No planned day any more: nothing to compare with.
  assert.equal((await s.patch(`/api/v1/visit-definitions/${schedule['4'].id}`, { planned_day: null }, 3)).status, 200);
  v = (await s.get(`/api/v1/visits/${wk2.id}`)).json;
  assert.deepEqual([v.planned_on, v.window_from, v.window_to, v.in_window], [null, null, null, null]);

  // Correcting the visit date recomputes in_window.
  const wk4 = await recordVisit(subject.id, { visit_number: '5', visit_on: '2024-07-21' });
  assert.deepEqual([wk4.planned_on, wk4.in_window], ['2024-07-17', false]);
  const fixed = await s.patch(`/api/v1/visits/${wk4.id}`, { visit_on: '2024-07-18', change_reason: 'transcription error' }, 1);
  assert.equal(fixed.status, 200, fixed.text);
  assert.deepEqual([fixed.json.version, fixed.json.visit_on, fixed.json.in_window], [2, '2024-07-18', true]);
  // The same in lists.
  const listed = (await s.get(`/api/v1/subjects/${subject.id}/visits?visit_definition_id=${schedule['5'].id}`)).json.items;
  assert.deepEqual(listed, [fixed.json]);
});

// ---------------------------------------------------------------- refusals

test('visits: every refusal names its field and writes nothing', async () => {
  const { study, schedule, subject } = await scheduledSubject({ screenedOn: '2024-06-10', enrolledOn: '2024-06-17' });
  const other = await scheduledSubject();
  const extra = await s.post(`/api/v1/studies/${other.study.id}/visit-definitions`, { number: 'X-ONLY', name: 'ELSEWHERE' });
  assert.equal(extra.status, 201, extra.text);
  const base = `/api/v1/subjects/${subject.id}/visits`;
  const done = await recordVisit(subject.id, { visit_number: '3', visit_on: '2024-06-17' });

  await assertNoWrite(s, async () => {
    // The schedule: a number the study does not have, or only another study has.
    assertProblem(await s.post(base, { visit_number: '99', visit_on: '2024-06-20' }), 422, ['visit_number']);
    assertProblem(await s.post(base, { visit_number: 'X-ONLY', visit_on: '2024-06-20' }), 422, ['visit_number']);
    assertProblem(await s.post(base, { visit_number: '', visit_on: '2024-06-20' }), 422, ['visit_number']);
    assertProblem(await s.post(base, { visit_number: 4, visit_on: '2024-06-20' }), 422, ['visit_number']);
    // Dates: before screening, in the future, end before start, not a date.
    const early = assertProblem(await s.post(base, { visit_number: '1', visit_on: '2024-06-09' }), 422, ['visit_on']);
    assert.match(early.errors[0].message, /2024-06-10/);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: fromToday(2) }), 422, ['visit_on']);
    assertProblem(await s.post(base, { name: 'FUTURE', visit_on: '2199-01-01' }), 422, ['visit_on']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-07-01', end_on: '2024-06-30' }), 422, ['end_on']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-02-30' }), 422, ['visit_on']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-07-01', end_on: '01/07/2024' }), 422, ['end_on']);
    // A scheduled visit is recorded once per subject.
    const dup = assertProblem(await s.post(base, { visit_number: '3', visit_on: '2024-06-18' }), 409, ['visit_number']);
    assert.equal(dup.type, 'urn:ctms:problem:conflict');
    assert.match(dup.errors.find((x) => x.field === 'visit_number').message, new RegExp(`visit ${done.id}\\b`));
    // An unscheduled visit needs a name; no visit has an empty one.
    assertProblem(await s.post(base, { visit_on: '2024-06-20' }), 422, ['name']);
    assertProblem(await s.post(base, { visit_number: null, name: null, visit_on: '2024-06-20' }), 422, ['name']);
    assertProblem(await s.post(base, { name: '', visit_on: '2024-06-20' }), 422, ['name']);
    assertProblem(await s.post(base, { visit_number: '4', name: '', visit_on: '2024-06-30' }), 422, ['name']);
    // Fields: required, unknown, set by ctms, derived, bad codes, too long.
    assertProblem(await s.post(base, { visit_number: '4' }), 422, ['visit_on']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', visitdy: 14 }), 422, ['visitdy']);
    for (const field of ['study_id', 'subject_id', 'visit_definition_id']) {
      const r = assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', [field]: 1 }), 422, [field]);
      assert.match(r.errors[0].message, /is set by ctms/);
    }
    for (const field of ['planned_on', 'window_from', 'window_to', 'in_window', 'id', 'version']) {
      assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', [field]: null }), 422, [field]);
    }
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', kind: 'video' }), 422, ['kind']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', kind: null }), 422, ['kind']);
    assertProblem(await s.post(base, { visit_number: '4', visit_on: '2024-06-30', notes: 'x'.repeat(2001) }), 422, ['notes']);
    assertProblem(await s.post(base, { name: 'x'.repeat(201), visit_on: '2024-06-30' }), 422, ['name']);
    assertProblem(await s.post(base, [{ visit_number: '4', visit_on: '2024-06-30' }]), 400);
    // Every problem at once.
    const many = assertProblem(await s.post(base, { visit_on: '2024-06-30', colour: 'red', kind: 'video', notes: 7 }), 422,
      ['colour', 'kind', 'notes']);
    assert.equal(many.errors.length, 3);
    // A subject that does not exist.
    const missing = assertProblem(await s.post('/api/v1/subjects/999999/visits', { name: 'U', visit_on: '2024-06-30' }), 404);
    assert.match(missing.detail, /subject 999999/);
    assertProblem(await s.get('/api/v1/subjects/999999/visits'), 404);
    assertProblem(await s.get('/api/v1/visits/999999'), 404);
  });
  // The refusals wrote no row either.
  assert.deepEqual((await s.get(`${base}?limit=1000`)).json.items.map((v) => v.id), [done.id]);

  // PATCH: visit_number and the server's fields are not the caller's to change.
  const one = `/api/v1/visits/${done.id}`;
  await assertNoWrite(s, async () => {
    const r = assertProblem(await s.patch(one, { visit_number: '4' }, 1), 422, ['visit_number']);
    assert.match(r.errors[0].message, /cannot be changed after creation/);
    assertProblem(await s.patch(one, { visit_number: null }, 1), 422, ['visit_number']);
    assertProblem(await s.patch(one, { visit_definition_id: schedule['4'].id }, 1), 422, ['visit_definition_id']);
    assertProblem(await s.patch(one, { subject_id: other.subject.id }, 1), 422, ['subject_id']);
    assertProblem(await s.patch(one, { study_id: study.id }, 1), 422, ['study_id']);
    assertProblem(await s.patch(one, { in_window: true }, 1), 422, ['in_window']);
    assertProblem(await s.patch(one, { visit_on: '2024-06-09' }, 1), 422, ['visit_on']);
    assertProblem(await s.patch(one, { visit_on: fromToday(2) }, 1), 422, ['visit_on']);
    assertProblem(await s.patch(one, { visit_on: null }, 1), 422, ['visit_on']);
    assertProblem(await s.patch(one, { end_on: '2024-06-16' }, 1), 422, ['end_on']);
    assertProblem(await s.patch(one, { name: null, kind: null }, 1), 422, ['name', 'kind']);
    assertProblem(await s.patch(one, { name: '' }, 1), 422, ['name']);
    assertProblem(await s.patch(one, { notes: 'late' }), 428);
    assertProblem(await s.patch(one, { notes: 'late' }, undefined, { 'if-match': 'one' }), 400);
    assertProblem(await s.patch('/api/v1/visits/999999', { notes: 'late' }, 1), 404);
  });
  assert.deepEqual((await s.get(one)).json, done);
});

test('If-Match on PATCH: the stale writer gets 412 and the current visit', async () => {
  const { subject } = await scheduledSubject();
  const v = await recordVisit(subject.id, { visit_number: '4', visit_on: '2024-06-30' });
  const one = `/api/v1/visits/${v.id}`;
  const first = await s.patch(one, { end_on: '2024-07-01' }, 1);
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('etag'), '"2"');
  await assertNoWrite(s, async () => {
    const stale = assertProblem(await s.patch(one, { notes: 'second writer' }, 1), 412);
    assert.equal(stale.type, 'urn:ctms:problem:stale-version');
    assert.deepEqual(stale.current, first.json);
  });
  // Every accepted form of the version.
  let version = 2;
  for (const form of [(n) => `"${n}"`, (n) => `W/"${n}"`, (n) => String(n)]) {
    const r = await s.patch(one, { notes: `note ${version}` }, undefined, { 'if-match': form(version) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, version + 1);
    assert.equal(r.headers.get('etag'), `"${version + 1}"`);
    version = r.json.version;
  }
  // A patch that changes nothing writes nothing and keeps the version.
  const same = await assertNoWrite(s, () => s.patch(one, { notes: `note ${version - 1}` }, version));
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.version, version);
});

test('two clients recording the same scheduled visit at once: one 201, the others 409', async () => {
  const { subject } = await scheduledSubject();
  const before = auditCount(s.db);
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    s.post(`/api/v1/subjects/${subject.id}/visits`, { visit_number: '5', visit_on: '2024-07-14', notes: `client ${i}` })));
  const statuses = answers.map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409], answers.map((r) => r.text).join('\n'));
  for (const r of answers.filter((x) => x.status === 409)) assertProblem(r, 409, ['visit_number']);
  assert.equal(auditCount(s.db), before + 1);
  assert.equal((await s.get(`/api/v1/subjects/${subject.id}/visits`)).json.items.length, 1);
});

test('a retried POST with its Idempotency-Key replays the visit instead of a 409', async () => {
  const { subject } = await scheduledSubject();
  const headers = { 'Idempotency-Key': uniq('visit-key') };
  const body = { visit_number: '4', visit_on: '2024-06-30' };
  const first = await s.post(`/api/v1/subjects/${subject.id}/visits`, body, headers);
  assert.equal(first.status, 201, first.text);
  const again = await assertNoWrite(s, () => s.post(`/api/v1/subjects/${subject.id}/visits`, body, headers));
  assert.equal(again.status, 201, again.text);
  assert.deepEqual(again.json, first.json);
  assert.equal(again.headers.get('location'), `/api/v1/visits/${first.json.id}`);
  // Without the key, the same visit is a duplicate.
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(`/api/v1/subjects/${subject.id}/visits`, body), 409, ['visit_number']);
  });
});

// ------------------------------------------------------------- audit trail

test('the audit trail of a visit and of its definition', async () => {
  const { schedule, subject } = await scheduledSubject();
  const v = await recordVisit(subject.id, { visit_number: '3.5', visit_on: '2024-06-29' });

  const p = await s.patch(`/api/v1/visits/${v.id}`, { end_on: '2024-06-30', notes: 'ECG worn 24 h', change_reason: 'site query 12' }, 1);
  assert.equal(p.status, 200, p.text);
  await assertNoWrite(s, async () => {
    assertProblem(await s.patch(`/api/v1/visits/${v.id}`, { visit_number: '4' }, 2), 422, ['visit_number']);
    const same = await s.patch(`/api/v1/visits/${v.id}`, { notes: 'ECG worn 24 h' }, 2);
    assert.equal(same.json.version, 2);
  });

  const trail = (await s.get(`/api/v1/audit?entity=subject_visit&id=${v.id}`)).json.items;
  assert.deepEqual(trail.map((e) => [e.entity, e.entity_id, e.action, e.actor, e.reason]), [
    ['subject_visit', v.id, 'create', ADMIN.display_name, null],
    ['subject_visit', v.id, 'update', ADMIN.display_name, 'site query 12'],
  ]);
  const created = Object.fromEntries(trail[0].changes.map((c) => [c.field, [c.old, c.new]]));
  assert.deepEqual(created, {
    study_id: [null, subject.study_id],
    subject_id: [null, subject.id],
    visit_definition_id: [null, schedule['3.5'].id],
    name: [null, 'AMBUL ECG PLACEMENT'], // the definition's name, as recorded
    visit_on: [null, '2024-06-29'],
    kind: [null, 'in_person'],
  });
  assert.deepEqual(trail[1].changes.map((c) => [c.field, c.old, c.new]).sort(), [
    ['end_on', null, '2024-06-30'],
    ['notes', null, 'ECG worn 24 h'],
  ]);
  for (const e of trail) assert.match(e.hash, /^[0-9a-f]{64}$/);

  const dtrail = (await s.get(`/api/v1/audit?entity=visit_definition&id=${schedule['3.5'].id}`)).json.items;
  assert.deepEqual(dtrail.map((e) => e.action), ['create']);
  assert.deepEqual(Object.fromEntries(dtrail[0].changes.map((c) => [c.field, c.new])), {
    study_id: subject.study_id, number: '3.5', name: 'AMBUL ECG PLACEMENT', planned_day: 13,
    window_before: 1, window_after: 1, kind: 'in_person',
  });
  // The kind filter of the audit trail knows both names, and nothing else.
  const kinds = new Set((await walk(s, '/api/v1/audit?entity=visit_definition', 500)).map((e) => e.entity));
  assert.deepEqual([...kinds], ['visit_definition']);
  assertProblem(await s.get('/api/v1/audit?entity=visit'), 422, ['entity']);
  assertProblem(await s.get('/api/v1/audit?entity=subject_visits'), 422, ['entity']);
});

// -------------------------------------------------------------------- lists

test('visit lists: per subject, filtered by definition and kind, paged', async () => {
  const { schedule, subject, study, site } = await scheduledSubject();
  const c = await s.post(`/api/v1/studies/${study.id}/subjects`,
    subjectBody(site.site_number, { screened_on: '2024-06-11', consented_on: '2024-06-11' }));
  assert.equal(c.status, 201, c.text);
  const neighbour = c.json;

  const mine = [];
  for (const [number, on] of [['1', '2024-06-10'], ['2', '2024-06-16'], ['3', '2024-06-17'], ['4', '2024-06-30'],
    ['5', '2024-07-14'], ['8.1', '2024-08-25'], ['9.1', '2024-09-22']]) {
    mine.push(await recordVisit(subject.id, { visit_number: number, visit_on: on }));
  }
  mine.push(await recordVisit(subject.id, { name: 'UNSCHEDULED 5.1', visit_on: '2024-07-20', kind: 'phone' }));
  mine.push(await recordVisit(subject.id, { name: 'UNSCHEDULED 5.2', visit_on: '2024-07-22' }));
  const theirs = await recordVisit(neighbour.id, { visit_number: '1', visit_on: '2024-06-11' });

  const base = `/api/v1/subjects/${subject.id}/visits`;
  for (const limit of [1, 2, 4, 9, 50]) {
    const all = await walk(s, base, limit);
    assert.deepEqual(all.map((v) => v.id), mine.map((v) => v.id), `limit ${limit}`);
  }
  assert.deepEqual(await walk(s, base, 3), mine);
  const page = (await s.get(`${base}?limit=3`)).json;
  assert.equal(page.items.length, 3);
  assert.equal(typeof page.next_cursor, 'string');
  assert.equal((await s.get(`${base}?limit=9`)).json.next_cursor, null);

  // The neighbour's screening visit is theirs only; the same definition filters both.
  assert.deepEqual((await s.get(`/api/v1/subjects/${neighbour.id}/visits`)).json.items, [theirs]);
  const scr = (await s.get(`${base}?visit_definition_id=${schedule['1'].id}`)).json.items;
  assert.deepEqual(scr.map((v) => v.id), [mine[0].id]);

  const phones = await walk(s, `${base}?kind=phone`, 1);
  assert.deepEqual(phones.map((v) => v.name), ['WEEK 10 (T)', 'WEEK 14 (T)', 'UNSCHEDULED 5.1']);
  const both = (await s.get(`${base}?kind=phone&visit_definition_id=${schedule['8.1'].id}`)).json.items;
  assert.deepEqual(both.map((v) => v.visit_number), ['8.1']);
  assert.deepEqual((await s.get(`${base}?kind=remote`)).json.items, []);
  assert.deepEqual((await s.get(`${base}?visit_definition_id=999999`)).json.items, []);

  for (const q of ['visit_number=1', 'name=WEEK%202', 'visit_on=2024-06-10', 'in_window=true', 'planned_on=2024-06-10',
    'subject_id=1', 'colour=red']) {
    assertProblem(await s.get(`${base}?${q}`), 422, [q.split('=')[0]]);
  }
  // A filter value no visit has matches nothing, as in every list.
  assert.deepEqual((await s.get(`${base}?kind=video`)).json.items, []);
  assert.deepEqual((await s.get(`${base}?visit_definition_id=abc`)).json.items, []);
  assertProblem(await s.get(`${base}?limit=0`), 400);
  assertProblem(await s.get(`${base}?cursor=not-a-cursor`), 400);
});

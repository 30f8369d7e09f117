// Enrollment: tracking as of any date (by site, country, month), the
// enrollment plan, the forecast of when the target is reached and its
// what-ifs, diversity goals with small cells, `ctms forecast`, and every bad
// input: a clear answer, never NaN, never a 5xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, stopChecked, assertProblem, assertNoWrite, auditCount, ctms, studyBody, uniq,
  createEnrollingStudy, createApprovedProtocol, siteBody, SITE_STEPS,
} from './lib.mjs';

let s;
before(async () => { s = await startServer(); });
after(async () => { await stopChecked(s); });

/** YYYY-MM-DD plus n days (UTC calendar arithmetic, independent of ctms). */
function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
const daysBetween = (a, b) => (Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86400000;
const today = () => new Date().toISOString().slice(0, 10);

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.doesNotMatch(r.text, /NaN|Infinity/, 'no NaN or infinity in an answer');
  return r.json;
}

/** A study-site walked to activated, every step on activatedOn (or left identified). */
async function site(studyId, number, country, activatedOn, extra = {}) {
  const zones = { US: 'America/New_York', DE: 'Europe/Berlin', FR: 'Europe/Paris', ES: 'Europe/Madrid', JP: 'Asia/Tokyo', BR: 'America/Sao_Paulo' };
  const body = siteBody({ site_number: number, country, time_zone: zones[country], identified_on: '2024-02-01', ...extra });
  const created = await ok(await s.post(`/api/v1/studies/${studyId}/sites`, body), 201);
  if (!activatedOn) return created;
  for (const step of SITE_STEPS) await ok(await s.transition('study-sites', created.id, step, activatedOn));
  return created;
}

const RACES = ['WHITE', 'WHITE', 'BLACK OR AFRICAN AMERICAN', 'ASIAN', 'WHITE', 'AMERICAN INDIAN OR ALASKA NATIVE'];

/**
 * Subjects at a site: n screened every `every` days from `first`, each
 * enrolled 7 days after screening; every 6th fails screening, every 9th
 * enrolled withdraws 60 days later. Deterministic demographics.
 */
async function subjects(studyId, siteNumber, n, first, every, { sex } = {}) {
  const made = [];
  for (let i = 0; i < n; i++) {
    const screened = addDays(first, i * every);
    const body = {
      site_number: siteNumber, screening_number: uniq(`S${siteNumber}-`), sex: sex || (i % 3 === 0 ? 'M' : 'F'),
      age: 30 + ((i * 7) % 50), race: RACES[i % RACES.length], ethnicity: i % 4 === 0 ? 'HISPANIC OR LATINO' : 'NOT HISPANIC OR LATINO',
      screened_on: screened, consented_on: screened, consent_version: '1.0',
    };
    const subject = await ok(await s.post(`/api/v1/studies/${studyId}/subjects`, body), 201);
    if (i % 6 === 5) {
      await ok(await s.transition('subjects', subject.id, 'screen_failed', addDays(screened, 3), i % 12 === 5 ? 'inclusion 4' : 'exclusion 2'));
      made.push({ ...subject, failed: true });
      continue;
    }
    const enrolledOn = addDays(screened, 7);
    await ok(await s.transition('subjects', subject.id, 'enrolled', enrolledOn));
    if (i % 9 === 8) await ok(await s.transition('subjects', subject.id, 'withdrawn', addDays(enrolledOn, 60), 'WITHDRAWAL BY SUBJECT'));
    made.push({ ...subject, enrolled_on: enrolledOn });
  }
  return made;
}

/**
 * A realistic study, target 150: five activated sites in four countries
 * recruiting at different paces from 2024, one planned to activate in
 * 2025-10 (as of 2025-06-30 it is planned), one never planned.
 */
let realistic;
async function realisticStudy() {
  if (realistic) return realistic;
  const study = await createEnrollingStudy(s, { target_enrollment: 150 });
  await createApprovedProtocol(s, study.id);
  await site(study.id, '101', 'US', '2024-04-01');
  await site(study.id, '102', 'US', '2024-06-03');
  await site(study.id, '201', 'DE', '2024-07-01');
  await site(study.id, '301', 'FR', '2024-09-02');
  await site(study.id, '401', 'ES', '2024-10-01');
  await site(study.id, '501', 'JP', null, { planned_activation_on: '2025-10-01' });
  await site(study.id, '601', 'BR', null);
  const made = [
    ...await subjects(study.id, '101', 30, '2024-04-08', 13),
    ...await subjects(study.id, '102', 18, '2024-06-10', 20),
    ...await subjects(study.id, '201', 14, '2024-07-08', 24),
    ...await subjects(study.id, '301', 6, '2024-09-09', 45, { sex: 'M' }),
  ];
  realistic = { study, made };
  return realistic;
}

const enrolledBy = (made, day) => made.filter((x) => x.enrolled_on && x.enrolled_on <= day).length;

test('tracking counts what is dated by as_of, for the study, by site and by country', async () => {
  const { study, made } = await realisticStudy();
  const base = `/api/v1/studies/${study.id}/enrollment`;

  const now = await ok(await s.get(base));
  assert.equal(now.as_of <= addDays(today(), 1), true);
  assert.equal(now.first_record_on, '2024-01-15');
  assert.equal(now.totals.enrolled, enrolledBy(made, '2099-01-01'));
  assert.equal(now.totals.screened, made.length);
  assert.equal(now.totals.screen_failed, made.filter((x) => x.failed).length);
  assert.equal(now.totals.screen_failures_by_reason['inclusion 4'] + now.totals.screen_failures_by_reason['exclusion 2'],
    now.totals.screen_failed);
  assert.equal(now.totals.withdrawals_by_reason['WITHDRAWAL BY SUBJECT'], now.totals.withdrawn);
  assert.equal(now.totals.active, now.totals.enrolled - now.totals.completed - now.totals.withdrawn);
  assert.deepEqual(now.totals.zero_enrollment_sites, ['401']);
  assert.equal(now.totals.target, 150);
  assert.deepEqual(now.groups, []);

  // As of 2024-08-15: 301 and 401 were not active yet, later subjects not enrolled
  const past = await ok(await s.get(`${base}?as_of=2024-08-15&by=site`));
  assert.equal(past.totals.enrolled, enrolledBy(made, '2024-08-15'));
  assert.ok(past.totals.enrolled < now.totals.enrolled);
  assert.equal(past.totals.sites.active, 3);
  const bySite = Object.fromEntries(past.groups.map((g) => [g.site_number, g]));
  assert.equal(bySite['301'].state, 'not_yet_active');
  assert.equal(bySite['301'].activated_on, null);
  assert.equal(bySite['301'].figures.enrolled, 0);
  assert.equal(bySite['101'].state, 'active');
  assert.equal(bySite['101'].activated_on, '2024-04-01');
  // 2024-04-01 .. 2024-08-15, both counted: 137 days
  assert.equal(bySite['101'].figures.site_months, Math.round((137 / 30.4375) * 100) / 100);
  assert.equal(bySite['501'].planned_activation_on, '2025-10-01');
  const sum = past.groups.reduce((n, g) => n + g.figures.enrolled, 0);
  assert.equal(sum, past.totals.enrolled);
  // days from activation to the first subject: 101 screened on 04-08, enrolled 04-15
  assert.equal(bySite['101'].figures.median_days_to_first_enrollment, 14);

  const byCountry = await ok(await s.get(`${base}?by=country`));
  assert.deepEqual(byCountry.groups.map((g) => g.country), ['BR', 'DE', 'ES', 'FR', 'JP', 'US']);
  const us = byCountry.groups.find((g) => g.country === 'US');
  assert.equal(us.figures.enrolled, made.filter((x) => x.enrolled_on && /^S10[12]-/.test(x.screening_number)).length);
  assert.equal(us.figures.sites.known, 2);
});

test('tracking by month: events per month, cumulative, active sites, plan', async () => {
  const { study, made } = await realisticStudy();
  const r = await ok(await s.get(`/api/v1/studies/${study.id}/enrollment?as_of=2025-03-31&by=month`));
  assert.equal(r.groups[0].month, '2024-01');
  assert.equal(r.groups.at(-1).month, '2025-03');
  assert.equal(r.groups.at(-1).through, '2025-03-31');
  let cumulative = 0;
  for (const g of r.groups) {
    const inMonth = made.filter((x) => x.enrolled_on && x.enrolled_on.startsWith(g.month)).length;
    assert.equal(g.enrolled, inMonth, g.month);
    cumulative += inMonth;
    assert.equal(g.cumulative_enrolled, cumulative);
  }
  assert.equal(r.groups.find((g) => g.month === '2024-05').active_sites, 1);
  assert.equal(r.groups.find((g) => g.month === '2024-10').active_sites, 5);
  assert.equal(cumulative, r.totals.enrolled);
});

test('the enrollment plan: points, rules, plan against actual, PATCH with If-Match, audit', async () => {
  const study = await createEnrollingStudy(s, { target_enrollment: 40 });
  await createApprovedProtocol(s, study.id);
  const other = await createEnrollingStudy(s);
  const a = await site(study.id, '11', 'US', '2024-04-01');
  const foreign = await site(other.id, '11', 'US', '2024-04-01');
  await subjects(study.id, '11', 6, '2024-04-08', 10);
  const plan = `/api/v1/studies/${study.id}/enrollment-plan`;

  const start = await ok(await s.post(plan, { planned_on: '2024-04-01', target_cumulative: 0 }), 201);
  const end = await ok(await s.post(plan, { planned_on: '2024-08-01', target_cumulative: 20, notes: 'baseline' }), 201);
  assert.equal(start.study_id, study.id);
  const sitePoint = await ok(await s.post(plan, { planned_on: '2024-06-01', target_cumulative: 4, study_site_id: a.id }), 201);
  assert.equal(sitePoint.study_site_id, a.id);

  await assertNoWrite(s, async () => {
    assertProblem(await s.post(plan, { planned_on: '2024-08-01', target_cumulative: 25 }), 409, ['planned_on']);
    assertProblem(await s.post(plan, { planned_on: '2024-09-01', target_cumulative: 10 }), 422, ['target_cumulative']);
    assertProblem(await s.post(plan, { planned_on: '2024-09-01', target_cumulative: 30, country: 'US', study_site_id: a.id }), 422, ['country']);
    assertProblem(await s.post(plan, { planned_on: '2024-09-01', target_cumulative: 30, study_site_id: foreign.id }), 422, ['study_site_id']);
    assertProblem(await s.post(plan, { planned_on: 'soon', target_cumulative: -1, colour: 'red' }), 422, ['planned_on', 'target_cumulative', 'colour']);
    assertProblem(await s.post('/api/v1/studies/999999/enrollment-plan', { planned_on: '2024-09-01', target_cumulative: 1 }), 404);
  });

  // 2024-06-01: 61 of 122 days into the ramp, 10 planned
  let r = await ok(await s.get(`/api/v1/studies/${study.id}/enrollment?as_of=2024-06-01&by=site`));
  assert.equal(r.totals.plan.planned, 10);
  assert.equal(r.totals.plan.actual, r.totals.enrolled);
  assert.equal(r.totals.plan.difference, r.totals.enrolled - 10);
  assert.equal(r.groups[0].figures.plan.planned, 4);

  const list = await ok(await s.get(`${plan}?study_site_id=${a.id}`));
  assert.deepEqual(list.items.map((p) => p.id), [sitePoint.id]);

  const before = auditCount(s.db);
  assertProblem(await s.patch(`/api/v1/enrollment-plan/${end.id}`, { target_cumulative: 30 }), 428);
  const changed = await ok(await s.patch(`/api/v1/enrollment-plan/${end.id}`, { target_cumulative: 30, change_reason: 'faster plan' }, 1));
  assert.equal(changed.version, 2);
  assertProblem(await s.patch(`/api/v1/enrollment-plan/${end.id}`, { target_cumulative: 31 }, 1), 412);
  assertProblem(await s.patch(`/api/v1/enrollment-plan/${end.id}`, { country: 'DE' }, 2), 422, ['country']);
  assert.equal(auditCount(s.db), before + 1);
  r = await ok(await s.get(`/api/v1/studies/${study.id}/enrollment?as_of=2024-06-01`));
  assert.equal(r.totals.plan.planned, 15);
  const trail = await ok(await s.get(`/api/v1/audit?entity=enrollment_plan_point&id=${end.id}`));
  assert.deepEqual(trail.items.map((e) => e.action), ['create', 'update']);
  assert.equal(trail.items[1].reason, 'faster plan');
});

test('the forecast of a realistic study: dates, interval, expected recruits, sites, fit', async () => {
  const { study, made } = await realisticStudy();
  const f = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2025-06-30`));
  assert.equal(f.status, 'ok');
  assert.equal(f.target, 150);
  assert.equal(f.target_source, 'study');
  assert.equal(f.enrolled, enrolledBy(made, '2025-06-30'));
  assert.equal(f.remaining, 150 - f.enrolled);
  const c = f.completion;
  assert.ok(c.lower_on <= c.median_on && c.median_on <= c.upper_on, JSON.stringify(c));
  assert.ok(c.lower_on > '2025-06-30');
  assert.ok(c.median_days > 0 && c.probability > 0.9);
  assert.deepEqual(f.expected.map((e) => e.days), [30, 90, 180]);
  assert.equal(f.expected[0].on, '2025-07-30');
  for (let i = 1; i < f.expected.length; i++) {
    assert.ok(f.expected[i].mean > f.expected[i - 1].mean);
    assert.ok(f.expected[i].median >= f.expected[i - 1].median);
  }
  for (const e of f.expected) {
    assert.ok(e.lower <= e.median && e.median <= e.upper);
    assert.equal(e.cumulative_median, f.enrolled + e.median);
  }
  const sites = Object.fromEntries(f.sites.map((x) => [x.label, x]));
  assert.equal(sites['101'].state, 'active');
  assert.equal(sites['101'].recruited, enrolledBy(made.filter((x) => x.screening_number.startsWith('S101-')), '2025-06-30'));
  assert.ok(sites['101'].rate_per_month.mean > sites['401'].rate_per_month.mean, 'the busiest site has the highest rate');
  assert.ok(sites['401'].rate_per_month.lower <= sites['401'].rate_per_month.mean);
  assert.equal(sites['501'].state, 'planned');
  assert.equal(sites['501'].opens_on, '2025-10-01');
  assert.equal(sites['601'].state, 'not_counted');
  assert.equal(sites['601'].counted, false);
  assert.ok(f.warnings.some((w) => w.includes('(601)')), f.warnings.join('\n'));
  assert.equal(f.fit.method, 'mle');
  assert.equal(f.fit.sites_with_data, 5);
  assert.ok(f.fit.alpha > 0 && f.fit.beta_days > 0);
  // a site opening later: Monte Carlo, seeded from the question
  assert.equal(f.method, 'monte_carlo');
  assert.equal(f.draws, 10000);
  assert.equal(f.interval_coverage.nominal, 0.9);

  const again = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2025-06-30`));
  assert.deepEqual(again, f, 'the same question gets the same answer');
  const seeded = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2025-06-30&seed=99`));
  assert.equal(seeded.seed, 99);
  assert.ok(Math.abs(daysBetween(seeded.completion.median_on, f.completion.median_on)) < 30);

  const dates = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2025-06-30&by=2025-12-31&by=2026-06-30&target=120`));
  assert.deepEqual(dates.expected.map((e) => e.on), ['2025-12-31', '2026-06-30']);
  assert.equal(dates.target_source, 'request');
  assert.ok(dates.completion.median_on < f.completion.median_on, 'a lower target comes sooner');

  // As of an early date the interval is wider relative to the time left, and flagged when long
  const early = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2024-07-15`));
  assert.equal(early.status, 'ok');
  assert.ok(daysBetween(early.completion.lower_on, early.completion.upper_on) > daysBetween(c.lower_on, c.upper_on));
  assert.ok(early.flags.includes('long_horizon'));
  assert.ok(early.warnings.some((w) => /interval likely too narrow/.test(w)));
});

test('what-if: more sites bring the date forward, closing the best site pushes it back; nothing is written', async () => {
  const { study } = await realisticStudy();
  const path = `/api/v1/studies/${study.id}/forecast`;
  const base = await ok(await s.post(path, { as_of: '2025-06-30' }));
  assert.equal(base.what_if, false);
  const get = await ok(await s.get(`${path}?as_of=2025-06-30`));
  assert.deepEqual(base.completion, get.completion, 'POST without a scenario is the GET forecast');

  const more = await assertNoWrite(s, async () => ok(await s.post(path, {
    as_of: '2025-06-30', open: [{ label: 'Brazil', count: 4, on: '2025-08-01' }, { site_number: '601', on: '2025-07-15' }],
  })));
  assert.equal(more.what_if, true);
  assert.ok(more.completion.median_on < base.completion.median_on, `${more.completion.median_on} < ${base.completion.median_on}`);
  assert.equal(more.sites.filter((x) => x.state === 'hypothetical').length, 4);
  assert.equal(more.sites.find((x) => x.label === '601').opens_on, '2025-07-15');
  assert.ok(more.expected[2].mean > base.expected[2].mean);

  const fewer = await assertNoWrite(s, async () => ok(await s.post(path, {
    as_of: '2025-06-30', close: [{ site_number: '101', on: '2025-07-31' }],
  })));
  assert.ok(fewer.completion.median_on > base.completion.median_on, `${fewer.completion.median_on} > ${base.completion.median_on}`);
  assert.equal(fewer.sites.find((x) => x.label === '101').closes_on, '2025-07-31');
  assert.ok(fewer.sites.find((x) => x.label === '101').expected_until_median < base.sites.find((x) => x.label === '101').expected_until_median);

  // everything closed: the target is out of reach, said plainly
  const none = await ok(await s.post(path, {
    as_of: '2025-06-30',
    close: ['101', '102', '201', '301', '401', '501'].map((n) => ({ site_number: n, on: '2025-07-01' })),
  }));
  assert.equal(none.completion.median_on, null);
  assert.ok(none.flags.includes('may_not_complete'));

  const bad = assertProblem(await s.post(path, {
    as_of: '2025-06-30',
    open: [{ site_number: '101', on: '2025-08-01' }, { on: '2025-01-01' }, { label: 'X', count: 0, on: '2025-08-01' }],
    close: [{ site_number: 'nope', on: '2025-08-01' }, { on: '2025-08-01' }],
    colour: 'red',
  }), 422, ['open[0].site_number', 'open[1].on', 'open[2].count', 'close[0].site_number', 'close[1].site_number', 'colour']);
  assert.ok(bad.errors.length >= 6);
  assertProblem(await s.request('POST', path, { raw: '[1]', headers: { 'content-type': 'application/json' } }), 400);
  assertProblem(await s.request('POST', `${path}?as_of=2025-01-01`, { body: {} }), 422, ['as_of']);
});

test('diversity: goals, actual against goal overall and per site, small cells as counts, projection', async () => {
  const { study } = await realisticStudy();
  const goals = `/api/v1/studies/${study.id}/diversity-goals`;
  const women = await ok(await s.post(goals, { dimension: 'sex', category: 'F', goal_percent: 50 }), 201);
  await ok(await s.post(goals, { dimension: 'race', category: 'BLACK OR AFRICAN AMERICAN', goal_count: 30 }), 201);
  await ok(await s.post(goals, { dimension: 'age_band', category: '65-74', goal_percent: 20 }), 201);
  await ok(await s.post(goals, { dimension: 'ethnicity', category: 'HISPANIC OR LATINO', goal_count: 2 }), 201);
  await assertNoWrite(s, async () => {
    assertProblem(await s.post(goals, { dimension: 'sex', category: 'F', goal_count: 3 }), 409, ['category']);
    assertProblem(await s.post(goals, { dimension: 'race', category: 'Black', goal_count: 3 }), 422, ['category']);
    assertProblem(await s.post(goals, { dimension: 'sex', category: 'M' }), 422, ['goal_count']);
    assertProblem(await s.post(goals, { dimension: 'sex', category: 'M', goal_count: 1, goal_percent: 1 }), 422);
    assertProblem(await s.post(goals, { dimension: 'wealth', category: 'M', goal_count: 1 }), 422, ['dimension']);
  });
  const listed = await ok(await s.get(`${goals}?dimension=sex`));
  assert.deepEqual(listed.items.map((g) => g.id), [women.id]);

  const d = await ok(await s.get(`/api/v1/studies/${study.id}/diversity?as_of=2025-06-30`));
  assert.equal(d.target, 150);
  assert.match(d.small_cell_rule, /at least 5/);
  const goal = (category) => d.goals.find((g) => g.category === category);
  const f = goal('F');
  assert.equal(f.goal_at_target, 75);
  assert.equal(f.shortfall, Math.max(0, 75 - f.actual_count));
  assert.ok(f.actual_percent > 0);
  assert.equal(typeof f.on_track, 'boolean');
  assert.ok(f.projected_count >= f.actual_count);
  // site 301 enrolls only men and few of them: counts, no percentages
  const at301 = f.sites.find((x) => x.site_number === '301');
  assert.equal(at301.count, 0);
  assert.equal(at301.percent, null);
  assert.equal(at301.small_cell, true);
  const hispanic = goal('HISPANIC OR LATINO');
  assert.ok(hispanic.actual_count >= 5);
  for (const cells of Object.values(d.overall)) {
    for (const cell of cells) {
      if (cell.count < 5) assert.equal(cell.percent, null, `${cell.category}: a small cell has no percent`);
      else assert.equal(typeof cell.percent, 'number');
    }
  }
  const site301 = d.sites.find((x) => x.site_number === '301');
  assert.deepEqual(site301.mix.sex.map((x) => x.category), ['M']);
  assert.equal(d.projection.available, true);
  const finalTotal = d.projection.final_mix.sex.reduce((n, x) => n + x.count, 0);
  assert.ok(Math.abs(finalTotal - 150) < 1, `the final mix sums to the target: ${finalTotal}`);
  assert.equal(d.sites.find((x) => x.site_number === '601').projected_additional, 0);
});

test('bad input: unknown study, target, as_of, sites activated after as_of, no active sites', async () => {
  const { study, made } = await realisticStudy();
  for (const p of ['enrollment', 'forecast', 'diversity', 'enrollment-plan', 'diversity-goals'])
    assertProblem(await s.get(`/api/v1/studies/999999/${p}`), 404);
  assertProblem(await s.post('/api/v1/studies/999999/forecast', {}), 404);

  const f = `/api/v1/studies/${study.id}/forecast`;
  const enrolledNow = enrolledBy(made, '2099-01-01');
  assertProblem(await s.get(`${f}?target=${enrolledNow}`), 422, ['target']);
  assertProblem(await s.get(`${f}?target=3`), 422, ['target']);
  assertProblem(await s.get(`${f}?target=100000000`), 422, ['target']);
  assertProblem(await s.get(`${f}?target=lots`), 422, ['target']);
  assertProblem(await s.get(`${f}?target=1e3`), 422, ['target']);
  assertProblem(await s.get(`${f}?as_of=2024-01-14`), 422, ['as_of']);
  assertProblem(await s.get(`${f}?as_of=${addDays(today(), 2)}`), 422, ['as_of']);
  assertProblem(await s.get(`${f}?as_of=2024-02-30`), 422, ['as_of']);
  assertProblem(await s.get(`${f}?as_of=2024-06-01&as_of=2024-07-01`), 422, ['as_of']);
  assertProblem(await s.get(`${f}?by=2024-01-01&as_of=2025-01-01`), 422, ['by[0]']);
  assertProblem(await s.get(`${f}?by=${Array(9).fill('2026-01-01').join('&by=')}`), 422, ['by']);
  assertProblem(await s.get(`${f}?seed=-1`), 422, ['seed']);
  assertProblem(await s.get(`${f}?open=1`), 422, ['open']);
  const e = `/api/v1/studies/${study.id}/enrollment`;
  assertProblem(await s.get(`${e}?by=week`), 422, ['by']);
  assertProblem(await s.get(`${e}?as_of=2023-12-31`), 422, ['as_of']);
  assertProblem(await s.get(`${e}?as_of=${addDays(today(), 2)}`), 422, ['as_of']);
  assertProblem(await s.get(`${e}?colour=red`), 422, ['colour']);
  assertProblem(await s.get(`/api/v1/studies/${study.id}/diversity?as_of=tomorrow`), 422, ['as_of']);

  // as of a day after the study started but before any site was activated:
  // the sites are there, none active, no forecast, said plainly
  const early = await ok(await s.get(`${f}?as_of=2024-03-01`));
  assert.equal(early.status, 'no_data');
  assert.equal(early.completion.median_on, null);
  assert.equal(early.fit.method, 'no_data');
  assert.equal(early.fit.alpha, null);
  assert.ok(early.warnings.length > 0);
  const tracking = await ok(await s.get(`${e}?as_of=2024-03-01&by=site`));
  assert.ok(tracking.groups.every((g) => g.state === 'not_yet_active'));
  assert.equal(tracking.totals.enrollment_rate_per_site_month, null);
  assert.equal(tracking.totals.median_days_to_first_enrollment, null);

  // sites activated after as_of: 301 and 401 are not counted on 2024-08-15 (no planned date)
  const partial = await ok(await s.get(`${f}?as_of=2024-08-15`));
  assert.equal(partial.status, 'ok');
  assert.equal(partial.sites.find((x) => x.label === '301').state, 'not_counted');
  assert.ok(partial.warnings.some((w) => w.includes('301')));

  // a study with no active site at all, and one with one site and no recruit
  const empty = await createEnrollingStudy(s);
  await site(empty.id, '1', 'US', null);
  const none = await ok(await s.get(`/api/v1/studies/${empty.id}/forecast`));
  assert.equal(none.status, 'no_data');
  assert.deepEqual(none.expected, []);
  await site(empty.id, '2', 'US', '2024-05-01');
  const quiet = await ok(await s.get(`/api/v1/studies/${empty.id}/forecast`));
  assert.equal(quiet.status, 'ok');
  assert.equal(quiet.fit.method, 'no_recruits');
  assert.ok(quiet.warnings.some((w) => w.startsWith('fallback (no_recruits)')), quiet.warnings.join('\n'));
  assert.equal((await ok(await s.get(`/api/v1/studies/${empty.id}/diversity`))).projection.available, false);

  // the study's own target already met: an answer, not an error
  const small = await createEnrollingStudy(s, { target_enrollment: 2 });
  await createApprovedProtocol(s, small.id);
  await site(small.id, '1', 'US', '2024-05-01');
  await subjects(small.id, '1', 3, '2024-05-06', 5);
  const reached = await ok(await s.get(`/api/v1/studies/${small.id}/forecast`));
  assert.equal(reached.status, 'target_reached');
  assert.equal(reached.remaining, 0);
});

test('ctms forecast prints the same forecast as a table', async () => {
  const { study } = await realisticStudy();
  const json = await ok(await s.get(`/api/v1/studies/${study.id}/forecast?as_of=2025-06-30`));
  const r = ctms(['forecast', '--db', s.db, '--study', study.protocol_number, '--as-of', '2025-06-30']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/);
  assert.match(r.stdout, new RegExp(`^${study.protocol_number} as of 2025-06-30: ${json.enrolled} of 150 enrolled`));
  assert.match(r.stdout, new RegExp(`median\\s+${json.completion.median_on}`));
  assert.match(r.stdout, new RegExp(`5%\\s+${json.completion.lower_on}`));
  assert.match(r.stdout, new RegExp(`95%\\s+${json.completion.upper_on}`));
  assert.match(r.stdout, /101\s+US\s+active/);
  assert.match(r.stdout, /601\s+BR\s+not_counted/);
  assert.match(r.stdout, /fit: mle/);

  const target = ctms(['forecast', '--db', s.db, '--study', study.protocol_number, '--target', '1']);
  assert.equal(target.status, 1);
  assert.match(target.stderr, /target/);
  const unknown = ctms(['forecast', '--db', s.db, '--study', 'NO-SUCH-STUDY']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no study has protocol number NO-SUCH-STUDY/);
  const usage = ctms(['forecast', '--db', s.db]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--study/);
});

test('the reports take HEAD and refuse other methods', async () => {
  const { study } = await realisticStudy();
  const head = await s.request('HEAD', `/api/v1/studies/${study.id}/forecast`);
  assert.equal(head.status, 200);
  const put = await s.request('PUT', `/api/v1/studies/${study.id}/enrollment`, { body: {} });
  assert.equal(put.status, 405);
  assert.match(put.headers.get('allow'), /GET/);
  const studyBodyOk = await ok(await s.post('/api/v1/studies', studyBody()), 201);
  const plain = await ok(await s.get(`/api/v1/studies/${studyBodyOk.id}/enrollment?by=month`));
  assert.equal(plain.totals.enrolled, 0);
});

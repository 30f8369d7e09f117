// `ctms demo --scale`: the generated portfolio is the same for the same seed,
// has the size asked for, keeps the record rules, carries an intact audit
// trail, agrees with the summary endpoint, and is refused on a database that
// is not empty.
//
// A whole --scale 1 portfolio (20,000 subjects) takes about a minute under
// the sanitizers, so these tests generate `--scale 1 --studies 2`: two
// studies with the proportions of every scale (25 study-sites and 1,000
// subjects a study, about 10 visits a subject). The generator writes through
// the store interface like any client; it runs here on SQLite files on both
// passes of the suite.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctms, serveDatabase, sqlRows, stopChecked } from './lib.mjs';

const STUDIES = 2;
const SEED = '20251231';

function generate(seed = SEED, studies = STUDIES) {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-scale-'));
  const db = join(dir, 'portfolio.db');
  let r = ctms(['init', '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  r = ctms(['demo', '--db', db, '--scale', '1', '--studies', String(studies), '--seed', seed]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
  return { dir, db, stdout: r.stdout };
}

/* Generated once and shared: the first is read by every test, and the
 * refusal test, which must leave it as it was, runs last. */
const made = [];
const portfolio = (seed = SEED, studies = STUDIES) => {
  let g = made.find((x) => x.seed === seed && x.studies === studies);
  if (!g) {
    g = { seed, studies, ...generate(seed, studies) };
    made.push(g);
  }
  return g;
};
after(() => made.forEach((g) => rmSync(g.dir, { recursive: true, force: true })));

const count = (db, from) => sqlRows(db, `SELECT count(*) AS n FROM ${from}`)[0].n;

/* Every stored value that the generator chose, in a fixed order: ids, keys,
 * fields and each audit event's content, but not the clock (created_at,
 * updated_at, the events' time and hashes). */
function contentHash(db) {
  const h = createHash('sha256');
  const exports = [
    'SELECT id, name, kind, country FROM organisations ORDER BY id',
    'SELECT id, name, city, country FROM sites ORDER BY id',
    `SELECT id, version, protocol_number, nct_id, title, acronym, phase, therapeutic_area, sponsor_id,
       target_enrollment, planned_start_on, planned_end_on, status, status_reason, start_up_on,
       enrolling_on, follow_up_on, closed_on, terminated_on FROM studies ORDER BY id`,
    'SELECT id, version, study_id, number, version_date, summary, status, approved_on FROM protocol_versions ORDER BY id',
    `SELECT id, version, study_id, site_id, site_number, investigator_name, country, time_zone,
       target_enrollment, status, status_reason, identified_on, feasibility_on, selected_on, approved_on,
       contracted_on, initiated_on, activated_on, enrolling_on, closed_on FROM study_sites ORDER BY id`,
    `SELECT id, version, study_id, study_site_id, screening_number, sex, race, ethnicity, age,
       consented_on, consent_version, status, screened_on, screen_failed_on, screen_failure_reason,
       enrolled_on, completed_on, withdrawn_on, withdrawal_reason FROM subjects ORDER BY id`,
    'SELECT id, study_id, number, name, planned_day, window_before, window_after, kind FROM visit_definitions ORDER BY id',
    'SELECT id, subject_id, visit_definition_id, name, visit_on, kind FROM subject_visits ORDER BY id',
    'SELECT id, version, study_id, name, kind, baseline_on, planned_on, actual_on FROM milestones ORDER BY id',
    'SELECT seq, actor_name, entity, entity_id, action, changes, reason FROM audit_event ORDER BY seq',
  ];
  for (const q of exports) h.update(JSON.stringify(sqlRows(db, q)));
  return h.digest('hex');
}

test('demo --scale writes the same portfolio for the same seed, of the size asked', (t) => {
  const a = portfolio();
  const b = generate();
  t.after(() => rmSync(b.dir, { recursive: true, force: true }));

  const sizes = {
    studies: count(a.db, 'studies'),
    studySites: count(a.db, 'study_sites'),
    subjects: count(a.db, 'subjects'),
    visits: count(a.db, 'subject_visits'),
    events: count(a.db, 'audit_event'),
  };
  // Exact by construction: studies, study-sites and subjects are allocated.
  assert.equal(sizes.studies, STUDIES);
  assert.equal(sizes.studySites, 25 * STUDIES);
  assert.equal(sizes.subjects, 1000 * STUDIES);
  // Visits follow the subjects' histories: 10 a subject, within 25%.
  assert.ok(sizes.visits > 7500 * STUDIES && sizes.visits < 12500 * STUDIES, `visits: ${sizes.visits}`);
  assert.match(a.stdout, new RegExp(`${STUDIES} studies, ${25 * STUDIES} study-sites, ${1000 * STUDIES} subjects, ${sizes.visits} visits, ${sizes.events} audit events`));

  const hash = contentHash(a.db);
  assert.equal(contentHash(b.db), hash, 'the same seed gave a different portfolio');
  for (const [table, n] of Object.entries({ studies: 'studies', subjects: 'subjects', subject_visits: 'visits' })) {
    assert.equal(count(b.db, table), sizes[n]);
  }
  // Another seed plans another first study (a one-study portfolio suffices).
  const first = (db) => sqlRows(db, 'SELECT protocol_number, title, enrolling_on FROM studies WHERE id = 1')[0];
  assert.notDeepEqual(first(portfolio('7', 1).db), first(a.db), 'another seed gave the same study');

  // Every record was written with its audit event, and the chain verifies.
  const verify = ctms(['audit', 'verify', '--db', a.db]);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, new RegExp(`intact: ${sizes.events} events`));
  const creates = sqlRows(a.db, "SELECT count(*) AS n FROM audit_event WHERE action = 'create'")[0].n;
  // The demo manager who signs the approvals is a user with one grant.
  const rows = ['organisations', 'sites', 'studies', 'protocol_versions', 'study_sites', 'subjects',
    'visit_definitions', 'subject_visits', 'milestones', 'users', 'grants'].reduce((sum, table) => sum + count(a.db, table), 0);
  const approved = sqlRows(a.db, "SELECT count(*) AS n FROM protocol_versions WHERE status = 'approved'")[0].n;
  assert.equal(count(a.db, 'signatures'), approved, 'an approval without its signature');
  assert.equal(creates, rows, 'a record without its create event');
});

test('the generated portfolio keeps the rules and looks like a portfolio', () => {
  const g = portfolio();
  const one = (q) => sqlRows(g.db, q)[0];

  // No date after the fixed cut-off, none in the future.
  const latest = one(`SELECT max(d) AS d FROM (
      SELECT max(visit_on) AS d FROM subject_visits
      UNION ALL SELECT max(max(screened_on, coalesce(completed_on, ''), coalesce(withdrawn_on, ''))) FROM subjects
      UNION ALL SELECT max(coalesce(closed_on, enrolling_on, activated_on, identified_on)) FROM study_sites
      UNION ALL SELECT max(actual_on) FROM milestones)`).d;
  assert.ok(latest <= '2025-12-31', latest);

  // Sites walked their start-up before anyone was screened there.
  assert.equal(one(`SELECT count(*) AS n FROM subjects s JOIN study_sites ss ON ss.id = s.study_site_id
      WHERE ss.activated_on IS NULL OR s.screened_on < ss.activated_on`).n, 0);
  // Consent to an approved protocol version, on or before enrollment.
  assert.equal(one(`SELECT count(*) AS n FROM subjects s WHERE enrolled_on IS NOT NULL AND (consented_on IS NULL
      OR consented_on > enrolled_on OR NOT EXISTS (SELECT 1 FROM protocol_versions p
      WHERE p.study_id = s.study_id AND p.number = s.consent_version AND p.status = 'approved'))`).n, 0);
  // Visits not before screening, nor after the subject left; a scheduled visit once.
  assert.equal(one(`SELECT count(*) AS n FROM subject_visits v JOIN subjects s ON s.id = v.subject_id
      WHERE v.visit_on < s.screened_on OR v.visit_on > coalesce(s.completed_on, s.withdrawn_on, '9999')`).n, 0);
  assert.equal(one(`SELECT count(*) AS n FROM (SELECT 1 FROM subject_visits WHERE visit_definition_id IS NOT NULL
      GROUP BY subject_id, visit_definition_id HAVING count(*) > 1)`).n, 0);

  // Screen failures 18-32% of decided subjects, each with a reason; withdrawals with a reason.
  const sf = one(`SELECT sum(status = 'screen_failed') AS failed, sum(status <> 'screened') AS decided,
      sum(status = 'screen_failed' AND screen_failure_reason IS NULL) AS no_reason,
      sum(status = 'withdrawn' AND withdrawal_reason IS NULL) AS withdrawn_no_reason FROM subjects`);
  assert.ok(sf.failed / sf.decided > 0.15 && sf.failed / sf.decided < 0.35, JSON.stringify(sf));
  assert.equal(sf.no_reason, 0);
  assert.equal(sf.withdrawn_no_reason, 0);
  assert.ok(one("SELECT count(*) AS n FROM subjects WHERE status = 'completed'").n > 0);
  assert.ok(one("SELECT count(*) AS n FROM subjects WHERE status = 'withdrawn'").n > 0);

  // Sites in several countries with real time zones; some visits out of window.
  assert.ok(one('SELECT count(DISTINCT country) AS n FROM study_sites').n >= 8);
  for (const { time_zone: tz } of sqlRows(g.db, 'SELECT DISTINCT time_zone FROM study_sites')) {
    assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: tz }), tz);
  }
  const window = one(`SELECT count(*) AS n, sum(v.visit_on < date(s.enrolled_on, (d.planned_day - 1) || ' days',
      '-' || d.window_before || ' days') OR v.visit_on > date(s.enrolled_on, (d.planned_day - 1) || ' days',
      '+' || d.window_after || ' days')) AS outside FROM subject_visits v JOIN visit_definitions d
      ON d.id = v.visit_definition_id JOIN subjects s ON s.id = v.subject_id WHERE d.planned_day > 1`);
  assert.ok(window.outside / window.n > 0.02 && window.outside / window.n < 0.12, JSON.stringify(window));
});

test('the summary endpoint agrees with direct counts of the generated portfolio', async () => {
  const g = portfolio();
  const s = await serveDatabase(g.db, g.dir);
  for (const { id } of sqlRows(g.db, 'SELECT id FROM studies ORDER BY id')) {
    const r = await s.get(`/api/v1/studies/${id}/summary`);
    assert.equal(r.status, 200, r.text);
    const subjects = Object.fromEntries(sqlRows(g.db,
      `SELECT status, count(*) AS n FROM subjects WHERE study_id = ${id} GROUP BY status`).map((x) => [x.status, x.n]));
    const sites = Object.fromEntries(sqlRows(g.db,
      `SELECT status, count(*) AS n FROM study_sites WHERE study_id = ${id} GROUP BY status`).map((x) => [x.status, x.n]));
    for (const [status, n] of Object.entries(r.json.subjects.by_status)) assert.equal(n, subjects[status] || 0, `subjects ${status}`);
    for (const [status, n] of Object.entries(r.json.sites.by_status)) assert.equal(n, sites[status] || 0, `sites ${status}`);
    assert.equal(r.json.subjects.total, Object.values(subjects).reduce((a, b) => a + b, 0));
    const enrolled = sqlRows(g.db, `SELECT count(*) AS n FROM subjects WHERE study_id = ${id} AND enrolled_on IS NOT NULL`)[0].n;
    assert.equal(r.json.enrollment.enrolled, enrolled);
  }
  await stopChecked(s, { keep: true });
});

test('demo --scale refuses a database that is not empty, and writes nothing', () => {
  const g = portfolio();
  const before = { events: count(g.db, 'audit_event'), hash: contentHash(g.db) };
  const r = ctms(['demo', '--db', g.db, '--scale', '1', '--studies', '1']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /not empty/);
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
  assert.equal(count(g.db, 'audit_event'), before.events);
  assert.equal(contentHash(g.db), before.hash);
  assert.equal(ctms(['audit', 'verify', '--db', g.db]).status, 0);
});

test('demo --scale takes whole numbers in range and nothing else', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-scale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'x.db');
  for (const args of [['--scale', '0'], ['--scale', '101'], ['--scale', '1.5'], ['--scale', 'ten'],
    ['--seed', '4'], ['--scale', '1', '--seed', '-4'], ['--scale', '1', '--seed', 'x'],
    ['--studies', '2'], ['--scale', '1', '--studies', '21'], ['--scale', '1', '--studies', '0']]) {
    const r = ctms(['demo', '--db', db, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--(scale|seed|studies)/, args.join(' '));
  }
});

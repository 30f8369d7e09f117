// `ctms import sdtm`: the CDISC SDTM pilot (CDISCPILOT01) loads as one study
// with all its sites, subjects, visits, adverse events and exposure, the
// audit trail verifies, a
// re-import writes nothing, and the server's enrollment report counts the
// pilot's randomised subjects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctms, sqlRows, serveDatabase, PG_DIR } from './lib.mjs';

const DATA = new URL('../../data/sdtm-cdiscpilot01', import.meta.url).pathname;

function importDir(db, extra = [], dir = DATA) {
  const started = process.hrtime.bigint();
  const r = ctms(['import', 'sdtm', '--db', db, ...extra, dir]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(r.status, 0, r.stderr);
  const counts = (what) => {
    const m = r.stdout.match(new RegExp(`^${what}: (\\d+) created, (\\d+) unchanged, (\\d+) rejected$`, 'm'));
    assert.ok(m, `no ${what} counts in:\n${r.stdout}`);
    const [created, unchanged, rejected] = m.slice(1).map(Number);
    return { created, unchanged, rejected };
  };
  return {
    out: r.stdout,
    seconds,
    sites: counts('study-sites'),
    subjects: counts('subjects'),
    visits: counts('visits'),
    definitions: counts('visit definitions'),
    adverseEvents: counts('adverse events'),
    exposures: counts('exposure records'),
    rejections: r.stdout.split('\n').filter((line) => line.startsWith('rejected ')),
  };
}

const auditCount = (db) => sqlRows(db, 'SELECT count(*) AS n FROM audit_event')[0].n;

test('ctms import sdtm loads the CDISC pilot in full and re-imports idempotently', { skip: PG_DIR ? 'runs on a SQLite file' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-sdtm-'));
  try {
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);

    const first = importDir(db, ['--consent-on-screening']);
    console.log(`import of the SDTM pilot: ${first.seconds.toFixed(2)} s`);
    assert.deepEqual(first.rejections, []);
    assert.deepEqual(first.sites, { created: 17, unchanged: 0, rejected: 0 });
    assert.deepEqual(first.subjects, { created: 306, unchanged: 0, rejected: 0 });
    assert.deepEqual(first.visits, { created: 3559, unchanged: 0, rejected: 0 });
    assert.equal(first.definitions.created, 21);
    assert.match(first.out, /^screen failures: 52$/m);
    assert.match(first.out, /^subjects by status: 0 screened, 52 screen_failed, 0 enrolled, 110 completed, 144 withdrawn$/m);
    assert.match(first.out, /missing consent dates: 306 subjects have an empty DM\.RFICDTC; 254 given their screening date/);
    // Every adverse event and exposure record of the pilot, dates as partial as the source.
    assert.deepEqual(first.adverseEvents, { created: 1191, unchanged: 0, rejected: 0 });
    assert.deepEqual(first.exposures, { created: 591, unchanged: 0, rejected: 0 });
    assert.match(first.out, /^adverse events in ae\.csv: 3 serious \(AESER Y\), 3 deaths \(AESDTH Y or AEOUT FATAL\); dates not invented: 26 onsets given as YYYY or YYYY-MM, 0 without onset, 0 ends given partially, 473 without end date; 28 onsets before the subject's screening/m);
    const [ae] = sqlRows(db, `SELECT count(*) AS n, sum(serious = 'Y') AS serious, sum(outcome = 'FATAL') AS fatal,
      sum(results_in_death = 'Y') AS deaths, sum(length(onset_on) < 10) AS partial, sum(end_on IS NULL) AS open,
      sum(onset_before_screening_reason IS NOT NULL) AS early, count(DISTINCT subject_id) AS subjects FROM adverse_events`);
    assert.deepEqual(ae, { n: 1191, serious: 3, fatal: 3, deaths: 3, partial: 26, open: 473, early: 28, subjects: 225 });
    // A partial date stays partial: 01-701-1118's AESEQ 1 began in 2003, month and day unknown.
    assert.deepEqual(sqlRows(db, `SELECT a.onset_on, a.end_on FROM adverse_events a JOIN subjects s ON s.id = a.subject_id
      WHERE s.screening_number = '01-701-1118' AND a.sequence_number = 1`), [{ onset_on: '2003', end_on: null }]);
    assert.deepEqual(sqlRows(db, `SELECT a.term, a.serious, a.life_threatening, a.outcome FROM adverse_events a
      JOIN subjects s ON s.id = a.subject_id WHERE s.screening_number = '01-709-1424' AND a.sequence_number = 1`),
    [{ term: 'SYNCOPE', serious: 'Y', life_threatening: 'Y', outcome: 'RECOVERED/RESOLVED' }]);
    const [ex] = sqlRows(db, `SELECT count(*) AS n, count(DISTINCT subject_id) AS subjects,
      sum(treatment = 'PLACEBO' AND dose = '0') AS placebo, sum(end_on IS NULL) AS open FROM exposures`);
    assert.deepEqual(ex, { n: 591, subjects: 254, placebo: 226, open: 6 });

    const [study] = sqlRows(db, 'SELECT id, protocol_number, phase, status, target_enrollment, start_up_on, enrolling_on FROM studies');
    assert.equal(study.protocol_number, 'CDISCPILOT01');
    assert.equal(study.phase, 'PHASE2');
    assert.equal(study.status, 'enrolling');
    assert.equal(study.target_enrollment, 300);
    // Its protocol version is a draft: approval is a manager's electronic signature,
    // which the data does not carry and the import does not make up (no signer is created).
    assert.deepEqual(sqlRows(db, 'SELECT number, status FROM protocol_versions').map((r) => ({ ...r })), [{ number: '1.0', status: 'draft' }]);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM signatures')[0].n, 0);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM users')[0].n, 0);
    assert.match(first.out, /protocol version 1\.0 is left draft: approving it takes a manager's electronic signature/);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM study_sites')[0].n, 17);
    // Every site was activated on or before its first subject's screening.
    assert.equal(sqlRows(db, `SELECT count(*) AS n FROM subjects s JOIN study_sites ss ON ss.id = s.study_site_id
      WHERE s.screened_on < ss.activated_on OR s.screened_on < '${study.enrolling_on}'`)[0].n, 0);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM subjects')[0].n, 306);
    assert.equal(sqlRows(db, "SELECT count(*) AS n FROM subjects WHERE status = 'screen_failed' AND screen_failure_reason IS NOT NULL")[0].n, 52);
    assert.equal(sqlRows(db, "SELECT count(*) AS n FROM subjects WHERE status = 'withdrawn' AND withdrawal_reason = 'ADVERSE EVENT'")[0].n, 92);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM subjects WHERE enrolled_on IS NOT NULL')[0].n, 254);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM subject_visits')[0].n, 3559);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM subject_visits WHERE visit_definition_id IS NULL')[0].n, 122);
    // The consent dates the data lacks are marked as such in the audit trail.
    assert.equal(sqlRows(db, "SELECT count(*) AS n FROM audit_event WHERE reason LIKE '%consent date not in the source%'")[0].n, 254);

    const verify = ctms(['audit', 'verify', '--db', db]);
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);

    const events = auditCount(db);
    const again = importDir(db, ['--consent-on-screening']);
    console.log(`re-import of the SDTM pilot: ${again.seconds.toFixed(2)} s`);
    assert.deepEqual(again.subjects, { created: 0, unchanged: 306, rejected: 0 });
    assert.deepEqual(again.visits, { created: 0, unchanged: 3559, rejected: 0 });
    assert.deepEqual(again.sites, { created: 0, unchanged: 17, rejected: 0 });
    assert.deepEqual(again.adverseEvents, { created: 0, unchanged: 1191, rejected: 0 });
    assert.deepEqual(again.exposures, { created: 0, unchanged: 591, rejected: 0 });
    assert.equal(auditCount(db), events, 're-import wrote audit events');

    const server = await serveDatabase(db, dir);
    try {
      const r = await server.get(`/api/v1/studies/${study.id}/enrollment`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.totals.enrolled, 254);
      assert.equal(r.json.totals.screen_failed, 52);
      assert.equal(r.json.totals.completed, 110);
      assert.equal(r.json.totals.withdrawn, 144);
      const serious = await server.get(`/api/v1/adverse-events?study_id=${study.id}&serious=Y`);
      assert.equal(serious.status, 200, serious.text);
      assert.deepEqual(serious.json.items.map((x) => x.term).sort(),
        ['PARTIAL SEIZURES WITH SECONDARY GENERALISATION', 'SYNCOPE', 'SYNCOPE']);
      const fatal = await server.get(`/api/v1/adverse-events?study_id=${study.id}&outcome=FATAL`);
      assert.equal(fatal.json.items.length, 3);
    } finally {
      await server.stop({ keep: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a consent date the pilot loads, its randomised subjects stay screened and are reported', { skip: PG_DIR ? 'runs on a SQLite file' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-sdtm-'));
  try {
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);
    const r = importDir(db);
    assert.deepEqual(r.rejections, []);
    assert.equal(r.subjects.created, 306);
    assert.equal(r.visits.created, 3559);
    assert.match(r.out, /254 randomised in the data left screened for want of a consent date/);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM subjects WHERE consented_on IS NOT NULL')[0].n, 0);
    // The same directory with the option then enrolls them, nothing else.
    const events = auditCount(db);
    const later = importDir(db, ['--consent-on-screening']);
    assert.equal(later.subjects.unchanged, 306);
    assert.equal(later.visits.unchanged, 3559);
    assert.match(later.out, /0 screened, 52 screen_failed, 0 enrolled, 110 completed, 144 withdrawn/);
    assert.ok(auditCount(db) > events);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ctms import sdtm reports a directory without the datasets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-sdtm-'));
  try {
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);
    const r = ctms(['import', 'sdtm', '--db', db, dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read .*dm\.csv/);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM studies')[0].n, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad AE and EX rows are reported one by one; the rest load; dates are never invented', { skip: PG_DIR ? 'runs on a SQLite file' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-sdtm-'));
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    for (const f of ['dm', 'ds', 'sv', 'ts', 'tv']) copyFileSync(join(DATA, `${f}.csv`), join(data, `${f}.csv`));
    const header = 'STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEDECOD,AEBODSYS,AESEV,AESER,AEACN,AEREL,AEOUT,AESDTH,AESTDTC,AEENDTC';
    writeFileSync(join(data, 'ae.csv'), [header,
      'CDISCPILOT01,AE,01-701-1015,1,HEADACHE,HEADACHE,NERVOUS SYSTEM DISORDERS,MILD,N,,NONE,RECOVERED/RESOLVED,N,2014-01,2014-01-20',
      'CDISCPILOT01,AE,01-701-1015,2,NAUSEA,NAUSEA,"GASTROINTESTINAL DISORDERS",MODERATE,N,,,,N,UNK,',
      'CDISCPILOT01,AE,01-701-1015,3,RASH,RASH,SKIN,SERIOUS,X,,,,N,2014-01-05,',
      'CDISCPILOT01,AE,01-701-1015,4,DIZZINESS,DIZZINESS,NERVOUS SYSTEM DISORDERS,MILD,N,,,,N,2014-01-10,2014-01-09',
      'CDISCPILOT01,AE,99-999-9999,1,COUGH,COUGH,RESPIRATORY,MILD,N,,,,N,2014-01-05,',
      'CDISCPILOT01,AE,01-701-1015,x,FEVER,FEVER,GENERAL,MILD,N,,,,N,2014-01-05,',
      ''].join('\r\n'));
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);
    const r = importDir(db, ['--consent-on-screening'], data);
    assert.deepEqual(r.adverseEvents, { created: 2, unchanged: 0, rejected: 4 });
    assert.match(r.out, /^rejected ae\.csv:4 01-701-1015: AESER 'X' is not Y or N$/m);
    assert.match(r.out, /^rejected ae\.csv:5 01-701-1015: .*end_on is before the onset on 2014-01-10/m);
    assert.match(r.out, /^rejected ae\.csv:6 99-999-9999: USUBJID is not a subject of dm\.csv$/m);
    assert.match(r.out, /^rejected ae\.csv:7 01-701-1015: AESEQ 'x' is not a sequence number$/m);
    assert.match(r.out, /^note ae\.csv:3: AESTDTC 'UNK' is not an ISO 8601 date; onset_on left empty$/m);
    assert.match(r.out, /not read: ex\.csv \(absent\)/);
    assert.deepEqual(sqlRows(db, 'SELECT sequence_number, onset_on, end_on, outcome FROM adverse_events ORDER BY sequence_number'), [
      { sequence_number: 1, onset_on: '2014-01', end_on: '2014-01-20', outcome: 'RECOVERED/RESOLVED' },
      { sequence_number: 2, onset_on: null, end_on: null, outcome: null },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

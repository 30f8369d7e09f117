// `ctms import ctgov`: the shipped ClinicalTrials.gov records load in full
// minus what is genuinely invalid, a re-import changes nothing, a changed
// record updates only its changed fields, and bad lines are reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctms, sqlRows, PG_DIR, startServer, stopChecked, addUser } from './lib.mjs';

const DATA = new URL('../../data/ctgov/studies.jsonl', import.meta.url).pathname;
const STUDIES = 964;
const LOCATIONS = 6207;

function importFile(db, file) {
  const started = process.hrtime.bigint();
  const r = ctms(['import', 'ctgov', '--db', db, file]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(r.status, 0, r.stderr);
  const counts = (what) => {
    const m = r.stdout.match(new RegExp(`^${what}: (\\d+) created, (\\d+) updated, (\\d+) unchanged, (\\d+) rejected$`, 'm'));
    assert.ok(m, `no ${what} counts in:\n${r.stdout}`);
    const [created, updated, unchanged, rejected] = m.slice(1).map(Number);
    return { created, updated, unchanged, rejected };
  };
  const rejections = r.stdout.split('\n').filter((line) => line.startsWith('rejected '));
  return { out: r.stdout, seconds, studies: counts('studies'), sites: counts('study-sites'), rejections };
}

const auditCount = (db) => sqlRows(db, 'SELECT count(*) AS n FROM audit_event')[0].n;

test('ctms import ctgov loads the shipped records and re-imports idempotently', { skip: PG_DIR ? 'runs on a SQLite file' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-ctgov-'));
  try {
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);

    const first = importFile(db, DATA);
    console.log(`import of ${STUDIES} studies: ${first.seconds.toFixed(2)} s`);
    assert.ok(first.seconds < 30, `import took ${first.seconds} s`);
    const { studies, sites } = first;
    assert.equal(studies.created + studies.rejected, STUDIES);
    assert.equal(studies.updated + studies.unchanged, 0);
    const studyRejections = first.rejections.filter((l) => l.startsWith('rejected study '));
    const siteRejections = first.rejections.filter((l) => l.startsWith('rejected study-site '));
    assert.equal(studyRejections.length, studies.rejected);
    for (const line of first.rejections) assert.match(line, /: \S.{5,}$/, `no reason: ${line}`);
    assert.ok(studyRejections.some((l) => /NCT000001: invalid NCT id/.test(l)), studyRejections.join('\n'));
    // Only studies ctms cannot hold are rejected: a bad id or no target enrollment.
    for (const line of studyRejections) assert.match(line, /invalid NCT id|enrollment/, line);
    // The registrations without a target are those withdrawn before anyone enrolled (count 0) and
    // four that give no count: the report says which.
    const withdrawn = [...readFileSync(DATA, 'utf8').split('\n').filter(Boolean)].map((l) => JSON.parse(l).protocolSection)
      .filter((ps) => ps?.designModule?.enrollmentInfo?.count === 0 && ps.statusModule?.overallStatus === 'WITHDRAWN').length;
    assert.equal(studyRejections.filter((l) => /count is 0 \(WITHDRAWN study\): it reports no participants/.test(l)).length, withdrawn);
    assert.equal(withdrawn, 20);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM studies')[0].n, STUDIES - studies.rejected);

    // Locations of rejected studies never reach the site count.
    const rejectedNcts = new Set(studyRejections.map((l) => l.split(' ')[3].replace(':', '')));
    let offered = 0;
    for (const line of readFileSync(DATA, 'utf8').split('\n').filter(Boolean)) {
      const ps = JSON.parse(line).protocolSection;
      if (!rejectedNcts.has(ps.identificationModule.nctId)) offered += (ps.contactsLocationsModule?.locations ?? []).length;
    }
    assert.ok(offered <= LOCATIONS);
    assert.equal(sites.created + sites.rejected, offered);
    assert.equal(siteRejections.length, sites.rejected);
    for (const line of siteRejections) assert.match(line, /facility/, line);
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM study_sites')[0].n, sites.created);
    assert.match(first.out, /dates given as YYYY-MM recorded as the first of the month/);

    // The mapped fields, for one well-known record.
    const [study] = sqlRows(db, "SELECT * FROM studies WHERE nct_id = 'NCT00141349'");
    assert.ok(study, 'NCT00141349 imported');
    assert.equal(study.status, 'planned');
    assert.equal(study.planned_start_on, '2005-02-01');
    assert.equal(study.start_date_type, null, 'the record gives no type: none invented');
    assert.deepEqual(
      [study.registry_status, study.study_type, study.allocation, study.intervention_model, study.masking, study.primary_purpose],
      ['COMPLETED', 'INTERVENTIONAL', 'RANDOMIZED', 'PARALLEL', 'DOUBLE', 'TREATMENT']);
    assert.deepEqual(JSON.parse(study.conditions), ['Impotence']);
    assert.equal(study.arms, null);
    assert.deepEqual([study.eligibility_sex, study.eligibility_minimum_age, study.eligibility_maximum_age, study.healthy_volunteers],
      ['MALE', '18 Years', '65 Years', 0]);
    assert.match(study.eligibility_criteria, /\n/, 'criteria keep their lines');
    const [place] = sqlRows(db, `SELECT s.name, s.city, s.region, s.postal_code, s.latitude, s.longitude FROM study_sites ss
      JOIN sites s ON s.id = ss.site_id WHERE ss.study_id = ${study.id} AND ss.site_number = '001'`);
    assert.deepEqual({ ...place }, { name: 'Pfizer Investigational Site', city: 'Birmingham', region: 'Alabama', postal_code: '35205', latitude: '33.52066', longitude: '-86.80249' });
    const armed = sqlRows(db, 'SELECT arms FROM studies WHERE arms IS NOT NULL');
    assert.ok(armed.length > 700, `${armed.length} studies with arms`);
    for (const { arms } of armed) for (const arm of JSON.parse(arms)) assert.ok(arm.label, arms);
    const zones = sqlRows(db, 'SELECT DISTINCT time_zone FROM study_sites').map((r) => r.time_zone);
    assert.ok(zones.includes('America/Los_Angeles') && zones.includes('Europe/Paris'), zones.join(','));
    assert.equal(sqlRows(db, "SELECT count(*) AS n FROM study_sites WHERE country NOT GLOB '[A-Z][A-Z]'")[0].n, 0);

    // Re-importing the same file changes nothing and writes no audit event.
    const events = auditCount(db);
    const again = importFile(db, DATA);
    assert.deepEqual(again.studies, { created: 0, updated: 0, unchanged: studies.created, rejected: studies.rejected });
    assert.deepEqual(again.sites, { created: 0, updated: 0, unchanged: sites.created, rejected: sites.rejected });
    assert.equal(auditCount(db), events);

    // A newer version of one record: only its changed fields are written.
    const record = JSON.parse(readFileSync(DATA, 'utf8').split('\n').find((l) => l.includes('"NCT00141349"')));
    const ident = record.protocolSection.identificationModule;
    ident.officialTitle = `${ident.officialTitle ?? ident.briefTitle} (amended)`;
    record.protocolSection.designModule.enrollmentInfo.count += 7;
    record.protocolSection.conditionsModule.conditions.push('Erectile Dysfunction');
    record.protocolSection.armsInterventionsModule = { armGroups: [{ label: 'Sildenafil', type: 'EXPERIMENTAL', interventionNames: ['Drug: sildenafil'] }] };
    const changed = join(dir, 'changed.jsonl');
    writeFileSync(changed, `${JSON.stringify(record)}\n`);
    const update = importFile(db, changed);
    assert.deepEqual(update.studies, { created: 0, updated: 1, unchanged: 0, rejected: 0 });
    assert.equal(update.sites.created + update.sites.updated, 0);
    const newEvents = sqlRows(db, `SELECT entity, action, changes FROM audit_event WHERE seq > ${events} ORDER BY seq`);
    assert.equal(newEvents.length, 1, JSON.stringify(newEvents));
    assert.equal(newEvents[0].entity, 'study');
    const fields = JSON.parse(newEvents[0].changes).map((c) => c.field).sort();
    assert.deepEqual(fields, ['arms', 'conditions', 'target_enrollment', 'title']);
    const [after] = sqlRows(db, "SELECT title, target_enrollment, conditions, arms FROM studies WHERE nct_id = 'NCT00141349'");
    assert.deepEqual(JSON.parse(after.conditions), ['Impotence', 'Erectile Dysfunction']);
    assert.deepEqual(JSON.parse(after.arms), [{ label: 'Sildenafil', type: 'EXPERIMENTAL', interventions: ['Drug: sildenafil'] }]);
    assert.equal(after.title, ident.officialTitle);
    assert.equal(after.target_enrollment, study.target_enrollment + 7);

    // Malformed lines are reported and skipped; the good line still loads.
    const good = JSON.parse(readFileSync(DATA, 'utf8').split('\n')[1]);
    good.protocolSection.identificationModule.nctId = 'NCT99999991';
    good.protocolSection.identificationModule.orgStudyIdInfo = { id: 'CTGOV-TEST-1' };
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, ['{not json', '{"derivedSection": {}}', '[1, 2]', JSON.stringify(good), ''].join('\n'));
    const mixed = importFile(db, bad);
    assert.equal(mixed.studies.rejected, 3);
    assert.equal(mixed.studies.created, 1);
    assert.match(mixed.out, /^rejected study bad\.jsonl:1: not JSON/m);
    assert.match(mixed.out, /^rejected study bad\.jsonl:2: no protocolSection/m);
    assert.match(mixed.out, /^rejected study bad\.jsonl:3: not a JSON object/m);

    // An unreadable file exits 1.
    assert.equal(ctms(['import', 'ctgov', '--db', db, join(dir, 'absent.jsonl')]).status, 1);

    const verify = ctms(['audit', 'verify', '--db', db]);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ctms import ctgov: a study the store refuses is reported, and the others of its transaction still load', { skip: PG_DIR ? 'runs on a SQLite file' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-ctgov-'));
  try {
    const db = join(dir, 'ctms.db');
    assert.equal(ctms(['init', '--db', db]).status, 0);
    // Enough records that the lines are parsed on other threads.
    const lines = readFileSync(DATA, 'utf8').split('\n').filter(Boolean);
    const records = lines.slice(1, 31).map((l) => JSON.parse(l));
    const first = join(dir, 'first.jsonl');
    writeFileSync(first, records.map((r) => JSON.stringify(r)).join('\n'));
    const before = importFile(db, first);
    assert.ok(before.studies.created >= 10, before.out);
    const created = new Set(sqlRows(db, 'SELECT nct_id FROM studies').map((r) => r.nct_id));
    const nct = (r) => r.protocolSection.identificationModule.nctId;
    const loaded = records.filter((r) => created.has(nct(r)) && r.protocolSection.contactsLocationsModule?.locations?.length);
    const [a, b, c] = [loaded[0], loaded[1], loaded[loaded.length - 1]];

    // b's study is closed, so the new location of its record is refused by
    // the store; a (before it) and c (after it) change their titles, and a
    // new study follows.
    execFileSync('sqlite3', [db, `UPDATE studies SET status = 'closed' WHERE nct_id = '${nct(b)}'`]);
    for (const r of [a, c]) r.protocolSection.identificationModule.officialTitle = `${nct(r)} amended`;
    const locations = b.protocolSection.contactsLocationsModule.locations;
    locations.push({ ...locations[0], facility: 'Refused Test Facility' });
    const extra = JSON.parse(lines.slice(31).find((l) => !created.has(JSON.parse(l).protocolSection.identificationModule.nctId)));
    const events = auditCount(db);
    const second = join(dir, 'second.jsonl');
    writeFileSync(second, [...records, extra].map((r) => JSON.stringify(r)).join('\n'));
    const after = importFile(db, second);
    assert.equal(after.studies.updated, 2, after.out);
    assert.equal(after.studies.created, 1, after.out);
    assert.equal(after.studies.rejected, before.studies.rejected + 1, after.out);
    assert.equal(after.studies.unchanged, before.studies.created - 3, after.out);
    assert.match(after.out, new RegExp(`^rejected study second\\.jsonl:\\d+ ${nct(b)}: .*closed`, 'm'));
    const titles = sqlRows(db, `SELECT nct_id, title FROM studies WHERE nct_id IN ('${nct(a)}', '${nct(c)}')`);
    for (const t of titles) assert.equal(t.title, `${t.nct_id} amended`);
    assert.equal(sqlRows(db, "SELECT count(*) AS n FROM sites WHERE name = 'Refused Test Facility'")[0].n, 0);
    assert.ok(auditCount(db) > events + 2);
    const verify = ctms(['audit', 'verify', '--db', db]);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('POST /api/v1/imports/ctgov: the same import over the API, for managers and administrators', async () => {
  const s = await startServer();
  try {
    const lines = readFileSync(DATA, 'utf8').split('\n').filter(Boolean).slice(0, 40);
    const post = (raw, type = 'application/x-ndjson', headers = {}) =>
      s.request('POST', '/api/v1/imports/ctgov', { raw, headers: { 'content-type': type, ...headers } });
    const first = await post(`${lines.join('\n')}\n`);
    assert.equal(first.status, 200, first.text);
    const { studies, study_sites: sites } = first.json;
    assert.equal(studies.created + studies.rejected, 40);
    assert.ok(studies.created >= 35, first.text);
    assert.ok(first.json.rejected.some((x) => x.where === 'body:1' && /invalid NCT id/.test(x.reason)), first.text);
    assert.equal(sqlRows(s.db, 'SELECT count(*) AS n FROM studies')[0].n, studies.created);
    assert.equal(sqlRows(s.db, 'SELECT count(*) AS n FROM study_sites')[0].n, sites.created);

    // The same records again, now as one JSON array: nothing changes, nothing is written.
    const events = auditCount(s.db);
    const again = await post(`[${lines.join(',')}]`, 'application/json');
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json.studies, { created: 0, updated: 0, unchanged: studies.created, rejected: studies.rejected });
    assert.deepEqual(again.json.study_sites, { created: 0, updated: 0, unchanged: sites.created, rejected: sites.rejected });
    assert.ok(again.json.rejected.some((x) => x.where === 'body[0]'));
    assert.equal(auditCount(s.db), events);

    // Refused: roles that do not create studies, a study-level manager, a body that is not records.
    for (const [username, role, study] of [['ct-monitor', 'monitor'], ['ct-safety', 'safety'], ['ct-manager-a', 'manager', 'DEMO-NONE']]) {
      if (study) {
        const created = await s.post('/api/v1/studies', { protocol_number: study, title: 'T', phase: 'PHASE2', target_enrollment: 5 });
        assert.equal(created.status, 201, created.text);
      }
      const u = addUser(s.db, { username, role, study });
      const r = await post(lines[1], 'application/x-ndjson', { authorization: `Bearer ${u.token}` });
      assert.equal(r.status, 403, `${username}: ${r.text}`);
    }
    const manager = addUser(s.db, { username: 'ct-manager', role: 'manager' });
    const ok = await post(lines[2], 'application/x-ndjson', { authorization: `Bearer ${manager.token}` });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.studies.unchanged, 1);
    const before = auditCount(s.db);
    assert.equal((await post('[{"protocolSection": ', 'application/json')).status, 400);
    assert.equal((await post(lines[3], 'text/plain')).status, 415);
    assert.equal((await post('', 'application/json')).status, 400);
    const junk = await post('{not json}\n', 'application/x-ndjson');
    assert.equal(junk.status, 200);
    assert.match(junk.json.rejected[0].reason, /^not JSON/);
    assert.equal(junk.json.rejected_not_listed, 0);
    // A body of many bad lines: every one counted, the first 1,000 listed, the rest said to be.
    const many = await post(`${'{"not": "a study"}\n'.repeat(1500)}${lines[2]}\n`, 'application/x-ndjson');
    assert.equal(many.status, 200, many.text.slice(0, 500));
    assert.equal(many.json.studies.rejected, 1500);
    assert.equal(many.json.rejected.length, 1000);
    assert.equal(many.json.rejected_not_listed, 500);
    assert.equal(many.json.rejected.at(-1).where, 'body:1000');
    assert.equal(many.json.studies.unchanged + many.json.studies.created, 1);
    assert.equal(auditCount(s.db), before);
  } finally {
    await stopChecked(s);
  }
});

// CSV imports of a study's sites and subjects, from the command line and the
// API: the template is the header the import takes, a good file loads in one
// transaction (quoted fields, CRLF, a byte order mark), and a file with any
// bad row writes nothing and reports every bad row with its line and reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer, stopChecked, ctms, addUser, assertProblem, assertNoWrite, auditCount, createEnrollingSetup,
} from './lib.mjs';

let s;
let setup;

async function ok(r, status = 200) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

const csv = (lines) => `${lines.join('\r\n')}\r\n`;
const postCsv = (path, text, headers = {}) =>
  s.request('POST', path, { raw: text, headers: { 'content-type': 'text/csv', ...headers } });

before(async () => {
  s = await startServer();
  setup = await createEnrollingSetup(s);
});

after(async () => { await stopChecked(s); });

test('the templates are the header rows the imports take', async () => {
  const sites = await s.get('/api/v1/imports/templates/sites.csv');
  assert.equal(sites.status, 200);
  assert.match(sites.headers.get('content-type'), /^text\/csv/);
  assert.equal(sites.text, 'institution_name,city,region,postal_code,latitude,longitude,site_number,investigator_name,country,time_zone,target_enrollment,planned_activation_on,identified_on\r\n');
  const subjects = await s.get('/api/v1/imports/templates/subjects.csv');
  assert.equal(subjects.text, 'site_number,screening_number,subject_number,sex,race,ethnicity,age,consented_on,consent_version,screened_on,arm\r\n');
  // The command line prints the same.
  assert.equal(ctms(['import', 'csv', '--template', 'sites']).stdout, sites.text);
  // A template itself imports nothing and says so.
  const empty = assertProblem(await assertNoWrite(s, () => postCsv(`/api/v1/studies/${setup.study.id}/imports/sites`, sites.text)), 422);
  assert.match(empty.errors[0].message, /no rows/);
});

test('a sites file loads in full: BOM, quotes, CRLF, empty optional cells', async () => {
  const text = `\ufeff${csv([
    'site_number,institution_name,city,investigator_name,country,time_zone,target_enrollment',
    '701,"Hôpital Nord, Lyon",Lyon,"Dr. Anne ""Nan"" Martin",FR,Europe/Paris,12',
    '702,Clinic Two,Boston,Dr. Two,US,America/New_York,',
    '703,"Clinic\nThree",Denver,Dr. Three,US,America/Denver,4', // a line break inside quotes
  ])}`;
  const before = auditCount(s.db);
  const r = await ok(await postCsv(`/api/v1/studies/${setup.study.id}/imports/sites`, text), 201);
  assert.deepEqual(r, { kind: 'sites', rows: 3, created: 3 });
  assert.ok(auditCount(s.db) > before);
  const sites = (await ok(await s.get(`/api/v1/studies/${setup.study.id}/sites?limit=1000`))).items;
  const byNumber = Object.fromEntries(sites.map((x) => [x.site_number, x]));
  assert.equal(byNumber['701'].institution_name, 'Hôpital Nord, Lyon');
  assert.equal(byNumber['701'].investigator_name, 'Dr. Anne "Nan" Martin');
  assert.equal(byNumber['701'].target_enrollment, 12);
  assert.equal(byNumber['702'].target_enrollment, null);
  assert.equal(byNumber['703'].institution_name, 'Clinic\nThree');
  assert.equal(byNumber['703'].status, 'identified');
});

test('a bad file writes nothing and reports every bad row with its line', async () => {
  const path = `/api/v1/studies/${setup.study.id}/imports/sites`;
  const text = csv([
    'site_number,institution_name,city,investigator_name,country,time_zone,target_enrollment',
    '801,Good Clinic,Austin,Dr. Good,US,America/Chicago,5', // line 2: fine
    '802,Bad Country,Nowhere,Dr. X,XX,Europe/Paris,5', // line 3
    '803,Bad Zone,Paris,Dr. Y,FR,Mars/Olympus,five', // line 4: two bad cells
    '804,Short Row,Paris,Dr. Z,FR', // line 5
    '801,Again,Austin,Dr. Good,US,America/Chicago,5', // line 6: 801 again
    '701,Taken,Lyon,Dr. T,FR,Europe/Paris,1', // line 7: already a site of the study
  ]);
  const r = await assertNoWrite(s, () => postCsv(path, text));
  const p = assertProblem(r, 422);
  const lines = p.errors.map((e) => [e.line, e.field ?? null]);
  assert.deepEqual(lines, [
    [3, 'country'], [4, 'time_zone'], [4, 'target_enrollment'], [5, null], [6, 'site_number'], [7, 'site_number'],
  ], r.text);
  assert.match(p.errors[3].message, /5 fields; the header has 7/);
  assert.match(p.errors[4].message, /line 2 has it too/);
  assert.match(p.errors[5].message, /already used/);
  // Line 2 alone was fine, yet nothing of the file was written.
  const sites = (await ok(await s.get(`/api/v1/studies/${setup.study.id}/sites?limit=1000`))).items;
  assert.ok(!sites.some((x) => x.site_number === '801'));

  // Header problems: unknown, repeated and missing required columns.
  const header = assertProblem(await assertNoWrite(s, () => postCsv(path, csv([
    'site_number,institution,country,country,time_zone',
    '901,X,FR,FR,Europe/Paris',
  ]))), 422);
  assert.deepEqual(header.errors.map((e) => [e.line, e.field]), [
    [1, 'institution'], [1, 'country'], [1, 'institution_name'], [1, 'investigator_name'],
  ]);
  assert.match(header.errors[0].message, /not a field of a study_site \(institution_name, city, region, postal_code, latitude, longitude, site_number/);

  // A new site's place: decimal degrees, in range.
  const geo = assertProblem(await assertNoWrite(s, () => postCsv(path, csv([
    'site_number,institution_name,city,latitude,longitude,investigator_name,country,time_zone',
    '905,Geo One,Lyon,north,4.83,Dr. G,FR,Europe/Paris',
    '906,Geo Two,Lyon,45.76,190,Dr. G,FR,Europe/Paris',
  ]))), 422);
  assert.deepEqual(geo.errors.map((e) => [e.line, e.field]), [[2, 'latitude'], [3, 'longitude']]);
  const placed = await postCsv(path, csv([
    'site_number,institution_name,city,region,postal_code,latitude,longitude,investigator_name,country,time_zone',
    '907,Geo Three,Lyon,Auvergne-Rhône-Alpes,69003,45.76342,4.83428,Dr. G,FR,Europe/Paris',
  ]));
  assert.equal(placed.status, 201, placed.text);
  const [geoSite] = (await ok(await s.get(`/api/v1/studies/${setup.study.id}/sites?site_number=907`))).items;
  assert.deepEqual([geoSite.region, geoSite.postal_code, geoSite.latitude, geoSite.longitude], ['Auvergne-Rhône-Alpes', '69003', 45.76342, 4.83428]);

  // Not UTF-8, an unclosed quote, no header at all.
  const latin1 = Buffer.concat([Buffer.from('site_number,institution_name,city,investigator_name,country,time_zone\r\n902,H'),
    Buffer.from([0xf4]), Buffer.from('pital,Lyon,Dr. L,FR,Europe/Paris\r\n')]);
  const enc = assertProblem(await assertNoWrite(s, () => postCsv(path, latin1)), 422);
  assert.deepEqual(enc.errors.map((e) => [e.line, e.field, e.message]), [[2, 'institution_name', 'is not valid UTF-8']]);
  const open = assertProblem(await assertNoWrite(s, () => postCsv(path, 'site_number,institution_name\r\n"903,X\r\n')), 422);
  assert.match(open.errors[0].message, /line 2: a quoted field is not closed/);
  assertProblem(await assertNoWrite(s, () => postCsv(path, '')), 422);

  // Not CSV, and a study that does not exist.
  assertProblem(await s.post(path, { site_number: '1' }), 415);
  assertProblem(await postCsv('/api/v1/studies/999999/imports/sites', text), 404);
});

test('subjects: a site user imports at its own site only; the command line reports the same way', async () => {
  const n = setup.site.site_number;
  const other = (await ok(await s.post(`/api/v1/studies/${setup.study.id}/sites`, {
    site_number: 'S-OTHER', institution_name: 'Other Hospital', city: 'Austin', country: 'US',
    time_zone: 'America/Chicago', investigator_name: 'Dr. O',
  }), 201));
  const path = `/api/v1/studies/${setup.study.id}/imports/subjects`;
  const site = addUser(s.db, { username: 'csv-site', role: 'site', study: setup.study.protocol_number, site: n });
  const asSite = (text) => s.request('POST', path, { raw: text, headers: { 'content-type': 'text/csv', authorization: `Bearer ${site.token}` } });
  const good = csv([
    'site_number,screening_number,sex,age,screened_on,race,ethnicity',
    `${n},CSV-001,F,54,2024-06-10,ASIAN,NOT HISPANIC OR LATINO`,
    `${n},CSV-002,M,61,2024-06-11,,`,
  ]);
  assert.deepEqual(await ok(await asSite(good), 201), { kind: 'subjects', rows: 2, created: 2 });
  const subjects = (await ok(await s.get(`/api/v1/studies/${setup.study.id}/subjects?limit=1000`))).items;
  const mine = subjects.filter((x) => x.screening_number.startsWith('CSV-'));
  assert.deepEqual(mine.map((x) => [x.screening_number, x.sex, x.age, x.race]), [['CSV-001', 'F', 54, 'ASIAN'], ['CSV-002', 'M', 61, null]]);

  // Another site's number reads as one that does not exist; a blinded user cannot set the arm.
  const bad = assertProblem(await assertNoWrite(s, () => asSite(csv([
    'site_number,screening_number,sex,age,screened_on,arm',
    `${other.site_number},CSV-003,F,40,2024-06-10,`,
    `${n},CSV-004,F,40,2024-06-10,PLACEBO`,
    `${n},CSV-005,X,40,2024-06-10,`,
  ]))), 422);
  assert.deepEqual(bad.errors.map((e) => [e.line, e.field ?? null]), [[2, 'site_number'], [3, null], [4, 'sex']]);
  assert.match(bad.errors[1].message, /arm may be set only by a role with unblinded access/);
  // A monitor may not import subjects at all.
  const monitor = addUser(s.db, { username: 'csv-monitor', role: 'monitor', study: setup.study.protocol_number });
  assertProblem(await assertNoWrite(s, () => s.request('POST', path, { raw: good, headers: { 'content-type': 'text/csv', authorization: `Bearer ${monitor.token}` } })), 403);

  // The command line: the same report, exit 1, nothing written; then a good file.
  const file = join(s.dir, 'subjects.csv');
  writeFileSync(file, csv(['site_number,screening_number,sex,age,screened_on', `${n},CSV-010,F,200,2024-06-10`, `${n},CSV-001,F,40,2024-06-10`]));
  const before = auditCount(s.db);
  let r = ctms(['import', 'csv', '--db', s.db, '--study', setup.study.protocol_number, '--kind', 'subjects', file]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^rows: 2; created: 0; errors: 2$/m);
  assert.match(r.stdout, /^error line 2: age: must be between 0 and 130$/m);
  assert.match(r.stdout, /^error line 3: screening_number: is already used/m);
  assert.match(r.stdout, /^nothing was imported$/m);
  assert.equal(auditCount(s.db), before);
  // A file of many bad rows: the first 1,000 errors listed, then a line saying there are more,
  // and nothing else is checked or written.
  writeFileSync(file, csv(['site_number,screening_number,sex,age,screened_on',
    ...Array.from({ length: 3000 }, (_, i) => `${n},BAD-${i},F,200,2024-06-10`)]));
  r = ctms(['import', 'csv', '--db', s.db, '--study', setup.study.protocol_number, '--kind', 'subjects', file]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^rows: 3000; created: 0; errors: 1001$/m);
  assert.match(r.stdout, /^error line 1002: more rows are bad; only the first ones are listed$/m);
  assert.doesNotMatch(r.stdout, /^error line 1003/m);
  assert.equal(auditCount(s.db), before);
  writeFileSync(file, csv(['site_number,screening_number,sex,age,screened_on', `${n},CSV-010,F,20,2024-06-10`]));
  r = ctms(['import', 'csv', '--db', s.db, '--study', setup.study.protocol_number, '--kind', 'subjects', file]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^rows: 1; created: 1; errors: 0$/m);
  r = ctms(['import', 'csv', '--db', s.db, '--study', 'NO-SUCH-STUDY', '--kind', 'subjects', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no study has protocol number NO-SUCH-STUDY/);
  assert.equal(ctms(['import', 'csv', '--db', s.db, '--study', setup.study.protocol_number, '--kind', 'visits', file]).status, 2);
});

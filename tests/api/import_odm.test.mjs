// CDISC ODM import: every file of data/odm as published, on the command
// line and over the API, with the counts each yields; a re-import writes
// nothing; bad input (truncated, wrong encoding, DOCTYPE with external
// entities, entity expansion, partial dates, duplicated subjects, unknown
// sites, oversize) is reported and changes nothing it should not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SITE_STEPS, addUser, auditCount, ctms, siteBody, sqlRows, startServer, stopChecked, studyBody } from './lib.mjs';

const DATA = new URL('../../data/odm/', import.meta.url).pathname;
const file = (name) => join(DATA, name);

let s;
let dir;
before(async () => {
  s = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'ctms-odm-'));
});
after(async () => {
  await stopChecked(s);
  rmSync(dir, { recursive: true, force: true });
});

async function ok(r, status = 200) {
  assert.equal(r.status, status, r.text);
  return r.json;
}

/** An enrolling study whose sites (numbers given) were activated in 2010. */
async function odmStudy(numbers = ['001']) {
  const study = await ok(await s.post('/api/v1/studies', studyBody()), 201);
  await ok(await s.transition('studies', study.id, 'start_up', '2010-01-04'));
  await ok(await s.transition('studies', study.id, 'enrolling', '2010-01-05'));
  const sites = {};
  for (const n of numbers) {
    let site = await ok(await s.post(`/api/v1/studies/${study.id}/sites`,
      siteBody({ site_number: n, identified_on: '2010-01-01' })), 201);
    for (const step of SITE_STEPS) site = await ok(await s.transition('study-sites', site.id, step, '2010-01-02'));
    sites[n] = site;
  }
  return { study, sites };
}

/** `ctms import odm`; answers the exit status, the counts and the rejections. */
function importOdm(protocol, path, extra = []) {
  const r = ctms(['import', 'odm', '--db', s.db, '--study', protocol, ...extra, path]);
  const counts = (what) => {
    const m = r.stdout.match(new RegExp(`^${what}: (\\d+) created, (\\d+) unchanged, (\\d+) rejected$`, 'm'));
    if (!m) return null;
    const [created, unchanged, rejected] = m.slice(1).map(Number);
    return { created, unchanged, rejected };
  };
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    definitions: counts('visit definitions'),
    subjects: counts('subjects'),
    visits: counts('visits'),
    rejections: r.stdout.split('\n').filter((l) => l.startsWith('rejected ')),
  };
}

const subjectsOf = (studyId) => sqlRows(s.db,
  `SELECT s.screening_number, ss.site_number, s.sex, s.age, s.race, s.ethnicity, s.screened_on
   FROM subjects s JOIN study_sites ss ON ss.id = s.study_site_id WHERE s.study_id = ${studyId} ORDER BY s.screening_number`);

test('odmlib snapshot: 1 of 2 subjects and 2 of 8 visits load; a re-import writes nothing', async () => {
  const { study } = await odmStudy(['ISSS']);
  const first = importOdm(study.protocol_number, file('odmlib-odm-data-snapshot.xml'), ['--site', 'ISSS']);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(first.definitions, { created: 2, unchanged: 0, rejected: 0 });
  assert.deepEqual(first.subjects, { created: 1, unchanged: 0, rejected: 1 });
  assert.deepEqual(first.visits, { created: 2, unchanged: 0, rejected: 6 });
  assert.match(first.stdout, /^rejected line 1167 SS_0002: no screening date/m);
  assert.match(first.stdout, /^rejected line 890 SS_0001: event SE\.VISIT 1: no visit date/m);
  assert.match(first.stdout, /ETHNIC 'HISPANIC\/LATINO' has no ctms code/);
  assert.deepEqual(subjectsOf(study.id), [{
    screening_number: 'SS_0001', site_number: 'ISSS', sex: 'M', age: 56, race: 'WHITE', ethnicity: null,
    screened_on: '2022-02-12',
  }]);
  const visits = sqlRows(s.db, `SELECT v.name, v.visit_on, d.number FROM subject_visits v
    JOIN visit_definitions d ON d.id = v.visit_definition_id WHERE v.study_id = ${study.id} ORDER BY d.number`);
  assert.deepEqual(visits, [
    { name: 'Screening', visit_on: '2022-02-12', number: 'SE.SCREENING' },
    { name: 'Visit 3', visit_on: '2022-02-12', number: 'SE.VISIT 3' },
  ]);

  const events = auditCount(s.db);
  const again = importOdm(study.protocol_number, file('odmlib-odm-data-snapshot.xml'), ['--site', 'ISSS']);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(again.definitions, { created: 0, unchanged: 0, rejected: 0 });
  assert.deepEqual(again.subjects, { created: 0, unchanged: 1, rejected: 1 });
  assert.deepEqual(again.visits, { created: 0, unchanged: 2, rejected: 6 });
  assert.equal(auditCount(s.db), events, 'a re-import wrote to the audit trail');
});

test('OpenEDC clinical data: 57 of 90 subjects; every visit undated; audit records kept', async () => {
  const { study } = await odmStudy(['001']);
  const r = importOdm(study.protocol_number, file('openedc-clinicaldata.xml'), ['--site', '001']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.definitions, { created: 0, unchanged: 0, rejected: 0 });
  assert.deepEqual(r.subjects, { created: 57, unchanged: 0, rejected: 33 });
  assert.deepEqual(r.visits, { created: 0, unchanged: 0, rejected: 249 });
  assert.match(r.stdout, /read: 1684 item data, 90 audit records/);
  assert.match(r.stdout, /18 subjects without a sex code recorded U/);
  assert.equal(r.rejections.filter((l) => /no age/.test(l)).length, 33);
  // Screened on the date of the subject's AuditRecord (OpenEDC writes no visit dates).
  const [first] = subjectsOf(study.id);
  assert.deepEqual({ ...first, site_number: undefined }, {
    screening_number: '01', site_number: undefined, sex: 'M', age: 72, race: null, ethnicity: null,
    screened_on: '2020-01-13',
  });
  // Each subject's AuditRecord is the reason of the ctms audit event that created it.
  const created = sqlRows(s.db, `SELECT e.reason FROM audit_event e JOIN subjects x ON x.id = e.entity_id
    WHERE e.entity = 'subject' AND e.action = 'create' AND x.study_id = ${study.id} ORDER BY x.id`);
  assert.equal(created.length, 57);
  assert.equal(created[0].reason, 'imported; ODM AuditRecord: user U.1; location -; at 2020-01-13T12:18:48.865Z');
  assert.ok(created.every((e) => /^imported; ODM AuditRecord: user U\.1; location -; at \d{4}-/.test(e.reason)), created.map((e) => e.reason).join('\n'));
  // Without a default site, subjects naming none (LocationOID "-") are rejected.
  const other = await odmStudy(['001']);
  const none = importOdm(other.study.protocol_number, file('openedc-clinicaldata.xml'));
  assert.deepEqual(none.subjects, { created: 0, unchanged: 0, rejected: 90 });
  assert.match(none.stdout, /no site: the subject has no SiteRef or AuditRecord LocationRef/);
});

test('OpenClinica extract: 13 subjects reported (no age), vendor extensions ignored', async () => {
  const { study } = await odmStudy(['001']);
  const events = auditCount(s.db);
  const r = importOdm(study.protocol_number, file('openclinica-extract-13subjects.xml'), ['--site', '001']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.subjects, { created: 0, unchanged: 0, rejected: 13 });
  assert.deepEqual(r.visits, { created: 0, unchanged: 0, rejected: 22 });
  assert.match(r.stdout, /read: 769 item data, 0 audit records \(.*\), 84 vendor extension elements \(ignored\)/);
  assert.equal(r.rejections.filter((l) => /SS_\w+: no age/.test(l)).length, 11);
  assert.equal(r.rejections.filter((l) => /no screening date/.test(l)).length, 2);
  assert.equal(auditCount(s.db), events, 'nothing was importable, yet something was written');
});

test('OpenEDC metadata alone holds no clinical data: nothing to import', async () => {
  const { study } = await odmStudy();
  const r = importOdm(study.protocol_number, file('openedc-metadata.xml'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.subjects, { created: 0, unchanged: 0, rejected: 0 });
  assert.deepEqual(r.visits, { created: 0, unchanged: 0, rejected: 0 });
});

const ODM_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
  + '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:x="urn:vendor" FileType="Snapshot" FileOID="F" CreationDateTime="2024-01-01T00:00:00">\n';
function subject(key, { site, age = '40', sex = 'F', visits = [] } = {}) {
  const items = `<ItemData ItemOID="IT.AGE" Value="${age}"/><ItemData ItemOID="IT.SEX" Value="${sex}"/>`;
  const ev = visits.map(([oid, date]) => `<StudyEventData StudyEventOID="${oid}"><FormData FormOID="F.V"><ItemGroupData ItemGroupOID="IG.V">`
    + `<ItemData ItemOID="IT.VISITDTC" Value="${date}"/></ItemGroupData></FormData></StudyEventData>`).join('');
  return `<SubjectData SubjectKey="${key}">${site ? `<SiteRef LocationOID="${site}"/>` : ''}`
    + `<StudyEventData StudyEventOID="SE.DM"><FormData FormOID="F.DM"><ItemGroupData ItemGroupOID="IG.DM">${items}`
    + '</ItemGroupData></FormData></StudyEventData>'
    + `${ev}<x:Extra>ignored</x:Extra></SubjectData>`;
}
const STUDY_DEF = '<Study OID="S"><GlobalVariables><StudyName>S</StudyName><StudyDescription>S</StudyDescription><ProtocolName>S</ProtocolName></GlobalVariables>'
  + '<MetaDataVersion OID="M" Name="M"><StudyEventDef OID="SE.DM" Name="Demographics" Repeating="No" Type="Common"/>'
  + '<StudyEventDef OID="SE.V1" Name="Visit 1" Repeating="No" Type="Scheduled"/>'
  + '<StudyEventDef OID="SE.UNS" Name="Unscheduled call" Repeating="Yes" Type="Unscheduled"/></MetaDataVersion></Study>';
const odm = (subjects) => `${ODM_HEAD}${STUDY_DEF}<ClinicalData StudyOID="S" MetaDataVersionOID="M">${subjects.join('')}</ClinicalData></ODM>\n`;

const post = (protocol, body, { type = 'application/xml', site } = {}) => s.request('POST',
  `/api/v1/imports/odm?study=${encodeURIComponent(protocol)}${site ? `&site=${site}` : ''}`,
  { raw: body, headers: { 'content-type': type } });

test('partial dates, UNK, duplicated subjects and unknown sites are reported; the rest loads', async () => {
  const { study } = await odmStudy(['001', '002']);
  const doc = odm([
    subject('A-1', { site: '001', visits: [['SE.V1', '2024-05-02'], ['SE.UNS', '2024-05-09'], ['SE.UNS', '2013-02'], ['SE.UNS', 'UNK']] }),
    subject('A-2', { site: '999' }),
    subject('A-1', { site: '002' }),
    subject('A-3', { site: '002', age: 'forty', visits: [['SE.V1', '2024-05-03']] }),
    subject('A-4', { visits: [['SE.V1', '2024-06-01'], ['SE.V1', '2024-06-02']] }),
  ]);
  const events = auditCount(s.db);
  const r = await post(study.protocol_number, doc, { site: '002' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.subjects, { created: 2, unchanged: 0, rejected: 3 });
  assert.deepEqual(r.json.visits, { created: 3, unchanged: 0, rejected: 4 });
  assert.deepEqual(r.json.visit_definitions, { created: 1, unchanged: 0, rejected: 0 });
  assert.equal(r.json.duplicate_subjects, 1);
  assert.equal(r.json.common_events, 4); // A-1, A-2, A-3, A-4: the duplicate is not read further
  assert.equal(r.json.vendor_elements, 5);
  const reasons = r.json.rejected.map((x) => `${x.key}: ${x.reason}`);
  for (const want of [
    /^A-1: event SE\.UNS: visit date '2013-02' is not a full date/,
    /^A-1: event SE\.UNS: visit date 'UNK' is not a full date/,
    /^A-2: unknown site '999'/,
    /^A-1: SubjectKey A-1 appears again \(first at line \d+\)/,
    /^A-3: AGE 'forty' is not an age in whole years/,
    /^A-4: event SE\.V1 repeats a visit already in this file/,
  ]) assert.ok(reasons.some((x) => want.test(x)), `no rejection like ${want} in ${JSON.stringify(reasons, null, 1)}`);
  assert.ok(auditCount(s.db) > events);
  const rows = subjectsOf(study.id);
  assert.deepEqual(rows.map((x) => [x.screening_number, x.site_number, x.screened_on]),
    [['A-1', '001', '2024-05-02'], ['A-4', '002', '2024-06-01']]);
  const visits = sqlRows(s.db, `SELECT v.name, v.visit_on, v.visit_definition_id IS NULL AS unscheduled
    FROM subject_visits v WHERE v.study_id = ${study.id} ORDER BY v.visit_on`);
  assert.deepEqual(visits.map((v) => [v.name, v.visit_on, Boolean(Number(v.unscheduled))]), [
    ['Visit 1', '2024-05-02', false], ['Unscheduled call', '2024-05-09', true], ['Visit 1', '2024-06-01', false],
  ]);

  // The same document again: nothing new, nothing written.
  const before2 = auditCount(s.db);
  const again = await post(study.protocol_number, doc, { site: '002' });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json.subjects, { created: 0, unchanged: 2, rejected: 3 });
  assert.deepEqual(again.json.visits, { created: 0, unchanged: 3, rejected: 4 });
  assert.equal(auditCount(s.db), before2);
});

test('bad documents are refused whole: truncated, wrong encoding, DOCTYPE, XXE, billion laughs, not ODM', async () => {
  const { study } = await odmStudy(['001']);
  const good = readFileSync(file('odmlib-odm-data-snapshot.xml'));
  const cases = [
    ['truncated', good.subarray(0, 40000), /not a well-formed XML document: .*\(line \d+\)/],
    ['latin-1 bytes declared UTF-8', Buffer.concat([Buffer.from(odm([subject('Z-1', { site: '001' })]).replace('F.DM', 'F.DM\u00e9'), 'latin1')]),
      /not a well-formed XML document: .*(UTF-8|encoding)/i],
    ['external entity (XXE)', `<?xml version="1.0"?>\n<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3">&xxe;</ODM>`,
      /has a DOCTYPE \(line 2\)/],
    ['external DTD over the network', '<?xml version="1.0"?>\n<!DOCTYPE ODM SYSTEM "http://127.0.0.1:9/odm.dtd">\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"/>',
      /has a DOCTYPE/],
    ['billion laughs', `<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3">&lol9;</ODM>`,
      /has a DOCTYPE/],
    ['another root', '<?xml version="1.0"?><CDISC/>', /root element is <CDISC>, not <ODM>/],
    ['not XML', 'SubjectKey,Age\n1,40\n', /not a well-formed XML document/],
    ['empty', '', /not a well-formed XML document|needs an ODM document/],
  ];
  const events = auditCount(s.db);
  for (const [what, body, why] of cases) {
    const path = join(dir, 'bad.xml');
    writeFileSync(path, body);
    const started = Date.now();
    const cli = importOdm(study.protocol_number, path, ['--site', '001']);
    assert.equal(cli.status, 1, `${what}: ${cli.stdout}`);
    assert.match(cli.stderr, why, what);
    if (body.length) {
      const r = await post(study.protocol_number, body);
      assert.ok([400, 422].includes(r.status), `${what}: ${r.status} ${r.text}`);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.match(r.json.detail, why, what);
    }
    assert.ok(Date.now() - started < 5000, `${what} took ${Date.now() - started} ms`);
  }
  // A document in another declared encoding is read as such.
  const latin = odm([subject('L-\u00e9', { site: '001' })]).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"');
  const r = await post(study.protocol_number, Buffer.from(latin, 'latin1'));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.rejected.map((x) => x.key), ['L-\u00e9']); // no date anywhere: reported by name
  assert.equal(auditCount(s.db), events, 'a refused document wrote something');
});

test('oversize input: over 64 MB on the command line, over the body limit on the API', async () => {
  const { study } = await odmStudy(['001']);
  const path = join(dir, 'big.xml');
  writeFileSync(path, Buffer.alloc(65 * 1024 * 1024, 0x20));
  const cli = importOdm(study.protocol_number, path);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /larger than the 67108864 bytes an ODM import takes/);
  rmSync(path);
  const r = await post(study.protocol_number, Buffer.alloc(2 * 1024 * 1024, 0x20));
  assert.equal(r.status, 413, r.text);
});

test('the API refuses a JSON body, an unknown study, a missing study, and roles that may not import', async () => {
  const { study } = await odmStudy(['001']);
  const doc = odm([subject('B-1', { site: '001', visits: [['SE.V1', '2024-05-02']] })]);
  assert.equal((await post(study.protocol_number, doc, { type: 'application/json' })).status, 415);
  assert.equal((await post('NO-SUCH-PROTOCOL', doc)).status, 404);
  const missing = await s.request('POST', '/api/v1/imports/odm', { raw: doc, headers: { 'content-type': 'application/xml' } });
  assert.equal(missing.status, 422, missing.text);
  const manager = addUser(s.db, { username: `odm-manager-${process.pid}`, role: 'manager', study: study.protocol_number });
  const events = auditCount(s.db);
  const refused = await s.request('POST', `/api/v1/imports/odm?study=${study.protocol_number}`,
    { raw: doc, headers: { 'content-type': 'application/xml', authorization: `Bearer ${manager.token}` } });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(auditCount(s.db), events);
  const other = await odmStudy(['001']);
  const stranger = addUser(s.db, { username: `odm-stranger-${process.pid}`, role: 'admin', study: other.study.protocol_number });
  const siteUser = addUser(s.db, { username: `odm-site-${process.pid}`, role: 'site', study: study.protocol_number, site: '001' });
  const before2 = auditCount(s.db);
  for (const [u, want] of [[stranger, 404], [siteUser, 403]]) {
    const r = await s.request('POST', `/api/v1/imports/odm?study=${study.protocol_number}`,
      { raw: doc, headers: { 'content-type': 'application/xml', authorization: `Bearer ${u.token}` } });
    assert.equal(r.status, want, `${u.username}: ${r.text}`);
  }
  assert.equal(auditCount(s.db), before2);
  const done = await post(study.protocol_number, doc);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.json.subjects, { created: 1, unchanged: 0, rejected: 0 });
});

test('a file of many bad subjects: each counted, the first 1,000 listed, the rest said to be', async () => {
  const { study } = await odmStudy(['001']);
  const subjects = Array.from({ length: 1200 }, (_, i) =>
    `  <SubjectData SubjectKey="MANY-${i}">\n    <SiteRef LocationOID="999"/>\n  </SubjectData>`);
  const path = join(dir, 'many.xml');
  writeFileSync(path, `<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" FileOID="F.MANY" FileType="Snapshot" CreationDateTime="2024-01-01T00:00:00" ODMVersion="1.3.2">
 <ClinicalData StudyOID="S" MetaDataVersionOID="v1">
${subjects.join('\n')}
 </ClinicalData>
</ODM>
`);
  const before = auditCount(s.db);
  const r = importOdm(study.protocol_number, path);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.subjects, { created: 0, unchanged: 0, rejected: 1200 });
  assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('rejected line')).length, 1000);
  assert.match(r.stdout, /^rejected: 200 more not listed \(the first 1000 are\)$/m);
  assert.equal(auditCount(s.db), before);
  // The same over the API: counted, listed up to the bound.
  const api = await s.request('POST', `/api/v1/imports/odm?study=${encodeURIComponent(study.protocol_number)}`,
    { raw: readFileSync(path, 'utf8'), headers: { 'content-type': 'application/xml' } });
  assert.equal(api.status, 200, api.text.slice(0, 300));
  assert.equal(api.json.rejected.length, 1000);
  assert.equal(api.json.rejected_not_listed, 200);
});

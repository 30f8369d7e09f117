// CDISC ODM 1.3.2 export: GET /api/v1/studies/{id}/odm and `ctms export
// odm` validate against the official ODM 1.3.2 schema (libxml2's xmllint,
// no network: the imports resolve to local files), `ctms import odm` reads
// the export back into a fresh database to the same document, and the
// export holds what the caller may read: no arm for a blinded caller, only
// its own site for a site user, nothing of a study it cannot see.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUser, auditCount, createApprovedProtocol, createEnrollingStudy, createSite, ctms, startServer, stopChecked } from './lib.mjs';

const SCHEMAS = new URL('../../data/schemas/odm-1.3.2/cdisc-odm-1.3.2', import.meta.url).pathname;
// The W3C schemas the ODM schema imports (../core/), from Debian's xmltooling-schemas.
const W3C = '/usr/share/xml/xmltooling';

let s;
let dir;
let schema;
const F = {};

async function ok(r, status = 200) {
  assert.equal(r.status, status, r.text);
  return r.json;
}

/** The study, sites, schedule, subjects and visits the tests export. */
async function populate(server, protocol) {
  const study = await createEnrollingStudy(server, protocol ? { protocol_number: protocol, title: 'ODM & export <test>' } : { title: 'ODM & export <test>' });
  await createApprovedProtocol(server, study.id);
  const sites = {};
  for (const n of ['101', '102']) {
    sites[n] = await createSite(server, study.id, { site_number: n, institution_name: `Clinic ${n} of ${study.protocol_number}` });
  }
  return { study, sites };
}

async function fill(server, study) {
  const base = `/api/v1/studies/${study.id}`;
  await ok(await server.post(`${base}/visit-definitions`, { number: '1', name: 'SCREENING', planned_day: -7 }), 201);
  await ok(await server.post(`${base}/visit-definitions`, { number: '2', name: 'WEEK 2', planned_day: 14 }), 201);
  const a = await ok(await server.post(`${base}/subjects`, {
    site_number: '101', screening_number: 'S-1', sex: 'F', age: 70, race: 'ASIAN',
    ethnicity: 'NOT HISPANIC OR LATINO', screened_on: '2024-06-10', consented_on: '2024-06-09', arm: 'XANOMELINE HIGH DOSE',
  }), 201);
  const b = await ok(await server.post(`${base}/subjects`, {
    site_number: '102', screening_number: 'S-2', sex: 'M', age: 45, screened_on: '2024-06-12', subject_number: 'R-002',
  }), 201);
  await ok(await server.post(`/api/v1/subjects/${a.id}/visits`, { visit_number: '1', visit_on: '2024-06-10', end_on: '2024-06-11' }), 201);
  await ok(await server.post(`/api/v1/subjects/${a.id}/visits`, { name: 'Phone call', visit_on: '2024-07-01' }), 201);
  await ok(await server.post(`/api/v1/subjects/${a.id}/visits`, { name: 'Phone call', visit_on: '2024-06-20' }), 201);
  await ok(await server.post(`/api/v1/subjects/${a.id}/visits`, { name: 'Adverse event review', visit_on: '2024-06-21' }), 201);
  await ok(await server.post(`/api/v1/subjects/${b.id}/visits`, { visit_number: '2', visit_on: '2024-06-26' }), 201);
}

before(async () => {
  s = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'ctms-odm-export-'));
  // The schema set's own layout: cdisc-odm-1.3.2/ imports ../core/.
  cpSync(SCHEMAS, join(dir, 'cdisc-odm-1.3.2'), { recursive: true });
  mkdirSync(join(dir, 'core'));
  for (const f of ['xml.xsd', 'xmldsig-core-schema.xsd']) copyFileSync(join(W3C, f), join(dir, 'core', f));
  schema = join(dir, 'cdisc-odm-1.3.2', 'ODM1-3-2.xsd');
  Object.assign(F, await populate(s));
  await fill(s, F.study);
});
after(async () => {
  await stopChecked(s);
  rmSync(dir, { recursive: true, force: true });
});

/** xmllint against the official schema, with the network off. */
function validate(xml, name = 'export.xml') {
  const path = join(dir, name);
  writeFileSync(path, xml);
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, path], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stderr };
}

/** The export without what differs between two exports of the same data. */
const canonical = (xml) => xml.replace(/ CreationDateTime="[^"]*"/, '').replace(/ FileOID="[^"]*"/, '');

test('the export validates against the official ODM 1.3.2 schema; a broken one does not', async () => {
  const r = await s.get(`/api/v1/studies/${F.study.id}/odm`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'application/xml');
  const v = validate(r.text);
  assert.ok(v.ok, v.out);
  assert.match(v.out, /validates/);
  // The validator is strict: a required attribute missing, an element out of order.
  assert.equal(validate(r.text.replace(' Mandatory="No"', ''), 'broken1.xml').ok, false);
  assert.equal(validate(r.text.replace(/(<SiteRef [^>]*\/>)(\s*)(<StudyEventData[^>]*>)/, '$3$2$1'), 'broken2.xml').ok, false);
  // What it holds: sites as Locations, the schedule, subjects with their items and visits.
  assert.match(r.text, /<ProtocolName>[^<]+<\/ProtocolName>/);
  assert.match(r.text, /<StudyName>ODM &amp; export &lt;test&gt;<\/StudyName>/);
  assert.match(r.text, /<Location OID="101" Name="Clinic 101 of [^"]+" LocationType="Site">/);
  assert.match(r.text, /<StudyEventDef OID="1" Name="SCREENING" Repeating="No" Type="Scheduled">/);
  assert.match(r.text, /<StudyEventDef OID="UNS.1" Name="Adverse event review" Repeating="Yes" Type="Unscheduled">/);
  assert.match(r.text, /<StudyEventDef OID="UNS.2" Name="Phone call" Repeating="Yes" Type="Unscheduled">/);
  assert.match(r.text, /<SubjectData SubjectKey="S-1">\s*<SiteRef LocationOID="101"\/>/);
  assert.match(r.text, /<ItemData ItemOID="CTMS.ARM" Value="XANOMELINE HIGH DOSE"\/>/);
  assert.match(r.text, /<StudyEventData StudyEventOID="UNS.2" StudyEventRepeatKey="2">\s*<FormData FormOID="F.CTMS.VISIT">\s*<ItemGroupData ItemGroupOID="IG.CTMS.VISIT">\s*<ItemData ItemOID="CTMS.SVSTDTC" Value="2024-07-01"\/>/);
  assert.equal((r.text.match(/<SubjectData /g) || []).length, 2);
  assert.equal((r.text.match(/<ItemData ItemOID="CTMS.SVSTDTC"/g) || []).length, 5);
});

test('round trip: ctms import odm reads the export into a fresh database, which exports the same document', async () => {
  const first = await s.get(`/api/v1/studies/${F.study.id}/odm`);
  const path = join(dir, 'roundtrip.xml');
  writeFileSync(path, first.text);
  const s2 = await startServer();
  try {
    await populate(s2, F.study.protocol_number);
    const r = ctms(['import', 'odm', '--db', s2.db, '--study', F.study.protocol_number, path]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^visit definitions: 2 created, 0 unchanged, 0 rejected$/m);
    assert.match(r.stdout, /^subjects: 2 created, 0 unchanged, 0 rejected$/m);
    assert.match(r.stdout, /^visits: 5 created, 0 unchanged, 0 rejected$/m);
    assert.match(r.stdout, /adapted: 2 undated Common events taken as subject-level data/); // the subject records
    const out = join(dir, 'roundtrip2.xml');
    const e = ctms(['export', 'odm', '--db', s2.db, '--study', F.study.protocol_number, '--out', out]);
    assert.equal(e.status, 0, e.stderr);
    const second = await s2.get(`/api/v1/studies/${(await s2.get(`/api/v1/studies?protocol_number=${F.study.protocol_number}`)).json.items[0].id}/odm`);
    assert.equal(canonical(second.text), canonical(first.text));
    // A second import of the same file writes nothing.
    const events = auditCount(s2.db);
    const again = ctms(['import', 'odm', '--db', s2.db, '--study', F.study.protocol_number, path]);
    assert.match(again.stdout, /^subjects: 0 created, 2 unchanged, 0 rejected$/m);
    assert.match(again.stdout, /^visits: 0 created, 5 unchanged, 0 rejected$/m);
    assert.equal(auditCount(s2.db), events);
  } finally {
    await stopChecked(s2);
  }
});

test('ctms export odm writes the same document as the API; unknown studies and bad usage fail', async () => {
  const api = await s.get(`/api/v1/studies/${F.study.id}/odm`);
  const cli = ctms(['export', 'odm', '--db', s.db, '--study', F.study.protocol_number]);
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(canonical(cli.stdout), canonical(api.text));
  assert.ok(validate(cli.stdout, 'cli.xml').ok);
  const missing = ctms(['export', 'odm', '--db', s.db, '--study', 'NO-SUCH']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no study has the protocol number 'NO-SUCH'/);
  assert.equal(ctms(['export', 'odm', '--db', s.db]).status, 2);
  assert.equal(ctms(['export', 'csv', '--db', s.db]).status, 2);
});

test('a blinded caller never gets the arm; a site user gets its own site; another study is not found', async () => {
  const monitor = addUser(s.db, { username: `odm-monitor-${process.pid}`, role: 'monitor', study: F.study.protocol_number });
  const site = addUser(s.db, { username: `odm-site-${process.pid}`, role: 'site', study: F.study.protocol_number, site: '102' });
  const other = await createEnrollingStudy(s);
  const stranger = addUser(s.db, { username: `odm-stranger-${process.pid}`, role: 'manager', study: other.protocol_number });
  const as = (u) => s.request('GET', `/api/v1/studies/${F.study.id}/odm`, { headers: { authorization: `Bearer ${u.token}` } });

  const m = await as(monitor);
  assert.equal(m.status, 200, m.text);
  assert.ok(validate(m.text, 'monitor.xml').ok);
  assert.doesNotMatch(m.text, /CTMS.ARM" Value=/);
  assert.doesNotMatch(m.text, /XANOMELINE/);
  assert.equal((m.text.match(/<SubjectData /g) || []).length, 2);

  const x = await as(site);
  assert.equal(x.status, 200, x.text);
  assert.ok(validate(x.text, 'site.xml').ok);
  assert.deepEqual([...x.text.matchAll(/<SubjectData SubjectKey="([^"]+)"/g)].map((k) => k[1]), ['S-2']);
  assert.deepEqual([...x.text.matchAll(/<Location OID="([^"]+)"/g)].map((k) => k[1]), ['102']);
  assert.doesNotMatch(x.text, /XANOMELINE/);

  const n = await as(stranger);
  assert.equal(n.status, 404, n.text);
  assert.equal(n.headers.get('content-type'), 'application/problem+json');
  assert.equal((await s.get('/api/v1/studies/999999/odm')).status, 404);
});

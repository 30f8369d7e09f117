// docs/openapi.yaml and the server stay in step: the same routes, the same
// enums and lifecycles, the same fields, and every answer the server gives
// here is declared by the spec and matches its schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { ADMIN, addUser, ctms, startServer, studyBody } from './lib.mjs';

const SPEC_FILE = new URL('../../docs/openapi.yaml', import.meta.url);
const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const DAY = '2025-01-02'; // every lifecycle step in these tests happens on this date

// ---------------------------------------------------------------- the spec

function resolve(node) {
  while (node && typeof node.$ref === 'string') {
    assert.ok(node.$ref.startsWith('#/'), `only local $refs are used: ${node.$ref}`);
    let target = spec;
    for (const part of node.$ref.slice(2).split('/')) target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    assert.notEqual(target, undefined, `$ref ${node.$ref} resolves`);
    node = target;
  }
  return node;
}

const schema = (name) => {
  const s = spec.components.schemas[name];
  assert.ok(s, `components/schemas/${name} exists`);
  return s;
};

function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of HTTP_METHODS) if (item[m]) ops.push({ method: m.toUpperCase(), path, item, op: item[m] });
  }
  return ops;
}

function operation(method, path) {
  const op = spec.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `the spec has ${method} ${path}`);
  return op;
}

/** Query parameters an operation declares (its own and its path's). */
function queryParams(method, path) {
  const all = [...(spec.paths[path].parameters || []), ...(operation(method, path).parameters || [])];
  return all.map(resolve).filter((p) => p.in === 'query');
}

// A small JSON Schema (2020-12 subset) validator: enough for this spec.
function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

function validate(s, v, path = '$', errors = []) {
  s = resolve(s);
  if (s === true || s === undefined) return errors;
  for (const sub of s.allOf || []) validate(sub, v, path, errors);
  for (const key of ['anyOf', 'oneOf']) {
    if (!s[key]) continue;
    const passing = s[key].filter((sub) => validate(sub, v, path, []).length === 0).length;
    if (key === 'anyOf' ? passing === 0 : passing !== 1)
      errors.push(`${path}: ${JSON.stringify(v)} matches ${passing} of the ${key} alternatives`);
  }
  if (s.type) {
    const types = [].concat(s.type);
    const t = typeOf(v);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      errors.push(`${path}: ${JSON.stringify(v)} is ${t}, not ${types.join('|')}`);
      return errors;
    }
  }
  if (s.enum && !s.enum.some((e) => e === v)) errors.push(`${path}: ${JSON.stringify(v)} is not one of ${s.enum.join(', ')}`);
  if (typeof v === 'string') {
    if (s.maxLength !== undefined && [...v].length > s.maxLength) errors.push(`${path}: longer than ${s.maxLength}`);
    if (s.minLength !== undefined && [...v].length < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errors.push(`${path}: ${v} < ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errors.push(`${path}: ${v} > ${s.maximum}`);
  }
  if (Array.isArray(v) && s.items) v.forEach((item, i) => validate(s.items, item, `${path}[${i}]`, errors));
  if (typeOf(v) === 'object') {
    for (const r of s.required || []) if (!(r in v)) errors.push(`${path}: lacks required property ${r}`);
    const props = s.properties || {};
    for (const [k, val] of Object.entries(v)) {
      if (props[k]) validate(props[k], val, `${path}.${k}`, errors);
      else if (s.additionalProperties === false) errors.push(`${path}: has property ${k}, which the schema does not declare`);
    }
  }
  return errors;
}

function assertValid(schemaOrRef, value, what) {
  const errors = validate(schemaOrRef, value);
  assert.deepEqual(errors, [], `${what} matches its schema:\n  ${errors.slice(0, 20).join('\n  ')}`);
}

// ------------------------------------------------------------ the server

let server;

/**
 * Calls the server through an operation of the spec: the answer's status
 * must be one the operation declares, its body must match the declared
 * schema and the declared required headers must be present.
 */
async function call(method, template, params = {}, options = {}) {
  const op = operation(method, template);
  let path = template.replace(/\{(\w+)\}/g, (_, k) => {
    assert.ok(k in params, `a value for {${k}}`);
    return encodeURIComponent(params[k]);
  });
  if (options.query) path += `?${new URLSearchParams(options.query)}`;
  const res = await server.request(method, path, options);
  if (res.status < 300 && options.body !== undefined) {
    const content = resolve(op.requestBody)?.content?.['application/json'];
    assert.ok(content, `${method} ${template} declares a JSON request body`);
    assertValid(content.schema, options.body, `the request body the server accepted for ${method} ${template}`);
  }
  const declared = op.responses[String(res.status)];
  assert.ok(declared, `${method} ${template} answered ${res.status}, which the spec does not declare: ${res.text}`);
  const response = resolve(declared);
  const type = (res.headers.get('content-type') || '').split(';')[0];
  if (response.content) {
    assert.ok(response.content[type], `${method} ${template} ${res.status}: content type ${type} is declared`);
    if (type.endsWith('json')) assertValid(response.content[type].schema, res.json, `${method} ${template} ${res.status}`);
  }
  for (const [name, h] of Object.entries(response.headers || {})) {
    if (!resolve(h).required) continue;
    const value = res.headers.get(name);
    assert.ok(value, `${method} ${template} ${res.status} has the ${name} header`);
    if (name === 'ETag') assert.equal(value, `"${res.json.version}"`);
    if (name === 'Location') assert.match(value, new RegExp(`^/api/v1/[a-z-]+/${res.json.id}$`));
  }
  return res;
}

function expectStatus(res, status) {
  assert.equal(res.status, status, res.text);
  return res;
}

let seq = 0;
const uniq = (prefix) => `${prefix}-${process.pid}-${++seq}`;

async function newStudy(overrides = {}) {
  const r = expectStatus(await call('POST', '/api/v1/studies', {}, { body: studyBody(overrides) }), 201);
  return r.json.id;
}

async function step(template, id, to, extra = {}) {
  return call('POST', template, { id }, { body: { to, on: DAY, ...extra } });
}

async function newStudySite(studyId, overrides = {}) {
  const body = {
    institution_name: uniq('Institution'),
    city: 'Lyon',
    site_number: uniq('S'),
    investigator_name: 'Dr. Test',
    country: 'FR',
    time_zone: 'Europe/Paris',
    ...overrides,
  };
  const r = expectStatus(await call('POST', '/api/v1/studies/{id}/sites', { id: studyId }, { body }), 201);
  return r.json;
}

/** A study in start_up: its sites may be activated. */
async function studyInStartUp() {
  const study = await newStudy();
  expectStatus(await step('/api/v1/studies/{id}/transition', study, 'start_up'), 200);
  return study;
}

/** An enrolling study with an activated site, ready to screen subjects. */
async function enrollingStudy() {
  const study = await studyInStartUp();
  const site = await newStudySite(study);
  for (const to of ['feasibility', 'selected', 'approved', 'contracted', 'initiated', 'activated'])
    expectStatus(await step('/api/v1/study-sites/{id}/transition', site.id, to), 200);
  expectStatus(await step('/api/v1/studies/{id}/transition', study, 'enrolling'), 200);
  return { study, siteNumber: site.site_number };
}

async function newSubject(target, overrides = {}) {
  const body = {
    site_number: target.siteNumber,
    screening_number: uniq('SCR'),
    sex: 'F',
    age: 50,
    screened_on: DAY,
    consented_on: DAY,
    ...overrides,
  };
  return call('POST', '/api/v1/studies/{id}/subjects', { id: target.study }, { body });
}

/** The codes a 422 message lists: "must be one of: A, B, C". */
function listedCodes(res, field) {
  expectStatus(res, 422);
  const e = res.json.errors.find((x) => x.field === field);
  assert.ok(e, `the problem names ${field}: ${res.text}`);
  const m = e.message.match(/must be one of(?: the \w+ states)?: (.*)$/);
  assert.ok(m, `the message lists the codes: ${e.message}`);
  return m[1].split(', ');
}

before(async () => {
  server = await startServer({ demo: true });
});

after(async () => {
  if (!server) return;
  const stderr = () => server.stderr.slice(-2000);
  const code = await server.stop();
  assert.equal(code, 0, `the server exits 0 on SIGTERM:\n${stderr()}`);
});

// ------------------------------------------------------- structure tests

/** The routes answered without credentials. */
const PUBLIC = new Set(['GET /healthz', 'GET /metrics', 'POST /api/v1/sessions']);

test('the spec is OpenAPI 3.1 and every $ref in it resolves', () => {
  assert.match(spec.openapi, /^3\.1\.\d+$/);
  (function walk(node) {
    if (!node || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') resolve(node);
    for (const v of Object.values(node)) walk(v);
  })(spec);
});

test('the routes of `ctms routes` and the operations of the spec are the same set', () => {
  const r = ctms(['routes']);
  assert.equal(r.status, 0, r.stderr);
  const routes = new Set(r.stdout.trim().split('\n').map((l) => l.trim()));
  const ops = new Set(operations().map((o) => `${o.method} ${o.path}`));
  const missing = [...routes].filter((x) => !ops.has(x));
  const extra = [...ops].filter((x) => !routes.has(x));
  assert.ok(routes.size > 0, 'ctms routes lists routes');
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `routes without an operation in docs/openapi.yaml: ${missing.join('; ') || 'none'}\n` +
      `operations in docs/openapi.yaml without a route: ${extra.join('; ') || 'none'}`,
  );
});

test('every operation has an operationId, a summary, a 2xx and a 4xx answer, and declares its path parameters', () => {
  const ids = new Set();
  const problems = [];
  for (const { method, path, item, op } of operations()) {
    const where = `${method} ${path}`;
    if (!op.operationId) problems.push(`${where}: no operationId`);
    else if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is used twice`);
    ids.add(op.operationId);
    if (!op.summary) problems.push(`${where}: no summary`);
    const codes = Object.keys(op.responses || {});
    if (!codes.some((c) => /^2\d\d$/.test(c))) problems.push(`${where}: no 2xx response`);
    if (!codes.some((c) => /^4\d\d$/.test(c))) problems.push(`${where}: no 4xx response`);
    const declared = [...(item.parameters || []), ...(op.parameters || [])].map(resolve)
      .filter((p) => p.in === 'path').map((p) => p.name);
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    if (declared.sort().join() !== inPath.sort().join()) problems.push(`${where}: path parameters ${declared} != ${inPath}`);
    // Records are versioned: changing one takes If-Match. (An account is
    // not a record of the trial: PATCH /users/{id} is not a versioned edit.)
    if (method === 'PATCH' && RECORDS.some((r) => r.one === path)
      && !(op.parameters || []).map(resolve).some((p) => p.name === 'If-Match' && p.required))
      problems.push(`${where}: If-Match is not a required header`);
    if (method === 'PATCH' && !RECORDS.some((r) => r.one === path) && path !== '/api/v1/users/{id}')
      problems.push(`${where}: a PATCH of something that is not a record`);
    // Every route but the public ones takes credentials, and says what
    // happens without them.
    const security = op.security ?? spec.security;
    const isPublic = PUBLIC.has(`${method} ${path}`);
    if (isPublic !== (Array.isArray(security) && security.length === 0))
      problems.push(`${where}: ${isPublic ? 'public, but the spec asks for credentials' : 'needs credentials, but the spec says it is public'}`);
    if (!isPublic && !op.responses['401']) problems.push(`${where}: no 401 answer`);
    if (!isPublic && method !== 'GET' && !op.responses['403']) problems.push(`${where}: no 403 answer (CSRF, roles)`);
    if (!isPublic && method !== 'GET' && !(op.parameters || []).map(resolve).some((p) => p.name === 'X-CSRF-Token'))
      problems.push(`${where}: does not declare X-CSRF-Token`);
  }
  assert.deepEqual(problems, []);
});

test('record schemas agree with their input and patch schemas', () => {
  const problems = [];
  for (const name of ['Organisation', 'Site', 'Study', 'ProtocolVersion', 'StudySite', 'Subject', 'Milestone',
    'VisitDefinition', 'SubjectVisit', 'EnrollmentPlanPoint', 'DiversityGoal']) {
    const rec = schema(name), input = schema(`${name}Input`), patch = schema(`${name}Patch`);
    for (const [field, s] of Object.entries(rec.properties)) {
      const readOnly = resolve(s).readOnly || s.readOnly;
      if (readOnly && patch.properties[field]) problems.push(`${name}.${field} is readOnly but in ${name}Patch`);
      if (!readOnly && !input.properties[field]) problems.push(`${name}.${field} is writable but not in ${name}Input`);
    }
    for (const field of [...Object.keys(input.properties), ...Object.keys(patch.properties)]) {
      if (field !== 'change_reason' && !rec.properties[field]) problems.push(`${name} lacks ${field} of its input/patch`);
    }
    for (const r of input.required) if (!input.properties[r]) problems.push(`${name}Input requires undeclared ${r}`);
    if (input.additionalProperties !== false || patch.additionalProperties !== false || rec.additionalProperties !== false)
      problems.push(`${name}: unknown fields are refused, so additionalProperties must be false`);
  }
  assert.deepEqual(problems, []);
});

// ---------------------------------------------- enums against the server

test('phase, kind, sex, race and ethnicity codes are exactly those the server accepts', async () => {
  const enumOf = (name) => schema(name).enum;
  const listed = async (template, params, body, field) =>
    listedCodes(await call('POST', template, params, { body }), field);

  // The server lists its codes when it refuses one; every code it lists is in
  // the spec. (A long list can come back shortened, so the other direction is
  // checked below by posting every code of the spec.)
  const checkListed = async (enumName, template, params, body, field) => {
    const codes = await listed(template, params, body, field);
    const inSpec = enumOf(enumName);
    assert.deepEqual(codes.filter((c) => !inSpec.includes(c)), [], `codes the server lists for ${field} but ${enumName} lacks`);
    assert.deepEqual(codes, inSpec.filter((c) => codes.includes(c)), `${enumName} lists the server's codes in its order`);
  };
  await checkListed('Phase', '/api/v1/studies', {}, studyBody({ phase: 'PHASE_X' }), 'phase');
  await checkListed('OrganisationKind', '/api/v1/organisations', {}, { name: uniq('Org'), kind: 'charity' }, 'kind');
  await checkListed('MilestoneKind', '/api/v1/studies/{id}/milestones', { id: 1 }, { name: 'M', kind: 'lunch' }, 'kind');
  const badSubject = { site_number: '101', screening_number: uniq('SCR'), age: 40, screened_on: DAY };
  await checkListed('Sex', '/api/v1/studies/{id}/subjects', { id: 1 }, { ...badSubject, sex: 'female' }, 'sex');
  await checkListed('Race', '/api/v1/studies/{id}/subjects', { id: 1 }, { ...badSubject, sex: 'F', race: 'Asian' }, 'race');
  await checkListed('Ethnicity', '/api/v1/studies/{id}/subjects', { id: 1 }, { ...badSubject, sex: 'F', ethnicity: 'LATINO' }, 'ethnicity');
  const visitOn = await demoSubjectDay();
  await checkListed('VisitKind', '/api/v1/studies/{id}/visit-definitions', { id: 1 }, { number: uniq('V'), name: 'V', kind: 'video' }, 'kind');
  await checkListed('VisitKind', '/api/v1/subjects/{id}/visits', { id: 1 }, { name: 'V', visit_on: visitOn, kind: 'video' }, 'kind');
  await checkListed('DiversityDimension', '/api/v1/studies/{id}/diversity-goals', { id: 1 },
    { dimension: 'height', category: 'F', goal_count: 1 }, 'dimension');

  // Every code in the spec is accepted, and one not in the spec is refused.
  for (const phase of enumOf('Phase')) expectStatus(await call('POST', '/api/v1/studies', {}, { body: studyBody({ phase }) }), 201);
  for (const kind of enumOf('OrganisationKind'))
    expectStatus(await call('POST', '/api/v1/organisations', {}, { body: { name: uniq('Org'), kind } }), 201);
  for (const kind of enumOf('MilestoneKind'))
    expectStatus(await call('POST', '/api/v1/studies/{id}/milestones', { id: 1 }, { body: { name: 'M', kind } }), 201);
  for (const kind of enumOf('VisitKind')) {
    expectStatus(await call('POST', '/api/v1/studies/{id}/visit-definitions', { id: 1 }, { body: { number: uniq('V'), name: 'V', kind } }), 201);
    expectStatus(await call('POST', '/api/v1/subjects/{id}/visits', { id: 1 }, { body: { name: 'V', visit_on: visitOn, kind } }), 201);
  }
  const target = await enrollingStudy();
  for (const sex of enumOf('Sex')) expectStatus(await newSubject(target, { sex }), 201);
  for (const race of enumOf('Race')) expectStatus(await newSubject(target, { race }), 201);
  for (const ethnicity of enumOf('Ethnicity')) expectStatus(await newSubject(target, { ethnicity }), 201);
  for (const [field, value] of [['sex', 'f'], ['race', 'CAUCASIAN'], ['ethnicity', 'unknown']]) {
    assert.ok(!schema(field[0].toUpperCase() + field.slice(1)).enum.includes(value));
    const r = expectStatus(await newSubject(target, { [field]: value }), 422);
    assert.deepEqual(r.json.errors.map((e) => e.field), [field]);
  }
  const r = expectStatus(await call('POST', '/api/v1/studies', {}, { body: studyBody({ phase: 'phase2' }) }), 422);
  assert.deepEqual(r.json.errors.map((e) => e.field), ['phase']);
});

test('country codes in the spec are accepted, others refused', async () => {
  const codes = schema('CountryCode').enum;
  for (const country of ['US', 'DE', 'NO', 'NA', 'JP', codes[0], codes.at(-1)]) {
    assert.ok(codes.includes(country), country);
    expectStatus(await call('POST', '/api/v1/sites', {}, { body: { name: uniq('Site'), country } }), 201);
  }
  for (const country of ['XX', 'UK', 'us', 'DEU']) {
    assert.ok(!codes.includes(country), country);
    const r = expectStatus(await call('POST', '/api/v1/sites', {}, { body: { name: uniq('Site'), country } }), 422);
    assert.deepEqual(r.json.errors.map((e) => e.field), ['country']);
  }
});

// ----------------------------------------- lifecycles against the server

/** The audit and signature kind of each record schema. */
const ENTITY_OF = {
  Study: 'study', ProtocolVersion: 'protocol_version', StudySite: 'study_site', Subject: 'subject',
  Milestone: 'milestone', SubjectVisit: 'subject_visit',
};

/** Signs a record as user {username, password} through the spec's operation; answers the signature. */
async function signAs(user, entity, id, meaning, headers = {}) {
  const r = await call('POST', '/api/v1/signatures', {}, {
    body: { entity, id, meaning, username: user.username, password: user.password }, headers,
  });
  return expectStatus(r, 201).json;
}

const LIFECYCLES = {
  Study: {
    transition: '/api/v1/studies/{id}/transition',
    create: async () => newStudy(),
  },
  ProtocolVersion: {
    transition: '/api/v1/protocol-versions/{id}/transition',
    create: async () => {
      const study = await newStudy();
      const r = await call('POST', '/api/v1/studies/{id}/protocol-versions', { id: study },
        { body: { number: uniq('V'), version_date: DAY } });
      return expectStatus(r, 201).json.id;
    },
  },
  StudySite: {
    transition: '/api/v1/study-sites/{id}/transition',
    create: async () => (await newStudySite(await studyInStartUp())).id,
  },
  Subject: {
    transition: '/api/v1/subjects/{id}/transition',
    create: async () => expectStatus(await newSubject(await enrollingStudy()), 201).json.id,
  },
};

for (const [name, how] of Object.entries(LIFECYCLES)) {
  test(`the ${name} lifecycle in the spec is the server's`, async () => {
    const lc = schema(name)['x-ctms-lifecycle'];
    assert.ok(lc, `${name} has x-ctms-lifecycle`);
    const states = Object.keys(lc.states);
    const statusEnum = resolve(schema(name).properties.status.allOf[0]).enum;
    assert.deepEqual([...states].sort(), [...statusEnum].sort(), `${name}: lifecycle states = status enum`);
    for (const s of states) assert.ok(schema(name).description.includes(`| ${s} |`), `${name} description has a row for ${s}`);

    // The server names all its states when asked for one it does not know.
    const first = await how.create();
    assert.deepEqual(listedCodes(await step(how.transition, first, 'no_such_state'), 'to'), statusEnum);
    const created = (await call('GET', how.transition.replace('/transition', ''), { id: first })).json;
    assert.equal(created.status, lc.initial);

    // Walk to every state by the shortest path; ask the server at each state
    // where it may go (a step to the current state is refused with the list).
    const paths = { [lc.initial]: [lc.initial] };
    const queue = [lc.initial];
    while (queue.length) {
      const s = queue.shift();
      for (const n of lc.states[s].next) if (!paths[n]) { paths[n] = [...paths[s], n]; queue.push(n); }
    }
    assert.deepEqual(Object.keys(paths).sort(), [...states].sort(), `${name}: every state is reachable`);
    const probed = new Set();
    for (const target of states) {
      const id = target === lc.initial ? first : await how.create();
      const path = paths[target];
      for (let i = 0; i < path.length; i++) {
        const here = path[i];
        if (!probed.has(here)) {
          probed.add(here);
          const r = expectStatus(await step(how.transition, id, here), 409);
          assert.equal(r.json.type, 'urn:ctms:problem:illegal-transition');
          const m = r.json.detail.match(/it can move to: (.*)$/);
          assert.ok(m, r.json.detail);
          const next = m[1] === 'none' ? [] : m[1].split(', ');
          assert.deepEqual(next, lc.states[here].next, `${name}: the moves from ${here}`);
        }
        const to = path[i + 1];
        if (!to) break;
        if (lc.states[to].reasonRequired) {
          const refused = expectStatus(await step(how.transition, id, to), 422);
          assert.deepEqual(refused.json.errors.map((e) => e.field), ['reason'], `${name}: ${to} needs a reason`);
        }
        const meaning = lc.states[to].signatureRequired;
        if (meaning) {
          // Refused until a manager has signed the record with this meaning.
          const unsigned = expectStatus(await step(how.transition, id, to), 409);
          assert.match(unsigned.json.detail, /signature/);
          await signAs(ADMIN, ENTITY_OF[name], id, meaning);
        }
        const moved = expectStatus(await step(how.transition, id, to, lc.states[to].reasonRequired ? { reason: 'test' } : {}), 200);
        assert.equal(moved.json.status, to);
        assert.equal(moved.json[`${to}_on`], DAY, `${name}: ${to}_on is the step's date`);
      }
    }
  });
}

// -------------------------------------- fields and filters against the server

const RECORDS = [
  { name: 'Organisation', create: '/api/v1/organisations', one: '/api/v1/organisations/{id}' },
  { name: 'Site', create: '/api/v1/sites', one: '/api/v1/sites/{id}' },
  { name: 'Study', create: '/api/v1/studies', one: '/api/v1/studies/{id}' },
  { name: 'ProtocolVersion', create: '/api/v1/studies/{id}/protocol-versions', one: '/api/v1/protocol-versions/{id}' },
  { name: 'StudySite', create: '/api/v1/studies/{id}/sites', one: '/api/v1/study-sites/{id}' },
  { name: 'Subject', create: '/api/v1/studies/{id}/subjects', one: '/api/v1/subjects/{id}' },
  { name: 'Milestone', create: '/api/v1/studies/{id}/milestones', one: '/api/v1/milestones/{id}' },
  { name: 'VisitDefinition', create: '/api/v1/studies/{id}/visit-definitions', one: '/api/v1/visit-definitions/{id}' },
  { name: 'SubjectVisit', create: '/api/v1/subjects/{id}/visits', one: '/api/v1/visits/{id}', parent: 'subject' },
  { name: 'EnrollmentPlanPoint', create: '/api/v1/studies/{id}/enrollment-plan', one: '/api/v1/enrollment-plan/{id}' },
  { name: 'DiversityGoal', create: '/api/v1/studies/{id}/diversity-goals', one: '/api/v1/diversity-goals/{id}' },
  { name: 'AdverseEvent', create: '/api/v1/subjects/{id}/adverse-events', one: '/api/v1/adverse-events/{id}', parent: 'subject' },
  { name: 'Exposure', create: '/api/v1/subjects/{id}/exposures', one: '/api/v1/exposures/{id}', parent: 'subject' },
];

const NOT_TAKEN = /is not a field of|is set by ctms|is set by the lifecycle/;

for (const rec of RECORDS) {
  test(`${rec.name}: the fields the server takes on create and PATCH are those of ${rec.name}Input and ${rec.name}Patch`, async () => {
    const input = schema(`${rec.name}Input`), patch = schema(`${rec.name}Patch`), full = schema(rec.name);
    const every = [...new Set([...Object.keys(full.properties), ...Object.keys(input.properties), ...Object.keys(patch.properties)])]
      .filter((f) => f !== 'change_reason');

    // Required: what an empty body is refused for.
    let r = expectStatus(await call('POST', rec.create, { id: 1 }, { body: {} }), 422);
    const required = r.json.errors.filter((e) => e.message === 'is required').map((e) => e.field);
    assert.deepEqual(required.sort(), [...input.required].sort(), `${rec.name}Input.required`);

    // Taken on create: every field set to null; the server names those it never takes.
    r = expectStatus(await call('POST', rec.create, { id: 1 }, { body: Object.fromEntries(every.map((f) => [f, null])) }), 422);
    const refused = new Set(r.json.errors.filter((e) => NOT_TAKEN.test(e.message)).map((e) => e.field));
    assert.deepEqual(every.filter((f) => !refused.has(f)).sort(), Object.keys(input.properties).sort(),
      `${rec.name}Input names the fields the server takes on create`);

    // Taken by PATCH: the same probe on an existing record (refused as a whole, so nothing changes).
    const id = await anyRecordId(rec.name);
    const current = expectStatus(await call('GET', rec.one, { id }), 200);
    r = expectStatus(await call('PATCH', rec.one, { id }, {
      body: Object.fromEntries(every.map((f) => [f, null])),
      headers: { 'If-Match': current.headers.get('etag') },
    }), 422);
    const notPatchable = new Set(r.json.errors
      .filter((e) => NOT_TAKEN.test(e.message) || e.message === 'cannot be changed after creation')
      .map((e) => e.field));
    assert.deepEqual(every.filter((f) => !notPatchable.has(f)).sort(),
      Object.keys(patch.properties).filter((f) => f !== 'change_reason').sort(),
      `${rec.name}Patch names the fields the server lets PATCH change`);
    const after = expectStatus(await call('GET', rec.one, { id }), 200);
    assert.equal(after.json.version, current.json.version, 'a refused PATCH changes nothing');
  });
}

/** A day the demo's subject 1 may have a visit on: its enrollment (or screening) date. */
async function demoSubjectDay() {
  const subject = expectStatus(await call('GET', '/api/v1/subjects/{id}', { id: 1 }), 200).json;
  return subject.enrolled_on || subject.screened_on;
}

/**
 * A scheduled visit of the demo's subject 1 (study 1), for the kinds the demo
 * portfolio does not hold: a new visit definition on study day 1 and the
 * subject's visit on its enrollment day.
 */
async function demoVisit() {
  const definition = expectStatus(await call('POST', '/api/v1/studies/{id}/visit-definitions', { id: 1 },
    { body: { number: uniq('V'), name: 'BASELINE', planned_day: 1, window_after: 2 } }), 201).json;
  const visit = expectStatus(await call('POST', '/api/v1/subjects/{id}/visits', { id: 1 },
    { body: { visit_number: definition.number, visit_on: await demoSubjectDay() } }), 201).json;
  assert.equal(visit.visit_definition_id, definition.id);
  return visit;
}

let planPoints = 0;
/** A new point of the demo study 1's enrollment plan (the demo has none), a day after the last. */
async function demoPlanPoint() {
  const on = new Date(Date.UTC(2027, 5, 30 + planPoints++)).toISOString().slice(0, 10);
  return expectStatus(await call('POST', '/api/v1/studies/{id}/enrollment-plan', { id: 1 },
    { body: { planned_on: on, target_cumulative: 120, notes: 'last subject planned' } }), 201).json;
}

const GOAL_BANDS = ['65-74', '75-84', '85+', '18-64', '0-17'];
let goals = 0;
/** A new diversity goal of the demo study 1 (the demo has none), for the next age band. */
async function demoGoal() {
  assert.ok(goals < GOAL_BANDS.length, 'an age band is left for a new goal');
  return expectStatus(await call('POST', '/api/v1/studies/{id}/diversity-goals', { id: 1 },
    { body: { dimension: 'age_band', category: GOAL_BANDS[goals++], goal_percent: 25 } }), 201).json;
}

/** The id of some record of a kind in the demo portfolio (made when the demo has none). */
async function anyRecordId(name) {
  const lists = {
    Organisation: ['/api/v1/organisations', {}],
    Site: ['/api/v1/sites', {}],
    Study: ['/api/v1/studies', {}],
    ProtocolVersion: ['/api/v1/studies/{id}/protocol-versions', { id: 1 }],
    StudySite: ['/api/v1/studies/{id}/sites', { id: 1 }],
    Subject: ['/api/v1/studies/{id}/subjects', { id: 1 }],
    Milestone: ['/api/v1/studies/{id}/milestones', { id: 1 }],
    VisitDefinition: ['/api/v1/studies/{id}/visit-definitions', { id: 1 }],
    SubjectVisit: ['/api/v1/subjects/{id}/visits', { id: 1 }],
    EnrollmentPlanPoint: ['/api/v1/studies/{id}/enrollment-plan', { id: 1 }],
    DiversityGoal: ['/api/v1/studies/{id}/diversity-goals', { id: 1 }],
    AdverseEvent: ['/api/v1/subjects/{id}/adverse-events', { id: 1 }],
    Exposure: ['/api/v1/subjects/{id}/exposures', { id: 1 }],
  };
  const [template, params] = lists[name];
  const r = expectStatus(await call('GET', template, params, { query: { limit: '1' } }), 200);
  if (r.json.items.length === 0 && name === 'VisitDefinition') return (await demoVisit()).visit_definition_id;
  if (r.json.items.length === 0 && name === 'SubjectVisit') return (await demoVisit()).id;
  if (r.json.items.length === 0 && name === 'EnrollmentPlanPoint') return (await demoPlanPoint()).id;
  if (r.json.items.length === 0 && name === 'DiversityGoal') return (await demoGoal()).id;
  if (r.json.items.length === 0 && name === 'AdverseEvent')
    return expectStatus(await call('POST', '/api/v1/subjects/{id}/adverse-events', { id: 1 },
      { body: { term: 'HEADACHE', serious: 'N', onset_on: await demoSubjectDay() } }), 201).json.id;
  if (r.json.items.length === 0 && name === 'Exposure')
    return expectStatus(await call('POST', '/api/v1/subjects/{id}/exposures', { id: 1 },
      { body: { start_on: await demoSubjectDay(), dose: '10', dose_unit: 'mg' } }), 201).json.id;
  assert.equal(r.json.items.length, 1, `the demo portfolio has a ${name}`);
  return r.json.items[0].id;
}

test('list filters in the spec are exactly the fields the server filters by', async () => {
  // The lists of records (not the audit trail, users, tokens or signatures).
  const recordLists = new Set(RECORDS.map((r) => `#/components/schemas/${r.name}List`));
  const lists = operations().filter((o) => o.method === 'GET' && recordLists.has(resolve(o.op.responses['200'])
    .content?.['application/json']?.schema?.$ref));
  assert.equal(lists.length, 15);
  for (const { path } of lists) {
    const params = { id: 1 };
    const listSchema = resolve(resolve(operation('GET', path).responses['200']).content['application/json'].schema);
    const item = resolve(listSchema.properties.items.items);
    const filters = queryParams('GET', path).filter((p) => !['limit', 'cursor', 'format'].includes(p.name));
    // Every record list is also a download, of a declared content type.
    for (const format of ['csv', 'xlsx']) expectStatus(await call('GET', path, params, { query: { format } }), 200);
    const sample = (s) => {
      s = resolve(s);
      if (s.enum) return s.enum[0];
      return [].concat(s.type).includes('integer') ? '1' : 'x';
    };
    for (const f of filters) {
      assert.ok(item.properties[f.name], `${path}: filter ${f.name} is a field of the record`);
      expectStatus(await call('GET', path, params, { query: { [f.name]: sample(f.schema) } }), 200);
    }
    const names = new Set(filters.map((f) => f.name));
    for (const field of Object.keys(item.properties).filter((k) => !names.has(k))) {
      const r = expectStatus(await call('GET', path, params, { query: { [field]: '1' } }), 422);
      assert.deepEqual(r.json.errors.map((e) => e.field), [field], `${path}: ${field} is not a filter`);
    }
  }
});

// ------------------------------------------ accounts and signatures

/** Placeholder values for the path parameters of a template. */
const fill = (template) => template.replace(/\{(\w+)\}/g, '1');

test('without credentials every route but the public ones answers the declared 401', async () => {
  for (const { method, path } of operations()) {
    if (PUBLIC.has(`${method} ${path}`)) continue;
    const params = Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], 1]));
    const options = { headers: { authorization: null } };
    if (method === 'POST' || method === 'PATCH') options.body = {};
    if (method === 'PATCH') options.headers['If-Match'] = '"1"';
    const r = expectStatus(await call(method, path, params, options), 401);
    assert.equal(r.json.type, 'urn:ctms:problem:unauthenticated', `${method} ${fill(path)}`);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="ctms"');
  }
  // A token that is not one, or not a bearer token at all.
  for (const authorization of ['Bearer ctms_' + '0'.repeat(64), 'Basic dGVzdDp0ZXN0', 'Bearer '])
    expectStatus(await call('GET', '/api/v1/studies', {}, { headers: { authorization } }), 401);
});

test('sign-in, the session cookie with its CSRF token, and sign-out answer as the spec says', async () => {
  const anonymous = { authorization: null };
  let r = expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: ADMIN.username, password: 'not the password' }, headers: anonymous,
  }), 401);
  assert.equal(r.json.type, 'urn:ctms:problem:unauthenticated');
  expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: 'nobody-at-all', password: 'not the password' }, headers: anonymous,
  }), 401);
  expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: ADMIN.username, password: ADMIN.password, colour: 'red' }, headers: anonymous,
  }), 422);

  r = expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: ADMIN.username, password: ADMIN.password }, headers: anonymous,
  }), 201);
  const setCookie = r.headers.get('set-cookie');
  assert.match(setCookie, /^ctms_session=[0-9a-f]{64}; /);
  for (const attribute of ['Path=/', 'HttpOnly', 'SameSite=Strict']) assert.ok(setCookie.includes(attribute), setCookie);
  assert.equal(r.json.user.username, ADMIN.username);
  const session = { authorization: null, cookie: setCookie.split(';')[0] };
  const csrf = { ...session, 'X-CSRF-Token': r.json.csrf_token };

  r = expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: session }), 200);
  assert.equal(r.json.session, true);
  assert.equal(r.json.username, ADMIN.username);
  r = expectStatus(await call('GET', '/api/v1/sessions/current'), 200);
  assert.equal(r.json.session, false, 'a request made with a token has no session');
  expectStatus(await call('DELETE', '/api/v1/sessions/current'), 400);

  // A change made with the cookie needs the CSRF token; reads do not.
  const org = { name: uniq('Org'), kind: 'vendor' };
  r = expectStatus(await call('POST', '/api/v1/organisations', {}, { body: org, headers: session }), 403);
  assert.equal(r.json.type, 'urn:ctms:problem:forbidden');
  expectStatus(await call('POST', '/api/v1/organisations', {}, {
    body: org, headers: { ...session, 'X-CSRF-Token': 'f'.repeat(64) },
  }), 403);
  expectStatus(await call('POST', '/api/v1/organisations', {}, { body: org, headers: csrf }), 201);
  expectStatus(await call('GET', '/api/v1/organisations', {}, { query: { name: org.name }, headers: session }), 200);

  expectStatus(await call('DELETE', '/api/v1/sessions/current', {}, { headers: session }), 403);
  r = expectStatus(await call('DELETE', '/api/v1/sessions/current', {}, { headers: csrf }), 204);
  assert.match(r.headers.get('set-cookie'), /^ctms_session=; .*Max-Age=0/);
  expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: session }), 401);
});

test('users, grants and tokens answer as the spec says', async () => {
  const username = `u${process.pid}-${++seq}`;
  const password = 'a long enough passphrase';
  let r = expectStatus(await call('POST', '/api/v1/users', {}, {
    body: { username, display_name: 'Dr. Spec Reader', email: 'spec.reader@example.org', password },
  }), 201);
  const id = r.json.id;
  assert.deepEqual([r.json.status, r.json.totp, r.json.grants], ['active', false, []]);
  expectStatus(await call('POST', '/api/v1/users', {}, { body: { username, display_name: 'Again', password } }), 409);
  r = expectStatus(await call('POST', '/api/v1/users', {}, { body: { username: 'Bad Name', display_name: 'X', password: 'short' } }), 422);
  expectStatus(await call('GET', '/api/v1/users'), 200);
  expectStatus(await call('GET', '/api/v1/users/{id}', { id }), 200);
  expectStatus(await call('GET', '/api/v1/users/{id}', { id: 999999 }), 404);

  // Grants: every study, one study, one study-site.
  r = expectStatus(await call('POST', '/api/v1/users/{id}/grants', { id }, { body: { role: 'viewer' } }), 201);
  const global = r.json.grants[0];
  assert.deepEqual(global, { id: global.id, role: 'viewer', study_id: null, study_site_id: null, unblinded: false });
  r = expectStatus(await call('POST', '/api/v1/users/{id}/grants', { id }, { body: { role: 'monitor', study_id: 1, unblinded: true } }), 201);
  // A site of study 1 other than subject 1's (site 101).
  const site = expectStatus(await call('GET', '/api/v1/studies/{id}/sites', { id: 1 }, { query: { limit: '1000' } }), 200)
    .json.items.at(-1);
  assert.notEqual(site.site_number, '101');
  r = expectStatus(await call('POST', '/api/v1/users/{id}/grants', { id }, { body: { role: 'site', study_site_id: site.id } }), 201);
  assert.deepEqual(r.json.grants.map((g) => [g.role, g.study_id, g.study_site_id, g.unblinded]),
    [['viewer', null, null, false], ['monitor', 1, null, true], ['site', site.study_id, site.id, false]]);
  let listed = listedCodes(await call('POST', '/api/v1/users/{id}/grants', { id }, { body: { role: 'owner' } }), 'role');
  assert.deepEqual(listed, schema('Role').enum, 'the roles the server names are those of Role');
  expectStatus(await call('POST', '/api/v1/users/{id}/grants', { id: 999999 }, { body: { role: 'viewer' } }), 404);
  expectStatus(await call('DELETE', '/api/v1/grants/{id}', { id: global.id }), 204);
  expectStatus(await call('DELETE', '/api/v1/grants/{id}', { id: global.id }), 404);

  // Tokens: made, listed without their secret, used, revoked.
  r = expectStatus(await call('POST', '/api/v1/users/{id}/tokens', { id }, { body: { name: 'spec check', days: 7 } }), 201);
  const token = r.json;
  r = expectStatus(await call('POST', '/api/v1/users/{id}/tokens', { id }, { body: { days: 0 } }), 201);
  expectStatus(await call('POST', '/api/v1/users/{id}/tokens', { id }, { body: { days: -1 } }), 422);
  r = expectStatus(await call('GET', '/api/v1/users/{id}/tokens', { id }), 200);
  assert.deepEqual(r.json.items.map((t) => [t.name, t.expires_at === null]), [['spec check', false], ['token', true]]);
  assert.ok(!r.text.includes(token.token.slice(5)), 'a list of tokens never shows their secrets');
  const theirs = { authorization: `Bearer ${token.token}` };
  r = expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: theirs }), 200);
  assert.equal(r.json.id, id);
  // What they may not do is declared too: a monitor administers nothing,
  // reads no audit trail, and changes no subject.
  expectStatus(await call('GET', '/api/v1/users', {}, { headers: theirs }), 403);
  expectStatus(await call('GET', '/api/v1/users/{id}', { id: 1 }, { headers: theirs }), 403);
  expectStatus(await call('GET', '/api/v1/audit', {}, { headers: theirs }), 403);
  expectStatus(await call('POST', '/api/v1/users/{id}/tokens', { id: 1 }, { body: {}, headers: theirs }), 403);
  const subject = expectStatus(await call('GET', '/api/v1/subjects/{id}', { id: 1 }, { headers: theirs }), 200).json;
  expectStatus(await call('PATCH', '/api/v1/subjects/{id}', { id: 1 }, {
    body: { age: subject.age }, headers: { ...theirs, 'If-Match': `"${subject.version}"` },
  }), 403);
  expectStatus(await call('GET', '/api/v1/studies/{id}/summary', { id: 1 }, { headers: theirs }), 200);
  expectStatus(await call('DELETE', '/api/v1/tokens/{id}', { id: token.id }, { headers: theirs }), 204);
  expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: theirs }), 401);
  expectStatus(await call('DELETE', '/api/v1/tokens/{id}', { id: token.id }), 404);

  // Changing their own password takes the current one; an administrator disables the account.
  const user = { username, password };
  const own = { authorization: null, ...await cookieOf(user) };
  expectStatus(await call('PATCH', '/api/v1/users/{id}', { id }, {
    body: { password: 'another long passphrase', current_password: 'not my password' }, headers: own,
  }), 403);
  r = expectStatus(await call('PATCH', '/api/v1/users/{id}', { id }, {
    body: { password: 'another long passphrase', current_password: password }, headers: own,
  }), 200);
  user.password = 'another long passphrase';
  // A new password ends the sessions of the old one.
  expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: own }), 401);
  Object.assign(own, await cookieOf(user));
  expectStatus(await call('PATCH', '/api/v1/users/{id}', { id }, { body: { status: 'disabled' }, headers: own }), 403);
  r = expectStatus(await call('PATCH', '/api/v1/users/{id}', { id }, { body: { status: 'disabled', reason: 'left' } }), 200);
  assert.equal(r.json.status, 'disabled');
  expectStatus(await call('GET', '/api/v1/sessions/current', {}, { headers: own }), 401);
  expectStatus(await call('POST', '/api/v1/sessions', {}, { body: user, headers: { authorization: null } }), 401);
  r = expectStatus(await call('PATCH', '/api/v1/users/{id}', { id }, { body: { status: 'active' } }), 200);
  assert.equal(r.json.status, 'active');
  await cookieOf(user);
});

/** Signs user {username, password} in: answers the session's cookie and CSRF headers. */
async function cookieOf(user) {
  const r = expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: user.username, password: user.password }, headers: { authorization: null },
  }), 201);
  return { cookie: r.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': r.json.csrf_token };
}

test('repeated failed sign-ins lock the account: the declared 423', async () => {
  const user = addUser(server.db, { username: `locked${process.pid}`, role: 'viewer', days: null });
  const wrong = { username: user.username, password: 'not the password at all' };
  for (let i = 0; i < 5; i++)
    expectStatus(await call('POST', '/api/v1/sessions', {}, { body: wrong, headers: { authorization: null } }), 401);
  const r = expectStatus(await call('POST', '/api/v1/sessions', {}, {
    body: { username: user.username, password: user.password }, headers: { authorization: null },
  }), 423);
  assert.equal(r.json.type, 'urn:ctms:problem:locked');
  const users = expectStatus(await call('GET', '/api/v1/users'), 200).json.items;
  assert.ok(users.find((u) => u.username === user.username).locked_until, 'the account shows until when it is locked');
});

test('the arm is in the answers of unblinded users only, and set by them only', async () => {
  const blinded = addUser(server.db, { username: `blind${process.pid}`, role: 'manager', study: 'DEMO-ONC-301' });
  const theirs = { authorization: `Bearer ${blinded.token}` };
  const subject = expectStatus(await call('GET', '/api/v1/subjects/{id}', { id: 1 }), 200).json;
  assert.ok('arm' in subject, 'the test administrator is unblinded');
  const seen = expectStatus(await call('GET', '/api/v1/subjects/{id}', { id: 1 }, { headers: theirs }), 200).json;
  assert.ok(!('arm' in seen), 'a blinded user is not shown the arm');
  const list = expectStatus(await call('GET', '/api/v1/studies/{id}/subjects', { id: 1 }, { headers: theirs }), 200).json;
  assert.ok(list.items.every((x) => !('arm' in x)));
  expectStatus(await call('PATCH', '/api/v1/subjects/{id}', { id: 1 }, {
    body: { arm: 'Placebo' }, headers: { ...theirs, 'If-Match': `"${subject.version}"` },
  }), 403);
  const r = expectStatus(await call('PATCH', '/api/v1/subjects/{id}', { id: 1 }, {
    body: { arm: 'DMO-1001 200 mg' }, headers: { 'If-Match': `"${subject.version}"` },
  }), 200);
  assert.equal(r.json.arm, 'DMO-1001 200 mg');
});

test('signatures and the signatures every signable record shows answer as the spec says', async () => {
  const milestone = expectStatus(await call('POST', '/api/v1/studies/{id}/milestones', { id: 1 },
    { body: { name: 'Signed milestone', kind: 'other', planned_on: '2027-01-31' } }), 201).json;
  assert.deepEqual(milestone.signatures, []);
  const sig = await signAs(ADMIN, 'milestone', milestone.id, 'reviewed');
  assert.deepEqual([sig.entity, sig.entity_id, sig.record_version, sig.meaning, sig.signer_name, sig.valid],
    ['milestone', milestone.id, milestone.version, 'reviewed', ADMIN.display_name, true]);
  let r = expectStatus(await call('GET', '/api/v1/milestones/{id}', { id: milestone.id }), 200);
  assert.deepEqual(r.json.signatures, [{ id: sig.id, signer_name: sig.signer_name, meaning: 'reviewed', signed_at: sig.signed_at, valid: true }]);
  r = expectStatus(await call('GET', '/api/v1/signatures', {}, { query: { entity: 'milestone', id: String(milestone.id) } }), 200);
  assert.deepEqual(r.json.items, [sig]);
  // A change to what was signed shows the signature invalid.
  expectStatus(await call('PATCH', '/api/v1/milestones/{id}', { id: milestone.id }, {
    body: { planned_on: '2027-02-28' }, headers: { 'If-Match': `"${milestone.version}"` },
  }), 200);
  r = expectStatus(await call('GET', '/api/v1/signatures', {}, { query: { entity: 'milestone', id: String(milestone.id) } }), 200);
  assert.equal(r.json.items[0].valid, false);

  // The kinds and meanings the server names are those of the spec.
  const body = { entity: 'milestone', id: milestone.id, meaning: 'approved', username: ADMIN.username, password: ADMIN.password };
  assert.deepEqual(listedCodes(await call('POST', '/api/v1/signatures', {}, { body: { ...body, meaning: 'liked' } }), 'meaning'),
    schema('SignatureMeaning').enum);
  for (const entity of schema('SignableEntity').enum)
    expectStatus(await call('GET', '/api/v1/signatures', {}, { query: { entity, id: '1' } }), 200);
  expectStatus(await call('POST', '/api/v1/signatures', {}, { body: { ...body, entity: 'organisation', id: 1 } }), 422);
  expectStatus(await call('POST', '/api/v1/signatures', {}, { body: { ...body, id: 999999 } }), 404);
  expectStatus(await call('POST', '/api/v1/signatures', {}, { body: { ...body, password: 'not the password' } }), 403);
  // Every view of the six signable kinds carries the list.
  for (const [template, id] of [['/api/v1/studies/{id}', 1], ['/api/v1/study-sites/{id}', 1], ['/api/v1/subjects/{id}', 1],
    ['/api/v1/protocol-versions/{id}', 1]]) {
    r = expectStatus(await call('GET', template, { id }), 200);
    assert.ok(Array.isArray(r.json.signatures), `${template} shows its signatures`);
  }
});

test('the audit trail, account and signature events included, matches its schema', async () => {
  let cursor, pages = 0;
  const actions = new Set();
  do {
    const page = expectStatus(await call('GET', '/api/v1/audit', {}, { query: { limit: '1000', ...(cursor && { cursor }) } }), 200);
    for (const e of page.json.items) actions.add(`${e.entity} ${e.action}`);
    cursor = page.json.next_cursor;
    pages++;
  } while (cursor && pages < 100);
  for (const a of ['user create', 'user login', 'user logout', 'user login_failed', 'grant create', 'grant revoke',
    'api_token create', 'api_token revoke', 'signature sign'])
    assert.ok(actions.has(a), `the trail has a ${a} event`);
});

// ----------------------------------- the server's answers match the schemas

test('records, lists, summaries, audit events and health answers match their schemas', async () => {
  expectStatus(await call('GET', '/healthz'), 200);
  const metrics = expectStatus(await call('GET', '/metrics'), 200);
  assert.match(metrics.text, /^ctms_http_requests_total\{class="2xx"\} \d+$/m);

  const visit = await demoVisit();
  assert.ok(visit.planned_on && typeof visit.in_window === 'boolean', 'a scheduled visit of an enrolled subject has its window');
  for (const rec of RECORDS) {
    const template = {
      Organisation: '/api/v1/organisations', Site: '/api/v1/sites', Study: '/api/v1/studies',
    }[rec.name] || rec.create;
    const studies = expectStatus(await call('GET', '/api/v1/studies', {}, { query: { limit: '1000' } }), 200).json.items;
    let parents = template.includes('{id}') ? studies : [{ id: 0 }];
    if (rec.parent === 'subject') {
      parents = [];
      for (const study of studies)
        parents.push(...expectStatus(await call('GET', '/api/v1/studies/{id}/subjects', { id: study.id }, { query: { limit: '1000' } }), 200).json.items);
    }
    for (const study of parents) {
      const all = expectStatus(await call('GET', template, { id: study.id }, { query: { limit: '1000' } }), 200);
      for (const item of all.json.items.slice(0, 3)) expectStatus(await call('GET', rec.one, { id: item.id }), 200);
    }
  }
  for (const study of expectStatus(await call('GET', '/api/v1/studies'), 200).json.items) {
    expectStatus(await call('GET', '/api/v1/studies/{id}/summary', { id: study.id }), 200);
    for (const by of [undefined, 'site', 'country', 'month'])
      expectStatus(await call('GET', '/api/v1/studies/{id}/enrollment', { id: study.id }, by ? { query: { by } } : {}), 200);
    expectStatus(await call('GET', '/api/v1/studies/{id}/forecast', { id: study.id }), 200);
    expectStatus(await call('GET', '/api/v1/studies/{id}/diversity', { id: study.id }), 200);
  }
  // A what-if and a plan and a goal on the demo's enrolling study, so that
  // every part of the answers is there to be checked.
  await demoPlanPoint();
  await demoGoal();
  expectStatus(await call('POST', '/api/v1/studies/{id}/forecast', { id: 1 }, {
    body: { open: [{ label: 'New', count: 2, on: '2020-01-01' }] },
  }), 422);
  const whatIf = expectStatus(await call('POST', '/api/v1/studies/{id}/forecast', { id: 1 }, {
    body: { as_of: '2025-06-30', open: [{ label: 'New', count: 2, on: '2025-08-01' }, { site_number: '501', on: '2025-07-15' }],
      close: [{ site_number: '401', on: '2025-09-01' }], by: ['2025-12-31'], seed: 7 },
  }), 200);
  assert.equal(whatIf.json.what_if, true);
  const plan = expectStatus(await call('GET', '/api/v1/studies/{id}/enrollment', { id: 1 }, { query: { as_of: '2025-06-30', by: 'month' } }), 200);
  assert.ok(plan.json.groups.length > 0);
  const diversity = expectStatus(await call('GET', '/api/v1/studies/{id}/diversity', { id: 1 }), 200);
  assert.ok(diversity.json.goals.length > 0);

  // The audit trail, page by page.
  let cursor, pages = 0;
  do {
    const page = expectStatus(await call('GET', '/api/v1/audit', {}, { query: { limit: '100', ...(cursor && { cursor }) } }), 200);
    cursor = page.json.next_cursor;
    pages++;
  } while (cursor && pages < 100);
  assert.ok(pages > 1, 'the demo audit trail spans pages');
  const one = expectStatus(await call('GET', '/api/v1/audit', {}, { query: { entity: 'study', id: '1' } }), 200);
  assert.ok(one.json.items.length > 0 && one.json.items.every((e) => e.entity === 'study' && e.entity_id === 1));
  // The entity kinds the server names are those of AuditEntity, and each has a trail.
  assert.deepEqual(listedCodes(await call('GET', '/api/v1/audit', {}, { query: { entity: 'no_such_kind' } }), 'entity'),
    schema('AuditEntity').enum);
  const point = await demoPlanPoint(), goal = await demoGoal();
  for (const [entity, id] of [['visit_definition', visit.visit_definition_id], ['subject_visit', visit.id],
    ['enrollment_plan_point', point.id], ['diversity_goal', goal.id]]) {
    const trail = expectStatus(await call('GET', '/api/v1/audit', {}, { query: { entity, id: String(id) } }), 200);
    assert.deepEqual(trail.json.items.map((e) => [e.entity, e.entity_id, e.action]), [[entity, id, 'create']]);
  }
});

test('error answers are declared problems: 400, 404, 409, 412, 422, 428', async () => {
  let r = expectStatus(await call('GET', '/api/v1/studies', {}, { query: { limit: '0' } }), 400);
  assert.equal(r.json.type, 'urn:ctms:problem:bad-request');
  expectStatus(await call('GET', '/api/v1/studies', {}, { query: { cursor: 'not-a-cursor' } }), 400);
  r = expectStatus(await call('GET', '/api/v1/studies/{id}', { id: 999999 }), 404);
  assert.equal(r.json.type, 'urn:ctms:problem:not-found');
  expectStatus(await call('GET', '/api/v1/studies/{id}/subjects', { id: 999999 }), 404);
  expectStatus(await call('GET', '/api/v1/subjects/{id}/visits', { id: 999999 }), 404);
  expectStatus(await call('POST', '/api/v1/studies', {}, { raw: '{"not json', headers: { 'content-type': 'application/json' } }), 400);

  const body = studyBody();
  expectStatus(await call('POST', '/api/v1/studies', {}, { body }), 201);
  r = expectStatus(await call('POST', '/api/v1/studies', {}, { body }), 409);
  assert.equal(r.json.type, 'urn:ctms:problem:conflict');
  assert.deepEqual(r.json.errors.map((e) => e.field), ['protocol_number']);

  const id = await newStudy();
  r = expectStatus(await call('PATCH', '/api/v1/studies/{id}', { id }, { body: { acronym: 'X' } }), 428);
  assert.equal(r.json.type, 'urn:ctms:problem:precondition-required');
  r = expectStatus(await call('PATCH', '/api/v1/studies/{id}', { id }, { body: { acronym: 'X' }, headers: { 'If-Match': '"1"' } }), 200);
  assert.equal(r.json.version, 2);
  r = expectStatus(await call('PATCH', '/api/v1/studies/{id}', { id }, { body: { acronym: 'Y' }, headers: { 'If-Match': '"1"' } }), 412);
  assert.equal(r.json.type, 'urn:ctms:problem:stale-version');
  assert.equal(r.json.current.version, 2);
  assert.equal(r.json.current.acronym, 'X');
  expectStatus(await step('/api/v1/studies/{id}/transition', id, 'start_up'), 200);
  r = expectStatus(await call('POST', '/api/v1/studies/{id}/transition', { id },
    { body: { to: 'enrolling', on: DAY }, headers: { 'If-Match': '"2"' } }), 412);
  assert.equal(r.json.current.status, 'start_up');
  r = expectStatus(await call('POST', '/api/v1/studies/{id}/transition', { id }, { body: { to: 'closed', on: DAY } }), 409);
  assert.equal(r.json.type, 'urn:ctms:problem:illegal-transition');
  r = expectStatus(await call('POST', '/api/v1/studies/{id}/transition', { id }, { body: { to: 'enrolling', on: '2199-12-31' } }), 422);
  assert.deepEqual(r.json.errors.map((e) => e.field), ['on']);
});

test('Idempotency-Key replays the first answer with its ETag and Location', async () => {
  const headers = { 'Idempotency-Key': uniq('key') };
  const body = { name: uniq('Org'), kind: 'vendor' };
  const first = expectStatus(await call('POST', '/api/v1/organisations', {}, { body, headers }), 201);
  const again = expectStatus(await call('POST', '/api/v1/organisations', {}, { body, headers }), 201);
  assert.deepEqual(again.json, first.json);
  assert.equal(again.headers.get('location'), first.headers.get('location'));
  assert.equal(again.headers.get('etag'), first.headers.get('etag'));
  const other = expectStatus(await call('POST', '/api/v1/organisations', {}, { body: { ...body, kind: 'cro' }, headers }), 422);
  assert.equal(other.json.type, 'urn:ctms:problem:validation');
});

test('the server answered no request here with a 5xx', async () => {
  const m = expectStatus(await call('GET', '/metrics'), 200);
  assert.match(m.text, /^ctms_http_requests_total\{class="5xx"\} 0$/m, server.stderr.slice(-2000));
});

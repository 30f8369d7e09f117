// Any list as CSV (Accept: text/csv or ?format=csv) and as Excel
// (?format=xlsx): the download holds what the JSON list holds for the same
// caller — every page of the filtered list, the same fields, the blinded
// arm left out for a blinded role, only their own site for a site user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import ExcelJS from 'exceljs';
import {
  startServer, addUser, createEnrollingSetup, createSite, signApproval, subjectBody, walk, uniq,
} from './lib.mjs';

let s;
let setup; // an enrolling study with two sites and subjects at both
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** RFC 4180: records of fields; quoted fields may hold commas, quotes, CR and LF. */
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    assert.ok(c !== '\n' && c !== '\r', `a bare line break outside quotes at ${i}`);
    field += c; i++;
  }
  assert.equal(field, '', 'the text ends with CRLF');
  assert.equal(row.length, 0, 'the text ends with CRLF');
  return rows;
}

/** A record flattened as the export does: nested objects as "a.b", arrays as JSON text. */
function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

/** What a CSV cell says for a JSON value: text guarded against formulas (OWASP). */
function csvCell(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) v = JSON.stringify(v);
  if (typeof v === 'string') return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return String(v);
}

/** The column order the export uses: fields in order of first appearance. */
function columnsOf(items) {
  const cols = [];
  for (const item of items) for (const k of Object.keys(flatten(item))) if (!cols.includes(k)) cols.push(k);
  return cols;
}

function assertCsvMatches(text, items) {
  const rows = parseCsv(text);
  const cols = columnsOf(items);
  assert.deepEqual(rows[0], cols, 'the header row names the fields of the JSON list');
  assert.equal(rows.length - 1, items.length, 'one row per record');
  items.forEach((item, i) => {
    const flat = flatten(item);
    assert.deepEqual(rows[i + 1], cols.map((c) => csvCell(flat[c])), `row ${i + 1} (id ${item.id})`);
  });
  return rows;
}

async function getCsv(path, headers = {}) {
  const r = await s.get(path, { accept: 'text/csv', ...headers });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^text\/csv; charset=utf-8/);
  return r;
}

async function getXlsx(path, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${s.token}` };
  const res = await fetch(s.url + path, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), XLSX);
  const book = new ExcelJS.Workbook();
  await book.xlsx.load(Buffer.from(await res.arrayBuffer()));
  assert.equal(book.worksheets.length, 1);
  return { sheet: book.worksheets[0], headers: res.headers };
}

/** A worksheet's rows as arrays of cell values (index 0 = column A). */
function sheetRows(sheet) {
  const rows = [];
  sheet.eachRow({ includeEmpty: true }, (row) => {
    const cells = [];
    for (let c = 1; c <= sheet.columnCount; c++) cells.push(row.getCell(c).value);
    rows.push(cells);
  });
  return rows;
}

before(async () => {
  s = await startServer({ demo: true });
  const base = await createEnrollingSetup(s);
  const second = await createSite(s, base.study.id);
  const subjects = [];
  for (const site of [base.site, second]) {
    for (let i = 0; i < 3; i++) {
      const r = await s.post(`/api/v1/studies/${base.study.id}/subjects`,
        subjectBody(site.site_number, { consented_on: '2024-06-10' }));
      assert.equal(r.status, 201, r.text);
      subjects.push(r.json);
    }
  }
  // The arm is set by an unblinded role (the test administrator is one).
  const armed = subjects[0];
  const r = await s.patch(`/api/v1/subjects/${armed.id}`, { arm: 'Placebo' }, armed.version);
  assert.equal(r.status, 200, r.text);
  setup = { ...base, second, subjects };
});

after(async () => {
  if (s) assert.equal(await s.stop(), 0, s.stderr.slice(-2000));
});

test('CSV of a list is RFC 4180 text that parses back to the JSON list', async () => {
  for (const path of ['/api/v1/studies', `/api/v1/studies/${setup.study.id}/subjects`,
    `/api/v1/studies/${setup.study.id}/sites`, '/api/v1/organisations']) {
    const items = await walk(s, path, 1000);
    const r = await getCsv(path);
    assert.ok(r.text.includes('\r\n'), 'CRLF line ends');
    assert.ok(!/[^\r]\n/.test(r.text.replace(/"[^"]*"/g, '')), 'no bare LF outside quoted fields');
    assertCsvMatches(r.text, items);
  }
});

test('the export holds every page of the filtered list, or one page when limit/cursor are given', async () => {
  for (let i = 0; i < 55; i++) {
    const r = await s.post('/api/v1/sites', { name: `Export Clinic ${uniq('E')}`, country: 'DE', city: 'Köln' });
    assert.equal(r.status, 201, r.text);
  }
  const all = await walk(s, '/api/v1/sites?country=DE', 20);
  assert.ok(all.length >= 55, `${all.length} German sites`);
  const whole = await getCsv('/api/v1/sites?country=DE');
  assertCsvMatches(whole.text, all);
  // The first JSON page is 50 records; the download is not cut there.
  const firstPage = await s.get('/api/v1/sites?country=DE');
  assert.equal(firstPage.json.items.length, 50);
  assert.ok(parseCsv(whole.text).length - 1 > 50);

  const page = await getCsv('/api/v1/sites?country=DE&limit=7');
  assertCsvMatches(page.text, all.slice(0, 7));
  // A paged download carries the JSON list's next cursor as X-Next-Cursor.
  const next = await s.get('/api/v1/sites?country=DE&limit=7');
  assert.equal(page.headers.get('x-next-cursor'), next.json.next_cursor);
  const second = await getCsv(`/api/v1/sites?country=DE&limit=7&cursor=${encodeURIComponent(page.headers.get('x-next-cursor'))}`);
  assertCsvMatches(second.text, all.slice(7, 14));
  // Walking the CSV pages by that header gives the whole list, then no header.
  let rows = 0, cursor = null, pages = 0;
  do {
    const r = await getCsv(`/api/v1/sites?country=DE&limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    rows += parseCsv(r.text).length - 1;
    cursor = r.headers.get('x-next-cursor');
    pages++;
  } while (cursor && pages < 100);
  assert.equal(rows, all.length);
  assert.equal(whole.headers.get('x-next-cursor'), null, 'a whole-list download has no next page');
  const events = await s.get('/api/v1/audit?entity=site&limit=3', { accept: 'text/csv' });
  assert.equal(events.headers.get('x-next-cursor'), (await s.get('/api/v1/audit?entity=site&limit=3')).json.next_cursor);

  // ?format=csv says the same as Accept: text/csv.
  const byQuery = await s.get('/api/v1/sites?country=DE&format=csv');
  assert.equal(byQuery.status, 200);
  assert.equal(byQuery.text, whole.text);
  // The audit trail is a list too: every event, not just the first page.
  const siteEvents = await walk(s, `/api/v1/audit?entity=site`, 1000);
  assertCsvMatches((await getCsv('/api/v1/audit?entity=site')).text, siteEvents);
});

test('text is UTF-8, quoted where it must be, and guarded against formula injection', async () => {
  const names = ['=HYPERLINK("http://example.com","click")', '+1 Clinic', '-Minus Hospital', '@SUM(A1)',
    'Clinic "Quoted", Inc', 'Universitätsklinikum Köln – Zentrum', 'Two\nLines'];
  for (const name of names) {
    const r = await s.post('/api/v1/organisations', { name, kind: 'institution' });
    assert.equal(r.status, 201, r.text);
  }
  const r = await getCsv('/api/v1/organisations');
  const rows = parseCsv(r.text);
  const col = rows[0].indexOf('name');
  const cells = rows.slice(1).map((row) => row[col]);
  assert.ok(cells.includes(`'=HYPERLINK("http://example.com","click")`));
  assert.ok(cells.includes(`'+1 Clinic`));
  assert.ok(cells.includes(`'-Minus Hospital`));
  assert.ok(cells.includes(`'@SUM(A1)`));
  assert.ok(cells.includes('Clinic "Quoted", Inc'));
  assert.ok(cells.includes('Universitätsklinikum Köln – Zentrum'));
  assert.ok(cells.includes('Two\nLines'));
  assert.ok(r.text.includes('"Clinic ""Quoted"", Inc"'), 'quotes are doubled inside a quoted field');
  assert.ok(!r.text.includes('\n=HYPERLINK') && !r.text.includes(',=HYPERLINK'), 'no cell starts with =');
  // Numbers are numbers, not guarded text.
  assert.ok(rows.slice(1).every((row) => /^\d+$/.test(row[rows[0].indexOf('id')])));
});

test('a download names itself, and an unknown format is refused', async () => {
  const r = await getCsv(`/api/v1/studies/${setup.study.id}/subjects`);
  assert.equal(r.headers.get('content-disposition'), `attachment; filename="studies-${setup.study.id}-subjects.csv"`);
  const x = await getXlsx('/api/v1/studies?format=xlsx');
  assert.equal(x.headers.get('content-disposition'), 'attachment; filename="studies.xlsx"');
  const bad = await s.get('/api/v1/studies?format=pdf');
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('content-type'), 'application/problem+json');
  // JSON stays the default, and an Accept that refuses CSV (q=0) gets JSON.
  const json = await s.get('/api/v1/studies', { accept: 'text/csv;q=0, application/json' });
  assert.equal(json.headers.get('content-type'), 'application/json');
  assert.ok(Array.isArray(json.json.items));
  // A filter that names no field is refused as in JSON; one that matches nothing gives a header row.
  assert.equal((await s.get('/api/v1/studies?format=csv&colour=red')).status, 422);
  const empty = await getCsv('/api/v1/studies?protocol_number=NO-SUCH-STUDY');
  const rows = parseCsv(empty.text);
  assert.equal(rows.length, 1);
  assert.ok(rows[0].includes('protocol_number') && rows[0].includes('title'));
});

test('XLSX: typed cells, frozen header, autofilter, widths, values as in JSON', async () => {
  const path = `/api/v1/studies/${setup.study.id}/subjects`;
  const items = await walk(s, path, 1000);
  const { sheet } = await getXlsx(`${path}?format=xlsx`);
  const rows = sheetRows(sheet);
  const cols = columnsOf(items);
  assert.deepEqual(rows[0], cols, 'the header row names the fields');
  assert.equal(rows.length - 1, items.length);
  assert.ok(sheet.getRow(1).getCell(1).font?.bold, 'the header is bold');

  const view = sheet.views[0];
  assert.equal(view.state, 'frozen');
  assert.equal(view.ySplit, 1, 'the header row is frozen');
  const lastCol = sheet.getColumn(cols.length).letter;
  assert.equal(sheet.autoFilter, `A1:${lastCol}${items.length + 1}`, 'the autofilter spans the table');
  const nameWidth = sheet.getColumn(cols.indexOf('screening_number') + 1).width;
  assert.ok(nameWidth >= 'screening_number'.length && nameWidth <= 61, `width ${nameWidth}`);

  items.forEach((item, i) => {
    const flat = flatten(item);
    cols.forEach((c, j) => {
      const want = flat[c], got = rows[i + 1][j];
      const where = `row ${i + 2} ${c}`;
      if (want === null || want === undefined || want === '') assert.ok(got === null || got === undefined, `${where} empty`);
      else if (typeof want === 'number') assert.equal(got, want, `${where} is a number`);
      else if (typeof want === 'boolean') assert.equal(got, want, `${where} is a boolean`);
      else if (Array.isArray(want)) assert.equal(got, JSON.stringify(want), where);
      else if (/^\d{4}-\d{2}-\d{2}$/.test(want)) {
        assert.ok(got instanceof Date, `${where} is a date`);
        assert.equal(got.toISOString().slice(0, 10), want, where);
        assert.equal(sheet.getRow(i + 2).getCell(j + 1).numFmt, 'yyyy-mm-dd');
      } else if (/^\d{4}-\d{2}-\d{2}T/.test(want)) {
        assert.ok(got instanceof Date, `${where} is a date-time`);
        assert.ok(Math.abs(got.getTime() - Date.parse(want)) < 1000, `${where}: ${got.toISOString()} vs ${want}`);
      } else assert.equal(got, want, `${where} is text`);
    });
  });
  // A text that looks like a formula is text in a workbook, never a formula.
  const { sheet: orgs } = await getXlsx('/api/v1/organisations?format=xlsx');
  const values = sheetRows(orgs).flat();
  assert.ok(values.includes('=HYPERLINK("http://example.com","click")') || !values.some((v) => v?.formula));
  assert.ok(!values.some((v) => v && typeof v === 'object' && 'formula' in v), 'no formula cells');
});

test('a site user exports only their site; the arm is absent for blinded roles', async () => {
  const protocol = setup.study.protocol_number;
  const siteUser = addUser(s.db, { username: uniq('siteexp'), role: 'site', study: protocol, site: setup.site.site_number });
  const path = `/api/v1/studies/${setup.study.id}/subjects`;
  const asSite = { authorization: `Bearer ${siteUser.token}` };

  const json = await s.get(`${path}?limit=1000`, asSite);
  assert.equal(json.status, 200);
  assert.equal(json.json.items.length, 3);
  const r = await getCsv(path, asSite);
  const rows = assertCsvMatches(r.text, json.json.items);
  assert.ok(!rows[0].includes('arm'), 'no arm column for a blinded site user');
  const siteCol = rows[0].indexOf('site_number');
  assert.deepEqual([...new Set(rows.slice(1).map((row) => row[siteCol]))], [setup.site.site_number]);

  const { sheet } = await getXlsx(`${path}?format=xlsx`, siteUser.token);
  const xrows = sheetRows(sheet);
  assert.ok(!xrows[0].includes('arm'));
  assert.equal(xrows.length - 1, 3);

  // The unblinded administrator sees the arm in both forms.
  const adminRows = parseCsv((await getCsv(path)).text);
  const armCol = adminRows[0].indexOf('arm');
  assert.ok(armCol >= 0);
  assert.ok(adminRows.slice(1).some((row) => row[armCol] === 'Placebo'));
  const { sheet: adminSheet } = await getXlsx(`${path}?format=xlsx`);
  assert.ok(sheetRows(adminSheet).flat().includes('Placebo'));

  // The audit trail's download drops arm changes for a blinded reader too.
  const auditor = addUser(s.db, { username: uniq('audexp'), role: 'auditor' });
  const trail = await getCsv(`/api/v1/audit?entity=subject&id=${setup.subjects[0].id}`,
    { authorization: `Bearer ${auditor.token}` });
  assert.ok(!trail.text.includes('Placebo'), 'no arm in a blinded auditor\'s audit export');
  assert.ok((await getCsv(`/api/v1/audit?entity=subject&id=${setup.subjects[0].id}`)).text.includes('Placebo'));
});

test('a list out of the caller\'s scope answers 404 in every format', async () => {
  const other = addUser(s.db, { username: uniq('viewexp'), role: 'viewer', study: 'DEMO-ONC-301' });
  const h = { authorization: `Bearer ${other.token}` };
  for (const fmt of ['csv', 'xlsx', 'json']) {
    const r = await s.get(`/api/v1/studies/${setup.study.id}/sites?format=${fmt}`, h);
    assert.equal(r.status, 404, `${fmt}: ${r.text}`);
  }
  const none = await getCsv('/api/v1/studies', h);
  const rows = parseCsv(none.text);
  assert.equal(rows.length - 1, 1, 'a study-scoped viewer exports their one study');
});

test('the whole-list routes download too: users, a user\'s tokens, a record\'s signatures', async () => {
  const users = (await s.get('/api/v1/users')).json.items;
  assertCsvMatches((await getCsv('/api/v1/users')).text, users);
  const usersSheet = await getXlsx('/api/v1/users?format=xlsx');
  assert.equal(sheetRows(usersSheet.sheet).length, users.length + 1);

  const me = (await s.get('/api/v1/sessions/current')).json;
  const tokens = (await s.get(`/api/v1/users/${me.id}/tokens`)).json.items;
  assert.ok(tokens.length >= 1);
  const tokenCsv = assertCsvMatches((await getCsv(`/api/v1/users/${me.id}/tokens`)).text, tokens);
  assert.ok(!tokenCsv.flat().some((cell) => cell === s.token), 'no token secret in the download');

  const pv = await s.post(`/api/v1/studies/${setup.study.id}/protocol-versions`, { number: uniq('9.'), version_date: '2024-01-01' });
  assert.equal(pv.status, 201, pv.text);
  await signApproval(s, pv.json.id);
  const path = `/api/v1/signatures?entity=protocol_version&id=${pv.json.id}`;
  const signatures = (await s.get(path)).json.items;
  assert.equal(signatures.length, 1);
  assertCsvMatches((await getCsv(path)).text, signatures);
  assert.equal((await s.get(`${path}&format=pdf`)).status, 400);
  // Who may not list them gets the same refusal in every format.
  const viewer = addUser(s.db, { username: uniq('dlv'), role: 'viewer' });
  assert.equal((await s.get('/api/v1/users?format=csv', { authorization: `Bearer ${viewer.token}` })).status, 403);
});

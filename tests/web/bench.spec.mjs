// How fast the portfolio of the demo data loads: recorded, not asserted (a
// timed assertion would fail on a busy machine). `make check` writes the
// figures to tests/web/output/web.md; with CTMS_WEB_BENCH_RECORD=1 they go
// to bench/web.md, the recorded figures (make web-bench).
//
// With CTMS_WEB_BENCH_DB=FILE (a SQLite database, copied, never changed) it
// times a large portfolio instead and records it in its own section of
// bench/web.md, which the demo run keeps: bench/web.md says how that
// database is made.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { serveDatabase } from '../api/lib.mjs';
import { WEB_DIR, signIn, startWebServer, stopWebServer } from './lib.mjs';

const RUNS = 7;
const LARGE = process.env.CTMS_WEB_BENCH_DB || '';
const MD = fileURLToPath(new URL(process.env.CTMS_WEB_BENCH_RECORD === '1'
  ? '../../bench/web.md' : './output/web.md', import.meta.url));
if (!existsSync(MD) && process.env.CTMS_WEB_BENCH_RECORD !== '1') {
  // start from the recorded file, so a check run keeps its large section
  const recorded = fileURLToPath(new URL('../../bench/web.md', import.meta.url));
  mkdirSync(fileURLToPath(new URL('./output/', import.meta.url)), { recursive: true });
  if (existsSync(recorded)) copyFileSync(recorded, MD);
}
const SECTION = '\n## A large portfolio\n';
let s;
test.beforeAll(async () => {
  if (!LARGE) {
    s = await startWebServer();
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ctms-bench-'));
  copyFileSync(LARGE, join(dir, 'ctms.db'));
  s = await serveDatabase(join(dir, 'ctms.db'), dir, { args: ['--web', WEB_DIR] });
});
test.afterAll(async () => { if (s) await (LARGE ? s.stop() : stopWebServer(s)); });

/** The section of bench/web.md a large run wrote, kept by the demo run. */
function largeSection() {
  const md = existsSync(MD) ? readFileSync(MD, 'utf8') : '';
  const at = md.indexOf(SECTION);
  return at < 0 ? '' : md.slice(at);
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
}

function scriptSize() {
  const dir = `${WEB_DIR}/assets`;
  let raw = 0, gz = 0, first = 0;
  const index = readFileSync(`${WEB_DIR}/index.html`, 'utf8');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const b = readFileSync(`${dir}/${f}`);
    raw += b.length;
    const g = gzipSync(b, { level: 9 }).length;
    gz += g;
    if (index.includes(`/assets/${f}`)) first += g;
  }
  return { raw, gz, first };
}

async function timeLoads(page, studies) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = Date.now();
    await page.goto(`${s.url}/`);
    await expect(page.locator('#portfolio-count')).toHaveText(`${studies} of ${studies} studies`, { timeout: 60000 });
    times.push(Date.now() - t0);
  }
  return times;
}

/** API requests the page makes from navigation to the table shown (forecasts come after). */
async function countRequests(page) {
  let n = 0;
  const count = (r) => { if (r.url().includes('/api/v1/')) n++; };
  page.on('request', count);
  await page.goto(`${s.url}/`);
  await expect(page.locator('#portfolio-count')).toBeVisible({ timeout: 60000 });
  await page.waitForTimeout(1000); // the forecasts start once the table is drawn
  await page.waitForLoadState('networkidle');
  page.off('request', count);
  return n;
}

const figure = (times) => `median ${median(times)} ms, min ${Math.min(...times)} ms, max ${Math.max(...times)} ms`;

test('portfolio load time (recorded in bench/web.md)', async ({ page, browser }) => {
  await signIn(page, s.url);
  const studies = (await s.get('/api/v1/portfolio')).json.items.length;
  const times = await timeLoads(page, studies);
  const requests = await countRequests(page);
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a clone */ }
  const date = new Date().toISOString().slice(0, 10);
  if (LARGE) {
    const md = existsSync(MD) ? readFileSync(MD, 'utf8') : '';
    const head = md.includes(SECTION) ? md.slice(0, md.indexOf(SECTION)) : md;
    writeFileSync(MD, `${head}${SECTION}
Recorded by \`CTMS_WEB_BENCH_DB=FILE npx playwright test bench.spec.mjs\` in
tests/web, FILE made with \`ctms init\`, \`ctms demo\`, \`ctms import ctgov
data/ctgov/studies.jsonl\` and \`ctms import sdtm --consent-on-screening
data/sdtm-cdiscpilot01\`; the demo run above keeps this section.

| figure | value |
|---|---|
| date | ${date} |
| commit | ${commit} (plus the working tree) |
| browser | ${browser.version()} (headless), 1280×800 |
| server | ctms on loopback, the binary CTMS_BIN names, ${studies} studies |
| portfolio load, signed in, navigation to table shown (${RUNS} runs) | ${figure(times)} |
| API requests of one load, forecasts included | ${requests} |
`);
    expect(times.length).toBe(RUNS);
    return;
  }
  const size = scriptSize();
  const md = `# Web application: portfolio load time

Recorded by \`tests/web/bench.spec.mjs\` (\`make web-bench\`; \`make check\` runs it too and
writes its figures to tests/web/output/web.md); not asserted.

| figure | value |
|---|---|
| date | ${date} |
| commit | ${commit} (plus the working tree) |
| browser | ${browser.version()} (headless), 1280×800 |
| server | ctms on loopback, the binary CTMS_BIN names, demo data (${studies} studies) |
| portfolio load, signed in, navigation to table shown (${RUNS} runs) | ${figure(times)} |
| API requests of one load, forecasts included | ${requests} |
| JavaScript, all chunks | ${(size.raw / 1024).toFixed(1)} KiB, ${(size.gz / 1024).toFixed(1)} KiB gzip |
| JavaScript loaded by the portfolio | ${(size.first / 1024).toFixed(1)} KiB gzip (the study screens load theirs when opened) |

The load counts the page, its script and the portfolio's one API call
(GET /api/v1/portfolio); the table is shown before the forecasts, which
are asked for afterwards, a few at a time, only for enrolling studies seen
whole that have enrolled someone.
${largeSection()}`;
  writeFileSync(MD, md);
  expect(times.length).toBe(RUNS);
});

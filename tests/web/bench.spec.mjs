// How fast the portfolio of the demo data loads: recorded in bench/web.md,
// not asserted (a timed assertion would fail on a busy machine).
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { WEB_DIR, signIn, startWebServer, stopWebServer } from './lib.mjs';

const RUNS = 7;
let s;
test.beforeAll(async () => { s = await startWebServer(); });
test.afterAll(async () => { if (s) await stopWebServer(s); });

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

test('portfolio load time with the demo data (recorded in bench/web.md)', async ({ page, browser }) => {
  await signIn(page, s.url);
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = Date.now();
    await page.goto(`${s.url}/`);
    await expect(page.locator('table.grid tbody tr')).toHaveCount(3);
    times.push(Date.now() - t0);
  }
  const size = scriptSize();
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a clone */ }
  const md = `# Web application: portfolio load time

Recorded by \`tests/web/bench.spec.mjs\` (part of \`make check\`); not asserted.

| figure | value |
|---|---|
| date | ${new Date().toISOString().slice(0, 10)} |
| commit | ${commit} (plus the working tree) |
| browser | ${browser.version()} (headless), 1280×800 |
| server | ctms on loopback, the build the check runs (sanitizers on), demo data (3 studies) |
| portfolio load, signed in, navigation to table shown (${RUNS} runs) | median ${median(times)} ms, min ${Math.min(...times)} ms, max ${Math.max(...times)} ms |
| JavaScript, all chunks | ${(size.raw / 1024).toFixed(1)} KiB, ${(size.gz / 1024).toFixed(1)} KiB gzip |
| JavaScript loaded by the portfolio | ${(size.first / 1024).toFixed(1)} KiB gzip (the study screens load theirs when opened) |

The load counts the page, its script and the portfolio's API calls (the
study list, then each study's enrollment, milestones and forecast).
`;
  writeFileSync(fileURLToPath(new URL('../../bench/web.md', import.meta.url)), md);
  expect(times.length).toBe(RUNS);
});

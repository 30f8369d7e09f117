// Helpers for the browser tests: a real ctms server (tests/api/lib.mjs
// starts it on a free port with a fresh database) serving this tree's
// web/dist, accounts to sign in as, and an accessibility scan.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { ADMIN, addUser, startServer, stopChecked } from '../api/lib.mjs';

export { ADMIN, addUser };

/** Stops the server: no 5xx answered, no sanitizer report, a clean exit. */
export const stopWebServer = (s) => stopChecked(s);
export const WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));
/** Where the tests leave what a person should look at. */
export const OUTPUT = resolve(process.env.CTMS_WEB_OUTPUT || fileURLToPath(new URL('output', import.meta.url)));
export const SHOTS = join(OUTPUT, 'screens');
mkdirSync(SHOTS, { recursive: true });

/** A server on a fresh database (with the demo portfolio when demo) serving web/dist. */
export function startWebServer({ demo = true } = {}) {
  return startServer({ demo, args: ['--web', WEB_DIR] });
}

/** Signs in through the page and waits for the application shell. */
export async function signIn(page, url, username = ADMIN.username, password = ADMIN.password) {
  await page.goto(url + '/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** Axe scan of the page as it stands: no serious or critical violation. */
export async function expectAccessible(page, what) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)).toEqual([]);
}

/** A full-page screenshot under the test output, to look at. */
export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

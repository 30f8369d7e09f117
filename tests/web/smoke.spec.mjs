// Signing in and out, and the portfolio of the demo data: the first thing a
// newcomer sees after `make run`.
import { test, expect } from '@playwright/test';
import { ADMIN, addUser, expectAccessible, shot, signIn, startWebServer, stopWebServer } from './lib.mjs';
import { ctms, startServer, totpCode } from '../api/lib.mjs';

let s;
test.beforeAll(async () => { s = await startWebServer(); });
test.afterAll(async () => { if (s) await stopWebServer(s); });

test('the server serves the application, its assets and client routes, and keeps the API apart', async ({ request }) => {
  const index = await request.get(`${s.url}/`);
  expect(index.status()).toBe(200);
  expect(index.headers()['content-type']).toMatch(/^text\/html/);
  expect(index.headers()['cache-control']).toBe('no-cache');
  expect(index.headers()['content-security-policy']).toContain("default-src 'self'");
  const html = await index.text();
  const asset = html.match(/src="(\/assets\/[^"]+\.js)"/)[1];
  const js = await request.get(s.url + asset);
  expect(js.status()).toBe(200);
  expect(js.headers()['content-type']).toMatch(/^text\/javascript/);
  expect(js.headers()['cache-control']).toContain('immutable');
  // A client-side route answers the application; a missing file does not.
  const route = await request.get(`${s.url}/studies/1/sites`);
  expect(route.status()).toBe(200);
  expect(await route.text()).toBe(html);
  expect((await request.get(`${s.url}/assets/nope-123.js`)).status()).toBe(404);
  // The API and the operators' routes are never the application.
  const api = await request.get(`${s.url}/api/v1/nothing-here`);
  expect(api.status()).toBe(404);
  expect(api.headers()['content-type']).toMatch(/problem\+json/);
  expect((await request.get(`${s.url}/api/v1/studies`)).status()).toBe(401);
  expect((await request.get(`${s.url}/healthz`)).headers()['content-type']).toMatch(/json/);
  // No way out of the directory.
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fREADME.md', '/..%2f..%2fmeson.build']) {
    const r = await request.get(s.url + p);
    const body = await r.text();
    expect(body).not.toContain('root:');
    expect(body).not.toContain('project(');
    expect([200, 404]).toContain(r.status());
  }
});

test('without the application\'s files the server serves the API alone', async ({ request }) => {
  const bare = await startServer({ args: ['--web', '/nonexistent/web/dist'] });
  try {
    expect(bare.stderr).toContain('no web application in /nonexistent/web/dist');
    const r = await request.get(`${bare.url}/`);
    expect(r.status()).toBe(404);
    expect(r.headers()['content-type']).toMatch(/problem\+json/);
    expect((await bare.get('/api/v1/studies')).status).toBe(200);
  } finally {
    await stopWebServer(bare);
  }
});

test('sign-in explains a wrong password, a locked account and a second factor', async ({ page }) => {
  const locked = addUser(s.db, { username: 'lena.locked', role: 'viewer', days: null });
  const totp = addUser(s.db, { username: 'tom.totp', role: 'viewer', days: null });
  const r = ctms(['user', 'totp', '--db', s.db, '--username', 'tom.totp']);
  expect(r.status).toBe(0);
  const secret = r.stdout.split('\n')[0].trim();

  await page.goto(`${s.url}/`);
  await expectAccessible(page, 'sign-in');
  await shot(page, '01-sign-in');
  const user = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  const submit = page.getByRole('button', { name: 'Sign in' });
  await user.fill(locked.username);
  for (let i = 0; i < 5; i++) {
    await password.fill('not the password at all');
    await submit.click();
    await expect(page.getByRole('alert')).toContainText(/not right|locked/);
  }
  await password.fill(locked.password);
  await submit.click();
  await expect(page.getByRole('alert')).toContainText('Account locked');

  await user.fill(totp.username);
  await password.fill(totp.password);
  await submit.click();
  await expect(page.getByRole('alert')).toContainText('authenticator');
  const code = page.getByLabel('Authenticator code');
  await expect(code).toBeVisible();
  await code.fill(totpCode(secret));
  await submit.click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to ctms' })).toBeVisible();
});

test('the portfolio of the demo data: sorted, filtered, searched, with bars and flags', async ({ page }) => {
  await signIn(page, s.url);
  const rows = page.locator('table.grid tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(page.getByRole('img', { name: /of 120 target enrolled/ })).toBeVisible();
  await shot(page, '02-portfolio');
  await expectAccessible(page, 'portfolio');

  // Sorted by study; a click on the header turns the order round.
  const study = page.getByRole('columnheader', { name: /Study/ });
  await expect(study).toHaveAttribute('aria-sort', 'ascending');
  await expect(rows.first()).toHaveAttribute('data-protocol', 'DEMO-CV-201');
  await page.getByRole('button', { name: /^Study/ }).click();
  await expect(study).toHaveAttribute('aria-sort', 'descending');
  await expect(rows.first()).toHaveAttribute('data-protocol', 'DEMO-ONC-301');
  await page.getByRole('button', { name: /^Enrolled/ }).click();
  await expect(page.getByRole('columnheader', { name: /Enrolled/ })).toHaveAttribute('aria-sort', 'ascending');
  await expect(rows.last()).toHaveAttribute('data-protocol', 'DEMO-ONC-301');

  await page.getByLabel('Phase').selectOption('PHASE2');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-protocol', 'DEMO-CV-201');
  await page.getByLabel('Phase').selectOption('');
  await page.getByLabel('Status').selectOption('enrolling');
  await expect(rows).toHaveCount(1);
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Search').fill('lung');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-protocol', 'DEMO-ONC-301');
  await page.getByLabel('Search').fill('no such study');
  await expect(page.getByText('No study matches these filters.')).toBeVisible();
  await page.getByLabel('Search').fill('');

  // The list as the API exports it, with the filters in force.
  await page.getByLabel('Phase').selectOption('PHASE3');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  expect(download.suggestedFilename()).toBe('studies.csv');
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  expect(csv).toContain('DEMO-ONC-301');
  expect(csv).not.toContain('DEMO-CV-201');
  await page.getByLabel('Phase').selectOption('');

  // Into a study and back, by the address bar too.
  await page.getByRole('link', { name: 'DEMO-ONC-301' }).click();
  await expect(page.getByRole('heading', { name: /DEMO-ONC-301/ })).toBeVisible();
  await expect(page.locator('canvas')).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: /DEMO-ONC-301/ })).toBeVisible();
  await page.goBack();
  await expect(rows).toHaveCount(3);
  expect(ADMIN.username).toBe('test-admin');
});

test('a session that ends under a form: sign in again over it, and nothing typed is lost', async ({ page }) => {
  await signIn(page, s.url);
  await page.getByRole('button', { name: 'New study' }).click();
  const dialog = page.getByRole('dialog', { name: 'New study' });
  await dialog.getByLabel('Protocol number').fill('KEPT-001');
  await dialog.getByLabel('Title').fill('Typed before the session ended');
  await dialog.getByLabel('Target enrollment').fill('12');
  // The session ends elsewhere (signed out in another tab, or timed out).
  const csrf = await page.evaluate(() => localStorage.getItem('ctms.csrf'));
  expect((await page.request.delete(`${s.url}/api/v1/sessions/current`, { headers: { 'x-csrf-token': csrf } })).status()).toBe(204);

  await dialog.getByRole('button', { name: 'Create study' }).click();
  const again = page.getByRole('dialog', { name: 'Your session has ended' });
  await expect(again).toBeVisible();
  await expect(again.getByLabel('Username')).toHaveValue('test-admin');
  await shot(page, '03-session-ended');
  await expectAccessible(page, 'session ended');
  await again.getByLabel('Password').fill(ADMIN.password);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await expect(again).toBeHidden();
  await expect(dialog.getByLabel('Protocol number')).toHaveValue('KEPT-001');
  await expect(dialog.getByLabel('Title')).toHaveValue('Typed before the session ended');
  await dialog.getByRole('button', { name: 'Create study' }).click();
  await expect(page.getByRole('heading', { name: /KEPT-001/ })).toBeVisible();

  // Ended while away: a reload opens on the sign-in page, and signing in goes straight on.
  const csrf2 = await page.evaluate(() => localStorage.getItem('ctms.csrf'));
  expect((await page.request.delete(`${s.url}/api/v1/sessions/current`, { headers: { 'x-csrf-token': csrf2 } })).status()).toBe(204);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in to ctms' })).toBeVisible();
  await signIn(page, s.url);
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Portfolio' })).toBeVisible();
});

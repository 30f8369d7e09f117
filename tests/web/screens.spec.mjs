// Every screen of the demo data, at 1280×800 and at a tablet's width: an
// axe scan (no serious or critical violation) and a screenshot to look at.
import { test, expect } from '@playwright/test';
import { expectAccessible, shot, signIn, startWebServer, stopWebServer } from './lib.mjs';

let s;
let ids;
test.beforeAll(async () => {
  s = await startWebServer();
  const sites = (await s.get('/api/v1/studies/1/sites')).json.items;
  const subjects = (await s.get('/api/v1/studies/1/subjects?status=enrolled&limit=1')).json.items;
  ids = { site: sites[0].id, subject: subjects[0].id };
});
test.afterAll(async () => { if (s) await stopWebServer(s); });

const screens = () => [
  ['portfolio', '/', (p) => expect(p.locator('table.grid tbody tr')).toHaveCount(3)],
  ['study-overview', '/studies/1', (p) => expect(p.locator('canvas')).toBeVisible()],
  ['sites', '/studies/1/sites', (p) => expect(p.locator('table.grid tbody tr').first()).toBeVisible()],
  ['site', `/study-sites/${ids.site}`, (p) => expect(p.getByRole('table', { name: /Subjects at site/ }).getByRole('row').nth(1)).toBeVisible()],
  ['subjects', '/studies/1/subjects', (p) => expect(p.locator('table.grid tbody tr').first()).toBeVisible()],
  ['subject', `/subjects/${ids.subject}`, (p) => expect(p.getByRole('heading', { name: 'Status history' })).toBeVisible()],
  ['audit', '/audit?entity=study&id=1', (p) => expect(p.locator('table.audit tbody tr').first()).toBeVisible()],
  ['admin', '/admin', (p) => expect(p.locator('table.grid tbody tr').first()).toBeVisible()],
];

for (const [width, height, tag] of [[1280, 800, 'desktop'], [820, 1180, 'tablet']]) {
  test(`every screen is accessible at ${width}×${height} (${tag})`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    await signIn(page, s.url);
    for (const [name, path, ready] of screens()) {
      await page.goto(s.url + path);
      await ready(page);
      await expect(page.getByRole('status')).toHaveCount(0); // nothing still loading
      await expectAccessible(page, `${name} (${tag})`);
      await shot(page, `4${tag === 'desktop' ? 0 : 5}-${name}-${tag}`);
    }
  });
}

test('the dialogs: lifecycle step, signing, a user\'s roles and tokens', async ({ page }) => {
  await signIn(page, s.url);
  await page.goto(`${s.url}/study-sites/${ids.site}`);
  await page.getByRole('button', { name: 'Change status' }).click();
  await expect(page.getByRole('dialog').getByLabel('Date')).toBeVisible();
  await expectAccessible(page, 'transition dialog');
  await shot(page, '50-transition-dialog');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toBeHidden();

  // Signing asks for the password again; the manifestation shows name, meaning and time.
  await page.goto(`${s.url}/subjects/${ids.subject}`);
  await page.getByRole('button', { name: 'Sign…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Meaning').selectOption('reviewed');
  await dialog.getByLabel('Your password').fill('not my password');
  await dialog.getByRole('button', { name: 'Sign' }).click();
  await expect(dialog.getByRole('alert')).toBeVisible();
  await expectAccessible(page, 'signing dialog');
  await shot(page, '51-sign-dialog-error');
  await dialog.getByLabel('Your password').fill('correct horse battery staple');
  await dialog.getByRole('button', { name: 'Sign' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('.signatures li').first()).toContainText('Test Administrator — reviewed');

  await page.goto(`${s.url}/admin`);
  await page.getByRole('button', { name: 'Manage test-admin' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await expect(page.locator('.grants')).toContainText('admin — every study');
  await expectAccessible(page, 'admin user');
  await shot(page, '52-admin-user');
});

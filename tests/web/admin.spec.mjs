// Administration in the browser: an account made, given a role scoped to
// one study-site, signing in with it, and its token revoked.
import { test, expect } from '@playwright/test';
import { expectAccessible, signIn, startWebServer, stopWebServer } from './lib.mjs';
import { ctms } from '../api/lib.mjs';

let s;
test.beforeAll(async () => { s = await startWebServer(); });
test.afterAll(async () => { if (s) await stopWebServer(s); });

test('an administrator makes an account, grants a site role, and revokes its token', async ({ page, browser }) => {
  const site = (await s.get('/api/v1/studies/1/sites')).json.items.find((x) => x.site_number === '102');
  await signIn(page, s.url);
  await page.getByRole('link', { name: 'Administration' }).click();
  await page.getByRole('button', { name: 'New user' }).click();
  const dialog = page.getByRole('dialog', { name: 'New user' });
  await dialog.getByLabel('Username').fill('nina.new');
  await dialog.getByLabel('Printed name').fill('Nina New');
  await dialog.getByLabel('Initial password').fill('short');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Initial password' })).toContainText('12');
  await expectAccessible(page, 'new user errors');
  await dialog.getByLabel('Initial password').fill('a long enough passphrase');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(dialog).toBeHidden();
  await page.getByRole('button', { name: 'Manage nina.new' }).click();
  await expect(page.getByText('No roles: this user sees nothing.')).toBeVisible();
  const grant = page.getByRole('form', { name: 'Grant a role to nina.new' });
  await grant.getByLabel('Role').selectOption('site');
  await grant.getByLabel('Study').selectOption({ label: 'DEMO-ONC-301' });
  await grant.getByLabel('Site').selectOption({ label: `102 — ${site.institution_name}` });
  await grant.getByRole('button', { name: 'Grant' }).click();
  await expect(page.locator('.grants')).toContainText(`site — study 1, study-site ${site.id}`);

  const r = ctms(['token', 'create', '--db', s.db, '--username', 'nina.new', '--days', '1']);
  expect(r.status).toBe(0);
  await page.reload();
  await page.getByRole('button', { name: 'Manage nina.new' }).click();
  await page.getByRole('row', { name: /command line/ }).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('row', { name: /command line/ })).toContainText('revoked');
  const tokenUse = await fetch(`${s.url}/api/v1/studies`, { headers: { authorization: `Bearer ${r.stdout.trim()}` } });
  expect(tokenUse.status).toBe(401);

  // Nina signs in and sees her one site's study.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await signIn(p2, s.url, 'nina.new', 'a long enough passphrase');
  await expect(p2.locator('table.grid tbody tr')).toHaveCount(1);
  await other.close();
});

// What a role may not see never reaches the browser, and what it may not do
// is not offered.
import { test, expect } from '@playwright/test';
import { addUser, expectAccessible, shot, signIn, startWebServer, stopWebServer } from './lib.mjs';

let s;
let sam;
test.beforeAll(async () => {
  s = await startWebServer();
  sam = addUser(s.db, { username: 'sam.site', role: 'site', study: 'DEMO-ONC-301', site: '201', days: null, displayName: 'Sam Site' });
});
test.afterAll(async () => { if (s) await stopWebServer(s); });

test('a site user sees only their site, and is offered only what they may do', async ({ page }) => {
  const answers = [];
  page.on('response', async (r) => {
    if (!r.url().includes('/api/v1/')) return;
    try { answers.push(await r.text()); } catch { /* a navigation dropped it */ }
  });
  await signIn(page, s.url, sam.username, sam.password);
  const rows = page.locator('table.grid tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-protocol', 'DEMO-ONC-301');
  await expect(page.getByRole('button', { name: 'New study' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Audit trail' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Administration' })).toHaveCount(0);
  await shot(page, '20-site-user-portfolio');

  await rows.first().getByRole('link').click();
  await expect(page.getByText('Not available to your role.').first()).toBeVisible();
  await expect(page.getByRole('button', { name: 'Change study status' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Sites' }).click();
  await expect(page.locator('table.grid tbody tr')).toHaveCount(1);
  await expect(page.locator('table.grid tbody')).toContainText('201');
  await expect(page.getByRole('button', { name: 'Add site' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Subjects' }).click();
  const subjects = page.locator('table.grid tbody tr');
  await expect(subjects.first()).toBeVisible();
  for (const site of await subjects.locator('td:nth-child(3)').allTextContents()) expect(site).toBe('201');
  await expect(page.getByRole('button', { name: 'Screen a subject' })).toBeVisible();
  await shot(page, '21-site-user-subjects');
  await expectAccessible(page, 'site user subjects');

  // Another site's subject by its address: as if it did not exist.
  const all = await s.get('/api/v1/studies/1/subjects?limit=1000');
  const other = all.json.items.find((x) => x.site_number === '101');
  await page.goto(`${s.url}/subjects/${other.id}`);
  await expect(page.getByRole('alert')).toContainText('Not found, or not visible to you.');

  const seen = answers.join('\n');
  expect(seen).not.toMatch(/"site_number":\s*"(101|102|301|401|501)"/);
  expect(seen).not.toContain('"arm":');
});

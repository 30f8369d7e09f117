// A clinical project manager's flow, end to end in the browser: a new study,
// a site taken to activation, a subject screened and enrolled, and the
// portfolio, the enrollment curve and the audit trail showing it.
import { test, expect } from '@playwright/test';
import { expectAccessible, shot, signIn, startWebServer, stopWebServer } from './lib.mjs';

let s;
test.beforeAll(async () => { s = await startWebServer(); });
test.afterAll(async () => { if (s) await stopWebServer(s); });

async function transition(page, to, reason) {
  await page.getByRole('button', { name: /Change status|Change study status|Record a status change/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('New status').selectOption(to);
  if (reason) await dialog.getByLabel('Reason').fill(reason);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
}

test('manager: create a study, add and activate a site, screen and enroll a subject, see it everywhere', async ({ page }) => {
  const protocol = `WEB-${Date.now() % 100000}`;
  await signIn(page, s.url);

  // A new study, with the API's field errors shown beside the fields first.
  await page.getByRole('button', { name: 'New study' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('Protocol number').fill(protocol);
  await dialog.getByLabel('Title').fill(' Leading space');
  await dialog.getByLabel('Target enrollment').fill('0');
  await dialog.getByRole('button', { name: 'Create study' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Title' })).toContainText('must not begin or end with a space');
  await expect(dialog.locator('.field.invalid', { hasText: 'Target enrollment' })).toContainText('must be between');
  await expect(dialog.getByLabel('Title')).toHaveAttribute('aria-invalid', 'true');
  await shot(page, '10-new-study-errors');
  await dialog.getByLabel('Title').fill('A browser-made study');
  await dialog.getByLabel('Target enrollment').fill('40');
  await dialog.getByRole('button', { name: 'Create study' }).click();
  await expect(page.getByRole('heading', { name: protocol })).toBeVisible();
  await transition(page, 'start_up');
  await expect(page.locator('.facts')).toContainText('start-up');

  // A site, walked through its lifecycle to activation, a date and reason each.
  await page.getByRole('link', { name: 'Sites' }).click();
  await expect(page.getByText('No sites yet.')).toBeVisible();
  await page.getByRole('button', { name: 'Add site' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Site number').fill('901');
  await dialog.getByLabel('Institution').fill('Hospital Clínic de Barcelona');
  await dialog.getByLabel('City').fill('Barcelona');
  await dialog.getByLabel('Country (ISO code)').fill('ES');
  await dialog.getByLabel(/Time zone/).fill('Europe/Madrid');
  await dialog.getByLabel('Principal investigator').fill('Dr. M. Puig');
  await dialog.getByRole('button', { name: 'Add site' }).click();
  await expect(page.getByRole('heading', { name: /Site 901/ })).toBeVisible();
  for (const step of ['feasibility', 'selected', 'approved', 'contracted', 'initiated', 'activated']) {
    await transition(page, step, `step to ${step}`);
    await expect(page.locator('.facts')).toContainText(step);
  }
  await shot(page, '11-site-activated');
  await page.getByRole('link', { name: 'Overview' }).click();
  await transition(page, 'enrolling');
  await expect(page.locator('.facts')).toContainText('enrolling');

  // A subject screened with the form's own checks, then the API's.
  await page.getByRole('link', { name: 'Subjects' }).click();
  await page.getByRole('button', { name: 'Screen a subject' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Screen' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Screening number' })).toContainText('is required');
  await dialog.getByLabel('Screening number').fill('901-001');
  await dialog.getByLabel('Age (years)').fill('58');
  await dialog.getByLabel('Consented on').fill(await dialog.getByLabel('Screened on').inputValue());
  await dialog.getByRole('button', { name: 'Screen' }).click();
  await expect(page.getByRole('heading', { name: /Subject 901-001/ })).toBeVisible();
  await transition(page, 'enrolled');
  await expect(page.locator('.facts')).toContainText('enrolled');
  await shot(page, '12-subject-enrolled');
  // Withdrawing needs a reason: the API's message sits by the field, nothing changes.
  await page.getByRole('button', { name: 'Record a status change' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('New status').selectOption('withdrawn');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Reason' })).toContainText(/required|reason/i);
  await expectAccessible(page, 'withdrawal without reason');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.locator('.facts')).toContainText('enrolled');

  // The portfolio and the curve count the subject.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Portfolio' }).click();
  const row = page.locator(`tr[data-protocol="${protocol}"]`);
  await expect(row.getByRole('img', { name: '1 of 40 target enrolled' })).toBeVisible();
  await expect(row).toContainText('1 / 1');
  await row.getByRole('link', { name: protocol }).click();
  await expect(page.locator('figure.chart figcaption')).toContainText('1 enrolled');
  await expect(page.locator('.funnel')).toContainText('enrolling');
  await shot(page, '13-overview-after-enrollment');

  // The audit trail tells who did what, old to new.
  await page.getByRole('link', { name: 'Full audit trail of this study' }).click();
  await expect(page.getByRole('heading', { name: 'Audit trail' })).toBeVisible();
  const events = page.locator('table.audit tbody tr');
  await expect(events.first()).toContainText('transition');
  await expect(page.locator('table.audit')).toContainText('start_up');
  await expect(page.locator('table.audit')).toContainText(protocol);
  await expectAccessible(page, 'audit trail');
  await shot(page, '14-audit');
});

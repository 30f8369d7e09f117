// The forms that record trial work in the browser: a milestone planned on
// the study overview and a visit recorded on the subject's page, each with
// the API's field errors beside their fields and the new record shown.
import { test, expect } from '@playwright/test';
import { addUser, expectAccessible, shot, signIn, startWebServer, stopWebServer } from './lib.mjs';

let s;
let subjectId;
let siteUser; // a site coordinator at the subject's site
test.beforeAll(async () => {
  s = await startWebServer();
  const subject = (await s.get('/api/v1/studies/1/subjects?status=enrolled&limit=1')).json.items[0];
  subjectId = subject.id;
  const study = (await s.get('/api/v1/studies/1')).json;
  siteUser = { username: 'forms.site', password: 'a site password 2026' };
  addUser(s.db, { ...siteUser, role: 'site', study: study.protocol_number, site: subject.site_number });
  // A schedule for the demo study: its subjects' visits are picked from it.
  for (const [number, name, day] of [['10', 'Baseline', 1], ['20', 'Week 4', 29]]) {
    const r = await s.post('/api/v1/studies/1/visit-definitions', { number, name, planned_day: day, window_before: 3, window_after: 3 });
    if (r.status !== 201) throw new Error(r.text);
  }
});
test.afterAll(async () => { if (s) await stopWebServer(s); });

test('a manager plans a milestone: a date in the future as actual is refused beside its field', async ({ page }) => {
  await signIn(page, s.url);
  await page.goto(`${s.url}/studies/1`);
  const before = (await s.get('/api/v1/studies/1/milestones?limit=1000')).json.items.length;
  await page.getByRole('button', { name: 'Add milestone' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Name').fill('Interim analysis');
  await dialog.getByLabel('Kind').selectOption('other');
  await dialog.getByLabel('Planned date').fill('2027-03-01');
  await dialog.getByLabel('Actual date').fill('2099-01-01');
  await dialog.getByRole('button', { name: 'Add milestone' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Actual date' })).toContainText('future');
  await expectAccessible(page, 'milestone form with an error');
  await shot(page, '60-milestone-error');
  expect((await s.get('/api/v1/studies/1/milestones?limit=1000')).json.items.length).toBe(before);

  await dialog.getByLabel('Actual date').fill('');
  await dialog.getByLabel('Baseline date').fill('2027-02-01');
  await dialog.getByRole('button', { name: 'Add milestone' }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole('table', { name: /Milestones/ }).getByRole('row', { name: /Interim analysis/ });
  await expect(row).toContainText('+28 d');
  const made = (await s.get('/api/v1/studies/1/milestones?limit=1000')).json.items.filter((m) => m.name === 'Interim analysis');
  expect(made.map((m) => [m.kind, m.baseline_on, m.planned_on, m.actual_on])).toEqual([['other', '2027-02-01', '2027-03-01', null]]);
});

test('a site user records a visit from the schedule, then an unscheduled one', async ({ page }) => {
  await signIn(page, s.url, siteUser.username, siteUser.password);
  await page.goto(`${s.url}/subjects/${subjectId}`);
  const visits = page.getByRole('table', { name: 'Visits' });
  const before = (await s.get(`/api/v1/subjects/${subjectId}/visits?limit=1000`)).json.items.length;
  // The first visit of the schedule not yet recorded is offered first, dated today.
  await page.getByRole('button', { name: 'Record a visit' }).click();
  const dialog = page.getByRole('dialog');
  const scheduled = await dialog.getByLabel('Visit', { exact: true }).inputValue();
  expect(scheduled).toBe('10');
  await dialog.getByRole('button', { name: 'Record visit' }).click();
  await expect(dialog).toBeHidden();
  await expect(visits).toContainText(`Visit ${scheduled}`);
  await page.getByRole('button', { name: 'Record a visit' }).click();
  await expect(dialog.getByLabel('Visit', { exact: true }).locator(`option[value="${scheduled}"]`)).toHaveCount(0);
  // An unscheduled visit needs a name: the API says so by the field.
  await dialog.getByLabel('Visit', { exact: true }).selectOption('');
  await dialog.getByRole('button', { name: 'Record visit' }).click();
  await expect(dialog.locator('.field.invalid', { hasText: 'Name' })).toContainText(/required|name/i);
  await expectAccessible(page, 'visit form with an error');
  await shot(page, '61-visit-error');
  await dialog.getByLabel('Name (unscheduled visit)').fill('Safety follow-up call');
  await dialog.getByLabel('How').selectOption('phone');
  await dialog.getByRole('button', { name: 'Record visit' }).click();
  await expect(dialog).toBeHidden();
  await expect(visits).toContainText('Unscheduled — Safety follow-up call');
  const after = (await s.get(`/api/v1/subjects/${subjectId}/visits?limit=1000`)).json.items;
  expect(after.length).toBe(before + 2);
  expect(after.filter((v) => v.visit_number === scheduled)).toHaveLength(1);
  const call = after.find((v) => v.name === 'Safety follow-up call');
  expect([call.visit_number, call.kind]).toEqual([null, 'phone']);
  await shot(page, '62-visit-recorded');
});

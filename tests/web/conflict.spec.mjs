// Two people edit the same subject: the second save is refused (412) and
// shows what the record is now, never overwriting it silently.
import { test, expect } from '@playwright/test';
import { shot, signIn, startWebServer, stopWebServer } from './lib.mjs';

let s;
test.beforeAll(async () => { s = await startWebServer(); });
test.afterAll(async () => { if (s) await stopWebServer(s); });

test('a 412 between two browsers: "this record changed since you opened it", with the current values', async ({ browser }) => {
  const subject = (await s.get('/api/v1/studies/1/subjects?status=enrolled&limit=1')).json.items[0];
  const a = await browser.newContext();
  const b = await browser.newContext();
  const pa = await a.newPage();
  const pb = await b.newPage();
  await signIn(pa, s.url);
  await signIn(pb, s.url);
  for (const p of [pa, pb]) {
    await p.goto(`${s.url}/subjects/${subject.id}`);
    await p.getByRole('button', { name: 'Edit details' }).click();
  }
  await pb.getByLabel('Subject number').fill('R-FROM-B');
  await pb.getByRole('button', { name: 'Save changes' }).click();
  await expect(pb.getByRole('status')).toContainText('Saved');

  await pa.getByLabel('Age (years)').fill('77');
  await pa.getByRole('button', { name: 'Save changes' }).click();
  const notice = pa.locator('.stale');
  await expect(notice).toContainText('This record changed since you opened it');
  await expect(notice).toContainText('R-FROM-B');
  await shot(pa, '30-conflict');
  const now = (await s.get(`/api/v1/subjects/${subject.id}`)).json;
  expect(now.subject_number).toBe('R-FROM-B');
  expect(now.age).toBe(subject.age);

  // Taking the current values and saving again keeps both changes.
  await notice.getByRole('button', { name: 'Use the current values' }).click();
  await expect(pa.getByLabel('Subject number')).toHaveValue('R-FROM-B');
  await pa.getByLabel('Age (years)').fill('77');
  await pa.getByRole('button', { name: 'Save changes' }).click();
  await expect(pa.getByRole('status')).toContainText('Saved');
  const after = (await s.get(`/api/v1/subjects/${subject.id}`)).json;
  expect([after.subject_number, after.age]).toEqual(['R-FROM-B', 77]);
  await a.close();
  await b.close();
});

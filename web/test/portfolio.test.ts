// @vitest-environment node
// The portfolio's data against the real ctms binary (CTMS_BIN): one request
// for the whole table, figures as the study's own reports give them, and
// forecasts asked for only where one can be made, a few at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with the API tests
import { ADMIN, addUser, startServer } from '../../tests/api/lib.mjs';
import { Api } from '../src/api';
import { fetchForecasts, forecastWanted, loadPortfolio, rowOf, withCompletion, type PortfolioStudy } from '../src/pages/Portfolio';

let s: any;
beforeAll(async () => { s = await startServer({ demo: true }); }, 60000);
afterAll(async () => { await s?.stop(); });

/** A signed-in client whose requests are recorded (path, and how many run at once). */
async function recorded(username = ADMIN.username, password = ADMIN.password) {
  const log: string[] = [];
  let running = 0;
  const seen = { most: 0 };
  let cookie = '';
  const fetcher: typeof fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set('cookie', cookie);
    log.push(`${init.method ?? 'GET'} ${String(input).replace(s.url, '')}`);
    seen.most = Math.max(seen.most, ++running);
    try {
      const res = await fetch(input, { ...init, headers });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0];
      return res;
    } finally { running--; }
  };
  const m = new Map<string, string>();
  const api = new Api({ base: s.url, fetch: fetcher, storage: { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => { m.set(k, v); }, removeItem: (k: string) => { m.delete(k); } } });
  await api.signIn(username, password);
  log.length = 0;
  seen.most = 0;
  return { api, log, seen };
}

describe('portfolio data', () => {
  it('loads every study in one request, with the enrollment report\'s figures', async () => {
    const { api, log } = await recorded();
    const rows = await loadPortfolio(api);
    expect(log).toEqual(['GET /api/v1/portfolio']);
    const studies = await api.all('/api/v1/studies');
    expect(rows.map((r) => r.study.id)).toEqual(studies.map((x) => x.id));
    for (const r of rows) {
      const t = (await api.get(`/api/v1/studies/${r.study.id}/enrollment`)).totals;
      expect([r.enrolled, r.target, r.sitesActive, r.sitesKnown, r.percentOfPlan])
        .toEqual([t.enrolled, t.target, t.sites.active, t.sites.known, t.plan?.percent_of_plan ?? null]);
      const overdue = (await api.all(`/api/v1/studies/${r.study.id}/milestones`)).filter((x) => x.overdue).length;
      expect(r.overdue).toBe(overdue);
      expect(r.scope).toBe('study');
    }
  });

  it('asks for forecasts only of enrolling studies with enrollment, at most four at once', async () => {
    const { api, log, seen } = await recorded();
    const rows = await loadPortfolio(api);
    const wanted = forecastWanted(rows);
    expect(wanted.length).toBeGreaterThan(0);
    expect(wanted.length).toBeLessThan(rows.length);
    const found: Record<number, string | null> = {};
    log.length = 0;
    await fetchForecasts(wanted, (id, completion) => { found[id] = completion; }, () => false, api);
    expect(log.sort()).toEqual(wanted.map((r) => `GET /api/v1/studies/${r.study.id}/forecast`).sort());
    expect(seen.most).toBeLessThanOrEqual(4);
    for (const r of wanted) {
      const f = await api.get(`/api/v1/studies/${r.study.id}/forecast`);
      expect(found[r.study.id]).toBe(f.status === 'ok' ? f.completion?.median_on ?? null : null);
    }
  });

  it('a site user: their study, counted over their site, not set against the study target, no forecast', async () => {
    const user = addUser(s.db, { username: 'vt-site', role: 'site', study: 'DEMO-ONC-301', site: '201', days: null });
    const { api, log } = await recorded(user.username, user.password);
    const rows = await loadPortfolio(api);
    expect(log).toEqual(['GET /api/v1/portfolio']);
    expect(rows.map((r) => r.study.protocol_number)).toEqual(['DEMO-ONC-301']);
    expect(rows[0].scope).toBe('sites');
    expect(rows[0].target).toBeNull();
    expect(rows[0].sitesKnown).toBe(1);
    expect(forecastWanted(rows)).toEqual([]);
  });
});

describe('portfolio rows', () => {
  const item: PortfolioStudy = {
    id: 7, protocol_number: 'P-7', nct_id: null, acronym: null, title: 'Seven', phase: 'PHASE2', status: 'enrolling',
    therapeutic_area: null, target_enrollment: 50, planned_start_on: null, planned_end_on: '2026-01-01', milestones_overdue: 2,
    figures: { scope: 'study', subjects: { total: 12, by_status: {} }, enrolled: 10,
      sites: { total: 4, by_status: {}, known: 3, active: 2 }, plan: { planned: 20, actual: 10, difference: -10, percent_of_plan: 50 } },
  };

  it('takes its figures and flags from the answer', () => {
    const r = rowOf(item);
    expect([r.enrolled, r.target, r.sitesActive, r.sitesKnown, r.percentOfPlan, r.overdue, r.completion])
      .toEqual([10, 50, 2, 3, 50, 2, null]);
    expect(r.flags.map((f) => f.text)).toEqual(['behind plan: 50%', '2 milestones overdue']);
    expect((r.study as any).figures).toBeUndefined();
  });

  it('shows nothing it may not count, and a late forecast once it arrives', () => {
    const none = rowOf({ ...item, figures: null, milestones_overdue: 0 });
    expect([none.enrolled, none.sitesActive, none.percentOfPlan, none.scope]).toEqual([null, null, null, null]);
    const late = withCompletion(rowOf(item), '2027-03-01');
    expect(late.completion).toBe('2027-03-01');
    expect(late.flags.map((f) => f.text)).toContain('forecast after planned end');
    expect(forecastWanted([rowOf(item), none, rowOf({ ...item, id: 8, status: 'planned' })]).map((r) => r.study.id)).toEqual([7]);
  });
});

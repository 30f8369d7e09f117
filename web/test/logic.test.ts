// The screens' pure rules: portfolio flags, filters and sorting, the
// enrollment curve, the site funnel, lifecycle steps, form checks and what
// each role is offered.
import { describe, expect, it } from 'vitest';
import { arrange, flagsOf, type PortfolioRow } from '../src/pages/Portfolio';
import { curve, funnel } from '../src/pages/StudyOverview';
import { nextSiteSteps } from '../src/pages/Sites';
import { checkScreening, nextSubjectSteps, visitBody } from '../src/pages/Subjects';
import { can } from '../src/access';
import { fmtDate, label, registryWords } from '../src/format';
import type { User } from '../src/api';

const row = (protocol: string, over: Partial<PortfolioRow> = {}): PortfolioRow => {
  const base = { study: { id: 1, version: 1, protocol_number: protocol, title: `Study ${protocol}`, phase: 'PHASE2', status: 'enrolling', planned_end_on: '2026-01-01' },
    enrolled: 10, target: 100, sitesActive: 2, sitesKnown: 3, percentOfPlan: null, overdue: 0, completion: null, ...over };
  return { ...base, flags: flagsOf(base) } as PortfolioRow;
};

describe('portfolio', () => {
  it('flags behind plan red under 80%, amber under 100%; overdue milestones; a late forecast', () => {
    expect(flagsOf(row('A', { percentOfPlan: 50 }))).toEqual([{ level: 'red', text: 'behind plan: 50%' }]);
    expect(flagsOf(row('A', { percentOfPlan: 95 }))[0].level).toBe('amber');
    expect(flagsOf(row('A', { percentOfPlan: 100 }))).toEqual([]);
    expect(flagsOf(row('A', { overdue: 2 }))).toEqual([{ level: 'red', text: '2 milestones overdue' }]);
    expect(flagsOf(row('A', { completion: '2027-01-01' }))).toEqual([{ level: 'amber', text: 'forecast after planned end' }]);
    expect(flagsOf(row('A', { completion: '2025-06-01' }))).toEqual([]);
  });

  it('filters, searches and sorts', () => {
    const rows = [row('B', { enrolled: 90 }), row('A', { enrolled: 5 }), row('C', { enrolled: 50, study: { id: 3, version: 1, protocol_number: 'C', title: 'Lung cancer', phase: 'PHASE3', status: 'planned' } as any })];
    const opts = { search: '', phase: '', status: '', sort: 'protocol' as const, dir: 1 as const };
    expect(arrange(rows, opts).map((r) => r.study.protocol_number)).toEqual(['A', 'B', 'C']);
    expect(arrange(rows, { ...opts, dir: -1 }).map((r) => r.study.protocol_number)).toEqual(['C', 'B', 'A']);
    expect(arrange(rows, { ...opts, sort: 'enrolled' }).map((r) => r.study.protocol_number)).toEqual(['A', 'C', 'B']);
    expect(arrange(rows, { ...opts, phase: 'PHASE3' }).map((r) => r.study.protocol_number)).toEqual(['C']);
    expect(arrange(rows, { ...opts, status: 'enrolling' })).toHaveLength(2);
    expect(arrange(rows, { ...opts, search: 'LUNG' }).map((r) => r.study.protocol_number)).toEqual(['C']);
  });
});

describe('study overview', () => {
  const enrollment = { groups: [
    { month: '2025-01', cumulative_enrolled: 1, planned_cumulative: 2 },
    { month: '2025-02', cumulative_enrolled: 4, planned_cumulative: 4 },
  ] };
  it('draws actual and plan, and the forecast band from the last actual month, every month filled', () => {
    const forecast = { status: 'ok', enrolled: 4, expected: [{ on: '2025-03-15', lower: 1, upper: 5 }, { on: '2025-05-10', lower: 3, upper: 11 }] };
    const points = curve(enrollment, forecast);
    expect(points.map((p) => p.month)).toEqual(['2025-01', '2025-02', '2025-03', '2025-04', '2025-05']);
    expect(points.map((p) => p.actual)).toEqual([1, 4, null, null, null]);
    expect(points[1]).toMatchObject({ low: 4, high: 4 });
    expect(points[2]).toMatchObject({ low: 5, high: 9 });
    expect(points[3]).toMatchObject({ low: 6, high: 12 });
    expect(points[4]).toMatchObject({ low: 7, high: 15 });
  });
  it('has no band without a forecast', () => {
    expect(curve(enrollment, null).every((p) => p.low === null)).toBe(true);
    expect(curve(null, null)).toEqual([]);
  });
  it('counts sites at each activation step or beyond', () => {
    const f = funnel({ identified: 1, contracted: 2, activated: 1, enrolling: 3 });
    expect(f.find((x) => x.step === 'identified')!.count).toBe(7);
    expect(f.find((x) => x.step === 'approved')!.count).toBe(6);
    expect(f.find((x) => x.step === 'activated')!.count).toBe(4);
    expect(f.find((x) => x.step === 'closed')!.count).toBe(0);
  });
});

describe('lifecycles and forms', () => {
  it('offers the next lifecycle steps the API allows', () => {
    expect(nextSiteSteps('identified')).toEqual(['feasibility', 'closed']);
    expect(nextSiteSteps('activated')).toEqual(['enrolling', 'closed']);
    expect(nextSiteSteps('enrolling')).toEqual(['closed']);
    expect(nextSiteSteps('closed')).toEqual([]);
    expect(nextSubjectSteps('screened')).toEqual(['enrolled', 'screen_failed']);
    expect(nextSubjectSteps('completed')).toEqual([]);
  });
  it('checks a screening like the API does', () => {
    const ok = { site_number: '101', screening_number: '101-9', screened_on: '2025-01-02', consented_on: '2025-01-01', age: '40' };
    expect(checkScreening(ok, '2025-06-01')).toEqual({});
    expect(checkScreening({ ...ok, screening_number: ' 1' }, '2025-06-01')).toEqual({ screening_number: 'must not begin or end with a space' });
    expect(checkScreening({ ...ok, screened_on: '2025-07-01', consented_on: '' }, '2025-06-01')).toEqual({ screened_on: 'must not be in the future' });
    expect(checkScreening({ ...ok, consented_on: '2025-01-05' }, '2025-06-01')).toHaveProperty('consented_on');
    expect(checkScreening({ ...ok, age: 'forty' }, '2025-06-01')).toHaveProperty('age');
  });
  it('records a scheduled visit by its number, an unscheduled one by its name; empty fields left out', () => {
    const form = { visit_number: '10', name: 'ignored', visit_on: '2025-02-03', end_on: '', kind: '', notes: ' ' };
    expect(visitBody(form)).toEqual({ visit_number: '10', visit_on: '2025-02-03' });
    expect(visitBody({ ...form, visit_number: '', name: 'Safety call', kind: 'phone' })).toEqual({ name: 'Safety call', visit_on: '2025-02-03', kind: 'phone' });
    expect(visitBody({ ...form, visit_number: '', name: '' })).toEqual({ visit_on: '2025-02-03' });
  });
});

describe('what a role is offered', () => {
  const user = (grants: Partial<User['grants'][0]>[]): User => ({ id: 1, username: 'u', grants: grants.map((g, i) => ({ id: i, study_id: null, study_site_id: null, unblinded: false, role: 'viewer', ...g })) });
  it('a site user screens at their site only, and manages nothing', () => {
    const u = user([{ role: 'site', study_id: 1, study_site_id: 7 }]);
    expect(can.screenSubject(u, 1, 7)).toBe(true);
    expect(can.screenSubject(u, 1, 8)).toBe(false);
    expect(can.createStudy(u)).toBe(false);
    expect(can.addSite(u, 1)).toBe(false);
    expect(can.moveSite(u, 1, 7)).toBe(false);
    expect(can.reports(u, 1)).toBe(false);
    expect(can.auditTrail(u)).toBe(false);
    expect(can.administer(u)).toBe(false);
  });
  it('a manager of one study moves its sites but creates no studies and screens no one', () => {
    const u = user([{ role: 'manager', study_id: 1 }]);
    expect(can.moveSite(u, 1, 7)).toBe(true);
    expect(can.moveSite(u, 2, 9)).toBe(false);
    expect(can.createStudy(u)).toBe(false);
    expect(can.screenSubject(u, 1, 7)).toBe(false);
    expect(can.planMilestones(u, 1)).toBe(true);
    expect(can.planMilestones(u, 2)).toBe(false);
    expect(can.planMilestones(user([{ role: 'monitor', study_id: 1 }]), 1)).toBe(false);
  });
  it('an auditor reads the trail and signs nothing; a viewer reads no subjects', () => {
    expect(can.auditTrail(user([{ role: 'auditor' }]))).toBe(true);
    expect(can.sign(user([{ role: 'auditor' }]))).toBe(false);
    expect(can.readSubjects(user([{ role: 'viewer' }]), 1)).toBe(false);
  });
});

describe('formatting', () => {
  it('shows calendar dates as the day written, never shifted by a zone', () => {
    expect(fmtDate('2025-01-01')).toMatch(/2025/);
    expect(fmtDate('2025-01-01')).toMatch(/1/);
    expect(fmtDate(null)).toBe('—');
    expect(label('PHASE1_PHASE2')).toBe('Phase 1/2');
    expect(label('screen_failed')).toBe('screen failed');
  });
  it('reads registry codes as words', () => {
    expect(registryWords('ACTIVE_NOT_RECRUITING')).toBe('Active not recruiting');
    expect(registryWords('COMPLETED')).toBe('Completed');
    expect(registryWords(null)).toBe('—');
  });
});

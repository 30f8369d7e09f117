// What the signed-in user may do, mirroring the API's role matrix
// (docs/api.md, "Authentication"), so the page offers only what the
// server would allow. The server still decides: this only hides buttons.
import type { Grant, User } from './api';

type Scope = { studyId?: number; studySiteId?: number };

function inScope(g: Grant, s: Scope, studyLevel: boolean): boolean {
  if (g.study_id === null) return true;
  if (s.studyId !== undefined && g.study_id !== s.studyId) return false;
  if (g.study_site_id === null) return true;
  if (studyLevel) return false;
  return s.studySiteId !== undefined && g.study_site_id === s.studySiteId;
}

function has(user: User | null, roles: string[], s: Scope, studyLevel: boolean): boolean {
  return !!user && user.grants.some((g) => roles.includes(g.role) && inScope(g, s, studyLevel));
}

export const can = {
  createStudy: (u: User | null) => has(u, ['admin', 'manager'], {}, true) &&
    u!.grants.some((g) => ['admin', 'manager'].includes(g.role) && g.study_id === null),
  moveStudy: (u: User | null, studyId: number) => has(u, ['admin', 'manager'], { studyId }, true),
  addSite: (u: User | null, studyId: number) => has(u, ['admin', 'manager'], { studyId }, true),
  planMilestones: (u: User | null, studyId: number) => has(u, ['admin', 'manager'], { studyId }, true),
  moveSite: (u: User | null, studyId: number, studySiteId: number) =>
    has(u, ['admin', 'manager', 'monitor'], { studyId, studySiteId }, false),
  screenSubject: (u: User | null, studyId: number, studySiteId?: number) =>
    studySiteId === undefined
      ? !!u && u.grants.some((g) => ['admin', 'site'].includes(g.role) && (g.study_id === null || g.study_id === studyId))
      : has(u, ['admin', 'site'], { studyId, studySiteId }, false),
  moveSubject: (u: User | null, studyId: number, studySiteId: number) =>
    has(u, ['admin', 'site'], { studyId, studySiteId }, false),
  readSubjects: (u: User | null, studyId: number) =>
    !!u && u.grants.some((g) => g.role !== 'viewer' && (g.study_id === null || g.study_id === studyId)),
  reports: (u: User | null, studyId: number) =>
    has(u, ['admin', 'manager', 'monitor', 'safety', 'finance', 'auditor', 'viewer'], { studyId }, true),
  auditTrail: (u: User | null) => !!u && u.grants.some((g) => ['admin', 'auditor'].includes(g.role) && g.study_id === null),
  administer: (u: User | null) => !!u && u.grants.some((g) => g.role === 'admin' && g.study_id === null),
  sign: (u: User | null) => !!u && u.grants.some((g) => !['auditor', 'viewer'].includes(g.role)),
};

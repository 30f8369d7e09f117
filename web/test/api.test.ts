// @vitest-environment node
// The API client against the real ctms binary (CTMS_BIN): sign-in, the CSRF
// token on changes, problem details, 412 with the current record, paging,
// and the session-ended signal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with the API tests
import { ADMIN, startServer } from '../../tests/api/lib.mjs';
import { Api, ApiError } from '../src/api';

/** fetch with a cookie jar, as a browser keeps one per site. */
function browserFetch(): typeof fetch {
  let cookie = '';
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(input, { ...init, headers });
    const set = res.headers.get('set-cookie');
    if (set) {
      const pair = set.split(';')[0];
      cookie = pair.endsWith('=') ? '' : pair;
    }
    return res;
  };
}

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => { m.set(k, v); }, removeItem: (k: string) => { m.delete(k); } };
}

let s: any;
beforeAll(async () => { s = await startServer({ demo: true }); }, 60000);
afterAll(async () => { await s?.stop(); });

const client = () => new Api({ base: s.url, fetch: browserFetch(), storage: memoryStorage() });

describe('Api', () => {
  it('signs in, knows who is signed in, and signs out', async () => {
    const api = client();
    expect(await api.current()).toBeNull();
    const user = await api.signIn(ADMIN.username, ADMIN.password);
    expect(user.username).toBe(ADMIN.username);
    expect(api.csrf).toMatch(/^[0-9a-f]{64}$/);
    expect((await api.current())?.grants.map((g) => g.role).sort()).toEqual(['admin', 'manager']);
    await api.signOut();
    expect(api.csrf).toBeNull();
    await expect(api.get('/api/v1/studies')).rejects.toMatchObject({ status: 401 });
  });

  it('refuses a wrong password with the API\'s own words', async () => {
    const err = await client().signIn(ADMIN.username, 'not the password').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/not right/);
  });

  it('sends the CSRF token with changes: the same cookie without it is refused', async () => {
    const jar = browserFetch();
    const api = new Api({ base: s.url, fetch: jar, storage: memoryStorage() });
    await api.signIn(ADMIN.username, ADMIN.password);
    const body = { protocol_number: `VT-${Date.now() % 1e6}`, title: 'From the client test', phase: 'PHASE2', target_enrollment: 10 };
    const created = await api.post('/api/v1/studies', body);
    expect(created.protocol_number).toBe(body.protocol_number);
    const forged = new Api({ base: s.url, fetch: jar, storage: memoryStorage() });
    expect((await forged.get('/api/v1/studies/1')).id).toBe(1);
    const refused = await forged.post('/api/v1/studies', { ...body, protocol_number: `${body.protocol_number}b` }).catch((e) => e);
    expect(refused.status).toBe(403);
    expect(refused.message).toMatch(/CSRF/);
  });

  it('gives field errors by name, and the current record on 412', async () => {
    const api = client();
    await api.signIn(ADMIN.username, ADMIN.password);
    const bad = await api.post('/api/v1/studies', { protocol_number: 'X', title: ' x', phase: 'PHASE9', target_enrollment: 0 }).catch((e) => e);
    expect(bad.status).toBe(422);
    expect(bad.field('phase')).toMatch(/must be one of/);
    expect(bad.field('title')).toMatch(/space/);
    expect(bad.field('nope')).toBeUndefined();

    const study = await api.get('/api/v1/studies/3');
    const first = await api.patch('/api/v1/studies/3', { therapeutic_area: 'Neurology A' }, study.version);
    expect(first.version).toBe(study.version + 1);
    const stale = await api.patch('/api/v1/studies/3', { therapeutic_area: 'Neurology B' }, study.version).catch((e) => e);
    expect(stale.stale).toBe(true);
    expect(stale.problem.current.therapeutic_area).toBe('Neurology A');
    expect(stale.problem.current.version).toBe(first.version);
  });

  it('reads every page of a list', async () => {
    const api = client();
    await api.signIn(ADMIN.username, ADMIN.password);
    const subjects = await api.all('/api/v1/studies/1/subjects');
    expect(subjects.length).toBe(40);
    expect(new Set(subjects.map((x) => x.id)).size).toBe(40);
  });

  it('tells listeners when a session ends under a page', async () => {
    const api = client();
    await api.signIn(ADMIN.username, ADMIN.password);
    let ended = 0;
    api.onExpired(() => { ended++; });
    // The session is ended elsewhere (another tab signs out).
    const other = new Api({ base: s.url, fetch: browserFetch(), storage: memoryStorage() });
    await other.signIn(ADMIN.username, ADMIN.password);
    await api.request('DELETE', '/api/v1/sessions/current');
    await expect(api.get('/api/v1/studies')).rejects.toMatchObject({ status: 401 });
    expect(ended).toBe(1);
    expect((await other.get('/api/v1/studies')).items.length).toBeGreaterThan(0);
  });
});

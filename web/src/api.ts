// The public JSON API (/api/v1), as the browser uses it: the session cookie
// set at sign-in, and the CSRF token it answered sent with every change.

export interface FieldError { field: string; message: string }

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  current?: Rec;
}

export type Rec = Record<string, any> & { id: number; version: number };

export interface Page<T> { items: T[]; next_cursor: string | null }

export interface Grant {
  id: number;
  role: string;
  study_id: number | null;
  study_site_id: number | null;
  unblinded: boolean;
}

export interface User {
  id: number;
  username: string;
  display_name?: string;
  status?: string;
  grants: Grant[];
}

/** An answer that is not 2xx, with the problem details the API gave. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.status = problem.status;
    this.problem = problem;
  }
  /** The message for one field, if the API named it. */
  field(name: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === name)?.message;
  }
  get stale(): boolean { return this.status === 412; }
}

const CSRF_KEY = 'ctms.csrf';

type Listener = () => void;

export interface ApiOptions {
  base?: string;
  fetch?: typeof fetch;
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

/**
 * A client of one server. onExpired listeners hear of a 401 on a request
 * made while signed in: the session ended, and the page asks to sign in
 * again without leaving what is on screen.
 */
export class Api {
  private base: string;
  private fetcher: typeof fetch;
  private storage: ApiOptions['storage'];
  private expired = new Set<Listener>();

  constructor(options: ApiOptions = {}) {
    this.base = options.base ?? '';
    this.fetcher = options.fetch ?? ((...a) => fetch(...a));
    this.storage = options.storage ?? (typeof localStorage !== 'undefined' ? localStorage : undefined);
  }

  get csrf(): string | null { return this.storage?.getItem(CSRF_KEY) ?? null; }

  onExpired(fn: Listener): () => void {
    this.expired.add(fn);
    return () => this.expired.delete(fn);
  }

  async request<T = any>(method: string, path: string,
    { body, version, headers = {} }: { body?: unknown; version?: number; headers?: Record<string, string> } = {}): Promise<T> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (version !== undefined) h['if-match'] = `"${version}"`;
    const csrf = this.csrf;
    if (csrf && method !== 'GET' && method !== 'HEAD') h['x-csrf-token'] = csrf;
    let res: Response;
    try {
      res = await this.fetcher(this.base + path, {
        method, headers: h, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError({ status: 0, title: 'Network error', detail: 'the server cannot be reached; check the connection and try again' });
    }
    const text = await res.text();
    let json: any;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (res.ok) return json as T;
    const problem: Problem = json && typeof json === 'object'
      ? { ...json, status: res.status }
      : { status: res.status, detail: `the server answered ${res.status}` };
    // A session ending under a page; not a refused sign-in, nor the check at start.
    if (res.status === 401 && csrf && !path.startsWith('/api/v1/sessions')) this.expired.forEach((fn) => fn());
    throw new ApiError(problem);
  }

  get<T = any>(path: string) { return this.request<T>('GET', path); }
  post<T = any>(path: string, body: unknown) { return this.request<T>('POST', path, { body }); }
  patch<T = any>(path: string, body: unknown, version: number) {
    return this.request<T>('PATCH', path, { body, version });
  }
  del<T = any>(path: string) { return this.request<T>('DELETE', path); }

  /** Every item of a list, following next_cursor (at most `max` items). */
  async all<T = Rec>(path: string, max = 20000): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page: Page<T> = await this.get(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < max);
    return items;
  }

  async signIn(username: string, password: string, totp?: string): Promise<User> {
    const body: Record<string, string> = { username, password };
    if (totp) body.totp = totp;
    const r = await this.request<{ user: User; csrf_token: string }>('POST', '/api/v1/sessions', { body });
    this.storage?.setItem(CSRF_KEY, r.csrf_token);
    return r.user;
  }

  /** Who is signed in, or null. A session without its CSRF token here is of no use: null. */
  async current(): Promise<User | null> {
    if (!this.csrf) return null;
    try {
      return await this.get<User>('/api/v1/sessions/current');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        this.storage?.removeItem(CSRF_KEY);
        return null;
      }
      throw e;
    }
  }

  async signOut(): Promise<void> {
    try {
      await this.del('/api/v1/sessions/current');
    } finally {
      this.storage?.removeItem(CSRF_KEY);
    }
  }

  forget(): void { this.storage?.removeItem(CSRF_KEY); }

  transition(collection: string, id: number, to: string, on: string, reason?: string) {
    const body: Record<string, string> = { to, on };
    if (reason) body.reason = reason;
    return this.post<Rec>(`/api/v1/${collection}/${id}/transition`, body);
  }
}

export const api = new Api();

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type Api, type Rec } from '../api';
import { can } from '../access';
import { fmtDate, fmtNumber, label, registryWords } from '../format';
import { Link, navigate } from '../router';
import { useUser } from '../session';
import { Empty, EnrollmentBar, ErrorBox, Field, Flag, FormError, Loading, StatusTag, fieldErrors, useLoad, Dialog } from '../components/ui';

export interface PortfolioRow {
  study: Rec;
  enrolled: number | null;
  target: number | null;
  sitesActive: number | null;
  sitesKnown: number | null;
  percentOfPlan: number | null;
  overdue: number;
  completion: string | null;
  /** Whose figures: the whole study, the user's own study-sites only, or none. */
  scope?: 'study' | 'sites' | null;
  flags: { level: 'red' | 'amber'; text: string }[];
}

/** One study of GET /api/v1/portfolio (docs/openapi.yaml, PortfolioStudy). */
export interface PortfolioStudy {
  id: number;
  protocol_number: string;
  nct_id: string | null;
  acronym: string | null;
  title: string;
  phase: string;
  status: string;
  therapeutic_area: string | null;
  target_enrollment: number;
  planned_start_on: string | null;
  planned_end_on: string | null;
  registry_status?: string | null;
  milestones_overdue: number;
  figures: null | {
    scope: 'study' | 'sites';
    subjects: { total: number; by_status: Record<string, number> };
    enrolled: number;
    sites: { total: number; by_status: Record<string, number>; known: number; active: number };
    plan: null | { planned: number; actual: number; difference: number; percent_of_plan: number | null };
  };
}

/** Red and amber flags, derived from dated facts: behind plan, overdue milestones, late forecast. */
export function flagsOf(row: Omit<PortfolioRow, 'flags'>): PortfolioRow['flags'] {
  const flags: PortfolioRow['flags'] = [];
  if (row.percentOfPlan !== null && row.percentOfPlan < 80) flags.push({ level: 'red', text: `behind plan: ${Math.round(row.percentOfPlan)}%` });
  else if (row.percentOfPlan !== null && row.percentOfPlan < 100) flags.push({ level: 'amber', text: `behind plan: ${Math.round(row.percentOfPlan)}%` });
  if (row.overdue > 0) flags.push({ level: row.overdue > 1 ? 'red' : 'amber', text: `${row.overdue} milestone${row.overdue > 1 ? 's' : ''} overdue` });
  const end = row.study.planned_end_on as string | null;
  if (row.completion && end && row.completion > end) flags.push({ level: 'amber', text: 'forecast after planned end' });
  return flags;
}

/**
 * A row of the table from the portfolio's answer. Figures over the user's
 * own study-sites are not set against the study's target, which is the
 * whole study's.
 */
export function rowOf(item: PortfolioStudy): PortfolioRow {
  const { figures, milestones_overdue: overdue, ...study } = item;
  const whole = figures?.scope === 'study';
  const row = {
    study: study as unknown as Rec,
    enrolled: figures ? figures.enrolled : null,
    target: figures && !whole ? null : study.target_enrollment ?? null,
    sitesActive: figures ? figures.sites.active : null,
    sitesKnown: figures ? figures.sites.known : null,
    percentOfPlan: figures?.plan?.percent_of_plan ?? null,
    overdue,
    completion: null,
    scope: figures ? figures.scope : null,
  };
  return { ...row, flags: flagsOf(row) };
}

/** Every visible study with its figures: one request, however many studies. */
export async function loadPortfolio(client: Api = api): Promise<PortfolioRow[]> {
  const p = await client.get<{ as_of: string; items: PortfolioStudy[] }>('/api/v1/portfolio');
  return p.items.map(rowOf);
}

/**
 * The rows whose forecast completion is worth asking for: enrolling studies
 * seen whole that have enrolled someone (a forecast needs an enrollment
 * history; the others would answer "insufficient data").
 */
export function forecastWanted(rows: PortfolioRow[]): PortfolioRow[] {
  return rows.filter((r) => r.study.status === 'enrolling' && r.scope === 'study' && (r.enrolled ?? 0) > 0);
}

/** The row with its forecast completion, and the flags that follow. */
export function withCompletion(row: PortfolioRow, completion: string | null): PortfolioRow {
  if (completion === row.completion) return row;
  const next = { ...row, completion };
  return { ...next, flags: flagsOf(next) };
}

const FORECASTS_AT_ONCE = 4;

/**
 * Fetches the forecasts of rows, a few at a time, after the table is shown;
 * calls found(id, completion) for each. Stops when stopped() says so.
 */
export async function fetchForecasts(rows: PortfolioRow[], found: (id: number, completion: string | null) => void,
  stopped: () => boolean = () => false, client: Api = api): Promise<void> {
  const queue = [...rows];
  const worker = async () => {
    for (let r = queue.shift(); r && !stopped(); r = queue.shift()) {
      let completion: string | null = null;
      try {
        const f = await client.get(`/api/v1/studies/${r.study.id}/forecast`);
        completion = f?.status === 'ok' ? f.completion?.median_on ?? null : null;
      } catch { /* no forecast: the cell stays empty */ }
      if (!stopped()) found(r.study.id, completion);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FORECASTS_AT_ONCE, queue.length) }, worker));
}

/** The study list as a download (the API's own export), with the phase and status filters. */
export function exportHref(format: 'csv' | 'xlsx', phase: string, status: string): string {
  const q = new URLSearchParams({ format });
  if (phase) q.set('phase', phase);
  if (status) q.set('status', status);
  return `/api/v1/studies?${q}`;
}

type SortKey = 'protocol' | 'phase' | 'status' | 'sites' | 'enrolled' | 'completion' | 'flags';

const sorters: Record<SortKey, (r: PortfolioRow) => string | number> = {
  protocol: (r) => r.study.protocol_number,
  phase: (r) => r.study.phase ?? '',
  status: (r) => r.study.status,
  sites: (r) => r.sitesActive ?? -1,
  enrolled: (r) => (r.target ? (r.enrolled ?? 0) / r.target : -1),
  completion: (r) => r.completion ?? '9999',
  flags: (r) => r.flags.reduce((n, f) => n + (f.level === 'red' ? 10 : 1), 0),
};

/** Filters, search and sort, as the table shows them. */
export function arrange(rows: PortfolioRow[], { search, phase, status, sort, dir }: {
  search: string; phase: string; status: string; sort: SortKey; dir: 1 | -1;
}): PortfolioRow[] {
  const q = search.trim().toLowerCase();
  return rows
    .filter((r) => !phase || r.study.phase === phase)
    .filter((r) => !status || r.study.status === status)
    .filter((r) => !q || [r.study.protocol_number, r.study.title, r.study.acronym, r.study.therapeutic_area, r.study.nct_id]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(q)))
    .sort((a, b) => {
      const x = sorters[sort](a), y = sorters[sort](b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
}

function SortHeader({ k, text, sort, dir, onSort }: { k: SortKey; text: string; sort: SortKey; dir: 1 | -1; onSort: (k: SortKey) => void }) {
  const active = sort === k;
  return (
    <th scope="col" aria-sort={active ? (dir === 1 ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => onSort(k)}>
        {text} <span aria-hidden="true">{active ? (dir === 1 ? '▲' : '▼') : '↕'}</span>
      </button>
    </th>
  );
}

const PHASES = ['EARLY_PHASE1', 'PHASE1', 'PHASE1_PHASE2', 'PHASE2', 'PHASE2_PHASE3', 'PHASE3', 'PHASE4', 'NA'];
const STATUSES = ['planned', 'start_up', 'enrolling', 'follow_up', 'closed', 'terminated', 'withdrawn'];

function NewStudy({ onDone }: { onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ protocol_number: '', title: '', phase: 'PHASE2', target_enrollment: '' });
  const [error, setError] = useState<unknown>(null);
  const fields = ['protocol_number', 'title', 'phase', 'target_enrollment'];
  const { byField, general } = fieldErrors(error, fields);
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = { ...form, target_enrollment: form.target_enrollment === '' ? undefined : Number(form.target_enrollment) };
      const created = await api.post<Rec>('/api/v1/studies', body);
      setOpen(false);
      onDone();
      navigate(`/studies/${created.id}`);
    } catch (err) { setError(err); }
  }
  return (
    <>
      <button type="button" class="primary" onClick={() => { setError(null); setOpen(true); }}>New study</button>
      <Dialog title="New study" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit} noValidate>
          <Field label="Protocol number" name="protocol_number" value={form.protocol_number} onInput={set('protocol_number')} error={byField.protocol_number} />
          <Field label="Title" name="title" value={form.title} onInput={set('title')} error={byField.title} />
          <Field label="Phase" name="phase" value={form.phase} onInput={set('phase')} error={byField.phase}>
            {PHASES.map((p) => <option value={p}>{label(p)}</option>)}
          </Field>
          <Field label="Target enrollment" name="target_enrollment" type="number" inputMode="numeric" value={form.target_enrollment} onInput={set('target_enrollment')} error={byField.target_enrollment} />
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary">Create study</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

export function Portfolio() {
  const user = useUser();
  const load = useLoad(() => loadPortfolio(), []);
  const [search, setSearch] = useState('');
  const [phase, setPhase] = useState('');
  const [status, setStatus] = useState('');
  const [sort, setSort] = useState<SortKey>('protocol');
  const [dir, setDir] = useState<1 | -1>(1);
  const [completions, setCompletions] = useState<Record<number, string | null>>({});
  useEffect(() => {
    if (!load.data) return;
    let live = true;
    setCompletions({});
    fetchForecasts(forecastWanted(load.data), (id, completion) => setCompletions((c) => ({ ...c, [id]: completion })), () => !live);
    return () => { live = false; };
  }, [load.data]);
  const all = useMemo(() => (load.data ?? []).map((r) => withCompletion(r, completions[r.study.id] ?? null)), [load.data, completions]);
  const rows = useMemo(() => arrange(all, { search, phase, status, sort, dir }), [all, search, phase, status, sort, dir]);
  const onSort = (k: SortKey) => { if (k === sort) setDir(dir === 1 ? -1 : 1); else { setSort(k); setDir(1); } };

  return (
    <main id="main" class="portfolio">
      <div class="page-head">
        <h1>Portfolio</h1>
        <div class="exports" role="group" aria-label="Download the study list">
          <a class="button" href={exportHref('csv', phase, status)} download>Export CSV</a>
          <a class="button" href={exportHref('xlsx', phase, status)} download>Export XLSX</a>
        </div>
        {can.createStudy(user) && <NewStudy onDone={load.reload} />}
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search" name="search" type="search" placeholder="Protocol, title, area" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        <Field label="Phase" name="phase" value={phase} onInput={(e) => setPhase((e.target as HTMLSelectElement).value)}>
          <option value="">All phases</option>
          {PHASES.map((p) => <option value={p}>{label(p)}</option>)}
        </Field>
        <Field label="Status" name="status" value={status} onInput={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">All statuses</option>
          {STATUSES.map((s) => <option value={s}>{label(s)}</option>)}
        </Field>
      </form>
      {load.error && !load.data ? <ErrorBox error={load.error} retry={load.reload} />
        : !load.data ? <Loading what="Loading the portfolio" />
          : load.data.length === 0 ? <Empty>No studies yet{can.createStudy(user) ? ': create the first one.' : ' that you may see.'}</Empty>
            : (
              <div class="table-wrap">
                <table class="grid" aria-describedby="portfolio-count">
                  <caption id="portfolio-count">{rows.length} of {load.data.length} studies</caption>
                  <thead>
                    <tr>
                      <SortHeader k="protocol" text="Study" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="phase" text="Phase" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="status" text="Status" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="sites" text="Sites active / known" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="enrolled" text="Enrolled / target" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="completion" text="Forecast completion" sort={sort} dir={dir} onSort={onSort} />
                      <SortHeader k="flags" text="Flags" sort={sort} dir={dir} onSort={onSort} />
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((r) => (
                      <tr key={r.study.id} data-protocol={r.study.protocol_number}>
                        <th scope="row">
                          <Link href={`/studies/${r.study.id}`}>{r.study.protocol_number}</Link>
                          <div class="sub">{r.study.acronym ? `${r.study.acronym} · ` : ''}{r.study.therapeutic_area ?? ''}</div>
                        </th>
                        <td>{label(r.study.phase)}</td>
                        <td><StatusTag status={r.study.status} />{r.study.registry_status && <div class="sub">registry: {registryWords(r.study.registry_status)}</div>}</td>
                        <td class="num">{r.sitesActive === null ? '—' : `${fmtNumber(r.sitesActive)} / ${fmtNumber(r.sitesKnown)}`}</td>
                        <td>
                          {r.enrolled === null ? '—' : <EnrollmentBar enrolled={r.enrolled} target={r.target} />}
                          {r.scope === 'sites' && <div class="sub">your sites only</div>}
                        </td>
                        <td>{fmtDate(r.completion)}</td>
                        <td>{r.flags.length ? r.flags.map((f) => <Flag level={f.level}>{f.text}</Flag>) : <span class="muted">none</span>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {rows.length === 0 && <Empty>No study matches these filters.</Empty>}
              </div>
            )}
    </main>
  );
}

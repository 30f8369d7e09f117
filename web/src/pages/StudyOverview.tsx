import { useEffect, useRef } from 'preact/hooks';
import {
  Chart, LineController, LineElement, PointElement, LinearScale, CategoryScale, Filler, Legend, Tooltip,
} from 'chart.js';
import Gantt from 'frappe-gantt';
import 'frappe-gantt.css';
import { api, ApiError, type Rec } from '../api';
import { can } from '../access';
import { fmtDate, fmtNumber, fmtTime, label, registryWords } from '../format';
import { Link } from '../router';
import { useUser } from '../session';
import { Empty, EnrollmentBar, ErrorBox, Loading, StatusTag, useLoad } from '../components/ui';
import { Signatures } from '../components/Signatures';
import { CreateDialog, filled } from '../components/CreateDialog';
import { StudyNav } from './StudyNav';
import { TransitionDialog } from './Sites';

const STUDY_NEXT: Record<string, string[]> = {
  planned: ['start_up', 'withdrawn'], start_up: ['enrolling', 'withdrawn'], enrolling: ['follow_up', 'terminated'], follow_up: ['closed', 'terminated'],
};

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Filler, Legend, Tooltip);

const optional = <T,>(p: Promise<T>) => p.then((v) => v, (e) => {
  if (e instanceof ApiError && (e.status === 403 || e.status === 422)) return null;
  throw e;
});

export interface CurvePoint { month: string; actual: number | null; plan: number | null; low: number | null; high: number | null }

/**
 * The enrollment curve by month: cumulative actual and plan from the
 * tracking report, then the forecast's 5-95% band from the last actual
 * month on (the band starts at the actual count, so the two meet).
 */
export function curve(enrollment: any, forecast: any): CurvePoint[] {
  const groups: any[] = enrollment?.groups ?? [];
  const points: CurvePoint[] = groups.map((g) => ({
    month: g.month, actual: g.cumulative_enrolled, plan: g.planned_cumulative ?? null, low: null, high: null,
  }));
  if (forecast?.status === 'ok' && Array.isArray(forecast.expected) && points.length) {
    const last = points[points.length - 1];
    const base = forecast.enrolled ?? last.actual ?? 0;
    last.low = base;
    last.high = base;
    for (const e of forecast.expected) {
      const month = String(e.on).slice(0, 7);
      let p = points.find((x) => x.month === month);
      if (!p) { p = { month, actual: null, plan: null, low: null, high: null }; points.push(p); }
      p.low = base + e.lower;
      p.high = base + e.upper;
    }
    points.sort((a, b) => (a.month < b.month ? -1 : 1));
    return fillMonths(points);
  }
  return points;
}

function nextMonth(m: string): string {
  const [y, mo] = m.split('-').map(Number);
  return mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
}

/** Every month between the first and the last, the band drawn straight across gaps. */
function fillMonths(points: CurvePoint[]): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (let i = 0; i < points.length; i++) {
    out.push(points[i]);
    const next = points[i + 1];
    if (!next) break;
    const gap: string[] = [];
    for (let m = nextMonth(points[i].month); m < next.month && gap.length < 120; m = nextMonth(m)) gap.push(m);
    gap.forEach((month, k) => {
      const t = (k + 1) / (gap.length + 1);
      const lerp = (a: number | null, b: number | null) => (a === null || b === null ? null : a + (b - a) * t);
      out.push({ month, actual: null, plan: null, low: lerp(points[i].low, next.low), high: lerp(points[i].high, next.high) });
    });
  }
  return out;
}

function EnrollmentChart({ points }: { points: CurvePoint[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const hasPlan = points.some((p) => p.plan !== null);
    const hasBand = points.some((p) => p.low !== null);
    const chart = new Chart(canvas.current, {
      type: 'line',
      data: {
        labels: points.map((p) => p.month),
        datasets: [
          { label: 'Enrolled (cumulative)', data: points.map((p) => p.actual), borderColor: '#1f5fa8', backgroundColor: '#1f5fa8', pointRadius: 2, spanGaps: false },
          ...(hasPlan ? [{ label: 'Plan', data: points.map((p) => p.plan), borderColor: '#6b6b6b', borderDash: [6, 4], pointRadius: 0, backgroundColor: '#6b6b6b' }] : []),
          ...(hasBand ? [
            { label: 'Forecast 5%', data: points.map((p) => p.low), borderColor: 'rgba(214,120,0,0.7)', pointRadius: 0, borderWidth: 1, backgroundColor: 'rgba(214,120,0,0.7)' },
            { label: 'Forecast, 5–95%', data: points.map((p) => p.high), borderColor: 'rgba(214,120,0,0.7)', pointRadius: 0, borderWidth: 1, fill: '-1', backgroundColor: 'rgba(214,120,0,0.18)' },
          ] : []),
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: 'subjects' } } },
        plugins: { legend: { position: 'bottom', labels: { filter: (item) => item.text !== 'Forecast 5%' } } },
      },
    });
    return () => chart.destroy();
  }, [points]);
  const last = [...points].reverse().find((p) => p.actual !== null);
  const summary = last ? `${fmtNumber(last.actual)} enrolled by ${last.month}${last.plan !== null ? ` against ${fmtNumber(last.plan, 1)} planned` : ''}` : 'no enrollment yet';
  return (
    <figure class="chart">
      <div class="chart-box"><canvas ref={canvas} role="img" aria-label={`Enrollment curve: ${summary}`} /></div>
      <figcaption>Cumulative enrollment by month: {summary}.</figcaption>
    </figure>
  );
}

function MilestoneGantt({ milestones }: { milestones: Rec[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const tasks = milestones.filter((m) => m.planned_on || m.baseline_on).map((m) => {
      const dates = [m.baseline_on, m.planned_on, m.actual_on].filter(Boolean).sort();
      return {
        id: `m${m.id}`, name: m.name, start: dates[0], end: dates[dates.length - 1],
        progress: m.actual_on ? 100 : 0,
        custom_class: m.actual_on ? 'ms-done' : m.overdue ? 'ms-overdue' : 'ms-planned',
      };
    });
    if (!tasks.length) return;
    box.current.innerHTML = '';
    new Gantt(box.current, tasks, {
      view_mode: 'Month', readonly: true, today_button: false, view_mode_select: false,
      popup_on: 'hover', infinite_padding: false, scroll_to: 'start', bar_height: 20, padding: 14, column_width: 80,
    } as any);
  }, [milestones]);
  return <div class="ms-gantt" ref={box} aria-hidden="true" />;
}

function Milestones({ milestones }: { milestones: Rec[] }) {
  if (!milestones.length) return <Empty>No milestones planned.</Empty>;
  return (
    <>
      <MilestoneGantt milestones={milestones} />
      <table class="grid compact">
        <caption>Milestones: baseline, planned and actual dates</caption>
        <thead><tr><th scope="col">Milestone</th><th scope="col">Baseline</th><th scope="col">Planned</th><th scope="col">Actual</th><th scope="col">Variance</th></tr></thead>
        <tbody>
          {milestones.map((m) => (
            <tr key={m.id} class={m.overdue ? 'overdue' : ''}>
              <th scope="row">{m.name}{m.overdue && <> <span class="flag flag-red">overdue</span></>}</th>
              <td>{fmtDate(m.baseline_on)}</td><td>{fmtDate(m.planned_on)}</td><td>{fmtDate(m.actual_on)}</td>
              <td class="num">{m.variance_days === null || m.variance_days === undefined ? '—' : `${m.variance_days > 0 ? '+' : ''}${m.variance_days} d`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const MILESTONE_KINDS = ['protocol_approval', 'regulatory_approval', 'ethics_approval', 'first_site_activated',
  'first_subject_screened', 'first_subject_enrolled', 'last_subject_enrolled', 'last_subject_last_visit',
  'database_lock', 'clinical_study_report', 'site_selection', 'site_initiation', 'site_activation', 'site_close_out', 'other'];

/** Plans a milestone of the study (or of one of its sites). */
function AddMilestone({ study, sites, onDone }: { study: Rec; sites: Rec[]; onDone: () => void }) {
  return (
    <CreateDialog button="Add milestone" title="Add a milestone" submit="Add milestone"
      fields={[
        { name: 'name', label: 'Name' },
        { name: 'kind', label: 'Kind', options: MILESTONE_KINDS.map((k): [string, string] => [k, label(k)]) },
        { name: 'study_site_id', label: 'Site', options: [['', 'The whole study'], ...sites.map((s): [string, string] => [String(s.id), `${s.site_number} — ${s.institution_name}`])] },
        { name: 'baseline_on', label: 'Baseline date', type: 'date', hint: 'The date first agreed; kept to measure slippage' },
        { name: 'planned_on', label: 'Planned date', type: 'date' },
        { name: 'actual_on', label: 'Actual date', type: 'date', hint: 'When it happened; not in the future' },
        { name: 'notes', label: 'Notes' },
      ]}
      initial={() => ({ name: '', kind: 'other', study_site_id: '', baseline_on: '', planned_on: '', actual_on: '', notes: '' })}
      toBody={(form) => {
        const body: Record<string, unknown> = filled(form, ['name', 'kind', 'baseline_on', 'planned_on', 'actual_on', 'notes']);
        if (form.study_site_id) body.study_site_id = Number(form.study_site_id);
        return body;
      }}
      create={(body) => api.post(`/api/v1/studies/${study.id}/milestones`, body)}
      onDone={onDone} />
  );
}

const FUNNEL = ['identified', 'feasibility', 'selected', 'approved', 'contracted', 'initiated', 'activated', 'enrolling', 'closed'];

/** Sites that reached each step or beyond: the activation funnel. */
export function funnel(byStatus: Record<string, number>): { step: string; count: number }[] {
  return FUNNEL.map((step, i) => ({ step, count: FUNNEL.slice(i).reduce((n, s) => n + (byStatus[s] ?? 0), 0) }));
}

function Funnel({ byStatus }: { byStatus: Record<string, number> }) {
  const steps = funnel(byStatus);
  const max = Math.max(1, steps[0].count);
  return (
    <ol class="funnel">
      {steps.map((s) => (
        <li key={s.step}>
          <span class="funnel-label">{label(s.step)}</span>
          <span class="funnel-bar" style={{ width: `${(s.count / max) * 100}%` }} aria-hidden="true" />
          <span class="funnel-count">{s.count}</span>
        </li>
      ))}
    </ol>
  );
}

/** The overview's data; the study's sites too when the user plans milestones (the site picker). */
async function loadOverview(id: number, audit: boolean, planning: boolean) {
  const study = await api.get<Rec>(`/api/v1/studies/${id}`);
  const [summary, enrollment, forecast, milestones, trail, sites] = await Promise.all([
    optional(api.get(`/api/v1/studies/${id}/summary`)),
    optional(api.get(`/api/v1/studies/${id}/enrollment?by=month`)),
    study.status === 'enrolling' ? optional(api.get(`/api/v1/studies/${id}/forecast`)) : Promise.resolve(null),
    api.all<Rec>(`/api/v1/studies/${id}/milestones`),
    audit ? optional(api.get(`/api/v1/audit?entity=study&id=${id}&limit=1000`)) : Promise.resolve(null),
    planning ? api.all<Rec>(`/api/v1/studies/${id}/sites`) : Promise.resolve([] as Rec[]),
  ]);
  return { study, summary, enrollment, forecast, milestones, sites, trail: (trail?.items ?? []).slice(-8).reverse() as Rec[] };
}

/** What the study registers (ClinicalTrials.gov): status, design,
 * conditions, collaborators, arms, eligibility; null when nothing is kept. */
function Registration({ study }: { study: Rec }) {
  const design = [study.study_type, study.allocation, study.intervention_model ?? study.observational_model,
    study.masking && `masking: ${registryWords(study.masking).toLowerCase()}`, study.primary_purpose].filter(Boolean);
  const ages = [study.eligibility_minimum_age, study.eligibility_maximum_age];
  const arms: Rec[] = study.arms ?? [];
  const any = study.registry_status || design.length || study.conditions?.length || arms.length || study.eligibility_sex;
  if (!any) return null;
  return (
    <section class="panel wide" aria-labelledby="h-reg">
      <h2 id="h-reg">Registration</h2>
      <dl class="facts">
        {study.nct_id && <div><dt>NCT number</dt><dd>{study.nct_id}</dd></div>}
        {study.registry_status && <div><dt>Registry status</dt><dd>{registryWords(study.registry_status)}{study.why_stopped ? ` (${study.why_stopped})` : ''}</dd></div>}
        {design.length > 0 && <div><dt>Design</dt><dd>{design.map((d: string) => (d.startsWith('masking') ? d : registryWords(d))).join(' · ')}</dd></div>}
        {study.conditions?.length > 0 && <div><dt>Conditions</dt><dd>{study.conditions.join('; ')}</dd></div>}
        {study.collaborators?.length > 0 && <div><dt>Collaborators</dt><dd>{study.collaborators.join('; ')}</dd></div>}
        {study.eligibility_sex && <div><dt>Eligible</dt><dd>{registryWords(study.eligibility_sex)}, {ages[0] ?? 'any age'} – {ages[1] ?? 'no upper limit'}{study.healthy_volunteers ? ', healthy volunteers' : ''}</dd></div>}
      </dl>
      {arms.length > 0 && (
        <table class="grid compact">
          <caption>Arms</caption>
          <thead><tr><th scope="col">Arm</th><th scope="col">Type</th><th scope="col">Interventions</th></tr></thead>
          <tbody>
            {arms.map((arm) => (
              <tr key={arm.label}><th scope="row" title={arm.description}>{arm.label}</th><td>{registryWords(arm.type)}</td><td>{(arm.interventions ?? []).join('; ') || '—'}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {study.eligibility_criteria && (
        <details><summary>Eligibility criteria</summary><p class="criteria">{study.eligibility_criteria}</p></details>
      )}
    </section>
  );
}

export function StudyOverview({ id }: { id: number }) {
  const user = useUser();
  const planning = can.planMilestones(user, id);
  const load = useLoad(() => loadOverview(id, can.auditTrail(user), planning), [id]);
  if (load.error && !load.data) return <main id="main"><ErrorBox error={load.error} retry={load.reload} /></main>;
  if (!load.data) return <main id="main"><Loading what="Loading the study" /></main>;
  const { study, summary, enrollment, forecast, milestones, sites, trail } = load.data;
  const points = curve(enrollment, forecast);
  return (
    <main id="main" class="overview">
      <StudyNav study={study} current="overview" />
      <div class="page-head">
        <p class="lede">{study.title}</p>
        {can.moveStudy(user, study.id) && (
          <TransitionDialog collection="studies" record={study} steps={STUDY_NEXT[study.status] ?? []} title="Change study status" onDone={() => load.reload()} />
        )}
      </div>
      <dl class="facts">
        <div><dt>Phase</dt><dd>{label(study.phase)}</dd></div>
        <div><dt>Status</dt><dd><StatusTag status={study.status} /></dd></div>
        <div><dt>Therapeutic area</dt><dd>{study.therapeutic_area ?? '—'}</dd></div>
        <div><dt>Protocol version</dt><dd>{study.current_protocol_version?.number ?? '—'}</dd></div>
        {(study.planned_start_on || study.planned_end_on) && <div><dt>Planned</dt><dd>{fmtDate(study.planned_start_on)} – {fmtDate(study.planned_end_on)}</dd></div>}
        {forecast?.status === 'ok' && <div><dt>Forecast completion</dt><dd>{fmtDate(forecast.completion.median_on)} <small>(90%: {fmtDate(forecast.completion.lower_on)} – {fmtDate(forecast.completion.upper_on)})</small></dd></div>}
      </dl>
      <div class="panels">
        <section class="panel wide" aria-labelledby="h-curve">
          <h2 id="h-curve">Enrollment</h2>
          {summary && <EnrollmentBar enrolled={summary.enrollment.enrolled} target={summary.enrollment.target} />}
          {enrollment ? (points.length ? <EnrollmentChart points={points} /> : <Empty>No enrollment yet.</Empty>)
            : <Empty>Enrollment reports are not available to your role.</Empty>}
        </section>
        <section class="panel" aria-labelledby="h-subjects">
          <h2 id="h-subjects">Subjects by status</h2>
          {summary ? (
            <table class="grid compact counts">
              <caption class="sr-only">Subjects by status</caption>
              <tbody>
                {Object.entries(summary.subjects.by_status as Record<string, number>).map(([s, n]) => (
                  <tr key={s}><th scope="row">{label(s)}</th><td class="num">{fmtNumber(n)}</td></tr>
                ))}
                <tr class="total"><th scope="row">total</th><td class="num">{fmtNumber(summary.subjects.total)}</td></tr>
              </tbody>
            </table>
          ) : <Empty>Not available to your role.</Empty>}
        </section>
        <section class="panel" aria-labelledby="h-funnel">
          <h2 id="h-funnel">Site activation</h2>
          {summary ? (summary.sites.total ? <Funnel byStatus={summary.sites.by_status} /> : <Empty>No sites yet.</Empty>) : <Empty>Not available to your role.</Empty>}
        </section>
        <Registration study={study} />
        <section class="panel wide" aria-labelledby="h-ms">
          <h2 id="h-ms">Milestones</h2>
          {planning && <AddMilestone study={study} sites={sites} onDone={load.reload} />}
          <Milestones milestones={milestones} />
        </section>
        {can.auditTrail(user) && (
          <section class="panel wide" aria-labelledby="h-activity">
            <h2 id="h-activity">Recent activity</h2>
            {trail.length ? (
              <ul class="activity">
                {trail.map((ev) => (
                  <li key={ev.seq}><time dateTime={ev.at}>{fmtTime(ev.at)}</time> <strong>{ev.actor}</strong> {ev.action}
                    {ev.changes?.length ? `: ${ev.changes.slice(0, 3).map((c: any) => `${label(c.field)} → ${c.new ?? '—'}`).join(', ')}` : ''}
                    {ev.reason ? ` (${ev.reason})` : ''}</li>
                ))}
              </ul>
            ) : <Empty>No activity recorded.</Empty>}
            <p><Link href={`/audit?entity=study&id=${study.id}`}>Full audit trail of this study</Link></p>
          </section>
        )}
        <section class="panel wide" aria-labelledby="h-sig">
          <h2 id="h-sig">Signatures</h2>
          <Signatures entity="study" record={study} onSigned={load.reload} />
        </section>
      </div>
    </main>
  );
}

import { useState } from 'preact/hooks';
import { api, ApiError, type Rec } from '../api';
import { can } from '../access';
import { fmtDate, fmtNumber, fmtPercent, label, today } from '../format';
import { Link, navigate } from '../router';
import { useUser } from '../session';
import { Dialog, Empty, ErrorBox, Field, FormError, Loading, Show, StatusTag, fieldErrors, useLoad } from '../components/ui';
import { Signatures } from '../components/Signatures';
import { AuditList } from './Audit';
import { StudyNav } from './StudyNav';

export const SITE_STEPS = ['identified', 'feasibility', 'selected', 'approved', 'contracted', 'initiated', 'activated', 'enrolling', 'closed'];

/** The next lifecycle steps a study-site may take from status. */
export function nextSiteSteps(status: string): string[] {
  if (status === 'closed') return [];
  const i = SITE_STEPS.indexOf(status);
  const next = i >= 0 && i + 1 < SITE_STEPS.length - 1 ? [SITE_STEPS[i + 1]] : [];
  return [...next, 'closed'];
}

export interface SiteFigures { screened: number; enrolled: number; screenFailed: number }

export function siteFigures(subjects: Rec[]): Map<number, SiteFigures> {
  const m = new Map<number, SiteFigures>();
  for (const s of subjects) {
    const f = m.get(s.study_site_id) ?? { screened: 0, enrolled: 0, screenFailed: 0 };
    f.screened++;
    if (s.enrolled_on) f.enrolled++;
    if (s.status === 'screen_failed') f.screenFailed++;
    m.set(s.study_site_id, f);
  }
  return m;
}

/** Asks for the date and the reason of a lifecycle step, then takes it. */
export function TransitionDialog({ collection, record, steps, timeZone, onDone, title }: {
  collection: string; record: Rec; steps: string[]; timeZone?: string; onDone: (r: Rec) => void; title: string;
}) {
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState(steps[0] ?? '');
  const [on, setOn] = useState(today(timeZone));
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { byField, general } = fieldErrors(error, ['to', 'on', 'reason']);
  if (!steps.length) return null;
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await api.transition(collection, record.id, to, on, reason.trim() || undefined);
      setOpen(false);
      onDone(r);
    } catch (err) { setError(err); } finally { setBusy(false); }
  }
  return (
    <>
      <button type="button" class="primary" onClick={() => { setError(null); setTo(steps[0]); setOpen(true); }}>{title}</button>
      <Dialog title={title} open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit} noValidate>
          <Field label="New status" name="to" value={to} onInput={(e) => setTo((e.target as HTMLSelectElement).value)} error={byField.to}>
            {steps.map((s) => <option value={s}>{label(s)}</option>)}
          </Field>
          <Field label="Date" name="on" type="date" value={on} onInput={(e) => setOn((e.target as HTMLInputElement).value)} error={byField.on}
            hint={timeZone ? `the site's date (${timeZone})` : undefined} />
          <Field label="Reason" name="reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} error={byField.reason} />
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary" disabled={busy}>Save</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

function AddSite({ studyId, onDone }: { studyId: number; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const blank = { site_number: '', institution_name: '', city: '', country: '', time_zone: '', investigator_name: '', identified_on: today() };
  const [form, setForm] = useState(blank);
  const [error, setError] = useState<unknown>(null);
  const fields = Object.keys(blank);
  const { byField, general } = fieldErrors(error, fields);
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()]));
      const created = await api.post<Rec>(`/api/v1/studies/${studyId}/sites`, body);
      setOpen(false);
      setForm(blank);
      onDone();
      navigate(`/study-sites/${created.id}`);
    } catch (err) { setError(err); }
  }
  const text: Record<string, string> = {
    site_number: 'Site number', institution_name: 'Institution', city: 'City', country: 'Country (ISO code)',
    time_zone: 'Time zone (IANA, e.g. Europe/Madrid)', investigator_name: 'Principal investigator', identified_on: 'Identified on',
  };
  return (
    <>
      <button type="button" class="primary" onClick={() => { setError(null); setOpen(true); }}>Add site</button>
      <Dialog title="Add a site to this study" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit} noValidate>
          {fields.map((f) => (
            <Field key={f} label={text[f]} name={f} type={f === 'identified_on' ? 'date' : 'text'} value={(form as any)[f]} onInput={set(f)} error={byField[f]} />
          ))}
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary">Add site</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

async function loadSites(studyId: number, subjectsToo: boolean) {
  const [study, sites, subjects] = await Promise.all([
    api.get<Rec>(`/api/v1/studies/${studyId}`),
    api.all<Rec>(`/api/v1/studies/${studyId}/sites`),
    subjectsToo ? api.all<Rec>(`/api/v1/studies/${studyId}/subjects`).catch((e) => {
      if (e instanceof ApiError && e.status === 403) return [] as Rec[];
      throw e;
    }) : Promise.resolve([] as Rec[]),
  ]);
  return { study, sites, figures: siteFigures(subjects) };
}

export function Sites({ studyId }: { studyId: number }) {
  const user = useUser();
  const load = useLoad(() => loadSites(studyId, can.readSubjects(user, studyId)), [studyId]);
  return (
    <main id="main">
      <Show load={load}>{({ study, sites, figures }) => (
        <>
          <StudyNav study={study} current="sites" />
          <div class="page-head"><h2>Sites</h2>{can.addSite(user, studyId) && <AddSite studyId={studyId} onDone={load.reload} />}</div>
          {sites.length === 0 ? <Empty>No sites yet.</Empty> : (
            <div class="table-wrap">
              <table class="grid">
                <caption>{sites.length} sites of {study.protocol_number}</caption>
                <thead><tr>
                  <th scope="col">Site</th><th scope="col">Institution</th><th scope="col">Country</th><th scope="col">Status</th>
                  <th scope="col">Activated</th><th scope="col">Screened</th><th scope="col">Enrolled / target</th><th scope="col">Screen-fail rate</th>
                </tr></thead>
                <tbody>
                  {sites.map((s) => {
                    const f = figures.get(s.id);
                    return (
                      <tr key={s.id}>
                        <th scope="row"><Link href={`/study-sites/${s.id}`}>{s.site_number}</Link></th>
                        <td>{s.institution_name}<div class="sub">{s.investigator_name ?? ''}{s.city ? ` · ${s.city}` : ''}</div></td>
                        <td>{s.country}</td>
                        <td><StatusTag status={s.status} /></td>
                        <td>{fmtDate(s.activated_on)}</td>
                        <td class="num">{f ? fmtNumber(f.screened) : '0'}</td>
                        <td class="num">{fmtNumber(f?.enrolled ?? 0)} / {fmtNumber(s.target_enrollment)}</td>
                        <td class="num">{f && f.screened ? fmtPercent((f.screenFailed / f.screened) * 100) : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}</Show>
    </main>
  );
}

async function loadSite(id: number, audit: boolean) {
  const site = await api.get<Rec>(`/api/v1/study-sites/${id}`);
  const [study, subjects, milestones, trail] = await Promise.all([
    api.get<Rec>(`/api/v1/studies/${site.study_id}`),
    api.all<Rec>(`/api/v1/studies/${site.study_id}/subjects?study_site_id=${id}`).catch((e) => {
      if (e instanceof ApiError && e.status === 403) return null;
      throw e;
    }),
    api.all<Rec>(`/api/v1/studies/${site.study_id}/milestones`).then((ms) => ms.filter((m) => m.study_site_id === id)),
    audit ? api.get(`/api/v1/audit?entity=study_site&id=${id}&limit=1000`).then((r) => r.items as Rec[]) : Promise.resolve(null),
  ]);
  return { site, study, subjects, milestones, trail };
}

export function SitePage({ id }: { id: number }) {
  const user = useUser();
  const load = useLoad(() => loadSite(id, can.auditTrail(user)), [id]);
  if (load.error && !load.data) return <main id="main"><ErrorBox error={load.error} retry={load.reload} /></main>;
  if (!load.data) return <main id="main"><Loading /></main>;
  const { site, study, subjects, milestones, trail } = load.data;
  const dates = SITE_STEPS.map((s) => [s, site[`${s}_on`]] as const).filter(([, d]) => d);
  return (
    <main id="main">
      <StudyNav study={study} current="sites" />
      <div class="page-head">
        <h2>Site {site.site_number}: {site.institution_name}</h2>
        {can.moveSite(user, study.id, site.id) && (
          <TransitionDialog collection="study-sites" record={site} steps={nextSiteSteps(site.status)} timeZone={site.time_zone}
            title="Change status" onDone={() => load.reload()} />
        )}
      </div>
      <dl class="facts">
        <div><dt>Status</dt><dd><StatusTag status={site.status} />{site.status_reason ? ` — ${site.status_reason}` : ''}</dd></div>
        <div><dt>Investigator</dt><dd>{site.investigator_name ?? '—'}</dd></div>
        <div><dt>Location</dt><dd>{[site.city, site.country].filter(Boolean).join(', ')}</dd></div>
        <div><dt>Time zone</dt><dd>{site.time_zone ?? '—'}</dd></div>
        <div><dt>Target</dt><dd>{fmtNumber(site.target_enrollment)}</dd></div>
        <div><dt>Planned activation</dt><dd>{fmtDate(site.planned_activation_on)}</dd></div>
      </dl>
      <div class="panels">
        <section class="panel" aria-labelledby="h-life">
          <h2 id="h-life">Lifecycle</h2>
          <ol class="timeline">{dates.map(([s, d]) => <li key={s}><strong>{label(s)}</strong> {fmtDate(d)}</li>)}</ol>
        </section>
        <section class="panel" aria-labelledby="h-sms">
          <h2 id="h-sms">Site milestones</h2>
          {milestones.length ? <ul>{milestones.map((m) => <li key={m.id}>{m.name}: {fmtDate(m.actual_on ?? m.planned_on)}{m.overdue ? ' (overdue)' : ''}</li>)}</ul> : <Empty>None.</Empty>}
        </section>
        <section class="panel wide" aria-labelledby="h-ssub">
          <h2 id="h-ssub">Subjects</h2>
          {subjects === null ? <Empty>Not available to your role.</Empty> : subjects.length === 0 ? <Empty>No subjects at this site.</Empty> : (
            <table class="grid compact">
              <caption class="sr-only">Subjects at site {site.site_number}</caption>
              <thead><tr><th scope="col">Screening no.</th><th scope="col">Subject no.</th><th scope="col">Status</th><th scope="col">Screened</th><th scope="col">Enrolled</th></tr></thead>
              <tbody>{subjects.map((s) => (
                <tr key={s.id}><th scope="row"><Link href={`/subjects/${s.id}`}>{s.screening_number}</Link></th><td>{s.subject_number ?? '—'}</td>
                  <td><StatusTag status={s.status} /></td><td>{fmtDate(s.screened_on)}</td><td>{fmtDate(s.enrolled_on)}</td></tr>
              ))}</tbody>
            </table>
          )}
        </section>
        <section class="panel wide" aria-labelledby="h-ssig"><h2 id="h-ssig">Signatures</h2><Signatures entity="study_site" record={site} onSigned={load.reload} /></section>
        {trail && <section class="panel wide" aria-labelledby="h-shist"><h2 id="h-shist">History</h2><AuditList events={trail} timeZone={site.time_zone} /></section>}
      </div>
    </main>
  );
}

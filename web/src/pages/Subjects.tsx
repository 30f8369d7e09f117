import { useState } from 'preact/hooks';
import { api, ApiError, type Rec } from '../api';
import { can } from '../access';
import { fmtDate, label, today } from '../format';
import { Link, navigate } from '../router';
import { useUser } from '../session';
import { Dialog, Empty, ErrorBox, Field, FormError, Loading, Show, StaleNotice, StatusTag, fieldErrors, useLoad } from '../components/ui';
import { Signatures } from '../components/Signatures';
import { CreateDialog, filled } from '../components/CreateDialog';
import { AuditList } from './Audit';
import { StudyNav } from './StudyNav';
import { TransitionDialog } from './Sites';

const SEXES = ['F', 'M', 'U', 'UNDIFFERENTIATED'];

/** The subject's next steps, as the API's lifecycle allows them. */
export function nextSubjectSteps(status: string): string[] {
  return ({ screened: ['enrolled', 'screen_failed'], enrolled: ['completed', 'withdrawn'] } as Record<string, string[]>)[status] ?? [];
}

/**
 * Checks a screening form as the API would before sending it, so the
 * obvious mistakes are caught at once; the API's own messages replace
 * these when it answers.
 */
export function checkScreening(form: Record<string, string>, todayIs: string): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!form.site_number) errors.site_number = 'is required';
  if (!form.screening_number?.trim()) errors.screening_number = 'is required';
  else if (form.screening_number !== form.screening_number.trim()) errors.screening_number = 'must not begin or end with a space';
  if (!form.screened_on) errors.screened_on = 'is required';
  else if (form.screened_on > todayIs) errors.screened_on = 'must not be in the future';
  if (form.age && !/^\d{1,3}$/.test(form.age)) errors.age = 'must be a whole number of years';
  if (form.consented_on && form.screened_on && form.consented_on > form.screened_on) errors.consented_on = 'must be on or before the screening date';
  return errors;
}

function ScreenSubject({ studyId, sites, onDone }: { studyId: number; sites: Rec[]; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const blank = { site_number: sites[0]?.site_number ?? '', screening_number: '', sex: 'F', age: '', screened_on: today(sites[0]?.time_zone), consented_on: '' };
  const [form, setForm] = useState(blank);
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const { byField, general } = fieldErrors(error, Object.keys(blank));
  const errs = { ...local, ...byField };
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const site = sites.find((s) => s.site_number === form.site_number);
    const found = checkScreening(form, today(site?.time_zone));
    setLocal(found);
    if (Object.keys(found).length) return;
    const body: Record<string, unknown> = { site_number: form.site_number, screening_number: form.screening_number, sex: form.sex, screened_on: form.screened_on };
    if (form.age) body.age = Number(form.age);
    if (form.consented_on) body.consented_on = form.consented_on;
    try {
      const created = await api.post<Rec>(`/api/v1/studies/${studyId}/subjects`, body);
      setOpen(false);
      setForm(blank);
      onDone();
      navigate(`/subjects/${created.id}`);
    } catch (err) { setError(err); }
  }
  return (
    <>
      <button type="button" class="primary" onClick={() => { setError(null); setLocal({}); setOpen(true); }}>Screen a subject</button>
      <Dialog title="Screen a subject" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit} noValidate>
          <Field label="Site" name="site_number" value={form.site_number} onInput={set('site_number')} error={errs.site_number}>
            {sites.map((s) => <option value={s.site_number}>{s.site_number} — {s.institution_name}</option>)}
          </Field>
          <Field label="Screening number" name="screening_number" value={form.screening_number} onInput={set('screening_number')} error={errs.screening_number} />
          <Field label="Sex" name="sex" value={form.sex} onInput={set('sex')} error={errs.sex}>
            {SEXES.map((s) => <option value={s}>{s}</option>)}
          </Field>
          <Field label="Age (years)" name="age" inputMode="numeric" value={form.age} onInput={set('age')} error={errs.age} />
          <Field label="Screened on" name="screened_on" type="date" value={form.screened_on} onInput={set('screened_on')} error={errs.screened_on} />
          <Field label="Consented on" name="consented_on" type="date" value={form.consented_on} onInput={set('consented_on')} error={errs.consented_on} />
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary">Screen</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

async function loadSubjects(studyId: number) {
  const [study, subjects, sites] = await Promise.all([
    api.get<Rec>(`/api/v1/studies/${studyId}`),
    api.all<Rec>(`/api/v1/studies/${studyId}/subjects`),
    api.all<Rec>(`/api/v1/studies/${studyId}/sites`),
  ]);
  return { study, subjects, sites };
}

export function Subjects({ studyId }: { studyId: number }) {
  const user = useUser();
  const load = useLoad(() => loadSubjects(studyId), [studyId]);
  const [status, setStatus] = useState('');
  const [search, setSearch] = useState('');
  return (
    <main id="main">
      <Show load={load}>{({ study, subjects, sites }) => {
        const active = sites.filter((s) => ['activated', 'enrolling'].includes(s.status) && can.screenSubject(user, studyId, s.id));
        const q = search.trim().toLowerCase();
        const shown = subjects.filter((s) => (!status || s.status === status) &&
          (!q || [s.screening_number, s.subject_number, s.site_number].some((v) => v && String(v).toLowerCase().includes(q))));
        return (
          <>
            <StudyNav study={study} current="subjects" />
            <div class="page-head"><h2>Subjects</h2>{active.length > 0 && <ScreenSubject studyId={studyId} sites={active} onDone={load.reload} />}</div>
            <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
              <Field label="Search" name="q" type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
              <Field label="Status" name="status" value={status} onInput={(e) => setStatus((e.target as HTMLSelectElement).value)}>
                <option value="">All statuses</option>
                {['screened', 'screen_failed', 'enrolled', 'completed', 'withdrawn'].map((s) => <option value={s}>{label(s)}</option>)}
              </Field>
            </form>
            {subjects.length === 0 ? <Empty>No subjects yet.</Empty> : (
              <div class="table-wrap">
                <table class="grid">
                  <caption>{shown.length} of {subjects.length} subjects</caption>
                  <thead><tr><th scope="col">Screening no.</th><th scope="col">Subject no.</th><th scope="col">Site</th><th scope="col">Status</th>
                    <th scope="col">Sex</th><th scope="col">Age band</th><th scope="col">Screened</th><th scope="col">Enrolled</th>{shown.some((s) => 'arm' in s && s.arm) && <th scope="col">Arm</th>}</tr></thead>
                  <tbody>{shown.map((s) => (
                    <tr key={s.id}>
                      <th scope="row"><Link href={`/subjects/${s.id}`}>{s.screening_number}</Link></th><td>{s.subject_number ?? '—'}</td>
                      <td>{s.site_number}</td><td><StatusTag status={s.status} /></td><td>{s.sex ?? '—'}</td><td>{s.age_band ?? '—'}</td>
                      <td>{fmtDate(s.screened_on)}</td><td>{fmtDate(s.enrolled_on)}</td>
                      {shown.some((x) => 'arm' in x && x.arm) && <td>{s.arm ?? '—'}</td>}
                    </tr>
                  ))}</tbody>
                </table>
              </div>
            )}
          </>
        );
      }}</Show>
    </main>
  );
}

const EDITABLE = ['subject_number', 'age', 'consented_on', 'consent_version'];

/** Edits a subject with If-Match: a 412 shows what changed, never overwrites it. */
function EditSubject({ subject, onSaved }: { subject: Rec; onSaved: (r: Rec) => void }) {
  const init = () => Object.fromEntries(EDITABLE.map((k) => [k, subject[k] === null || subject[k] === undefined ? '' : String(subject[k])]));
  const [base, setBase] = useState<Rec>(subject);
  const [form, setForm] = useState<Record<string, string>>(init);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const { byField, general } = fieldErrors(error, EDITABLE);
  const stale = error instanceof ApiError && error.stale ? error.problem.current : undefined;
  const set = (k: string) => (e: Event) => { setSaved(false); setForm({ ...form, [k]: (e.target as HTMLInputElement).value }); };
  async function submit(e: Event) {
    e.preventDefault();
    const changes: Record<string, unknown> = {};
    for (const k of EDITABLE) {
      const was = base[k] === null || base[k] === undefined ? '' : String(base[k]);
      if (form[k] !== was) changes[k] = form[k] === '' ? null : (k === 'age' ? Number(form[k]) : form[k]);
    }
    if (!Object.keys(changes).length) return;
    try {
      const r = await api.patch<Rec>(`/api/v1/subjects/${subject.id}`, changes, base.version);
      setError(null);
      setBase(r);
      setSaved(true);
      onSaved(r);
    } catch (err) { setError(err); }
  }
  function useCurrent() {
    if (!stale) return;
    setBase(stale as Rec);
    setForm(Object.fromEntries(EDITABLE.map((k) => [k, stale[k] === null || stale[k] === undefined ? '' : String(stale[k])])));
    setError(null);
    onSaved(stale as Rec);
  }
  return (
    <form onSubmit={submit} noValidate class="edit">
      {stale && <StaleNotice current={stale as Rec} mine={form} fields={EDITABLE} onReload={useCurrent} />}
      <Field label="Subject number" name="subject_number" value={form.subject_number} onInput={set('subject_number')} error={byField.subject_number} />
      <Field label="Age (years)" name="age" inputMode="numeric" value={form.age} onInput={set('age')} error={byField.age} />
      <Field label="Consented on" name="consented_on" type="date" value={form.consented_on} onInput={set('consented_on')} error={byField.consented_on} />
      <Field label="Consent version" name="consent_version" value={form.consent_version} onInput={set('consent_version')} error={byField.consent_version} />
      {!stale && <FormError text={general} />}
      {saved && <p role="status" class="ok">Saved (version {base.version}).</p>}
      <div class="actions"><button type="submit" class="primary">Save changes</button></div>
    </form>
  );
}

async function loadSubject(id: number, audit: boolean) {
  const subject = await api.get<Rec>(`/api/v1/subjects/${id}`);
  const [study, site, visits, schedule, trail] = await Promise.all([
    api.get<Rec>(`/api/v1/studies/${subject.study_id}`),
    api.get<Rec>(`/api/v1/study-sites/${subject.study_site_id}`),
    api.all<Rec>(`/api/v1/subjects/${id}/visits`),
    api.all<Rec>(`/api/v1/studies/${subject.study_id}/visit-definitions`),
    audit ? api.get(`/api/v1/audit?entity=subject&id=${id}&limit=1000`).then((r) => r.items as Rec[]) : Promise.resolve(null),
  ]);
  return { subject, study, site, visits, schedule, trail };
}

const UNSCHEDULED = '';

/**
 * The body of "Record a visit": a scheduled visit by its number (its name
 * and kind come from the schedule), an unscheduled one by its name.
 */
export function visitBody(form: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = filled(form, ['visit_on', 'end_on', 'kind', 'notes']);
  if (form.visit_number !== UNSCHEDULED) body.visit_number = form.visit_number;
  else if (form.name?.trim()) body.name = form.name;
  return body;
}

/** Records a visit of the subject: scheduled ones not yet recorded, or unscheduled. */
function RecordVisit({ subject, site, schedule, visits, onDone }: {
  subject: Rec; site: Rec; schedule: Rec[]; visits: Rec[]; onDone: () => void;
}) {
  const done = new Set(visits.map((v) => v.visit_number).filter(Boolean));
  const open = schedule.filter((d) => !done.has(d.number));
  const choices: [string, string][] = [...open.map((d): [string, string] => [d.number, `Visit ${d.number} — ${d.name}`]), [UNSCHEDULED, 'Unscheduled visit']];
  return (
    <CreateDialog button="Record a visit" title="Record a visit" submit="Record visit"
      fields={[
        { name: 'visit_number', label: 'Visit', options: choices },
        { name: 'name', label: 'Name (unscheduled visit)' },
        { name: 'visit_on', label: 'Visit date', type: 'date', hint: `In the site's time zone, ${site.time_zone}` },
        { name: 'end_on', label: 'End date (if over several days)', type: 'date' },
        { name: 'kind', label: 'How', options: [['', 'As scheduled'], ['in_person', 'In person'], ['remote', 'Remote'], ['phone', 'Phone']] },
        { name: 'notes', label: 'Notes' },
      ]}
      initial={() => ({ visit_number: choices[0][0], name: '', visit_on: today(site.time_zone), end_on: '', kind: '', notes: '' })}
      toBody={visitBody}
      create={(body) => api.post(`/api/v1/subjects/${subject.id}/visits`, body)}
      onDone={onDone} />
  );
}

export function SubjectPage({ id }: { id: number }) {
  const user = useUser();
  const load = useLoad(() => loadSubject(id, can.auditTrail(user)), [id]);
  const [showEdit, setShowEdit] = useState(false);
  if (load.error && !load.data) return <main id="main"><ErrorBox error={load.error} retry={load.reload} /></main>;
  if (!load.data) return <main id="main"><Loading /></main>;
  const { subject, study, site, visits, schedule, trail } = load.data;
  const mayMove = can.moveSubject(user, study.id, site.id);
  const history = [
    ['screened', subject.screened_on], ['screen_failed', subject.screen_failed_on], ['enrolled', subject.enrolled_on],
    ['completed', subject.completed_on], ['withdrawn', subject.withdrawn_on],
  ].filter(([, d]) => d);
  return (
    <main id="main">
      <StudyNav study={study} current="subjects" />
      <div class="page-head">
        <h2>Subject {subject.screening_number}{subject.subject_number ? ` (${subject.subject_number})` : ''}</h2>
        {mayMove && <TransitionDialog collection="subjects" record={subject} steps={nextSubjectSteps(subject.status)} timeZone={site.time_zone}
          title="Record a status change" onDone={() => load.reload()} />}
        {mayMove && <button type="button" onClick={() => setShowEdit(!showEdit)} aria-expanded={showEdit}>Edit details</button>}
      </div>
      <dl class="facts">
        <div><dt>Status</dt><dd><StatusTag status={subject.status} /></dd></div>
        <div><dt>Site</dt><dd><Link href={`/study-sites/${site.id}`}>{site.site_number}</Link> ({site.time_zone})</dd></div>
        <div><dt>Sex / age band</dt><dd>{subject.sex ?? '—'} / {subject.age_band ?? '—'}</dd></div>
        <div><dt>Consent</dt><dd>{fmtDate(subject.consented_on)}{subject.consent_version ? `, version ${subject.consent_version}` : ''}</dd></div>
        {'arm' in subject && subject.arm !== undefined && <div><dt>Arm</dt><dd>{subject.arm ?? '—'}</dd></div>}
        {subject.screen_failure_reason && <div><dt>Screen failure</dt><dd>{subject.screen_failure_reason}</dd></div>}
        {subject.withdrawal_reason && <div><dt>Withdrawal</dt><dd>{subject.withdrawal_reason}</dd></div>}
      </dl>
      {showEdit && <section class="panel" aria-label="Edit subject"><EditSubject subject={subject} onSaved={() => { /* the page refreshes on close */ }} /></section>}
      <div class="panels">
        <section class="panel" aria-labelledby="h-hist"><h2 id="h-hist">Status history</h2>
          <ol class="timeline">{history.map(([s, d]) => <li key={s}><strong>{label(s as string)}</strong> {fmtDate(d as string)}</li>)}</ol>
        </section>
        <section class="panel" aria-labelledby="h-visits"><h2 id="h-visits">Visits</h2>
          {mayMove && ['enrolled', 'screened', 'completed'].includes(subject.status) && (
            <RecordVisit subject={subject} site={site} schedule={schedule} visits={visits} onDone={load.reload} />
          )}
          {visits.length ? (
            <table class="grid compact"><caption class="sr-only">Visits</caption>
              <thead><tr><th scope="col">Visit</th><th scope="col">Date</th><th scope="col">Window</th></tr></thead>
              <tbody>{visits.map((v) => <tr key={v.id}><th scope="row">{v.visit_number ? `Visit ${v.visit_number}` : 'Unscheduled'}{v.name ? ` — ${v.name}` : ''}</th>
                <td>{fmtDate(v.visit_on)}</td><td>{v.in_window === false ? 'out of window' : v.in_window ? 'in window' : '—'}</td></tr>)}</tbody>
            </table>
          ) : <Empty>No visits recorded.</Empty>}
        </section>
        <section class="panel wide" aria-labelledby="h-subsig"><h2 id="h-subsig">Signatures</h2><Signatures entity="subject" record={subject} onSigned={load.reload} /></section>
        {trail && <section class="panel wide" aria-labelledby="h-subaud"><h2 id="h-subaud">Audit trail</h2><AuditList events={trail} timeZone={site.time_zone} /></section>}
      </div>
    </main>
  );
}


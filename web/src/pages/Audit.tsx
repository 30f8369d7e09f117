import { useState } from 'preact/hooks';
import { api, type Rec } from '../api';
import { can } from '../access';
import { fmtTime, label } from '../format';
import { useUser } from '../session';
import { Empty, ErrorBox, Field, Loading, useLoad } from '../components/ui';

const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Who, when, what changed (old → new) and why, one event a row. */
export function AuditList({ events, timeZone }: { events: Rec[]; timeZone?: string }) {
  if (!events.length) return <Empty>No events.</Empty>;
  return (
    <div class="table-wrap">
      <table class="grid audit">
        <caption class="sr-only">Audit events</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Record</th><th scope="col">Action</th><th scope="col">Changes (old → new)</th><th scope="col">Reason</th></tr></thead>
        <tbody>
          {events.map((ev) => (
            <tr key={ev.seq}>
              <td><time dateTime={ev.at}>{fmtTime(ev.at, timeZone)}</time></td>
              <td>{ev.actor}</td>
              <td>{label(ev.entity)} {ev.entity_id}</td>
              <td>{ev.action}</td>
              <td>
                {ev.changes?.length ? (
                  <ul class="changes">{ev.changes.map((c: any) => (
                    <li key={c.field}><span class="field-name">{label(c.field)}</span>: <del>{show(c.old)}</del> → <ins>{show(c.new)}</ins></li>
                  ))}</ul>
                ) : '—'}
              </td>
              <td>{ev.reason ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const ENTITIES = ['', 'study', 'protocol_version', 'study_site', 'subject', 'milestone', 'site', 'organisation', 'subject_visit', 'user', 'signature'];

export function AuditPage({ entity, id }: { entity: string; id: number }) {
  const user = useUser();
  const [kind, setKind] = useState(entity);
  const [recordId, setRecordId] = useState(id ? String(id) : '');
  const [query, setQuery] = useState({ entity, id });
  const load = useLoad(async () => {
    const q = new URLSearchParams();
    if (query.entity) q.set('entity', query.entity);
    if (query.entity && query.id) q.set('id', String(query.id));
    // Oldest first from the API: read on to the newest, keep the latest 200.
    const events = await api.all<Rec>(`/api/v1/audit?${q}`, 50000);
    return events.slice(-200).reverse();
  }, [query.entity, query.id]);
  if (!can.auditTrail(user)) return <main id="main"><h1>Audit trail</h1><p>Your role does not include the audit trail.</p></main>;
  return (
    <main id="main">
      <h1>Audit trail</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setQuery({ entity: kind, id: Number(recordId) || 0 }); }}>
        <Field label="Record kind" name="entity" value={kind} onInput={(e) => setKind((e.target as HTMLSelectElement).value)}>
          {ENTITIES.map((k) => <option value={k}>{k ? label(k) : 'All records'}</option>)}
        </Field>
        <Field label="Record id" name="id" inputMode="numeric" value={recordId} onInput={(e) => setRecordId((e.target as HTMLInputElement).value)} />
        <button type="submit">Show</button>
      </form>
      {load.error ? <ErrorBox error={load.error} retry={load.reload} /> : !load.data ? <Loading /> : (
        <>
          <p class="muted">Newest first{load.data.length === 200 ? ', the latest 200' : ''}.</p>
          <AuditList events={load.data} />
        </>
      )}
    </main>
  );
}

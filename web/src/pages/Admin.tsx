import { useState } from 'preact/hooks';
import { api, type Rec } from '../api';
import { can } from '../access';
import { fmtTime, label } from '../format';
import { useUser } from '../session';
import { Dialog, Empty, ErrorBox, Field, FormError, Loading, StatusTag, fieldErrors, useLoad } from '../components/ui';

const ROLES = ['admin', 'manager', 'monitor', 'site', 'safety', 'finance', 'auditor', 'viewer'];

function NewUser({ onDone }: { onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const blank = { username: '', display_name: '', email: '', password: '' };
  const [form, setForm] = useState(blank);
  const [error, setError] = useState<unknown>(null);
  const { byField, general } = fieldErrors(error, Object.keys(blank));
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const body: Record<string, string> = { username: form.username, display_name: form.display_name, password: form.password };
      if (form.email) body.email = form.email;
      await api.post('/api/v1/users', body);
      setOpen(false);
      setForm(blank);
      onDone();
    } catch (err) { setError(err); }
  }
  return (
    <>
      <button type="button" class="primary" onClick={() => { setError(null); setOpen(true); }}>New user</button>
      <Dialog title="New user" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit} noValidate>
          <Field label="Username" name="username" autoComplete="off" value={form.username} onInput={set('username')} error={byField.username} />
          <Field label="Printed name" name="display_name" value={form.display_name} onInput={set('display_name')} error={byField.display_name} hint="shown in the audit trail and in signatures" />
          <Field label="E-mail" name="email" type="email" value={form.email} onInput={set('email')} error={byField.email} />
          <Field label="Initial password" name="password" type="password" autoComplete="new-password" value={form.password} onInput={set('password')} error={byField.password} hint="at least 12 characters" />
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary">Create user</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

function GrantForm({ user, onDone }: { user: Rec; onDone: () => void }) {
  const [form, setForm] = useState({ role: 'viewer', study_id: '', study_site_id: '', unblinded: false });
  const [error, setError] = useState<unknown>(null);
  const studies = useLoad(() => api.all<Rec>('/api/v1/studies'), []);
  const sites = useLoad(() => (form.study_id ? api.all<Rec>(`/api/v1/studies/${form.study_id}/sites`) : Promise.resolve([] as Rec[])), [form.study_id]);
  const { byField, general } = fieldErrors(error, ['role', 'study_id', 'study_site_id', 'unblinded']);
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = { role: form.role, unblinded: form.unblinded };
      if (form.study_id) body.study_id = Number(form.study_id);
      if (form.study_site_id) body.study_site_id = Number(form.study_site_id);
      await api.post(`/api/v1/users/${user.id}/grants`, body);
      setError(null);
      onDone();
    } catch (err) { setError(err); }
  }
  return (
    <form onSubmit={submit} noValidate class="inline-form" aria-label={`Grant a role to ${user.username}`}>
      <Field label="Role" name="role" value={form.role} onInput={(e) => setForm({ ...form, role: (e.target as HTMLSelectElement).value })} error={byField.role}>
        {ROLES.map((r) => <option value={r}>{r}</option>)}
      </Field>
      <Field label="Study" name="study_id" value={form.study_id} error={byField.study_id}
        onInput={(e) => setForm({ ...form, study_id: (e.target as HTMLSelectElement).value, study_site_id: '' })}>
        <option value="">Every study</option>
        {(studies.data ?? []).map((st) => <option value={String(st.id)}>{st.protocol_number}</option>)}
      </Field>
      <Field label="Site" name="study_site_id" value={form.study_site_id} error={byField.study_site_id} disabled={!form.study_id}
        onInput={(e) => setForm({ ...form, study_site_id: (e.target as HTMLSelectElement).value })}>
        <option value="">The whole study</option>
        {(sites.data ?? []).map((si) => <option value={String(si.id)}>{si.site_number} — {si.institution_name}</option>)}
      </Field>
      <div class="field check"><label><input type="checkbox" checked={form.unblinded} onChange={(e) => setForm({ ...form, unblinded: (e.target as HTMLInputElement).checked })} /> Unblinded</label></div>
      <FormError text={general} />
      <button type="submit">Grant</button>
    </form>
  );
}

function UserDetail({ user, onChange }: { user: Rec; onChange: () => void }) {
  const tokens = useLoad(() => api.all<Rec>(`/api/v1/users/${user.id}/tokens`), [user.id, user.version]);
  const [error, setError] = useState<unknown>(null);
  async function act(fn: () => Promise<unknown>) {
    try { await fn(); setError(null); onChange(); tokens.reload(); } catch (err) { setError(err); }
  }
  const next = user.status === 'active' ? 'disabled' : 'active';
  return (
    <section class="panel wide" aria-labelledby={`u-${user.id}`}>
      <h2 id={`u-${user.id}`}>{user.display_name} <small>({user.username})</small></h2>
      {error != null && <ErrorBox error={error} />}
      <p><StatusTag status={user.status} /> {user.totp ? 'second factor on' : 'no second factor'}{user.locked_until ? `, locked until ${fmtTime(user.locked_until)}` : ''}{' '}
        <button type="button" onClick={() => act(() => api.patch(`/api/v1/users/${user.id}`, { status: next }, user.version))}>{next === 'disabled' ? 'Disable account' : 'Enable account'}</button></p>
      <h3>Roles and scopes</h3>
      {user.grants.length ? (
        <ul class="grants">{user.grants.map((g: Rec) => (
          <li key={g.id}>{g.role} — {g.study_id ? `study ${g.study_id}` : 'every study'}{g.study_site_id ? `, study-site ${g.study_site_id}` : ''}{g.unblinded ? ', unblinded' : ''}{' '}
            <button type="button" aria-label={`Revoke ${g.role} from ${user.username}`} onClick={() => act(() => api.del(`/api/v1/grants/${g.id}`))}>Revoke</button></li>
        ))}</ul>
      ) : <Empty>No roles: this user sees nothing.</Empty>}
      <GrantForm user={user} onDone={onChange} />
      <h3>API tokens</h3>
      {tokens.error ? <ErrorBox error={tokens.error} /> : !tokens.data ? <Loading /> : tokens.data.length ? (
        <table class="grid compact"><caption class="sr-only">Tokens of {user.username}</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th></tr></thead>
          <tbody>{tokens.data.map((t) => (
            <tr key={t.id}><th scope="row">{t.name}</th><td>{fmtTime(t.created_at)}</td><td>{t.expires_at ? fmtTime(t.expires_at) : 'never'}</td><td>{fmtTime(t.last_used_at)}</td>
              <td>{t.revoked_at ? `revoked ${fmtTime(t.revoked_at)}` : <button type="button" onClick={() => act(() => api.del(`/api/v1/tokens/${t.id}`))}>Revoke</button>}</td></tr>
          ))}</tbody>
        </table>
      ) : <Empty>No tokens.</Empty>}
    </section>
  );
}

export function Admin() {
  const me = useUser();
  const users = useLoad(() => api.all<Rec>('/api/v1/users'), []);
  const [selected, setSelected] = useState<number | null>(null);
  if (!can.administer(me)) return <main id="main"><h1>Administration</h1><p>Only administrators manage accounts.</p></main>;
  const current = users.data?.find((u) => u.id === selected);
  return (
    <main id="main">
      <div class="page-head"><h1>Administration</h1><NewUser onDone={users.reload} /></div>
      {users.error ? <ErrorBox error={users.error} retry={users.reload} /> : !users.data ? <Loading /> : (
        <div class="table-wrap">
          <table class="grid">
            <caption>{users.data.length} user accounts</caption>
            <thead><tr><th scope="col">User</th><th scope="col">Printed name</th><th scope="col">Status</th><th scope="col">Roles</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{users.data.map((u) => (
              <tr key={u.id} aria-selected={u.id === selected}>
                <th scope="row">{u.username}</th><td>{u.display_name}</td><td><StatusTag status={u.status} /></td>
                <td>{u.grants.map((g: Rec) => label(g.role)).join(', ') || '—'}</td>
                <td><button type="button" onClick={() => setSelected(u.id)} aria-label={`Manage ${u.username}`}>Manage</button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {current && <UserDetail user={current} onChange={users.reload} />}
    </main>
  );
}

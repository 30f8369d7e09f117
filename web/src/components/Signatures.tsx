// Signature manifestations (21 CFR 11.50: printed name, time, meaning) of a
// record, and the dialog that signs it after asking for the password again.
import { useState } from 'preact/hooks';
import { api, ApiError, type Rec } from '../api';
import { can } from '../access';
import { fmtTime } from '../format';
import { useUser } from '../session';
import { Dialog, Empty, Field, FormError, fieldErrors } from './ui';

const MEANINGS = ['authored', 'reviewed', 'approved', 'responsible'];

export function Signatures({ entity, record, onSigned }: { entity: string; record: Rec; onSigned: () => void }) {
  const user = useUser();
  const [open, setOpen] = useState(false);
  const [meaning, setMeaning] = useState('reviewed');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const signatures: Rec[] = record.signatures ?? [];
  const { byField, general: other } = fieldErrors(error, ['meaning', 'password', 'totp']);
  // A failed re-authentication (403, 423) is the API's own sentence, as is.
  const general = error instanceof ApiError && (error.status === 403 || error.status === 423)
    ? `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.` : other;

  async function sign(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const body: Record<string, unknown> = { entity, id: record.id, meaning, username: user!.username, password };
      if (totp) body.totp = totp;
      await api.post('/api/v1/signatures', body);
      setOpen(false);
      setPassword('');
      onSigned();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="signatures">
      {signatures.length ? (
        <ul>
          {signatures.map((s) => (
            <li key={s.id} class={s.valid ? '' : 'invalid'}>
              <strong>{s.signer_name}</strong> — {s.meaning} — <time dateTime={s.signed_at}>{fmtTime(s.signed_at)}</time>
              {!s.valid && <span class="flag flag-amber"> not valid: the record changed after signing</span>}
            </li>
          ))}
        </ul>
      ) : <Empty>Not signed.</Empty>}
      {can.sign(user) && <button type="button" onClick={() => { setError(null); setOpen(true); }}>Sign…</button>}
      <Dialog title="Sign this record" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={sign} noValidate>
          <p>You sign version {record.version} as <strong>{user?.display_name || user?.username}</strong>. Your signature is
            permanent and is recorded in the audit trail.</p>
          <Field label="Meaning" name="meaning" value={meaning} onInput={(e) => setMeaning((e.target as HTMLSelectElement).value)} error={byField.meaning}>
            {MEANINGS.map((m) => <option value={m}>{m}</option>)}
          </Field>
          <Field label="Your password" name="password" type="password" autoComplete="current-password" value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} error={byField.password} />
          <Field label="Authenticator code (if you use one)" name="totp" inputMode="numeric" autoComplete="one-time-code" value={totp}
            onInput={(e) => setTotp((e.target as HTMLInputElement).value)} error={byField.totp} />
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary" disabled={busy}>Sign</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </div>
  );
}

import { useState } from 'preact/hooks';
import { ApiError, api, type User } from '../api';
import { Field } from '../components/ui';

/**
 * Signing in. The API's own words explain a refusal: a wrong password, a
 * locked account (423), a missing second factor (then the code field
 * appears). As an overlay (expired), the page beneath keeps what was typed.
 */
export function SignIn({ onSignedIn, expired = false, username: known }: {
  onSignedIn: (u: User) => void; expired?: boolean; username?: string;
}) {
  const [username, setUsername] = useState(known ?? '');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [message, setMessage] = useState<{ text: string; kind: 'error' | 'locked' } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const user = await api.signIn(username.trim(), password, needTotp ? totp.trim() : undefined);
      setPassword('');
      onSignedIn(user);
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.status === 423) {
          setMessage({ kind: 'locked', text: `Account locked: ${err.message}. Wait, or ask an administrator to unlock it.` });
        } else if (/authenticator app|\(totp\)|requires a second factor/i.test(err.message)) {
          setNeedTotp(true);
          setMessage({ kind: 'error', text: err.status === 403 ? err.message : (totp ? 'The code is not right; enter the current one.' : 'Enter the 6-digit code from your authenticator app.') });
        } else if (err.status === 401) {
          setMessage({ kind: 'error', text: 'The username, password or code is not right.' });
        } else {
          setMessage({ kind: 'error', text: err.message });
        }
      } else {
        setMessage({ kind: 'error', text: String(err) });
      }
    } finally {
      setBusy(false);
    }
  }

  // Over a page, the page keeps its own main landmark.
  const Box: any = expired ? 'section' : 'main';
  return (
    <div class={expired ? 'signin-again' : 'signin-page'}>
      <Box class="signin" aria-labelledby="signin-title">
        <h1 id="signin-title">{expired ? 'Your session has ended' : 'Sign in to ctms'}</h1>
        {expired && <p>Sign in again to carry on; what you typed on the page is kept.</p>}
        <form onSubmit={submit} noValidate>
          <Field label="Username" name="username" autoComplete="username" required value={username}
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
          <Field label="Password" name="password" type="password" autoComplete="current-password" required value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
          {needTotp && (
            <Field label="Authenticator code" name="totp" inputMode="numeric" autoComplete="one-time-code"
              pattern="[0-9]{6}" value={totp} onInput={(e) => setTotp((e.target as HTMLInputElement).value)} />
          )}
          {message && <p class={`form-error ${message.kind}`} role="alert">{message.text}</p>}
          <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
      </Box>
    </div>
  );
}

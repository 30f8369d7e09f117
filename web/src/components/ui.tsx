// Building blocks every screen uses: loading, empty and error states, form
// fields that show the API's messages beside them, dialogs, the
// "changed since you opened it" notice.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { ApiError, type Rec } from '../api';
import { fmtNumber, label } from '../format';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs fn when deps change; keeps the last data while reloading. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    fn().then((data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }));
    return () => { live = false; };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p class="state loading" role="status" aria-live="polite">{what}…</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 404) return 'Not found, or not visible to you.';
    if (error.status === 401) return 'Your session has ended: sign in again, then try again.';
    if (error.status === 403) return `Not allowed: ${error.message}.`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <p>{errorText(error)}</p>
      {retry && <button type="button" onClick={retry}>Try again</button>}
    </div>
  );
}

/** Renders loading, error or the content of a Loaded. */
export function Show<T>({ load, children }: { load: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (load.error && load.data === undefined) return <ErrorBox error={load.error} retry={load.reload} />;
  if (load.data === undefined) return <Loading />;
  return <>{children(load.data)}</>;
}

let fieldSerial = 0;

type FieldProps = {
  label: string;
  name: string;
  error?: string;
  hint?: string;
  children?: ComponentChildren;
  onInput?: (e: Event) => void;
  [attribute: string]: any; // the input's (or select's) own attributes
};

/** A labelled input whose API message, if any, sits right beside it. */
export function Field({ label: text, name, error, hint, children, ...input }: FieldProps) {
  const id = useRef(`f-${name}-${++fieldSerial}`).current;
  const described = [error ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{text}</label>
      {children
        ? <select id={id} name={name} aria-invalid={error ? 'true' : undefined} aria-describedby={described} {...(input as any)}>{children}</select>
        : <input id={id} name={name} aria-invalid={error ? 'true' : undefined} aria-describedby={described} {...input} />}
      {hint && <span class="hint" id={`${id}-hint`}>{hint}</span>}
      {error && <span class="field-error" id={`${id}-err`}>{error}</span>}
    </div>
  );
}

/** The field messages of an API error, and what is left for the form as a whole. */
export function fieldErrors(error: unknown, fields: string[]): { byField: Record<string, string>; general?: string } {
  const byField: Record<string, string> = {};
  if (!(error instanceof ApiError)) return { byField, general: error ? errorText(error) : undefined };
  const rest: string[] = [];
  for (const fe of error.problem.errors ?? []) {
    if (fields.includes(fe.field)) byField[fe.field] = fe.message;
    else rest.push(`${fe.field} ${fe.message}`);
  }
  const general = rest.length ? `${error.message}: ${rest.join('; ')}` : (Object.keys(byField).length ? undefined : errorText(error));
  return { byField, general };
}

export function FormError({ text }: { text?: string }) {
  return text ? <p class="form-error" role="alert">{text}</p> : null;
}

/** A modal dialog (the platform's <dialog>: focus kept inside, Escape closes). */
export function Dialog({ title, open, onClose, children }: {
  title: string; open: boolean; onClose: () => void; children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === 'function') d.showModal(); else d.setAttribute('open', '');
    } else if (!open && d.open) {
      if (typeof d.close === 'function') d.close(); else d.removeAttribute('open');
    }
  }, [open]);
  const titleId = useRef(`dlg-${++fieldSerial}`).current;
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} onCancel={(e) => { e.preventDefault(); onClose(); }}>
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

const shown = (v: unknown) => (v === null || v === undefined || v === '' ? '—' : String(v));

/** Shown on 412: someone else changed the record; their values, side by side with ours. */
export function StaleNotice({ current, mine, fields, onReload }: {
  current: Rec; mine: Record<string, unknown>; fields: string[]; onReload: () => void;
}) {
  return (
    <div class="stale" role="alert">
      <p><strong>This record changed since you opened it.</strong> Nothing was saved. Its current values:</p>
      <table>
        <thead><tr><th scope="col">Field</th><th scope="col">Now</th><th scope="col">Yours</th></tr></thead>
        <tbody>
          {fields.map((f) => (
            <tr key={f} class={shown(current[f]) !== shown(mine[f]) ? 'differs' : ''}>
              <th scope="row">{label(f)}</th><td>{shown(current[f])}</td><td>{shown(mine[f])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>Current version: {current.version}. <button type="button" onClick={onReload}>Use the current values</button></p>
    </div>
  );
}

/** Enrolled against target as a bar, with the numbers as text. */
export function EnrollmentBar({ enrolled, target }: { enrolled: number; target: number | null }) {
  const pct = target ? Math.min(100, (enrolled / target) * 100) : 0;
  return (
    <div class="ebar" role="img" aria-label={`${enrolled} of ${target ?? 'no'} target enrolled`}>
      <div class="ebar-track"><div class="ebar-fill" style={{ width: `${pct}%` }} /></div>
      <span class="ebar-text">{fmtNumber(enrolled)} / {fmtNumber(target)}</span>
    </div>
  );
}

export function StatusTag({ status }: { status: string | null | undefined }) {
  return <span class={`tag tag-${status ?? 'none'}`}>{label(status)}</span>;
}

export function Flag({ level, children }: { level: 'red' | 'amber'; children: ComponentChildren }) {
  return <span class={`flag flag-${level}`}><span aria-hidden="true">●</span> {children}</span>;
}

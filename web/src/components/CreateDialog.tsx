// A button that opens a form in a dialog and creates one record through
// the API: the fields are described, not written out, so every "add" form
// behaves alike — the API's field errors beside their fields, the rest
// under the form, nothing sent twice.
import { useState } from 'preact/hooks';
import { Dialog, Field, FormError, fieldErrors } from './ui';

export type FormField = {
  name: string;
  label: string;
  type?: 'text' | 'date';
  /** A select: [value, label] pairs. */
  options?: [string, string][];
  hint?: string;
  inputMode?: 'numeric';
};

export function CreateDialog({ button, title, submit, fields, initial, toBody, create, onDone }: {
  button: string;
  title: string;
  submit: string;
  fields: FormField[];
  initial: () => Record<string, string>;
  /** The request body from the form: empty fields left out. */
  toBody: (form: Record<string, string>) => Record<string, unknown>;
  create: (body: Record<string, unknown>) => Promise<unknown>;
  onDone: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState<Record<string, string>>(initial);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { byField, general } = fieldErrors(error, fields.map((f) => f.name));
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  async function send(e: Event) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await create(toBody(form));
      setOpen(false);
      setForm(initial());
      onDone();
    } catch (err) { setError(err); } finally { setBusy(false); }
  }
  return (
    <>
      <button type="button" onClick={() => { setError(null); setForm(initial()); setOpen(true); }}>{button}</button>
      <Dialog title={title} open={open} onClose={() => setOpen(false)}>
        <form onSubmit={send} noValidate>
          {fields.map((f) => (
            <Field key={f.name} label={f.label} name={f.name} type={f.type} hint={f.hint}
              inputMode={f.inputMode} value={form[f.name] ?? ''} onInput={set(f.name)} error={byField[f.name]}>
              {f.options?.map(([value, text]) => <option value={value}>{text}</option>)}
            </Field>
          ))}
          <FormError text={general} />
          <div class="actions"><button type="submit" class="primary" disabled={busy}>{submit}</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
        </form>
      </Dialog>
    </>
  );
}

/** The non-empty fields of a form, as strings. */
export function filled(form: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => form[n] !== undefined && form[n].trim() !== '').map((n) => [n, form[n]]));
}

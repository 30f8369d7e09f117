// Components rendered in a DOM: fields carry the API's message beside them
// and say so to assistive technology; the conflict notice shows both values.
import { describe, expect, it } from 'vitest';
import { render, screen, fireEvent } from '@testing-library/preact';
import { EnrollmentBar, Field, StaleNotice, fieldErrors } from '../src/components/ui';
import { ApiError } from '../src/api';

describe('Field', () => {
  it('labels its input and ties the error message to it', () => {
    render(<Field label="Screening number" name="screening_number" value="" error="is required" />);
    const input = screen.getByLabelText('Screening number');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const described = input.getAttribute('aria-describedby')!;
    expect(document.getElementById(described)!.textContent).toBe('is required');
  });
  it('is a select when given options', () => {
    render(<Field label="Phase" name="phase" value="PHASE2"><option value="PHASE1">1</option><option value="PHASE2">2</option></Field>);
    expect((screen.getByLabelText('Phase') as HTMLSelectElement).tagName).toBe('SELECT');
  });
});

describe('fieldErrors', () => {
  it('puts each API message by its field, and the rest in a general line', () => {
    const e = new ApiError({ status: 422, detail: 'one or more fields are invalid', errors: [
      { field: 'title', message: 'must not begin or end with a space' }, { field: 'colour', message: 'is not a field of a study' }] });
    const { byField, general } = fieldErrors(e, ['title', 'phase']);
    expect(byField).toEqual({ title: 'must not begin or end with a space' });
    expect(general).toBe('one or more fields are invalid: colour is not a field of a study');
    expect(fieldErrors(new ApiError({ status: 409, detail: 'the study is planned' }), ['title']).general).toBe('the study is planned');
    expect(fieldErrors(null, ['x'])).toEqual({ byField: {}, general: undefined });
  });
});

describe('StaleNotice', () => {
  it('says the record changed and shows its values beside ours', () => {
    let reloaded = false;
    render(<StaleNotice current={{ id: 1, version: 5, age: 40, subject_number: 'R-1' }} mine={{ age: '41', subject_number: 'R-1' }}
      fields={['age', 'subject_number']} onReload={() => { reloaded = true; }} />);
    expect(screen.getByRole('alert').textContent).toContain('This record changed since you opened it');
    const row = screen.getByRole('rowheader', { name: 'age' }).closest('tr')!;
    expect(row.className).toBe('differs');
    expect(row.textContent).toContain('40');
    expect(row.textContent).toContain('41');
    fireEvent.click(screen.getByRole('button', { name: 'Use the current values' }));
    expect(reloaded).toBe(true);
  });
});

describe('EnrollmentBar', () => {
  it('fills to the share of target, never past it, and says the numbers', () => {
    const { container } = render(<EnrollmentBar enrolled={30} target={120} />);
    expect(screen.getByRole('img').getAttribute('aria-label')).toBe('30 of 120 target enrolled');
    expect((container.querySelector('.ebar-fill') as HTMLElement).style.width).toBe('25%');
    const over = render(<EnrollmentBar enrolled={200} target={100} />);
    expect((over.container.querySelector('.ebar-fill') as HTMLElement).style.width).toBe('100%');
  });
});

// Dates and numbers in the user's locale. Calendar dates (YYYY-MM-DD) are
// days, not instants: they are shown as written, never shifted by a zone.
// Timestamps (UTC instants) are shown in the given IANA zone (a site's), or
// the browser's.

const locale = () => (typeof navigator !== 'undefined' && navigator.language) || 'en-GB';

export function fmtDate(d: string | null | undefined): string {
  if (!d) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (!m) return d;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' }).format(date);
}

export function fmtTime(ts: string | null | undefined, timeZone?: string): string {
  if (!ts) return '—';
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return ts;
  try {
    return new Intl.DateTimeFormat(locale(), {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
      timeZone, timeZoneName: timeZone ? 'short' : undefined,
    }).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(date);
  }
}

export function fmtNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(n);
}

export function fmtPercent(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(n / 100);
}

/** Today's date as YYYY-MM-DD in the given zone (a site's), else the browser's. */
export function today(timeZone?: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date());
  const get = (t: string) => parts.find((p) => p.type === t)?.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

const words: Record<string, string> = {
  PHASE1: 'Phase 1', PHASE2: 'Phase 2', PHASE3: 'Phase 3', PHASE4: 'Phase 4',
  EARLY_PHASE1: 'Early phase 1', PHASE1_PHASE2: 'Phase 1/2', PHASE2_PHASE3: 'Phase 2/3', NA: 'n/a',
  start_up: 'start-up', screen_failed: 'screen failed', follow_up: 'follow-up',
};

/** A code as people read it: PHASE1_PHASE2 -> Phase 1/2, start_up -> start-up. */
/** A ClinicalTrials.gov code as words: RANDOMIZED → Randomized. */
export function registryWords(code: string | null | undefined): string {
  return code ? code.charAt(0) + code.slice(1).toLowerCase().replace(/_/g, ' ') : '—';
}

export function label(code: string | null | undefined): string {
  if (!code) return '—';
  return words[code] ?? code.replace(/_/g, ' ');
}

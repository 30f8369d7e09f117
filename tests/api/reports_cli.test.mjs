// `ctms enrollment` and `ctms diversity`: on the demo portfolio, the tables
// print the figures the API's JSON gives for the same study and date (by
// site, country and month too), refuse what they cannot answer with a clear
// message, and write nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopChecked, auditCount, ctms } from './lib.mjs';

const PROTOCOL = 'DEMO-ONC-301';
let s;
let study;

before(async () => {
  s = await startServer({ demo: true });
  const list = await s.get(`/api/v1/studies?protocol_number=${PROTOCOL}`);
  assert.equal(list.status, 200, list.text);
  [study] = list.json.items;
  assert.ok(study, 'the demo has the oncology study');
});
after(async () => { await stopChecked(s); });

async function report(kind, query = {}) {
  const qs = new URLSearchParams(query).toString();
  const r = await s.get(`/api/v1/studies/${study.id}/${kind}${qs ? `?${qs}` : ''}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Runs a report command that must succeed; answers its lines. */
function table(args) {
  const r = ctms([...args, '--db', s.db]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.doesNotMatch(r.stdout, /NaN|Infinity|null/);
  return r.stdout.split('\n');
}

/** A number as the table prints it: "-" for null, reals with their places. */
const n = (v, places = 0) => (v === null || v === undefined ? '-' : places ? v.toFixed(places) : String(v));
const pct = (v) => (v === null ? '-' : `${v.toFixed(1)}%`);
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The line whose whitespace-separated words are exactly these. */
function assertRow(lines, words, what) {
  const want = words.join(' ');
  assert.ok(lines.some((l) => l.trim().split(/\s+/).join(' ') === want),
    `${what}: no line reads "${want}" in:\n${lines.join('\n')}`);
}

/** The lines of the block that starts with a header line matching re, up to a blank line. */
function block(lines, re) {
  const start = lines.findIndex((l) => re.test(l));
  assert.ok(start >= 0, `no block ${re} in:\n${lines.join('\n')}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start, end < 0 ? undefined : end);
}

/** Columns every group prints from its figures. */
const counts = (f) => [f.screened, f.screen_failed, f.enrolled, f.active, f.completed, f.withdrawn].map((v) => n(v));
const rates = (f) => [n(f.site_months, 2), n(f.enrollment_rate_per_site_month, 3),
  n(f.median_days_to_first_enrollment, 1), n(f.plan && f.plan.planned, 1)];

function assertTotals(lines, json) {
  const t = json.totals;
  const text = lines.join('\n');
  assert.match(lines[0], new RegExp(`^${PROTOCOL} \\(${json.status}\\) as of ${json.as_of}; records from ${json.first_record_on}$`));
  assert.match(text, new RegExp(`^  enrolled ${t.enrolled} of target ${t.target} \\(${escape(pct(t.percent_of_target))} of target\\)$`, 'm'));
  for (const [label, key] of [['screened', 'screened'], ['screen-failed', 'screen_failed'], ['in screening', 'in_screening'],
    ['enrolled', 'enrolled'], ['active', 'active'], ['completed', 'completed'], ['withdrawn', 'withdrawn']])
    assert.match(text, new RegExp(`^    ${label}\\s+${t[key]}(\\s|$)`, 'm'), label);
  for (const [reason, count] of Object.entries(t.screen_failures_by_reason))
    assert.match(text, new RegExp(`\\s${escape(reason)}: ${count}$`, 'm'), reason);
  for (const [reason, count] of Object.entries(t.withdrawals_by_reason))
    assert.match(text, new RegExp(`^    withdrawn\\s+${t.withdrawn}\\s+${escape(reason)}: ${count}$`, 'm'), reason);
  assert.match(text, new RegExp(`^  sites: ${t.sites.known} known, ${t.sites.active} active, ${t.sites.closed} closed, ${t.sites.not_yet_active} not yet active$`, 'm'));
  assert.match(text, new RegExp(`^    ${escape(n(t.site_months, 2))} site-months; ${escape(n(t.enrollment_rate_per_site_month, 3))} enrolled per site-month$`, 'm'));
  assert.match(text, new RegExp(`first subject: ${escape(n(t.median_days_to_first_enrollment, 1))} \\(${t.sites_with_first_enrollment} sites`));
  assert.match(text, new RegExp(`zero-enrolling sites \\(active, nobody enrolled\\): ${t.zero_enrollment_sites.length ? t.zero_enrollment_sites.join(' ') : 'none'}$`, 'm'));
  if (t.plan) {
    const { planned, actual, difference, percent_of_plan: ofPlan } = t.plan;
    const sign = difference >= 0 ? '+' : '-';
    assert.match(text, new RegExp(`^  plan vs actual: ${escape(n(planned, 1))} planned by ${json.as_of}, ${actual} enrolled, `
      + `${escape(sign + Math.abs(difference).toFixed(1))} \\(${escape(pct(ofPlan))} of plan\\)$`, 'm'));
  } else {
    assert.match(text, /^  plan: none recorded for the study$/m);
  }
}

test('the demo study has an enrollment plan and diversity goals', async () => {
  const plan = await s.get(`/api/v1/studies/${study.id}/enrollment-plan`);
  assert.equal(plan.status, 200, plan.text);
  assert.ok(plan.json.items.length >= 3, 'a few plan points');
  const goals = await s.get(`/api/v1/studies/${study.id}/diversity-goals`);
  assert.equal(goals.status, 200, goals.text);
  assert.deepEqual(goals.json.items.map((g) => `${g.dimension} ${g.category}`).sort(),
    ['ethnicity HISPANIC OR LATINO', 'race BLACK OR AFRICAN AMERICAN', 'sex F']);
  const json = await report('enrollment');
  assert.ok(json.totals.plan, 'plan against actual as of today');
  assert.equal(json.totals.plan.planned, 120, 'the plan has reached its last point by now');
});

test('ctms enrollment prints the study totals the API answers, today and as of a past date', async () => {
  const before = auditCount(s.db);
  for (const asOf of [undefined, '2025-03-31', '2024-12-20']) {
    const json = await report('enrollment', asOf ? { as_of: asOf } : {});
    const lines = table(['enrollment', '--study', PROTOCOL, ...(asOf ? ['--as-of', asOf] : [])]);
    assertTotals(lines, json);
    assert.ok(!lines.some((l) => /^\s+site\s+country/.test(l)), 'no groups without --by');
  }
  // 2025-03-31 lies on a plan point: 20 planned, and the demo is ahead of it.
  const march = await report('enrollment', { as_of: '2025-03-31' });
  assert.equal(march.totals.plan.planned, 20);
  assert.ok(march.totals.enrolled > 20);
  assert.equal(auditCount(s.db), before, 'the command wrote nothing');
});

test('ctms enrollment --by site: a row per site, with rate, days to first subject and zero-enrolling sites', async () => {
  for (const asOf of [undefined, '2025-02-15']) {
    const json = await report('enrollment', { by: 'site', ...(asOf && { as_of: asOf }) });
    const lines = table(['enrollment', '--study', PROTOCOL, '--by', 'site', ...(asOf ? ['--as-of', asOf] : [])]);
    assertTotals(lines, json);
    const rows = block(lines, /^\s+site\s+country\s+state/).slice(1);
    assert.equal(rows.length, json.groups.length);
    for (const g of json.groups) {
      const zero = g.figures.zero_enrollment_sites.length > 0;
      assertRow(rows, [g.site_number, g.country, g.state, n(g.activated_on), ...counts(g.figures), ...rates(g.figures),
        ...(zero ? ['zero-enrolling'] : [])], `site ${g.site_number}`);
    }
    assert.ok(json.groups.some((g) => g.figures.zero_enrollment_sites.length), 'the demo has a zero-enrolling site');
  }
});

test('ctms enrollment --by country and --by month match the API', async () => {
  const countries = await report('enrollment', { by: 'country' });
  let lines = table(['enrollment', '--study', PROTOCOL, '--by', 'country']);
  assertTotals(lines, countries);
  let rows = block(lines, /^\s+country\s+sites/).slice(1);
  for (const g of countries.groups) {
    const f = g.figures;
    assertRow(rows, [g.country, n(f.sites.known), n(f.sites.active), ...counts(f), ...rates(f), ...f.zero_enrollment_sites],
      `country ${g.country}`);
  }

  for (const asOf of [undefined, '2025-06-30']) {
    const months = await report('enrollment', { by: 'month', ...(asOf && { as_of: asOf }) });
    lines = table(['enrollment', '--study', PROTOCOL, '--by', 'month', ...(asOf ? ['--as-of', asOf] : [])]);
    assertTotals(lines, months);
    rows = block(lines, /^\s+month\s+through/).slice(1);
    assert.equal(rows.filter((l) => /^\s+\d{4}-\d{2}\s/.test(l)).length, months.groups.length);
    for (const g of months.groups)
      assertRow(rows, [g.month, g.through, n(g.screened), n(g.screen_failed), n(g.enrolled), n(g.completed), n(g.withdrawn),
        n(g.cumulative_enrolled), n(g.planned_cumulative, 1), n(g.active_sites), n(g.site_months, 2),
        n(g.enrollment_rate_per_site_month, 3)], `month ${g.month}`);
    assert.ok(months.groups.some((g) => g.planned_cumulative !== null), 'the plan shows in the months');
  }
});

/** A mix cell as printed: the count, and the percentage only where the JSON gives one. */
const mixCell = (c, places) => (c.percent === null ? n(c.count, places) : `${n(c.count, places)} (${c.percent.toFixed(1)}%)`);

function assertDiversity(lines, json) {
  const text = lines.join('\n');
  assert.match(lines[0], new RegExp(`^${PROTOCOL} as of ${json.as_of}: ${json.enrolled} of ${json.target} enrolled$`));
  const final = json.projection.final_mix;
  if (json.projection.available)
    assert.match(text, new RegExp(`at the target \\(${json.projection.remaining} to go; median completion ${json.projection.median_completion_on}\\)`));
  let small = 0;
  for (const dimension of ['sex', 'race', 'ethnicity', 'age_band']) {
    const section = block(lines, new RegExp(`^  ${dimension}\\s+goal\\s+actual\\s+projected final$`));
    assert.equal(section.length - 1, json.overall[dimension].length, dimension);
    for (const c of json.overall[dimension]) {
      const goal = json.goals.find((g) => g.dimension === dimension && g.category === c.category);
      const goalText = goal ? (goal.goal_percent !== null ? `${goal.goal_percent}%` : String(goal.goal_count)) : '';
      const projected = final ? mixCell(final[dimension].find((x) => x.category === c.category), 1) : '-';
      const want = new RegExp(`^    ${escape(c.category)}\\s+${goalText ? `${escape(goalText)}\\s+` : ''}${escape(mixCell(c, 0))}\\s+${escape(projected)}$`);
      assert.ok(section.some((l) => want.test(l)), `${dimension} ${c.category}: ${want} in\n${section.join('\n')}`);
      if (c.small_cell && c.count > 0) small += 1;
    }
  }
  assert.ok(small > 0, 'the demo has small cells, printed as counts alone');

  const goals = block(lines, /^  goals \(minimums\)/).slice(1);
  for (const g of json.goals) {
    const actual = g.actual_percent === null ? String(g.actual_count) : `${g.actual_count} (${g.actual_percent.toFixed(1)}%)`;
    const projected = g.projected_percent === null ? n(g.projected_count, 1) : `${n(g.projected_count, 1)} (${g.projected_percent.toFixed(1)}%)`;
    const goalText = g.goal_percent !== null ? `${g.goal_percent}%` : String(g.goal_count);
    const onTrack = g.on_track === null ? '-' : g.on_track ? 'yes' : 'no';
    const want = new RegExp(`^    ${g.dimension} ${escape(g.category)}\\s+${escape(goalText)}\\s+${g.goal_at_target}\\s+${escape(actual)}\\s+`
      + `${g.shortfall}\\s+${escape(pct(g.needed_percent_of_remaining))}\\s+${escape(projected)}\\s+${onTrack}$`);
    const at = goals.findIndex((l) => want.test(l));
    assert.ok(at >= 0, `goal ${g.dimension} ${g.category}: ${want} in\n${goals.join('\n')}`);
    const bySite = g.sites.map((x) => `${x.site_number}: ${x.count} of ${x.enrolled}${x.percent === null ? '' : ` (${x.percent.toFixed(1)}%)`}`);
    assert.equal(goals[at + 1], `      by site: ${bySite.join(', ')}`);
  }

  const sites = block(lines, /^  site\s+country\s+enrolled\s+projected additional$/).slice(1);
  assert.equal(sites.length, json.sites.length);
  for (const x of json.sites)
    assertRow(sites, [x.site_number, x.country, n(x.enrolled), n(x.projected_additional, 1)], `site ${x.site_number}`);
}

test('ctms diversity prints goals, actual mix and projected final mix as the API does', async () => {
  const before = auditCount(s.db);
  for (const asOf of [undefined, '2025-01-15', '2025-06-30']) {
    const json = await report('diversity', asOf ? { as_of: asOf } : {});
    assert.equal(json.goals.length, 3);
    assertDiversity(table(['diversity', '--study', PROTOCOL, ...(asOf ? ['--as-of', asOf] : [])]), json);
  }
  assert.equal(auditCount(s.db), before, 'the command wrote nothing');
});

test('a study without goals or plan says so', async () => {
  const lines = table(['diversity', '--study', 'DEMO-CV-201']);
  assert.ok(lines.includes('  goals: none set for the study'));
  assert.match(lines.join('\n'), /projected final mix: none\n\s+no projection:/);
  const enrollment = table(['enrollment', '--study', 'DEMO-CV-201', '--by', 'site']);
  assert.ok(enrollment.includes('  plan: none recorded for the study'));
});

test('the commands refuse what they cannot answer, with exit status and message, and write nothing', () => {
  const before = auditCount(s.db);
  const run = ([command, ...rest]) => ctms([command, '--db', s.db, ...rest]);
  const future = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10);
  const refusals = [
    [['enrollment', '--study', 'NO-SUCH-STUDY'], 1, /^ctms: no study has protocol number NO-SUCH-STUDY$/m],
    [['diversity', '--study', 'NO-SUCH-STUDY'], 1, /^ctms: no study has protocol number NO-SUCH-STUDY$/m],
    [['enrollment', '--study', PROTOCOL, '--as-of', '2025-02-30'], 1, /--as-of must be a calendar date YYYY-MM-DD/],
    [['diversity', '--study', PROTOCOL, '--as-of', '30/06/2025'], 1, /--as-of must be a calendar date YYYY-MM-DD/],
    [['enrollment', '--study', PROTOCOL, '--as-of', future], 1, /--as-of is in the future/],
    [['diversity', '--study', PROTOCOL, '--as-of', future], 1, /--as-of is in the future/],
    [['enrollment', '--study', PROTOCOL, '--as-of', '2020-01-01'], 1, /--as-of is before the study's first dated record \(2024-08-01\)/],
    [['enrollment', '--study', PROTOCOL, '--by', 'week'], 1, /--by must be one of: site, country, month/],
    [['enrollment', '--study', PROTOCOL, '--by'], 2, /unknown or incomplete option --by/],
    [['enrollment'], 2, /enrollment needs --study PROTOCOL/],
    [['diversity'], 2, /diversity needs --study PROTOCOL/],
    [['diversity', '--study', PROTOCOL, '--by', 'site'], 2, /diversity takes no --by/],
    [['enrollment', '--study', PROTOCOL, '--colour'], 2, /unknown or incomplete option --colour/],
  ];
  for (const [args, status, message] of refusals) {
    const r = run(args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')} prints no table`);
  }
  const missing = ctms(['enrollment', '--db', `${s.dir}/nowhere.db`, '--study', PROTOCOL]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist/);
  assert.equal(auditCount(s.db), before, 'nothing was written');
});

test('--help describes each command, and ctms --help lists them', () => {
  for (const [command, options] of [['enrollment', /--as-of.*--by site\|country\|month/], ['diversity', /--as-of YYYY-MM-DD/]]) {
    const r = ctms([command, '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`^usage: ctms ${command} --db PATH --study PROTOCOL`));
    assert.match(r.stdout, options);
    assert.match(r.stdout, /Writes nothing/);
  }
  const main = ctms(['--help']);
  assert.equal(main.status, 0);
  assert.match(main.stdout, /^ {2}enrollment {4}/m);
  assert.match(main.stdout, /^ {2}diversity {5}/m);
});

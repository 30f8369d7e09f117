// Crash safety: the server is killed with SIGKILL at random points while
// several clients write, and restarted on the same store each time. After
// every restart nothing acknowledged is missing or different, nothing
// unanswered is half-applied, the audit chain verifies and (SQLite) the
// file passes PRAGMA integrity_check. See workload.mjs for what is checked.
//
// The kill delays and every client's choices come from CTMS_CRASH_SEED
// (printed as a diagnostic), so a failing schedule can be replayed; which
// request a kill lands in still depends on timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PG_DIR, serveDatabase, sql, startServer, stopChecked } from '../api/lib.mjs';
import { SEED, Workload, assertAuditVerifies, assertIntegrity, checkStore, prng } from './workload.mjs';

const KILLS = 24;           // at least 20 must happen within the budget
const BUDGET_MS = 40000;    // stop killing after this, whatever the count
const CLIENTS = 4;

async function kill(s) {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((resolve) => s.child.on('exit', resolve));
  s.child.kill('SIGKILL');
  await exited;
}

function checkAll(s, run, label) {
  assert.deepEqual(run.failures, [], `answers no correct server gives (${label})`);
  const counts = checkStore(s.db, { acks: run.acks, unknown: run.unknown, label });
  assertAuditVerifies(s.db, label);
  if (!PG_DIR) assertIntegrity(s.db, label);
  return counts;
}

test(`SIGKILL at ${KILLS} random points loses nothing acknowledged and half-applies nothing`,
  { timeout: 120000 }, async (t) => {
    const rnd = prng(SEED);
    const started = Date.now();
    let s = await startServer();
    const run = new Workload(s, { clients: CLIENTS });
    let kills = 0;
    let counts;
    const unanswered = new Set(); // writes a kill left without an answer
    const applied = new Set();    // ... and the store shows applied
    t.diagnostic(`seed ${SEED} (CTMS_CRASH_SEED), ${CLIENTS} clients, store ${PG_DIR ? 'PostgreSQL' : 'SQLite'}`);
    try {
      run.start();
      while (kills < KILLS && Date.now() - started < BUDGET_MS) {
        await sleep(50 + Math.floor(rnd() * 351));
        run.close();
        await kill(s);
        kills++;
        await run.quiet();
        s = await serveDatabase(s.db, s.dir);
        run.server = s;
        counts = checkAll(s, run, `after kill ${kills}`);
        for (const w of run.unknown) unanswered.add(w);
        for (const w of counts.applied) applied.add(w);
        run.open();
      }
      await run.stop();
      counts = checkAll(s, run, 'at the end');
      assert.deepEqual(run.unknown.filter((w) => w.kind !== 'patch'), [],
        'every unanswered POST was settled by its retry');
    } catch (err) {
      t.diagnostic(`failed with seed ${SEED} (CTMS_CRASH_SEED=${SEED} replays the schedule) after ${kills} kills; `
        + `server stderr: ${s.stderr.slice(-2000)}`);
      await run.abort();
      await kill(s);
      s.cleanup();
      throw err;
    }
    await stopChecked(s);

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(`${kills} kills in ${seconds} s; ${run.stats.requests} requests, ${run.acknowledged} writes acknowledged, `
      + `${counts.events} audit events over ${counts.records} records`);
    const kinds = (set) => ['create', 'patch', 'transition']
      .map((k) => `${[...set].filter((w) => w.kind === k).length} ${k}`).join(', ');
    t.diagnostic(`writes left unanswered by a kill: ${kinds(unanswered)}; of those applied before the kill: `
      + `${kinds(applied)}; ${run.stats.retried} POST retries; ${run.stats.stale} stale If-Match (412), `
      + `${run.stats.busy} busy (503)`);
    assert.ok(kills >= 20, `only ${kills} kills within ${BUDGET_MS} ms`);
    assert.ok(run.acknowledged >= 5 * kills, `only ${run.acknowledged} writes acknowledged: the clients hardly wrote`);
    assert.ok(unanswered.size > 0, 'no kill ever landed on a write: the test tested nothing');
  });

test('the check notices a lost write, a changed value and a half-applied write', { timeout: 60000 }, async () => {
  const s = await startServer();
  const run = new Workload(s, { clients: 2 });
  try {
    run.start();
    await run.until(40);
    await run.stop();
    await stopChecked(s, { keep: true });
    checkStore(s.db, { acks: run.acks });
    const keys = [...run.acks.keys()];
    const idOf = (prefix) => Number(keys.find((k) => k.startsWith(prefix)).split('/')[1]);

    // An acknowledgement of a version the store does not hold: a lost write.
    const [lastKey, last] = [...run.acks].at(-1);
    const entity = lastKey.split('/')[0];
    const lost = new Map(run.acks);
    lost.set(`${entity}/${last.id}/${last.version + 1}`, { ...last, version: last.version + 1 });
    assert.throws(() => checkStore(s.db, { acks: lost }), /an acknowledged write was lost/);

    // A value changed behind the application's back.
    let r = sql(s.db, `UPDATE studies SET title = 'edited' WHERE id = ${idOf('study/')}`);
    assert.equal(r.status, 0, r.stderr);
    assert.throws(() => checkStore(s.db, { acks: run.acks }), /title is "edited" in the row/);

    // A version bump without its audit event: a half-applied update.
    r = sql(s.db, `UPDATE organisations SET version = version + 1 WHERE id = ${idOf('organisation/')}`);
    assert.equal(r.status, 0, r.stderr);
    assert.throws(() => checkStore(s.db, { acks: run.acks }), /half-applied/);
  } finally {
    await run.abort();
    s.cleanup();
  }
});

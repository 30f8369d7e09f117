// Online backup: `ctms backup` copies a SQLite store while clients write to
// it, and the copy, restored with cp, is a store that verifies, passes
// PRAGMA integrity_check, holds every write acknowledged before the backup
// started, and is exactly a prefix of the live store's audit chain (one
// consistent snapshot). PostgreSQL is backed up with its own tools; ctms
// says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIN, PG_DIR, ctms, dropAuditGuards, serveDatabase, sql, sqlRows, startServer, stopChecked,
} from '../api/lib.mjs';
import { Workload, assertAuditVerifies, assertIntegrity, checkStore } from './workload.mjs';

/** Runs a ctms command without blocking the event loop (the clients go on writing). */
function ctmsAsync(args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ status: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('a backup taken while clients write restores to a store holding every write acknowledged before it',
  { skip: PG_DIR ? 'PostgreSQL is backed up with pg_dump or pg_basebackup' : false, timeout: 60000 },
  async (t) => {
    const s = await startServer();
    const run = new Workload(s, { clients: 4 });
    const dir = mkdtempSync(join(tmpdir(), 'ctms-backup-'));
    const file = join(dir, 'backup.db');
    try {
      run.start();
      await run.until(150);
      const before = new Map(run.acks);
      const r = await ctmsAsync(['backup', '--db', s.db, '--to', file]);
      const during = run.acknowledged - before.size;
      assert.equal(r.status, 0, r.stderr);
      const m = r.stdout.match(/^backup (.+): (\d+) audit events, intact\n$/);
      assert.ok(m, r.stdout);
      assert.equal(m[1], file);
      await run.until(before.size + during + 20); // writes go on after it
      await run.stop();
      await stopChecked(s, { keep: true });
      assert.deepEqual(readdirSync(dir), ['backup.db'], 'the backup leaves only its file');

      // Restore as docs/operations.md says: cp FILE DB, with no -wal beside it.
      const restored = join(dir, 'restored.db');
      copyFileSync(file, restored);
      assertIntegrity(restored, 'of the restored copy');
      assertAuditVerifies(restored, 'of the restored copy');
      const counts = checkStore(restored, { acks: before, exact: false, label: 'restored copy' });
      const all = Number(sqlRows(restored, 'SELECT count(*) AS n FROM audit_event')[0].n);
      assert.equal(all, Number(m[2]), 'the copy holds the events the backup reported');
      assert.ok(counts.events > 0 && counts.events <= all);
      const live = sqlRows(s.db, 'SELECT seq, hash FROM audit_event ORDER BY seq');
      const copy = sqlRows(restored, 'SELECT seq, hash FROM audit_event ORDER BY seq');
      assert.ok(live.length > copy.length, 'writes went on after the backup');
      assert.deepEqual(copy, live.slice(0, copy.length), 'the copy is a prefix of the live audit chain');
      t.diagnostic(`backup of ${copy.length} audit events while ${during} writes were acknowledged during it; `
        + `${before.size} acknowledged before it, ${live.length} in the live store at the end`);

      // The restored store serves, and takes writes.
      const r2 = await serveDatabase(restored, dir);
      const [key, body] = [...before].at(-1);
      const [entity, id] = key.split('/');
      const got = await r2.get(`/api/v1/${entity === 'study' ? 'studies' : 'organisations'}/${id}`);
      assert.equal(got.status, 200, got.text);
      assert.ok(got.json.version >= body.version);
      const created = await r2.post('/api/v1/organisations', { name: 'After the restore', kind: 'other' });
      assert.equal(created.status, 201, created.text);
      await stopChecked(r2, { keep: true });
      assertAuditVerifies(restored, 'after writing to the restored copy');
    } finally {
      await run.abort();
      s.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('ctms backup refuses to overwrite without --force, never its own database, and sends PostgreSQL to pg_dump', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctms-backup-'));
  try {
    const db = join(dir, 'ctms.db');
    const file = join(dir, 'copy.db');
    assert.equal(ctms(['demo', '--db', db]).status, 0);

    writeFileSync(file, 'not a database');
    let r = ctms(['backup', '--db', db, '--to', file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /exists; give --force/);
    assert.equal(statSync(file).size, 14, 'the existing file is left alone');

    r = ctms(['backup', '--db', db, '--to', file, '--force']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^backup .*copy\.db: \d+ audit events, intact$/m);
    assertIntegrity(file);

    r = ctms(['backup', '--db', db, '--to', db, '--force']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is the database itself/);

    writeFileSync(`${file}-wal`, 'a stale log');
    r = ctms(['backup', '--db', db, '--to', file, '--force']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /copy\.db-wal exists/, 'a stale -wal would be replayed onto the new copy');
    rmSync(`${file}-wal`);

    // A copy that fails its check is not kept: here the source's chain was tampered with.
    const tampered = join(dir, 'tampered.db');
    const refused = join(dir, 'refused.db');
    assert.equal(ctms(['backup', '--db', db, '--to', tampered]).status, 0);
    assert.equal(dropAuditGuards(tampered).status, 0);
    assert.equal(sql(tampered, "UPDATE audit_event SET actor_name = 'someone else' WHERE seq = 3").status, 0);
    r = ctms(['backup', '--db', tampered, '--to', refused]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /backup .*refused\.db FAILED.*event 3/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('refused')), [], 'nothing is left of the copy');

    r = ctms(['backup', '--db', db]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs --to FILE/);

    r = ctms(['backup', '--db', 'postgresql://ctms@127.0.0.1:1/none', '--to', join(dir, 'pg.dump')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /pg_dump/);
    assert.match(r.stderr, /pg_basebackup/);
    assert.ok(!existsSync(join(dir, 'pg.dump')));

    r = ctms(['--help']);
    assert.match(r.stdout, /^ {2}backup /m);
    r = ctms(['backup', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /usage: ctms backup --db SRC --to FILE \[--force\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

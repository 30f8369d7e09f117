// The server starts, answers health checks, and stops cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ctms } from './lib.mjs';

test('healthz answers ok and the server stops cleanly on SIGTERM', async () => {
  const s = await startServer();
  const r = await s.request('GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
  assert.equal(await s.stop(), 0);
});

test('ctms version and --help answer without a database', () => {
  const v = ctms(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^ctms \d+\.\d+\.\d+/);
  const h = ctms(['--help']);
  assert.equal(h.status, 0);
  for (const cmd of ['init', 'serve', 'audit verify', 'version']) assert.ok(h.stdout.includes(cmd), cmd);
  const bad = ctms(['frobnicate']);
  assert.equal(bad.status, 2);
});

test('a study created through the API is audited and counted in the summary', async () => {
  const s = await startServer();
  try {
    const created = await s.request('POST', '/api/v1/studies', {
      body: { protocol_number: 'SMOKE-1', title: 'Smoke', phase: 'PHASE1', target_enrollment: 10 },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('etag'), '"1"');
    assert.equal(created.headers.get('location'), `/api/v1/studies/${created.json.id}`);
    const audit = await s.request('GET', `/api/v1/audit?entity=study&id=${created.json.id}`);
    assert.equal(audit.json.items.length, 1);
    assert.equal(audit.json.items[0].action, 'create');
    const summary = await s.request('GET', `/api/v1/studies/${created.json.id}/summary`);
    assert.equal(summary.json.enrollment.target, 10);
  } finally {
    await s.stop();
  }
});

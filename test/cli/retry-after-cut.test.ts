import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { run } from './support.js';

/**
 * The real CLI against a real server whose answer is lost after the change committed (the connection is cut
 * between them, issue 20): the CLI sends the same call again with the same Idempotency-Key and reports the
 * success it was — not "cannot reach", not "already reviewed" — and the change happened once.
 */
describe.each(STORE_KINDS)('CLI retries a state change whose answer was cut (%s store)', (kind) => {
  let h: Harness;
  let proxy: TcpProxy;
  let url: string;
  beforeAll(async () => {
    h = await createHarness(kind);
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(address).port));
    url = `http://127.0.0.1:${proxy.port}`;
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  const cli = (user: string, ...args: string[]) =>
    run(['--url', url, '--token', h.tokens[user] as string, '--json', ...args]);

  it('approve: reported approved, reviewed once', async () => {
    const created = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'read', reason: 'cut' });
    const id: string = created.body.id;
    proxy.cutNextAnswer();
    const r = await cli('bob', 'approve', id, '--no-wait');
    expect(proxy.cuts()).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe('approved');
    await h.settled(id);
    const after = await h.as('bob').get(`/v1/requests/${id}`);
    expect(after.body.reviews.map((v: { reviewer: string }) => v.reviewer)).toEqual(['bob']);
    const events = await h.as('erin').get(`/v1/audit/events?request=${id}`);
    const actions: string[] = events.body.events.map((e: { action: string }) => e.action);
    expect(actions.filter((a) => a === 'request.approved')).toHaveLength(1);
  });

  it('request: one request created, reported as created', async () => {
    const before = (await h.as('alice').get('/v1/requests?scope=mine&limit=500')).body.requests.length;
    proxy.cutNextAnswer();
    const r = await cli(
      'alice',
      'request',
      'prod-db',
      '--role',
      'read',
      '--reason',
      'cut-create',
      '--no-wait',
    );
    expect(proxy.cuts()).toBeGreaterThan(0);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const mine = (await h.as('alice').get('/v1/requests?scope=mine&limit=500')).body.requests;
    expect(mine.length).toBe(before + 1);
    expect(JSON.parse(r.stdout).id).toBe(mine[0].id);
  });
});

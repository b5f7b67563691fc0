import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { deliveryId } from '../../src/notify/delivery-id.js';
import { notifyDb } from '../../src/notify/notify-tables.js';
import { targetEnv } from '../support/harness.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { createTestStore, type TestStore } from '../support/stores.js';
import { envNames, withNotifications } from './fixtures.js';
import { type HttpReceiver, newWebhookSecret, startWebhookReceiver, until } from './receivers.js';

/**
 * Two real `stint server` processes on one PostgreSQL store, each killed with SIGKILL while messages are in
 * flight to a slow webhook receiver, then restarted: every event reaches the receiver, and the only repeats
 * are repeats of a delivery id (same id, same body), which the receiver drops.
 */
describe('delivery across kill -9 of servers sharing a PostgreSQL store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-notify-crash-'));
  const policyPath = join(dir, 'stint.yaml');
  const names = envNames('crash');
  const secret = newWebhookSecret();
  const tokens: Record<string, string> = {};
  const servers: Record<'a' | 'b', ServerProcess | undefined> = { a: undefined, b: undefined };
  let hook: HttpReceiver;
  let testStore: TestStore;

  const env = {
    ...targetEnv(),
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-notify-crash').skey,
    STINT_LOG_LEVEL: 'warn',
    STINT_SWEEP_INTERVAL_MS: '100',
    [names.hookSecret]: secret,
  };
  const start = (which: 'a' | 'b') =>
    startServerProcess(
      ['--policy', policyPath, '--db', testStore.url, '--port', '0', '--data-dir', dir],
      env,
    ).then((s) => {
      servers[which] = s;
      return s;
    });

  const call = async (server: ServerProcess, user: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[user]}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    testStore = await createTestStore('postgresql');
    const deployment = `ntcrash-${randomBytes(4).toString('hex')}`;
    writeFileSync(
      policyPath,
      withNotifications(`
channels:
  hook: { kind: webhook, url: '${hook.url}', secret: { env: ${names.hookSecret} }, timeout: 2s, concurrency: 2 }
routes:
  - { events: [request.created], channels: [hook] }
retry: { first: 1s, max: 1s }
`).replace('deployment: stint-test', `deployment: ${deployment}`),
    );
    const tokenStore = createTokenStore(testStore.store.db);
    for (const user of ['alice', 'sam'])
      tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
  });

  afterAll(async () => {
    await servers.a?.kill9();
    await servers.b?.kill9();
    await hook?.close();
    await testStore?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nothing is lost and nothing is doubled beyond the delivery id', async () => {
    hook.behave({ kind: 'delay', ms: 250 });
    await start('a');
    await start('b');
    const N = 24;
    let kills = 0;
    const created: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await call(servers.a as ServerProcess, 'alice', 'POST', '/v1/requests', {
        resource: 'prod-db',
        role: 'read',
        reason: `crash ${i}`,
      });
      expect(res.status).toBe(201);
      created.push(res.body.id);
      // Kill A once messages are on their way, and B a little later, each mid-flight.
      if (i === 8) {
        await hook.waitFor((r) => r.length >= 2, 10_000);
        kills += 1;
        await servers.a?.kill9();
        await start('a');
      }
      if (i === 16) {
        kills += 1;
        await servers.b?.kill9();
        await start('b');
      }
    }
    const server = servers.a as ServerProcess;
    const events = (await call(server, 'sam', 'GET', '/v1/audit/events?limit=1000')).body.events.filter(
      (e: { action: string; requestId: string }) =>
        e.action === 'request.created' && created.includes(e.requestId),
    ) as { id: string; seq: number }[];
    expect(events).toHaveLength(N);
    const expected = new Set(events.map((e) => deliveryId(e.id, 'hook')));

    hook.behave({ kind: 'ok' });
    await hook.waitFor((r) => [...expected].every((id) => r.some((m) => m.id === id)), 60_000);

    // Lost: none. Doubled: only as the same delivery id with the same message.
    expect(hook.ids()).toEqual(expected);
    const byId = new Map<string, string>();
    for (const m of hook.received) {
      const { ack, ...body } = m.body;
      const text = JSON.stringify({ body, token: ack.token });
      const seen = byId.get(m.id);
      if (seen === undefined) byId.set(m.id, text);
      else expect(text, `repeat of ${m.id}`).toBe(seen);
    }
    expect(new Set(hook.received.map((m) => m.body.event.id)).size).toBe(N);
    expect(hook.rejected).toEqual([]);

    // One row per event in the store, each delivered; the cursor moved past every event exactly once.
    const rows = await until(
      () =>
        notifyDb(testStore.store.db)
          .selectFrom('notify_deliveries')
          .select(['id', 'status'])
          .where('action', '=', 'request.created')
          .execute(),
      (r) => r.length === N && r.every((x) => x.status === 'delivered'),
    );
    expect(new Set(rows.map((r) => r.id))).toEqual(expected);
    expect(rows.every((r) => r.status === 'delivered')).toBe(true);
    // A repeat is a message in flight when its server died (two kills, at most two in flight per server).
    const repeats = hook.received.length - N;
    expect(repeats).toBeLessThanOrEqual(kills * 2);
    console.log(
      `${N} deliveries, ${hook.received.length} received (${repeats} repeats of an id after ${kills} kills)`,
    );
  });

  it('a channel secret that is not set stops the boot, and refuses a reload, naming the variable', async () => {
    const missing = `${names.pdKey}_UNSET`;
    const valid = readFileSync(policyPath, 'utf8');
    const broken = valid.replace(
      'routes:',
      `  pager: { kind: pagerduty, routingKey: { env: ${missing} } }\n  routes:`,
    );
    expect(broken).not.toBe(valid);

    // A running server keeps its policy when a reload names an unset variable.
    const running = servers.a as ServerProcess;
    writeFileSync(policyPath, broken);
    running.child.kill('SIGHUP');
    await until(
      async () => running.output(),
      (out) => out.includes('policy reload refused'),
      10_000,
    );
    expect(running.output()).toContain(`env ${missing} is not set`);
    expect((await call(running, 'sam', 'GET', '/v1/notifications/deliveries?limit=1')).status).toBe(200);

    // A server starting with it does not start.
    await expect(start('b')).rejects.toThrow(
      new RegExp(`CONFIG_INVALID[\\s\\S]*notifications channel "pager": env ${missing} is not set`),
    );
    writeFileSync(policyPath, valid);
  });
});

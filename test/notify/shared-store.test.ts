import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createHarness, type Harness } from '../support/harness.js';
import { envNames, withNotifications } from './fixtures.js';
import { newWebhookSecret, until } from './receivers.js';

/**
 * Two servers on one PostgreSQL store, both routing and sending at once: the cursor is held by one at a time
 * (each event routed once, by one of them), each keeps to its per-channel concurrency, and an acknowledgement
 * token made by one is accepted by the other.
 */
describe('two servers sharing a PostgreSQL store', () => {
  const env = envNames('shared');
  const secret = newWebhookSecret();
  let a: Harness;
  let b: Harness;
  let receiver: Server;
  let open = 0;
  let most = 0;
  const bodies: { id: string; body: { ack: { token: string }; event: { seq: number } } }[] = [];

  beforeAll(async () => {
    // A plain receiver that counts how many requests it holds at once (each held 100 ms).
    receiver = createServer((req, res) => {
      open += 1;
      most = Math.max(most, open);
      let text = '';
      req.on('data', (c) => {
        text += c;
      });
      req.on('end', () =>
        setTimeout(() => {
          open -= 1;
          bodies.push({ id: String(req.headers['webhook-id']), body: JSON.parse(text) });
          res.end('ok');
        }, 100),
      );
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    process.env[env.hookSecret] = secret;
    const policy = withNotifications(`
channels:
  hook: { kind: webhook, url: 'http://127.0.0.1:${port}/in', secret: { env: ${env.hookSecret} }, concurrency: 2 }
routes:
  - { events: [request.created], channels: [hook] }
`);
    const secrets = createSecretBox(randomBytes(32));
    a = await createHarness('postgresql', { policy, secrets, sweepIntervalMs: 50 });
    b = await createHarness('postgresql', {
      policy,
      secrets,
      sweepIntervalMs: 50,
      beside: a.testStore,
      auditSigner: a.auditSigner,
      checkpointDir: a.checkpointDir,
      deployment: a.deployment,
      // The first server enrolled everyone's second factor in the shared store already.
      stepUp: false,
    });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('routes every event once, by one server at a time, and sends within each server’s concurrency', async () => {
    const N = 30;
    // Both servers take requests, and both route on every tick (and here, besides, as fast as they can).
    const routing = (async () => {
      while (bodies.length < N) await Promise.all([a.stint.notify.route(), b.stint.notify.route()]);
    })();
    for (let i = 0; i < N; i++) {
      const h = i % 2 === 0 ? a : b;
      expect(
        (await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'read', reason: `r${i}` }))
          .status,
      ).toBe(201);
    }
    await until(
      async () => bodies.length,
      (n) => n >= N,
      30_000,
    );
    await routing;
    // Quiet now: whatever is left is routed, and every event of the trail was routed exactly once between them.
    await a.stint.notify.route();
    await b.stint.notify.route();
    const position = await a.stint.notify.cursor.position();
    expect(position.seq).toBe(position.size - 1);
    expect(a.stint.notify.counters.routed + b.stint.notify.counters.routed).toBe(position.size);

    const rows = await a.stint.notify.deliveries.list({ limit: 500 });
    expect(rows).toHaveLength(N);
    expect(new Set(bodies.map((x) => x.id)).size).toBe(N);
    // Two servers, two at a time each.
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThanOrEqual(2);
  });

  it('an acknowledgement token made by one server is accepted by the other', async () => {
    const [first, second] = bodies;
    for (const [h, m] of [
      [a, first],
      [b, second],
    ] as const) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/v1/notifications/deliveries/${m?.id}/ack`,
        payload: { token: m?.body.ack.token },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ recorded: true, eventSeq: m?.body.event.seq });
    }
  });
});

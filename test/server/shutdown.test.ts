import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';

/**
 * Closing the server while a keep-alive request is in flight: Node only drops connections idle when close starts,
 * so without `Connection: close` on that answer the socket stayed open, and close waited out the 72 s
 * keep-alive timeout (a CLI that stopped reading one page ahead hung a test's teardown, and would hang a
 * SIGTERM).
 */
describe('shutdown with a request in flight', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('answers it, ends its connection, and closes at once', async () => {
    h = await createHarness('sqlite', { stepUp: false, start: false });
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const body = JSON.stringify({ resource: 'prod-db', role: 'admin', reason: 'INC-1' });
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    // Headers and half the body: the request is under way (routed, waiting for its body) when close begins.
    socket.write(
      'POST /v1/requests HTTP/1.1\r\nHost: stint\r\nConnection: keep-alive\r\n' +
        `Authorization: Bearer ${h.tokens.alice}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    const closing = h.app.close();
    await new Promise((r) => setTimeout(r, 100));
    socket.write(body.slice(10));

    const outcome = await Promise.race([
      Promise.all([closing, ended]).then(() => 'closed' as const),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref()),
    ]);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
  });
});

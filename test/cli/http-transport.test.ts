import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStintApi } from '../../src/cli/api.js';
import { createHttpClient } from '../../src/cli/http-client.js';

/**
 * The CLI calls the server over node:http (src/cli/node-http-fetch.ts) rather than fetch, which costs a run
 * 60-130 ms to start (issue 27). These hold it to what the client needs of fetch: the timeout bounds the whole
 * answer, body included, and a cut answer is one a state change is sent again for.
 */
let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the CLI HTTP transport', () => {
  it('sends the method, headers and JSON body, and reads the answer', async () => {
    let seen: { method?: string; auth?: string; key?: string; length?: string; body: string } = { body: '' };
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = {
          method: req.method,
          auth: req.headers.authorization,
          key: req.headers['idempotency-key'] as string,
          length: req.headers['content-length'],
          body,
        };
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"req_1","note":"é"}');
      });
    });
    const client = createHttpClient({ baseUrl: url, token: 'stint_t' });
    await expect(client.change('/v1/requests', { reason: 'ü' })).resolves.toEqual({ id: 'req_1', note: 'é' });
    expect(seen.method).toBe('POST');
    expect(seen.auth).toBe('Bearer stint_t');
    expect(seen.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.body).toBe('{"reason":"ü"}');
    expect(seen.length).toBe(String(Buffer.byteLength(seen.body)));
  });

  it('a server that never answers is reported once the timeout passes', async () => {
    const url = await serve(() => {});
    const client = createHttpClient({ baseUrl: url, token: undefined, timeoutMs: 300 });
    await expect(client.get('/v1/whoami')).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringContaining('no answer within'),
    });
  });

  it('the timeout also bounds a body that stops half way', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
    });
    const client = createHttpClient({ baseUrl: url, token: undefined, timeoutMs: 300 });
    await expect(client.get('/v1/whoami')).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringContaining('no answer within'),
    });
  });

  it('an answer cut mid-body is sent again with the same key', async () => {
    const keys: string[] = [];
    const url = await serve((req, res) => {
      keys.push(req.headers['idempotency-key'] as string);
      req.resume();
      if (keys.length === 1) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"cut":', () => req.socket.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const client = createHttpClient({ baseUrl: url, token: undefined, retryDelaysMs: [10] });
    await expect(client.change('/v1/requests/req_1/approve', {})).resolves.toEqual({ ok: true });
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('approve asks to be answered once issued (Prefer: wait), on every attempt; --no-wait does not', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers.prefer as string | undefined);
      req.resume();
      if (seen.length === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"req_1","state":"active"}');
    });
    const api = createStintApi(createHttpClient({ baseUrl: url, token: undefined, retryDelaysMs: [10] }));
    await expect(api.act('req_1', 'approve', undefined, true)).resolves.toMatchObject({ state: 'active' });
    expect(seen).toEqual(['wait=20', 'wait=20']);
    await api.act('req_1', 'approve', undefined, false);
    await api.act('req_1', 'deny', undefined, true);
    expect(seen.slice(2)).toEqual([undefined, undefined]);
  });
});

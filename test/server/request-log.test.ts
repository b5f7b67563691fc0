import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp, httpLogOptions } from '../../src/server/http-app.js';
import { createHarness, type Harness } from '../support/harness.js';

/** Request logs never carry a token or a one-time code: no Authorization header, no query string. */
describe('request logging', () => {
  let h: Harness;
  const lines: string[] = [];
  beforeAll(async () => {
    h = await createHarness('sqlite', { stepUp: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('logs method and path only', async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = await buildHttpApp(h.stint, { logger: pino({ level: 'info', ...httpLogOptions }, sink) });
    try {
      await app.inject({
        method: 'GET',
        url: '/v1/whoami?code=one-time-code-123&state=abc',
        headers: { authorization: `Bearer ${h.tokens.alice}` },
      });
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(log).toContain('/v1/whoami');
    expect(log).not.toContain('one-time-code-123');
    expect(log).not.toContain(h.tokens.alice as string);
  });
});

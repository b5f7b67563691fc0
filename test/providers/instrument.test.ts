import { describe, expect, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/logger.js';
import { instrumentProvider } from '../../src/providers/instrument.js';
import {
  type CredentialProvider,
  cancelledError,
  isCancelled,
  NO_CANCEL,
} from '../../src/providers/provider.js';
import { createProviderMetrics } from '../../src/providers/provider-metrics.js';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recorder(lines: Line[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/** A target that answers after `ms`, or as soon as its signal aborts (as providers must). */
function slowProvider(ms: number): CredentialProvider {
  const wait = <T>(value: T, signal: AbortSignal, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => resolve(value), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(cancelledError(`fake ${what}`, signal));
      });
    });
  return {
    kind: 'fake',
    principalFor: (id) => `fake_${id}`,
    issue: (r, s) =>
      wait(
        {
          principal: `fake_${r.requestId}`,
          secret: { password: 'hunter2-very-secret', url: 'x://u:hunter2-very-secret@h' },
        },
        s,
        'issue',
      ),
    revoke: (_r, s) => wait({ outcome: 'revoked' as const, sessionsEnded: 1 }, s, 'revoke'),
    verifyRevoked: (_r, s) => wait({ gone: true }, s, 'verify'),
    listOwned: (_r, s) => wait({ principals: [] }, s, 'list'),
    listForeign: (_r, s) => wait({ principals: [] }, s, 'list'),
    ping: (_r, s) => wait({ target: 'fake 1.0' }, s, 'ping'),
    close: async () => {},
  };
}

const issueRequest = {
  requestId: 'req_1',
  requester: 'alice',
  role: 'read',
  grants: ['app_read'],
  expiresAt: new Date('2030-01-01T00:00:00Z'),
};

describe('the provider wrapper', () => {
  it('logs issue and revoke with the request and result, never the secret', async () => {
    const lines: Line[] = [];
    const p = instrumentProvider(slowProvider(1), { resource: 'db', logger: recorder(lines) });
    const issued = await p.issue(issueRequest, NO_CANCEL);
    expect(issued.secret.password).toBe('hunter2-very-secret');
    await p.revoke({ principal: issued.principal }, NO_CANCEL);
    await p.ping({}, NO_CANCEL);

    expect(lines.map((l) => l.msg)).toEqual(['fake credential issued', 'fake credential revoked']);
    expect(lines[0]?.obj).toMatchObject({
      kind: 'fake',
      resource: 'db',
      requestId: 'req_1',
      principal: 'fake_req_1',
      grants: ['app_read'],
      expiresAt: '2030-01-01T00:00:00.000Z',
      secretFields: ['password', 'url'],
    });
    expect(lines[1]?.obj).toMatchObject({ principal: 'fake_req_1', outcome: 'revoked', sessionsEnded: 1 });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('cuts a call at its deadline with a cancellation error that says so', async () => {
    const lines: Line[] = [];
    const p = instrumentProvider(slowProvider(5_000), {
      resource: 'db',
      logger: recorder(lines),
      deadlinesMs: { ping: 20 },
    });
    const started = Date.now();
    const err = await p.ping({}, NO_CANCEL).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(isCancelled(err)).toBe(true);
    expect((err as StintError).message).toBe('fake ping: deadline of 20 ms passed');
    expect(lines).toMatchObject([{ level: 'warn', msg: 'fake ping failed', obj: { method: 'ping' } }]);
  });

  it('composes the caller’s signal with the deadline', async () => {
    const p = instrumentProvider(slowProvider(5_000), { resource: 'db', logger: recorder([]) });
    const controller = new AbortController();
    const pending = p.revoke({ principal: 'x' }, controller.signal);
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(isCancelled(err)).toBe(true);
    expect((err as StintError).message).toBe('fake revoke: cancelled by the caller');
  });

  it('counts calls, failures and durations per kind and method', async () => {
    const metrics = createProviderMetrics();
    const p = instrumentProvider(slowProvider(1), { resource: 'db', logger: recorder([]), metrics });
    await p.ping({}, NO_CANCEL);
    await p.ping({}, NO_CANCEL);
    const failing: CredentialProvider = {
      ...slowProvider(1),
      revoke: async () => {
        throw new StintError('PROVIDER_ERROR', 'nope');
      },
    };
    const q = instrumentProvider(failing, { resource: 'db', logger: recorder([]), metrics });
    await expect(q.revoke({ principal: 'x' }, NO_CANCEL)).rejects.toThrow('nope');
    const slow = instrumentProvider(slowProvider(5_000), {
      resource: 'db',
      logger: recorder([]),
      metrics,
      deadlinesMs: { revoke: 10 },
    });
    await expect(slow.revoke({ principal: 'x' }, NO_CANCEL)).rejects.toThrow(/deadline/);

    const rows = metrics.snapshot();
    expect(rows.map((r) => [r.kind, r.method, r.calls, r.failures, r.cancelled])).toEqual([
      ['fake', 'ping', 2, 0, 0],
      ['fake', 'revoke', 2, 2, 1],
    ]);
    const revoke = rows.find((r) => r.method === 'revoke');
    expect(revoke?.maxMs).toBeGreaterThanOrEqual(9);
    expect(revoke?.totalMs).toBeGreaterThanOrEqual(revoke?.maxMs ?? 0);
  });
});

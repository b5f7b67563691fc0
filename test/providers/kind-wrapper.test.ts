import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/logger.js';
import { defineKind } from '../../src/providers/kind.js';
import { cancelledError, isCancelled, NO_CANCEL } from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { fakeKind } from './fake-kind.js';

const OWNER = { deployment: 'wrapper-test', storeId: 'st_0000000000000000' };
const KEY = 'wrapper-key-do-not-echo';

function recorder(lines: string[]): Logger {
  const at = (obj: object, msg?: string) => lines.push(JSON.stringify({ obj, msg }));
  return { info: at, warn: at, error: at };
}

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

/** The one wrapper, applied by the registry to every kind: the kind's deadlines, its secrets scrubbed. */
describe('the wrapper a kind runs in', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-kind-wrapper-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scrubs the kind’s configured secrets from every error and log line, though the kind quotes them', async () => {
    const registry = createKindRegistry([fakeKind]);
    // A target that cannot be opened: the fake kind's error quotes its whole connection, key included.
    const connection = `fake:${join(dir, 'no-such-dir', 'target.db')}?key=${KEY}`;
    const spec = { id: 'certs', kind: 'fake', connection: { env: 'X' }, options: { issueDelayMs: 0 } };
    const lines: string[] = [];
    const provider = registry.create(registry.resolve(spec, { X: connection }), {
      owner: OWNER,
      logger: recorder(lines),
    });
    const err = await rejection(provider.ping({}, NO_CANCEL));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain(KEY);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain(KEY);
    // URL-encoded too, and from an error that is not Stint's own (a driver's, escaping the kind).
    const echo = defineKind({
      ...fakeKind,
      kind: 'echo',
      configure: () => ({ secrets: [`${KEY}/x`] }),
      create: () => ({
        ...fakeKind.create(
          { resourceId: 'e', file: '', key: '', connection: '', issueDelayMs: 0, secrets: [] },
          { owner: OWNER, logger: undefined },
        ),
        kind: 'echo',
        ping: async () => {
          throw new Error(`driver said: ${encodeURIComponent(`${KEY}/x`)}`);
        },
      }),
    });
    const echoes = createKindRegistry([echo]);
    const encoded = await rejection(
      echoes.create(echoes.resolve({ ...spec, kind: 'echo' }, {}), { owner: OWNER }).ping({}, NO_CANCEL),
    );
    expect(encoded.code).toBe('PROVIDER_ERROR');
    expect(encoded.message).not.toContain(KEY);
  });

  it('logs what the user gave at the take by field names only, and what the kind made not at all', async () => {
    const registry = createKindRegistry([fakeKind]);
    const spec = { id: 'certs', kind: 'fake', connection: { env: 'X' }, options: { issueDelayMs: 0 } };
    const lines: string[] = [];
    const provider = registry.create(
      registry.resolve(spec, { X: `fake:${join(dir, 'take.db')}?key=${KEY}` }),
      { owner: OWNER, logger: recorder(lines) },
    );
    const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDontLogThisKeyBlobAnywhereAtAll00000000 me@host';
    const made = await provider.completeCredential?.(
      {
        requestId: 'req_1',
        requester: 'alice',
        role: 'read',
        grants: ['fake_read'],
        principal: 'fake_req_1',
        expiresAt: new Date(Date.now() + 60_000),
        input: { publicKey },
      },
      NO_CANCEL,
    );
    expect(made?.secret.certificate).toMatch(/^fake-cert fake_req_1 /);
    const logged = lines.find((l) => l.includes('credential completed'));
    expect(JSON.parse(logged ?? '{}').obj).toMatchObject({
      inputFields: ['publicKey'],
      secretFields: ['certificate'],
    });
    for (const line of lines) {
      expect(line).not.toContain('DontLogThis');
      expect(line).not.toContain(made?.secret.certificate);
    }
  });

  it('refuses a kind that declares takeInput with a provider that cannot complete a credential', () => {
    const { completeCredential: _, ...withoutHook } = fakeKind.create(
      { resourceId: 'e', file: '', key: '', connection: '', issueDelayMs: 0, secrets: [] },
      { owner: OWNER, logger: undefined },
    );
    const broken = defineKind({
      ...fakeKind,
      kind: 'half',
      create: () => ({ ...withoutHook, kind: 'half' }),
    });
    const registry = createKindRegistry([broken]);
    const spec = { id: 'half-res', kind: 'half', connection: { env: 'X' }, options: { issueDelayMs: 0 } };
    expect(() =>
      registry.create(registry.resolve(spec, { X: `fake:${join(dir, 'h.db')}?key=${KEY}` }), {
        owner: OWNER,
      }),
    ).toThrow(/declares takeInput but its provider has no completeCredential/);
  });

  it('wraps listStanding like every call: scrubbed answer, counted, and required of a kind that declares it', async () => {
    const base = fakeKind.create(
      { resourceId: 'i', file: '', key: '', connection: '', issueDelayMs: 0, secrets: [] },
      { owner: OWNER, logger: undefined },
    );
    const inventoried = defineKind({
      ...fakeKind,
      kind: 'inv',
      capabilities: {
        ...fakeKind.capabilities,
        inventory: { lists: 'standing', sees: 'everything, by fiat' },
      },
      configure: () => ({ secrets: [KEY] }),
      create: () => ({
        ...base,
        kind: 'inv',
        // A kind that quotes its own secret in what it lists: the wrapper must not let it out.
        listStanding: async ({ grants }) => ({
          principals: [{ principal: 'ops', privileges: grants, reason: `admin via ${KEY}` }],
        }),
      }),
    });
    const registry = createKindRegistry([inventoried]);
    const spec = { id: 'inv-res', kind: 'inv', connection: { env: 'X' }, options: { issueDelayMs: 0 } };
    const { createProviderMetrics } = await import('../../src/providers/provider-metrics.js');
    const metrics = createProviderMetrics();
    const provider = registry.create(registry.resolve(spec, {}), { owner: OWNER, metrics });
    const listed = await provider.listStanding?.({ grants: ['fake_read'] }, NO_CANCEL);
    expect(listed).toEqual({
      principals: [{ principal: 'ops', privileges: ['fake_read'], reason: 'admin via [redacted]' }],
    });
    expect(metrics.snapshot()).toMatchObject([
      { kind: 'inv', method: 'listStanding', calls: 1, failures: 0 },
    ]);

    // Declared but not implemented: caught when the provider is made, not when someone asks for the inventory.
    const broken = defineKind({
      ...inventoried,
      kind: 'inv-broken',
      create: () => ({ ...base, kind: 'inv-broken' }),
    });
    const brokenRegistry = createKindRegistry([broken]);
    expect(() =>
      brokenRegistry.create(brokenRegistry.resolve({ ...spec, kind: 'inv-broken' }, {}), { owner: OWNER }),
    ).toThrow(/declares a standing-access inventory but its provider has no listStanding/);

    // A kind that declares none has no listStanding through the wrapper either.
    const plain = createKindRegistry([fakeKind]);
    const fake = plain.create(
      plain.resolve({ ...spec, kind: 'fake' }, { X: `fake:${join(dir, 'i.db')}?key=${KEY}` }),
      {
        owner: OWNER,
      },
    );
    expect(fake.listStanding).toBeUndefined();
  });

  it('takes each call’s deadline from the kind’s descriptor', async () => {
    const slow = defineKind({
      kind: 'slow',
      options: z.object({}).default({}),
      grants: z.array(z.string()),
      connection: 'optional',
      capabilities: {
        revocation: 'remove',
        listable: false,
        endsSessions: false,
        contactsTargetAtIssue: false,
      },
      deadlinesMs: { ping: 50 },
      configure: () => ({ secrets: [] }),
      create: () => ({
        ...fakeKind.create(
          { resourceId: 's', file: '', key: '', connection: '', issueDelayMs: 0, secrets: [] },
          { owner: OWNER, logger: undefined },
        ),
        kind: 'slow',
        ping: (_r, signal) =>
          new Promise((_resolve, reject) => {
            const t = setTimeout(() => reject(new Error('took 5 s')), 5_000);
            signal.addEventListener('abort', () => {
              clearTimeout(t);
              reject(cancelledError('slow ping', signal));
            });
          }),
      }),
    });
    const registry = createKindRegistry([slow]);
    const provider = registry.create(
      registry.resolve({ id: 'slow-1', kind: 'slow', connection: null, options: {} }, {}),
      { owner: OWNER },
    );
    const err = await rejection(provider.ping({}, NO_CANCEL));
    expect(isCancelled(err)).toBe(true);
    expect(err.message).toMatch(/deadline of 50 ms passed/);
  });
});

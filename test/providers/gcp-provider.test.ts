import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { isPolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { gcpKind } from '../../src/providers/gcp/index.js';
import { NO_CANCEL, type TargetOwner } from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { startGcpDouble } from './doubles/gcp/server.js';
import { newRsaKey, PROJECT, saEmail, serviceAccountKey, TOKEN_CREATOR } from './doubles/gcp/state.js';
import { bindingInForce, gcpOptions, gcpProvider, impersonate, READER } from './gcp-fixture.js';

const double = await startGcpDouble();
afterAll(() => double.close());

const newOwner = (deployment = 'gcp-test'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const newId = () => `req_${randomBytes(8).toString('hex')}`;
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);
const reader = () => double.state.serviceAccounts.get(READER);

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  double.state.clockOffsetMs = 0;
  for (const p of opened.splice(0)) await p.close();
});
function provider(owner = newOwner(), opts: Parameters<typeof gcpProvider>[2] = {}) {
  const p = gcpProvider(double, owner, opts);
  opened.push(p);
  return p;
}

describe('gcp: what goes over the wire', () => {
  it('one conditional binding per grant, expiring with the window, marked with this store, written with the etag read', async () => {
    const owner = newOwner('prod');
    const p = provider(owner);
    const requestId = newId();
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000);
    const before = double.calls.length;
    const cred = await p.issue(
      { requestId, requester: 'alice', role: 'read', grants: [READER], expiresAt },
      NO_CANCEL,
    );
    const calls = double.calls.slice(before);
    expect(calls.map((c) => `${c.method} ${c.path} ${c.caller} ${c.status}`)).toEqual([
      `POST /v1/projects/-/serviceAccounts/${READER}:getIamPolicy admin 200`,
      `POST /v1/projects/-/serviceAccounts/${READER}:setIamPolicy admin 200`,
    ]);
    expect(calls[0]?.body).toEqual({ options: { requestedPolicyVersion: 3 } });
    // The double refuses a write whose etag is not the one it last answered: this one was accepted.
    const written = calls[1]?.body as { policy: { version: number; etag: string; bindings: unknown[] } };
    expect(written.policy).toMatchObject({ version: 3, etag: expect.any(String) });
    expect(written.policy.bindings).toContainEqual({
      role: TOKEN_CREATOR,
      members: ['user:alice@example.com'],
      condition: {
        title: `stint stint-${requestId}`,
        description: `stint:request=${requestId};deployment=prod;store=${owner.storeId};principal=stint-${requestId}`,
        expression: `request.time < timestamp("${expiresAt.toISOString().replace('.000Z', 'Z')}")`,
      },
    });
    expect(cred).toMatchObject({
      principal: `stint-${requestId}`,
      secret: { serviceAccounts: READER, member: 'user:alice@example.com' },
    });
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
    expect(bindingInForce(double, cred.principal)).toBe(false);
  });

  it('the double verifies the key’s self-signed JWT: a key it does not know is refused, and the error holds no key', async () => {
    const other = newRsaKey();
    const forged = serviceAccountKey(double.state.admin.email, double.state.admin.keyId, other.privateKey);
    const before = double.calls.length;
    const err = await rejection(provider(newOwner(), { key: forged }).ping({}, NO_CANCEL));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.details).toMatchObject({ class: 'auth' });
    expect(err.message).toMatch(
      /UNAUTHENTICATED: Request had invalid authentication credentials: invalid JWT signature/,
    );
    expect(err.message).not.toMatch(/PRIVATE KEY/);
    expect(double.calls.slice(before).every((c) => c.caller === 'refused')).toBe(true);
    await expect(provider().ping({}, NO_CANCEL)).resolves.toEqual({
      target: `Google Cloud IAM, project ${PROJECT}`,
    });
  });
});

describe('gcp: concurrency and overlap', () => {
  it('a write another writer beat (409 ABORTED on a stale etag) is done again from a fresh read', async () => {
    const p = provider();
    double.raceNextSet();
    const before = double.calls.length;
    const cred = await p.issue(
      { requestId: newId(), requester: 'alice', role: 'read', grants: [READER], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    const sets = double.calls.slice(before).filter((c) => c.path.endsWith(':setIamPolicy'));
    expect(sets.map((c) => c.status)).toEqual([409, 200]);
    expect(bindingInForce(double, cred.principal)).toBe(true);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('grants issued at once on one account all land (none lost to another’s write)', async () => {
    const p = provider();
    const creds = await Promise.all(
      ['alice', 'bob', 'carol', 'alice', 'bob'].map((requester) =>
        p.issue(
          { requestId: newId(), requester, role: 'read', grants: [READER], expiresAt: inMinutes(30) },
          NO_CANCEL,
        ),
      ),
    );
    for (const c of creds) expect(bindingInForce(double, c.principal)).toBe(true);
    await Promise.all(creds.map((c) => p.revoke({ principal: c.principal }, NO_CANCEL)));
    for (const c of creds) expect(bindingInForce(double, c.principal)).toBe(false);
  });

  it('two grants of one person never cut each other; tokens minted before a revoke live to their own end', async () => {
    const p = provider();
    const issue = () =>
      p.issue(
        { requestId: newId(), requester: 'carol', role: 'read', grants: [READER], expiresAt: inMinutes(30) },
        NO_CANCEL,
      );
    const first = await issue();
    const second = await issue();
    const minted = await impersonate(double, 'user:carol@example.com', READER);
    await p.revoke({ principal: first.principal }, NO_CANCEL);
    await expect(impersonate(double, 'user:carol@example.com', READER)).resolves.toBeDefined();
    await p.revoke({ principal: second.principal }, NO_CANCEL);
    await expect(impersonate(double, 'user:carol@example.com', READER)).rejects.toThrow(/PERMISSION_DENIED/);
    // endsSessions is false: an access token minted earlier is not taken back by removing the binding.
    expect(await minted.alive()).toBe(true);
  });

  it('IAM itself stops honouring the binding at the window’s end, even if Stint never revokes', async () => {
    const p = provider();
    const cred = await p.issue(
      { requestId: newId(), requester: 'carol', role: 'read', grants: [READER], expiresAt: inMinutes(20) },
      NO_CANCEL,
    );
    await expect(impersonate(double, 'user:carol@example.com', READER)).resolves.toBeDefined();
    double.state.clockOffsetMs = 21 * 60_000;
    await expect(impersonate(double, 'user:carol@example.com', READER)).rejects.toThrow(/PERMISSION_DENIED/);
    double.state.clockOffsetMs = 0;
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('another role binding on the account, not Stint’s, is kept through issue and revoke', async () => {
    const sa = reader();
    if (!sa) throw new Error('no reader account');
    const standing = { role: 'roles/iam.serviceAccountUser', members: ['group:ops@example.com'] };
    sa.policy.bindings.push(standing);
    const p = provider();
    const cred = await p.issue(
      { requestId: newId(), requester: 'alice', role: 'read', grants: [READER], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
    expect(reader()?.policy.bindings).toEqual([standing]);
    sa.policy.bindings = [];
  });
});

describe('gcp: ownership', () => {
  it('another store’s binding of the same principal is neither revoked nor listed as owned; it is reported foreign', async () => {
    const requestId = newId();
    const mine = provider(newOwner('shared'));
    const theirs = provider(newOwner('shared'));
    const cred = await theirs.issue(
      { requestId, requester: 'bob', role: 'read', grants: [READER], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    await expect(mine.revoke({ principal: cred.principal }, NO_CANCEL)).rejects.toThrow(
      /another Stint store/,
    );
    expect(bindingInForce(double, cred.principal)).toBe(true);
    expect((await mine.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).not.toContain(
      cred.principal,
    );
    expect((await mine.listForeign({}, NO_CANCEL)).principals.map((f) => f.principal)).toContain(
      cred.principal,
    );
    await theirs.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('a binding titled like Stint’s but without this store’s mark is never taken for Stint’s', async () => {
    const sa = reader();
    if (!sa) throw new Error('no reader account');
    const lookalike = {
      role: TOKEN_CREATOR,
      members: ['user:carol@example.com'],
      condition: {
        title: 'stint stint-req_0000000000000000',
        expression: 'request.time < timestamp("2099-01-01T00:00:00Z")',
      },
    };
    sa.policy.bindings.push(lookalike);
    const p = provider();
    expect((await p.revoke({ principal: 'stint-req_0000000000000000' }, NO_CANCEL)).outcome).toBe('absent');
    expect((await p.listOwned({}, NO_CANCEL)).principals).toEqual([]);
    expect(reader()?.policy.bindings).toContainEqual(lookalike);
    sa.policy.bindings = [];
  });
});

describe('gcp: refusals', () => {
  it('a service account of another project is refused before anything is written', async () => {
    const before = double.calls.length;
    const err = await rejection(
      provider().issue(
        {
          requestId: newId(),
          requester: 'alice',
          role: 'x',
          grants: ['app-reader@other-project-1.iam.gserviceaccount.com'],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/is not a service account of project stint-test-project/);
    expect(double.calls.length).toBe(before);
  });

  it('a requester with no IAM member is refused', async () => {
    const p = provider(newOwner(), {
      extra: { memberDomain: undefined, members: { alice: 'user:alice@example.com' } },
    });
    const err = await rejection(
      p.issue(
        { requestId: newId(), requester: 'bob', role: 'read', grants: [READER], expiresAt: inMinutes(30) },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/requester bob has no IAM member/);
  });
});

describe('gcp: credentials', () => {
  it('without a connection, Application Default Credentials are used (here, a key file ADC finds)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-gcp-adc-'));
    const file = join(dir, 'key.json');
    writeFileSync(file, double.state.admin.keyJson, { mode: 0o600 });
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
    try {
      const registry = createKindRegistry([gcpKind]);
      const p = registry.create(
        registry.resolve({ id: 'adc', kind: 'gcp', connection: null, options: gcpOptions(double) }, {}),
        { owner: newOwner() },
      );
      await expect(p.ping({}, NO_CANCEL)).resolves.toMatchObject({
        target: expect.stringContaining(PROJECT),
      });
      await p.close();
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a connection that is not a key file stops the load, naming where it looked and nothing it found', () => {
    const registry = createKindRegistry([gcpKind]);
    const spec = { id: 'junk', kind: 'gcp', connection: { env: 'X_GCP' }, options: gcpOptions(double) };
    const junk = '{"type":"authorized_user","refresh_token":"1//very-secret-refresh"}';
    expect(() => registry.resolve(spec, { X_GCP: junk })).toThrow(
      /resource junk: env X_GCP is not a service account key \(check type/,
    );
    try {
      registry.resolve(spec, { X_GCP: junk });
    } catch (e) {
      expect((e as Error).message).not.toContain('very-secret');
    }
  });
});

describe('gcp options at policy load', () => {
  it('a bad project id, a bad member and a grant that is no service account are located to file:line:col', () => {
    const text = `version: 1
users:
  - { id: alice, email: alice@example.com, teams: [ops] }
resources:
  - id: cloud
    kind: gcp
    sensitivity: routine
    options:
      project: Bad_Project
      members: { alice: alice@example.com }
    roles:
      read: { grants: [app-reader] }
rules:
  - id: r
    resources: [cloud]
    roles: ['*']
    who: { teams: [ops] }
    duration: { default: 1h, max: 1h }
    approval: [auto]
`;
    let found: string[] = [];
    try {
      parsePolicy(text, 'stint.yaml', [gcpKind]);
    } catch (e) {
      if (!isPolicyError(e)) throw e;
      found = e.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.field}: ${p.message}`);
    }
    expect(found).toEqual([
      'stint.yaml:9:16: resources[0].options.project: must be a Google Cloud project id',
      'stint.yaml:10:25: resources[0].options.members.alice: must be an IAM member such as user:alice@example.com',
      'stint.yaml:12:24: resources[0].roles.read.grants[0]: must be a service account email (name@project.iam.gserviceaccount.com)',
    ]);
  });

  it('a good resource loads with no connection (ADC) and the binding mode filled in', () => {
    const p = parsePolicy(
      `version: 1
users:
  - { id: alice, email: alice@example.com, teams: [ops] }
resources:
  - id: cloud
    kind: gcp
    sensitivity: routine
    options: { project: ${PROJECT}, memberDomain: example.com }
    roles:
      read: { grants: ['${saEmail('app-reader')}'] }
rules:
  - id: r
    resources: [cloud]
    roles: ['*']
    who: { teams: [ops] }
    duration: { default: 1h, max: 1h }
    approval: [auto]
`,
      'stint.yaml',
      [gcpKind],
    );
    expect(p.resources.get('cloud')?.options).toEqual({
      mode: 'binding',
      project: PROJECT,
      memberDomain: 'example.com',
    });
    expect(p.resources.get('cloud')?.connection).toBeNull();
  });
});

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import { defineKind } from '../../src/providers/kind.js';
import { fakeCertificate, fakeKind } from '../providers/fake-kind.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * User input at credential time, as a caller sees it: a kind that takes input (the fake kind, a public key to
 * "sign") gets exactly the checked body at the take and the answer carries what it made; bad input changes
 * nothing; a kind that takes none (PostgreSQL) refuses a body without consuming the credential.
 */
const POLICY = TEST_POLICY.replace(
  '\nrules:\n',
  `
  - id: certs
    kind: fake
    sensitivity: routine
    connection: { env: STINT_FAKE_TARGET }
    roles:
      read: { grants: [fake_read] }
  - id: down-signer
    kind: fake-down-signer
    sensitivity: routine
    connection: { env: STINT_FAKE_TARGET }
    roles:
      read: { grants: [fake_read] }
rules:
  - id: certs
    resources: [certs, down-signer]
    roles: [read]
    who: { teams: [payments] }
    duration: { min: 1s, default: 30m, max: 2h }
    approval: [auto]
`,
);

/** The fake kind whose signer is down at the take: what it issued at approval is there, the take cannot finish. */
const downSigner = defineKind({
  ...fakeKind,
  kind: 'fake-down-signer',
  create: (config, ctx) => ({
    ...fakeKind.create(config, ctx),
    kind: 'fake-down-signer',
    completeCredential: async () => {
      throw new StintError('PROVIDER_ERROR', 'the signer did not answer', { class: 'unreachable' });
    },
  }),
});

/** A real OpenSSH ed25519 public key line: the SPKI's last 32 bytes are the key, wrapped as ssh-keygen does. */
function openSshPublicKey(comment: string): string {
  const spki = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(spki.subarray(spki.length - 32))]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

describe.each(STORE_KINDS)('input at credential time on %s', (store) => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-take-input-'));
  const targetFile = join(dir, 'target.db');
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(store, {
      policy: POLICY,
      kinds: [fakeKind, downSigner],
      env: { STINT_FAKE_TARGET: `fake:${targetFile}?key=take-key` },
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const active = async (resource: string) =>
    (await activeGrant(h, { resource, role: 'read', reason: 'x' })).id;
  const seenByProvider = (principal: string) => {
    const db = new SQLite(targetFile, { readonly: true });
    try {
      return (
        db.prepare('SELECT input FROM takes WHERE principal = ?').all(principal) as { input: string }[]
      ).map((r) => JSON.parse(r.input) as unknown);
    } finally {
      db.close();
    }
  };
  const events = async (id: string) =>
    (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
      action: string;
      details: Record<string, unknown>;
    }[];

  it('a valid public key reaches the provider as sent, and the answer carries what it made', async () => {
    const id = await active('certs');
    const publicKey = openSshPublicKey('alice@laptop');
    const taken = await h.as('alice').post(`/v1/requests/${id}/credentials`, { publicKey });
    expect(taken.status).toBe(200);
    const principal = taken.body.principal as string;
    expect(seenByProvider(principal)).toEqual([{ publicKey }]);
    expect(taken.body.secret).toMatchObject({
      principal,
      certificate: fakeCertificate(principal, publicKey),
    });
    expect(typeof taken.body.secret.token).toBe('string');

    // The trail records which fields were given, never what they held.
    const trail = await events(id);
    expect(trail.find((e) => e.action === 'credential.shown')?.details).toMatchObject({
      principal,
      inputFields: ['publicKey'],
    });
    expect(JSON.stringify(trail)).not.toContain(publicKey.split(' ')[1]);

    const again = await h.as('alice').post(`/v1/requests/${id}/credentials`, { publicKey });
    expect(again.body.error.code).toBe('CREDENTIAL_ALREADY_SHOWN');
    expect(seenByProvider(principal)).toHaveLength(1);
  });

  it('bad input answers VALIDATION_FAILED with problems, reaches no provider, and leaves the credential takeable', async () => {
    const id = await active('certs');
    const before = (await h.as('alice').get(`/v1/requests/${id}`)).body;
    const bad = [
      { publicKey: 'ssh-ed25519 bm90IGEga2V5 me' },
      { publicKey: 42 },
      { publicKey: openSshPublicKey('x'), privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----' },
      [1, 2],
    ];
    for (const body of bad) {
      const refused = await h.as('alice').post(`/v1/requests/${id}/credentials`, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
      expect(refused.body.error.details.problems.length).toBeGreaterThan(0);
      // Messages name fields, never values.
      expect(refused.body.error.message).not.toContain('PRIVATE KEY');
      expect(refused.body.error.message).not.toContain('bm90IGEga2V5');
    }
    expect(before.credentialShown).toBe(false);
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.credentialShown).toBe(false);
    expect((await events(id)).map((e) => e.action)).not.toContain('credential.shown');

    const publicKey = openSshPublicKey('second try');
    const taken = await h.as('alice').post(`/v1/requests/${id}/credentials`, { publicKey });
    expect(taken.status).toBe(200);
    expect(seenByProvider(taken.body.principal)).toEqual([{ publicKey }]);
  });

  it('a retry with the same Idempotency-Key gets the same answer without asking the provider again', async () => {
    const id = await active('certs');
    const publicKey = openSshPublicKey('retry');
    const key = `take-once-${randomUUID()}`;
    const take = (body: unknown) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/requests/${id}/credentials`,
        headers: { authorization: `Bearer ${h.tokens.alice}`, 'idempotency-key': key },
        payload: body as object,
      });
    const first = await take({ publicKey });
    expect(first.statusCode, first.body).toBe(200);
    const again = await take({ publicKey });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(seenByProvider(first.json().principal)).toHaveLength(1);
    // Another key under the same Idempotency-Key is another request: refused, not answered with the first.
    const other = await take({ publicKey: openSshPublicKey('other') });
    expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a provider that fails at the take answers its error and leaves the credential takeable', async () => {
    const id = await active('down-signer');
    const failed = await h.as('alice').post(`/v1/requests/${id}/credentials`, {
      publicKey: openSshPublicKey('down'),
    });
    expect(failed.status).toBe(502);
    expect(failed.body.error.code).toBe('PROVIDER_ERROR');
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.credentialShown).toBe(false);
    expect((await events(id)).map((e) => e.action)).not.toContain('credential.shown');
  });

  it('a kind that takes no input (PostgreSQL) refuses a body without consuming the credential', async () => {
    const id = await active('staging-db');
    const refused = await h
      .as('alice')
      .post(`/v1/requests/${id}/credentials`, { publicKey: openSshPublicKey('pg') });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(refused.body.error.message).toMatch(/takes no input/);
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.credentialShown).toBe(false);

    // An empty object is no input: taken as before.
    const taken = await h.as('alice').post(`/v1/requests/${id}/credentials`, {});
    expect(taken.status).toBe(200);
    expect(Object.keys(taken.body.secret)).not.toContain('certificate');
    expect((await events(id)).find((e) => e.action === 'credential.shown')?.details).not.toHaveProperty(
      'inputFields',
    );
  });
});

import { createHash, randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { z } from 'zod';
import { StintError } from '../../src/domain/errors.js';
import { readConnectionRef } from '../../src/providers/connection-ref.js';
import { defineKind } from '../../src/providers/kind.js';
import { type CredentialProvider, cancelledError } from '../../src/providers/provider.js';

/**
 * A TEST-ONLY kind, registered from test code through the composition root: a "target" in a SQLite file that
 * mints tokens valid until the window's end and can neither take them back early nor list them, as SSH
 * certificates and cloud session tokens behave. Nothing in src/ names it.
 *
 * Its connection is `fake:<file>?key=<secret>`; the key is a configured secret, and the kind's own errors
 * quote the whole connection on purpose, so the wrapper's scrubbing is what keeps it out of messages and logs.
 */
export const FAKE_GRANTS = ['fake_read', 'fake_write'] as const;

const options = z
  .strictObject({ issueDelayMs: z.int().min(0).max(5_000).default(0) })
  .default({ issueDelayMs: 0 });

/**
 * An OpenSSH public key line (`ssh-ed25519 AAAA… comment`): the blob must be base64 and name the same type, as
 * `ssh-keygen -l` would check. Messages never echo the value.
 */
export function isOpenSshPublicKey(line: string): boolean {
  const m =
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?$/.exec(line);
  if (!m?.[1] || !m[2]) return false;
  const blob = Buffer.from(m[2], 'base64');
  if (blob.length < 4) return false;
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1') === m[1];
}

/**
 * What the fake kind takes at the take: optionally a public key to "sign" (optional so the shared contract
 * suite takes its credentials without a body, as for every other kind).
 */
const takeInput = z.strictObject({
  publicKey: z
    .string()
    .max(16_384)
    .refine(isOpenSshPublicKey, { error: 'must be an OpenSSH public key line' })
    .optional(),
});

/** The "certificate" the fake kind makes for a public key: names the principal and the key's digest. */
export function fakeCertificate(principal: string, publicKey: string): string {
  return `fake-cert ${principal} ${createHash('sha256').update(publicKey).digest('hex')}`;
}

interface FakeConfig {
  resourceId: string;
  file: string;
  key: string;
  connection: string;
  issueDelayMs: number;
  secrets: string[];
}

export function parseFakeConnection(connection: string): { file: string; key: string } {
  const m = /^fake:([^?]+)\?key=(.+)$/.exec(connection);
  if (!m?.[1] || !m[2])
    throw new StintError('CONFIG_INVALID', 'fake connection must be fake:<file>?key=<key>');
  return { file: m[1], key: m[2] };
}

export function openFakeTarget(file: string): SQLite.Database {
  const db = new SQLite(file, { timeout: 5_000 });
  db.exec(`CREATE TABLE IF NOT EXISTS creds (
    principal TEXT PRIMARY KEY, request_id TEXT NOT NULL, store_id TEXT NOT NULL, token TEXT NOT NULL,
    grants TEXT NOT NULL, expires_at INTEGER NOT NULL, key TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS takes (principal TEXT NOT NULL, input TEXT NOT NULL)`);
  return db;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

function createFakeProvider(config: FakeConfig, storeId: string): CredentialProvider {
  let db: SQLite.Database | undefined;
  const target = () => {
    try {
      db ??= openFakeTarget(config.file);
      return db;
    } catch (e) {
      // Quotes the configured connection, key and all: the wrapper must scrub it.
      throw new StintError(
        'PROVIDER_ERROR',
        `fake target ${config.connection} unreachable: ${(e as Error).message}`,
      );
    }
  };
  const principalFor = (requestId: string) => `fake_${requestId.replace(/[^a-z0-9]/gi, '_')}`;
  const unlisted = () => {
    throw new StintError(
      'PROVIDER_ERROR',
      'the fake kind cannot list what it issued (declared listable: false)',
    );
  };
  return {
    kind: 'fake',
    principalFor,
    async issue(request, signal) {
      if (signal.aborted) throw cancelledError('fake issue', signal);
      const principal = principalFor(request.requestId);
      const unknown = request.grants.filter((g) => !(FAKE_GRANTS as readonly string[]).includes(g));
      if (unknown.length > 0)
        throw new StintError('PROVIDER_ERROR', `fake target has no grant ${unknown.join(', ')}`);
      try {
        await sleep(config.issueDelayMs, signal);
      } catch {
        throw cancelledError('fake issue', signal);
      }
      if (signal.aborted) throw cancelledError('fake issue', signal);
      const token = randomBytes(16).toString('hex');
      // One statement: all or nothing, and a crashed attempt's row of the same request is replaced.
      target()
        .prepare('INSERT OR REPLACE INTO creds VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(
          principal,
          request.requestId,
          storeId,
          token,
          JSON.stringify(request.grants),
          request.expiresAt.getTime(),
          config.key,
        );
      return { principal, secret: { file: config.file, principal, token } };
    },
    async completeCredential({ principal, input }, signal) {
      if (signal.aborted) throw cancelledError('fake complete', signal);
      // What the provider saw, for the tests to compare with what the user sent.
      target().prepare('INSERT INTO takes VALUES (?, ?)').run(principal, JSON.stringify(input));
      const secret: Record<string, string> = {};
      if (typeof input.publicKey === 'string')
        secret.certificate = fakeCertificate(principal, input.publicKey);
      return { secret };
    },
    async revoke(_request, signal) {
      if (signal.aborted) throw cancelledError('fake revoke', signal);
      target();
      return { outcome: 'expiring' };
    },
    async verifyRevoked({ principal }, signal) {
      if (signal.aborted) throw cancelledError('fake verify', signal);
      const row = target().prepare('SELECT expires_at FROM creds WHERE principal = ?').get(principal) as
        | { expires_at: number }
        | undefined;
      return { gone: row === undefined || row.expires_at <= Date.now() };
    },
    listOwned: async () => unlisted(),
    listForeign: async () => unlisted(),
    async ping(_request, signal) {
      if (signal.aborted) throw cancelledError('fake ping', signal);
      target().prepare('SELECT 1').get();
      return { target: 'fake SQLite target' };
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

export const fakeKind = defineKind({
  kind: 'fake',
  options,
  grants: z
    .array(z.enum(['fake_read', 'fake_write', 'fake_missing'], { error: 'must be a fake grant' }))
    .min(1),
  connection: 'required',
  takeInput,
  capabilities: {
    revocation: 'expire-only',
    cutoff: 'tokens are minted to end with the window and cannot outlive it',
    listable: false,
    endsSessions: false,
    contactsTargetAtIssue: true,
  },
  deadlinesMs: { issue: 8_000 },
  configure(target, env): FakeConfig {
    const connection = readConnectionRef(target, env);
    const { file, key } = parseFakeConnection(connection);
    return {
      resourceId: target.id,
      file,
      key,
      connection,
      issueDelayMs: target.options.issueDelayMs,
      secrets: [key],
    };
  },
  create: (config, { owner }) => createFakeProvider(config, owner.storeId),
});

/** What the test's own server process registers (test/support/kind-server.ts imports `kinds`). */
export const kinds = [fakeKind];

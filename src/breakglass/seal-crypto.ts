import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { canonicalize } from '../audit/log/jcs.js';
import { StintError } from '../domain/errors.js';

/**
 * The sealed break-glass secret, pure crypto shared by the CLI (which seals, and unseals offline) and the server
 * (which unseals online). A random 256-bit key wraps the secret with AES-256-GCM; the key is split k-of-n with
 * Shamir's scheme (`shamir-secret-sharing`, audited) among officers and then forgotten. Each share is bound to its
 * officer twice: the share's text names them, and the seal keeps a commitment (SHA-256 over seal id, officer and
 * share) that a share must match before it counts. So a share handed to someone else, retyped wrongly or made up
 * is refused for what it is, naming whose share failed and never which bytes; and a combination that still does
 * not open the seal fails AES-GCM's tag check.
 *
 * Inside the seal, beside the secret, sits an Ed25519 private key whose public half the server keeps: an offline
 * unseal (no server) signs its record with it, so the server can tell a record only an unseal could make from a
 * forged one when it ingests it.
 */

export const SHARE_PREFIX = 'stint-share-v1';
const SEAL_VERSION = 'v1';
const COMMITMENT_DOMAIN = 'stint-breakglass-share-v1';
export const OFFLINE_RECORD_KIND = 'stint-breakglass-offline-unseal';

export const SEAL_ID = /^seal_[0-9a-f]{16}$/;

export interface SealOfficer {
  user: string;
  /** SHA-256 (hex) over the seal id, the officer and their share. */
  commitment: string;
}

/** What the server keeps and what officers keep offline: everything but the shares. Nothing in it is secret. */
export interface SealBundle {
  v: 1;
  id: string;
  scope: string;
  label: string;
  threshold: number;
  officers: SealOfficer[];
  sealed: string;
  recordKey: string;
}

export interface OfficerShare {
  officer: string;
  /** `stint-share-v1:<seal>:<officer>:<share, base64url>:<checksum>`: shown once, to its officer only. */
  text: string;
}

export interface ParsedShare {
  sealId: string;
  officer: string;
  bytes: Uint8Array;
}

/** What an unseal opens: the secret and the key offline records are signed with. */
export interface Opened {
  secret: string;
  recordKey: string;
}

const aad = (sealId: string) => Buffer.from(`stint-breakglass-seal:${SEAL_VERSION}:${sealId}`);
const checksum = (body: string) => createHash('sha256').update(body).digest('hex').slice(0, 8);

export function commitmentOf(sealId: string, officer: string, share: Uint8Array): string {
  return createHash('sha256')
    .update(`${COMMITMENT_DOMAIN}\0${sealId}\0${officer}\0`)
    .update(share)
    .digest('hex');
}

/** Whether `share` is the one committed to for `officer`; constant-time over the digests. */
export function matchesCommitment(sealId: string, officer: SealOfficer, share: Uint8Array): boolean {
  const want = Buffer.from(officer.commitment, 'hex');
  const got = Buffer.from(commitmentOf(sealId, officer.user, share), 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

export function encodeShare(sealId: string, officer: string, share: Uint8Array): string {
  const body = `${SHARE_PREFIX}:${sealId}:${officer}:${Buffer.from(share).toString('base64url')}`;
  return `${body}:${checksum(body)}`;
}

/**
 * Reads a share as typed or pasted. Its checksum catches a transcription slip at once, before it is sent; it is
 * no proof of anything (the seal's commitment is).
 */
export function parseShare(text: string): ParsedShare {
  const parts = text.trim().split(':');
  const [prefix, sealId, officer, share, sum] = parts;
  if (parts.length !== 5 || prefix !== SHARE_PREFIX || !sealId || !officer || !share || !sum) {
    throw new StintError('SHARE_INVALID', `not a break-glass share: it must start with ${SHARE_PREFIX}:`);
  }
  const body = parts.slice(0, 4).join(':');
  if (checksum(body) !== sum) {
    throw new StintError(
      'SHARE_INVALID',
      `the share of ${officer} does not check out (a character is wrong or missing): retype it`,
    );
  }
  if (!SEAL_ID.test(sealId)) throw new StintError('SHARE_INVALID', 'the share names no seal id');
  return { sealId, officer, bytes: new Uint8Array(Buffer.from(share, 'base64url')) };
}

function encrypt(key: Uint8Array, plaintext: string, sealId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(sealId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [SEAL_VERSION, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

function decrypt(key: Uint8Array, sealed: string, sealId: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== SEAL_VERSION || !iv || !tag || body === undefined) {
    throw new StintError('UNSEAL_FAILED', 'the sealed secret is not in a form this version reads');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(sealId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new StintError(
      'UNSEAL_FAILED',
      'the shares did not open the sealed secret (its authentication tag did not verify): nothing was revealed',
    );
  }
}

export function validateSealShape(input: { threshold: number; officers: readonly string[] }): void {
  const n = input.officers.length;
  if (new Set(input.officers).size !== n) {
    throw new StintError('BAD_REQUEST', 'each officer holds one share: an officer is listed twice');
  }
  if (!Number.isInteger(input.threshold) || input.threshold < 2 || input.threshold > n || n > 20) {
    throw new StintError(
      'BAD_REQUEST',
      `a seal needs 2 ≤ threshold ≤ officers ≤ 20 (got ${input.threshold} of ${n}): one person alone never opens it`,
    );
  }
}

/** Seals `secret` for `officers`, any `threshold` of whom can open it. The key exists only in here. */
export async function makeSeal(input: {
  scope: string;
  label: string;
  threshold: number;
  officers: readonly string[];
  secret: string;
}): Promise<{ bundle: SealBundle; shares: OfficerShare[] }> {
  validateSealShape(input);
  const id = `seal_${randomBytes(8).toString('hex')}`;
  const key = new Uint8Array(randomBytes(32));
  const records = generateKeyPairSync('ed25519');
  const inner: Opened = {
    secret: input.secret,
    recordKey: records.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
  const sealed = encrypt(key, JSON.stringify(inner), id);
  const raw = await split(key, input.officers.length, input.threshold);
  key.fill(0);
  const officers = input.officers.map((user, i) => ({
    user,
    commitment: commitmentOf(id, user, raw[i] as Uint8Array),
  }));
  const shares = input.officers.map((officer, i) => ({
    officer,
    text: encodeShare(id, officer, raw[i] as Uint8Array),
  }));
  const bundle: SealBundle = {
    v: 1,
    id,
    scope: input.scope,
    label: input.label,
    threshold: input.threshold,
    officers,
    sealed,
    recordKey: records.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
  return { bundle, shares };
}

/**
 * Checks one share against the seal: it must name this seal and an officer of it, and match that officer's
 * commitment. The refusal names the officer, never the bytes.
 */
export function checkShare(
  bundle: Pick<SealBundle, 'id' | 'officers'>,
  share: ParsedShare,
  from?: string,
): SealOfficer {
  if (share.sealId !== bundle.id) {
    throw new StintError('SHARE_INVALID', `that share belongs to seal ${share.sealId}, not ${bundle.id}`);
  }
  if (from !== undefined && share.officer !== from) {
    throw new StintError(
      'SHARE_INVALID',
      `that share was issued to ${share.officer}: each officer gives only their own share`,
    );
  }
  const officer = bundle.officers.find((o) => o.user === share.officer);
  if (!officer) throw new StintError('SHARE_INVALID', `${share.officer} holds no share of seal ${bundle.id}`);
  if (!matchesCommitment(bundle.id, officer, share.bytes)) {
    throw new StintError(
      'SHARE_INVALID',
      `the share given for ${share.officer} is not the one issued to them for seal ${bundle.id}`,
    );
  }
  return officer;
}

/** Combines checked shares of distinct officers and opens the seal; AES-GCM refuses a wrong key. */
export async function openSeal(
  bundle: Pick<SealBundle, 'id' | 'threshold' | 'sealed'>,
  shares: readonly Uint8Array[],
): Promise<Opened> {
  if (shares.length < bundle.threshold) {
    throw new StintError(
      'UNSEAL_FAILED',
      `${shares.length} of ${bundle.threshold} shares: not enough to open seal ${bundle.id}`,
    );
  }
  let key: Uint8Array;
  try {
    key = await combine([...shares]);
  } catch (e) {
    throw new StintError('UNSEAL_FAILED', `the shares could not be combined: ${(e as Error).message}`);
  }
  try {
    const inner = JSON.parse(decrypt(key, bundle.sealed, bundle.id)) as Opened;
    if (typeof inner.secret !== 'string' || typeof inner.recordKey !== 'string') {
      throw new StintError('UNSEAL_FAILED', 'the opened seal does not hold a break-glass secret');
    }
    return inner;
  } finally {
    key.fill(0);
  }
}

/** What an offline unseal leaves behind for the server, signed with the key inside the seal. */
export interface OfflineRecord {
  kind: typeof OFFLINE_RECORD_KIND;
  v: 1;
  /** Random: two unseals at the same second are two records. */
  nonce: string;
  sealId: string;
  scope: string;
  at: string;
  reason: string;
  officers: string[];
  /** Who ran the tool, as they said, and on which host. */
  operator: string;
  host: string;
}

export interface SignedOfflineRecord {
  record: OfflineRecord;
  /** Ed25519 over the record's RFC 8785 form, base64. */
  signature: string;
}

export function signOfflineRecord(record: OfflineRecord, recordKey: string): SignedOfflineRecord {
  const key = createPrivateKey({ key: Buffer.from(recordKey, 'base64'), format: 'der', type: 'pkcs8' });
  const signature = sign(null, Buffer.from(canonicalize(record)), key).toString('base64');
  return { record, signature };
}

export function verifyOfflineRecord(signed: SignedOfflineRecord, publicKey: string): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
    return verify(
      null,
      Buffer.from(canonicalize(signed.record)),
      key,
      Buffer.from(signed.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/** The record's identity for de-duplication: the same record ingested twice is one use. */
export function offlineRecordId(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

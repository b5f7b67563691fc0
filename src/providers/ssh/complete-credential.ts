import { randomBytes } from 'node:crypto';
import type { CompleteRequest, CompleteResult } from '../provider.js';
import { signCertificate } from './certificate.js';
import { grantFor, type SshCa } from './issue-grant.js';
import { PublicKeyError, parsePublicKeyLine } from './public-key.js';
import { refused, sshFailure } from './ssh-errors.js';

/**
 * A certificate starts this long before it is signed: a host whose clock is a little behind Stint's would
 * otherwise refuse it as not yet valid (Vault's SSH engine allows 30 s the same way). It never ends later than
 * the window.
 */
export const CLOCK_ALLOWANCE_MS = 30_000;

/** A non-zero serial (zero means "unnumbered" to OpenSSH), unique enough to revoke by. */
function newSerial(): bigint {
  const serial = randomBytes(8).readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return serial === 0n ? 1n : serial;
}

/**
 * At the take: signs the user's public key with the user CA for what is left of the grant's window, with the
 * role's principals, critical options and extensions, and key id naming the request and the store. Only a grant
 * this store recorded, still running and not revoked, gets a certificate; the serial is recorded before the
 * certificate is handed out, so a revocation can name it.
 */
export async function completeCredential(
  ca: SshCa,
  request: CompleteRequest,
  signal: AbortSignal,
): Promise<CompleteResult> {
  const { config, owner, ledger } = ca;
  const { resourceId } = config;
  const action = `sign a certificate for ${request.principal}`;
  if (signal.aborted) throw sshFailure(resourceId, action, null, signal);
  let key: ReturnType<typeof parsePublicKeyLine>;
  try {
    key = parsePublicKeyLine(String(request.input.publicKey ?? ''));
  } catch (e) {
    if (e instanceof PublicKeyError) throw refused(resourceId, `${action}: publicKey ${e.message}`);
    throw e;
  }
  const grant = grantFor(ca, request.grants);
  try {
    const certificate = await ledger.update(signal, (state, now) => {
      const record = state.grants[request.principal];
      if (!record || record.requestId !== request.requestId) {
        throw refused(resourceId, `${action}: the ledger has no such grant`);
      }
      if (record.storeId !== owner.storeId) {
        throw refused(resourceId, `${action}: another Stint store (${record.storeId}) issued it`);
      }
      if (record.revokedAt !== null) throw refused(resourceId, `${action}: the grant was revoked`);
      const validBefore = Math.min(record.expiresAt, request.expiresAt.getTime());
      if (validBefore <= now) throw refused(resourceId, `${action}: the window has ended`);
      const serial = newSerial();
      const line = signCertificate(config.ca, {
        keyBlob: key.blob,
        type: 'user',
        serial,
        keyId: record.keyId,
        principals: grant.principals,
        validAfter: new Date(now - CLOCK_ALLOWANCE_MS),
        validBefore: new Date(validBefore),
        criticalOptions: grant.criticalOptions,
        extensions: grant.extensions,
      });
      record.certificates.push({
        serial: serial.toString(),
        key: key.fingerprint,
        signedAt: now,
        validBefore,
      });
      return line;
    });
    return { secret: { certificate } };
  } catch (e) {
    throw sshFailure(resourceId, action, e, signal);
  }
}

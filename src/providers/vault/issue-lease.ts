import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../provider.js';
import { MARKER_KIND, type MarkerData, readMarker, writeMarker } from './marker.js';
import { principalFor } from './principal-name.js';
import type { VaultAdmin } from './vault-admin.js';
import { isCredentialPath } from './vault-config.js';
import { isCasMismatch, refusal } from './vault-errors.js';

/** What undoing a failed issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;
/**
 * The issuing token lives this long until its accessor is recorded and it is renewed to the window: one created
 * by an attempt that then died unrecorded (no lease, held by no one) ends on its own within a minute.
 */
const UNRECORDED_TOKEN_TTL_S = 60;
/** A token Vault caps this much below the window still serves it (clocks, rounding); less is refused. */
const TOKEN_SLACK_S = 5;
/** A lease this much shorter than the window is kept as Vault made it; more, and a renewable one is renewed. */
const LEASE_SLACK_S = 5;

type Revoke = (principal: string, signal: AbortSignal) => Promise<unknown>;

interface TokenAnswer {
  auth?: { client_token?: unknown; accessor?: unknown; lease_duration?: unknown };
}
interface SecretAnswer {
  lease_id?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
  data?: unknown;
}

/** Thrown before anything was written: nothing to undo. */
class NothingWritten extends Error {
  constructor(readonly failure: unknown) {
    super('nothing written');
  }
}

/**
 * All or nothing. The marker is written first (check-and-set: only if absent), then an orphan token is created
 * under Stint's token role with the window as its explicit max TTL, its accessor recorded, and each credential
 * path read with that token, each lease recorded as soon as Vault answers it. Every lease is a child of the
 * token, so Vault itself revokes them all when the token ends, at the window's end at the latest, even if Stint
 * never comes back. Any failure, cancellation included, revokes what the marker names and removes the marker.
 */
export async function issueLeases(
  admin: VaultAdmin,
  request: IssueRequest,
  signal: AbortSignal,
  revoke: Revoke,
): Promise<IssueResult> {
  const { config, owner } = admin;
  const id = config.resourceId;
  const principal = principalFor(request.requestId);
  const action = `issue ${principal}`;
  const end = request.expiresAt.getTime();
  if (Number.isNaN(end)) throw refusal(id, `${action}: invalid expiry`);
  /** Whole seconds left in the window, rounded down: nothing Stint asks for outlives it. */
  const remaining = () => Math.floor((end - Date.now()) / 1000);
  if (remaining() < 1) throw refusal(id, `${action}: the window has already ended`);
  const grants = [...new Set(request.grants)];
  if (grants.length === 0) throw refusal(id, `${action}: the role grants no credential path`, true);
  const bad = grants.filter((g) => !isCredentialPath(g));
  if (bad.length > 0) throw refusal(id, `${action}: not a credential path: ${bad.join(', ')}`, true);

  let leftover: Awaited<ReturnType<typeof readMarker>>;
  try {
    leftover = await readMarker(admin, principal, signal);
  } catch (err) {
    throw admin.fail(action, err, signal);
  }
  if (leftover !== null) {
    // What an earlier attempt for the same request left is cleared; anything else is a name clash (ids that
    // differ only in case or punctuation) or another store's, and is not touched.
    const d = leftover.data;
    if (d === null || d.request !== request.requestId || d.store !== owner.storeId) {
      throw refusal(id, `${action}: a marker of that name exists for another request or store`);
    }
    await revoke(principal, signal);
  }

  const issuingTokens: string[] = [];
  const mark: MarkerData = {
    kind: MARKER_KIND,
    request: request.requestId,
    store: owner.storeId,
    deployment: owner.deployment,
    accessor: null,
    leases: [],
  };
  try {
    let version: number;
    try {
      version = await writeMarker(admin, principal, mark, 0, signal);
    } catch (err) {
      // Another attempt wrote it between our read and this write: it is that attempt's to finish or undo.
      if (isCasMismatch(err)) throw new NothingWritten(err);
      throw err;
    }

    const created = await admin.http.call<TokenAnswer>(
      {
        method: 'POST',
        path: `auth/token/create/${config.tokenRole}`,
        body: {
          policies: config.tokenPolicies,
          meta: {
            stint_store: owner.storeId,
            stint_deployment: owner.deployment,
            stint_request: request.requestId,
            stint_principal: principal,
          },
          display_name: principal,
          ttl: `${Math.min(remaining(), UNRECORDED_TOKEN_TTL_S)}s`,
          explicit_max_ttl: `${remaining()}s`,
          renewable: true,
        },
      },
      signal,
    );
    const token = created?.auth?.client_token;
    const accessor = created?.auth?.accessor;
    if (typeof token !== 'string' || typeof accessor !== 'string' || !token || !accessor) {
      throw refusal(id, `${action}: the token role answered no token`);
    }
    issuingTokens.push(token);
    mark.accessor = accessor;
    version = await writeMarker(admin, principal, mark, version, signal);

    if (remaining() > UNRECORDED_TOKEN_TTL_S) {
      const renewed = await admin.http.call<TokenAnswer>(
        { method: 'POST', path: 'auth/token/renew-self', token, body: { increment: `${remaining()}s` } },
        signal,
      );
      const ttl = renewed?.auth?.lease_duration;
      const want = remaining();
      if (typeof ttl !== 'number' || ttl < want - TOKEN_SLACK_S) {
        throw refusal(
          id,
          `${action}: Vault caps the issuing token at ${String(ttl)}s, shorter than the ${want}s window: raise the token role's token_max_ttl/token_explicit_max_ttl and the system max TTL`,
          true,
        );
      }
    }

    const secret: Record<string, string> = {};
    for (const grant of grants) {
      const creds = await admin.http.call<SecretAnswer>(
        config.requestTtl
          ? { method: 'POST', path: grant, token, body: { ttl: `${remaining()}s` } }
          : { method: 'GET', path: grant, token },
        signal,
      );
      const leaseId = creds?.lease_id;
      if (typeof leaseId === 'string' && leaseId !== '') {
        mark.leases.push(leaseId);
        version = await writeMarker(admin, principal, mark, version, signal);
      }
      if (typeof leaseId !== 'string' || !leaseId.startsWith(`${grant}/`)) {
        throw refusal(
          id,
          `${action}: ${grant} answered no lease of its own: Stint grants only leased credentials`,
          true,
        );
      }
      await fitToWindow(admin, action, grant, leaseId, creds, remaining(), signal);
      const fields = credentialFields(creds?.data);
      for (const [k, v] of Object.entries(fields)) secret[grants.length === 1 ? k : `${grant}:${k}`] = v;
    }
    return { principal, secret };
  } catch (err) {
    if (err instanceof NothingWritten) throw admin.fail(action, err.failure, signal, issuingTokens);
    const failure = admin.fail(action, err, signal, issuingTokens);
    await undo(admin, principal, revoke);
    throw failure;
  }
}

/**
 * The lease must end with the window. A longer one is renewed down to it (renewing sets the TTL from now, and
 * may shorten it); one that cannot be cut is refused, and the caller's undo revokes it. A shorter renewable one
 * is renewed up to the window as far as the role's max TTL allows.
 */
async function fitToWindow(
  admin: VaultAdmin,
  action: string,
  grant: string,
  leaseId: string,
  creds: SecretAnswer | null,
  want: number,
  signal: AbortSignal,
): Promise<void> {
  let ttl = typeof creds?.lease_duration === 'number' ? creds.lease_duration : Number.NaN;
  // Renewing sets the TTL to the increment from now (up to the role's max): down to the window, or up to it.
  if (creds?.renewable === true && (ttl > want || ttl < want - LEASE_SLACK_S)) {
    const renewed = await admin.http.call<SecretAnswer>(
      { method: 'PUT', path: `sys/leases/renew/${leaseId}`, body: { increment: want } },
      signal,
    );
    ttl = typeof renewed?.lease_duration === 'number' ? renewed.lease_duration : Number.NaN;
  }
  if (!(ttl <= want)) {
    throw refusal(
      admin.config.resourceId,
      `${action}: ${grant} hands leases of ${String(ttl)}s, longer than the ${want}s window, and Vault would not shorten it${creds?.renewable === true ? '' : ' (not renewable)'}: lower the role's default_ttl/max_ttl, or set requestTtl for an engine that takes a ttl`,
      true,
    );
  }
}

/** The engine's answer as text fields: strings as they are, anything else as JSON. */
function credentialFields(data: unknown): Record<string, string> {
  if (data === null || typeof data !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

async function undo(admin: VaultAdmin, principal: string, revoke: Revoke): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    await revoke(principal, signal);
  } catch (e) {
    const message = e instanceof StintError ? e.message : admin.fail('cleanup', e, signal).message;
    admin.logger?.warn(
      { resource: admin.config.resourceId, principal, error: message },
      'vault issue cleanup failed',
    );
  }
}

import { type ProviderFailureClass, StintError } from '../domain/errors.js';

/**
 * One contract for every credential target (PostgreSQL now; SSH, cloud, Kubernetes later). The core never talks
 * to a target directly: it asks a provider to issue, revoke, verify and list what Stint owns.
 *
 * Shaped after Vault's database plugin SDK (dbplugin/v5): every call takes one request object and a cancellation
 * signal, and answers one result object, so a field can be added to either side without touching every
 * provider and caller. Logging, deadlines and metrics are not a provider's business: `instrumentProvider` wraps
 * any provider with them.
 */

// The kinds of target are not listed here: each is a descriptor in src/providers/<kind>/index.ts (kind.ts), and
// the registry is the list of them.

export interface IssueRequest {
  requestId: string;
  requester: string;
  /** The resource role asked for, e.g. `admin`. */
  role: string;
  /** What that role grants on the target (from policy), e.g. PostgreSQL roles to join. */
  grants: string[];
  /** End of the window; the target itself should enforce it where it can (PostgreSQL `VALID UNTIL`). */
  expiresAt: Date;
}

export interface IssueResult {
  /** The name of what was created on the target, e.g. the login role. Not a secret. */
  principal: string;
  /** What the user needs to connect, shown once. Secret: never logged, encrypted at rest. */
  secret: Record<string, string>;
  /**
   * What Stint keeps for itself and never shows (the real password behind the PostgreSQL recording proxy): sealed
   * at rest beside `secret`, not cleared by the take, cleared when the grant ends.
   */
  kept?: Record<string, string>;
}

/**
 * A kind that makes the credential from the user's input (an SSH certificate signed for the user's public key) is
 * asked at the take, after the checked input: what it answers is shown with what issue sealed, never stored.
 */
export interface CompleteRequest {
  requestId: string;
  requester: string;
  role: string;
  grants: string[];
  /** What issue created at approval. */
  principal: string;
  expiresAt: Date;
  /** The take's body, checked against the kind's `takeInput` schema. Not a secret, but never logged. */
  input: Record<string, unknown>;
}

export interface CompleteResult {
  /** Added to the issued secret in the answer (e.g. `certificate`); shown once, never stored in clear. */
  secret: Record<string, string>;
}

export interface RevokeRequest {
  principal: string;
}

export interface RevokeResult {
  /**
   * `absent`: there was nothing left to remove (revoked before, or never created). Both mean access is gone.
   * `expiring`: an expire-only kind cannot take it back; it ends at its own expiry (whatever early cut-off the
   * kind has was applied).
   */
  outcome: 'revoked' | 'absent' | 'expiring';
  /** Live sessions the revoke ended, where the target has sessions. */
  sessionsEnded?: number;
}

export interface VerifyRevokedRequest {
  principal: string;
}

export interface VerifyRevokedResult {
  /** True when nothing of the principal remains: it cannot log in and has no live session. */
  gone: boolean;
}

/** The calls that need no input still take a request object, so one can be given fields later. */
export type EmptyRequest = Record<string, never>;

/**
 * Who owns what a provider creates: the store's random id (the claim no other store can make) and the
 * deployment's human name (for people reading the target).
 */
export interface TargetOwner {
  deployment: string;
  storeId: string;
}

export interface OwnedPrincipal {
  principal: string;
  /** Request id recorded on the target, when the target can hold one (role comment). */
  requestId: string | null;
  /**
   * `store`: the target records this store's id on the principal. `if-known`: it records none (made before
   * store ids, or a target that holds only a name), so it is this store's only if this store knows its
   * request, which the caller checks.
   */
  claim: 'store' | 'if-known';
}

export interface ListOwnedResult {
  principals: OwnedPrincipal[];
}

/** A role of this deployment's name tagged by another store: two deployments share the name. */
export interface ForeignPrincipal {
  principal: string;
  storeId: string;
}

export interface ListForeignResult {
  principals: ForeignPrincipal[];
}

/** What the standing-access inventory asks a target. */
export interface ListStandingRequest {
  /**
   * Every grant the policy's roles name on this resource (`app_admin`, `ClusterRole/view`): a standing holder of
   * one of them has, all the time, what a just-in-time entitlement would give for a window. May be empty.
   */
  grants: string[];
}

/**
 * One principal on the target that holds privilege that matters and that Stint did not grant: the raw material of
 * the operations issue's inventory and quarterly conversion. Never a secret: no password hash, no token.
 */
export interface StandingPrincipal {
  /** The target's own name for it: a role, `'ops'@'%'`, an ACL user, `User/alice`. */
  principal: string;
  /** What it can do, in the target's own words: `SUPERUSER`, `member of app_admin`, `+@all`, `ClusterRole/admin`. */
  privileges: string[];
  /** Why it counts as privileged, for the person deciding whether to convert it to just-in-time access. */
  reason: string;
  /** Kind-specific facts (where a binding lives, a login's expiry); plain values, never a secret. */
  detail?: Record<string, string | number | boolean | string[]>;
}

export interface ListStandingResult {
  principals: StandingPrincipal[];
}

/** One standing grant the quarterly conversion takes away, named as `listStanding` printed it. */
export interface RemoveStandingRequest {
  /** As `listStanding` names it: a role, `'ops'@'%'`. */
  principal: string;
  /** One of that principal's `privileges`, verbatim (`member of app_admin`, `role app_admin`). */
  privilege: string;
}

export interface PingResult {
  /** What answered, e.g. `PostgreSQL 16.4`: for readiness output and support, never a secret. */
  target: string;
}

/**
 * Failures are thrown as StintError `PROVIDER_ERROR`, with `class` saying what kind of failure it is (each
 * provider maps its own target's error codes to these; see ProviderFailureClass). A failure no retry can mend (the target database was
 * dropped) carries `permanent: true` in its details: see `permanentProviderError` and `isPermanentFailure`.
 * A cancelled call (signal aborted: the caller gave up, or the deadline passed) throws `cancelledError`, which
 * is never permanent.
 */
export interface CredentialProvider {
  readonly kind: string;
  /** Deterministic principal name for a request, so a retry after a crash finds what an earlier attempt left. */
  principalFor(requestId: string): string;
  /**
   * Creates the credential. All or nothing: on any failure, cancellation included, it removes what it created
   * and throws. An existing principal of the same request (left by a crashed attempt) is removed first.
   */
  issue(request: IssueRequest, signal: AbortSignal): Promise<IssueResult>;
  /**
   * Ends access: no new logins, live sessions terminated, principal removed. Idempotent: a principal that no
   * longer exists answers `absent`.
   */
  revoke(request: RevokeRequest, signal: AbortSignal): Promise<RevokeResult>;
  /**
   * Optional: revokes several principals of this target together, as `revoke` would each, answering in order an
   * outcome or the error that principal's own `revoke` would have thrown. The wrapper hands it the revocations
   * that queued up for the target while its admin connections were busy (a burst of expiries).
   */
  revokeMany?(requests: readonly RevokeRequest[], signal: AbortSignal): Promise<(RevokeResult | Error)[]>;
  /**
   * Only kinds whose descriptor declares `takeInput`: makes what needs the user's input, at the take. Must not
   * change what revoke removes (it ends with the window, like the rest of the grant).
   */
  completeCredential?(request: CompleteRequest, signal: AbortSignal): Promise<CompleteResult>;
  verifyRevoked(request: VerifyRevokedRequest, signal: AbortSignal): Promise<VerifyRevokedResult>;
  /**
   * What this store created on the target and still exists, for reconciliation. Only kinds that declare
   * `listable`; the others throw, and jobs never call it for them.
   */
  listOwned(request: EmptyRequest, signal: AbortSignal): Promise<ListOwnedResult>;
  /** Principals tagged with this deployment's name by another store. Never touched; reported. */
  listForeign(request: EmptyRequest, signal: AbortSignal): Promise<ListForeignResult>;
  /**
   * Only kinds whose capabilities declare `inventory: { lists: 'standing' }`: the principals on the target with
   * privilege that matters that no Stint store made (whatever carries any store's mark is left out), read as
   * Stint's least-privileged admin can read them. Read-only.
   */
  listStanding?(request: ListStandingRequest, signal: AbortSignal): Promise<ListStandingResult>;
  /**
   * Only kinds that list standing access and can take some of it away as Stint's least-privileged admin: removes
   * one standing grant (a role membership) from a principal no Stint store made. Anything the admin cannot do, or
   * any privilege that is not a grant it may take back, is refused with PROVIDER_ERROR (`refused`) and changes
   * nothing. Idempotent: a grant already gone is not an error. The caller re-lists to verify.
   */
  removeStanding?(request: RemoveStandingRequest, signal: AbortSignal): Promise<void>;
  /** Whether the target answers; for readiness. */
  ping(request: EmptyRequest, signal: AbortSignal): Promise<PingResult>;
  close(): Promise<void>;
}

export type ProviderMethod =
  | 'issue'
  | 'completeCredential'
  | 'revoke'
  | 'verifyRevoked'
  | 'listOwned'
  | 'listForeign'
  | 'listStanding'
  | 'removeStanding'
  | 'ping';

/** A signal that never aborts, for callers with no way to give up other than the wrapper's deadline. */
export const NO_CANCEL: AbortSignal = new AbortController().signal;

/** A provider failure no retry can mend: the revoker stops retrying and reports it (`revocation: abandoned`). */
export function permanentProviderError(
  message: string,
  details: { resource?: string; class?: ProviderFailureClass } = {},
): StintError<'PROVIDER_ERROR'> {
  return new StintError('PROVIDER_ERROR', message, { class: 'refused', ...details, permanent: true });
}

/** The class a provider gave a failure; `unknown` for anything it did not classify. */
export function failureClass(err: unknown): ProviderFailureClass {
  if (!(err instanceof StintError) || err.code !== 'PROVIDER_ERROR') return 'unknown';
  const details = (err as StintError<'PROVIDER_ERROR'>).details;
  if (details?.cancelled) return 'cancelled';
  return details?.class ?? 'unknown';
}

export function isPermanentFailure(err: unknown): boolean {
  return err instanceof StintError && err.code === 'PROVIDER_ERROR' && err.details?.permanent === true;
}

/** What a cancelled call throws: says whether the deadline passed or the caller gave up. */
export function cancelledError(what: string, signal: AbortSignal): StintError {
  const reason: unknown = signal.reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  const why = timedOut ? reason.message : 'cancelled by the caller';
  return new StintError('PROVIDER_ERROR', `${what}: ${why}`, { cancelled: true, class: 'cancelled' });
}

export function isCancelled(err: unknown): boolean {
  return err instanceof StintError && err.details?.cancelled === true;
}

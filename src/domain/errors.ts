import type { RequestState, RequestTier } from './request.js';

/**
 * Every failure Stint reports to a user has a stable code from this closed list. The API, the CLI and the tests
 * all speak in codes; the HTTP status lives here, in one place, so a route can never pick its own.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_DURATION: 400,
  DURATION_TOO_LONG: 400,
  DURATION_TOO_SHORT: 400,
  TICKET_REQUIRED: 400,
  TICKET_MALFORMED: 400,
  UNKNOWN_RESOURCE: 400,
  UNKNOWN_ROLE: 400,
  UNKNOWN_USER: 400,
  UNAUTHENTICATED: 401,
  ID_TOKEN_INVALID: 401,
  ID_TOKEN_EXPIRED: 401,
  ID_TOKEN_REPLAYED: 401,
  NONCE_MISMATCH: 401,
  LOGIN_STATE_INVALID: 401,
  UNKNOWN_IDENTITY: 401,
  CLAIMS_INVALID: 401,
  CSRF_TOKEN_INVALID: 403,
  RATE_LIMITED: 429,
  AUTH_LOCKED: 429,
  IDP_ERROR: 502,
  FORBIDDEN: 403,
  NOT_ELIGIBLE: 403,
  SELF_APPROVAL: 403,
  NOT_AN_APPROVER: 403,
  MFA_REQUIRED: 403,
  SESSION_REQUIRED: 403,
  REAUTH_REQUIRED: 403,
  /** A session made on the server host, where the deployment turned them off (STINT_HOST_SESSIONS=off). */
  HOST_SESSIONS_OFF: 403,
  /** A session made on the server host may only enrol a first second factor (STINT_HOST_SESSIONS=first-factor). */
  HOST_SESSION_LIMITED: 403,
  MFA_INVALID: 400,
  MFA_REPLAYED: 400,
  MFA_NOT_ENROLLED: 409,
  MFA_ALREADY_ENROLLED: 409,
  MFA_RATE_LIMITED: 429,
  AUDIT_VERIFY_RUNNING: 429,
  NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  ALREADY_REVIEWED: 409,
  INVALID_TRANSITION: 409,
  CONCURRENT_UPDATE: 409,
  CREDENTIAL_ALREADY_SHOWN: 410,
  GRANT_EXPIRED: 410,
  CREDENTIAL_NOT_AVAILABLE: 409,
  /** Break-glass is exclusive: someone else holds it on this resource now. */
  BREAKGLASS_HELD: 409,
  /** A queued session review is claimed by someone else: one reviewer at a time. */
  SESSION_REVIEW_CLAIMED: 409,
  /** One unseal attempt of a sealed secret at a time: another is open. */
  UNSEAL_BUSY: 409,
  /** An officer gives their share once per unseal attempt. */
  SHARE_ALREADY_GIVEN: 409,
  /** The share is not the one issued to this officer for this seal (which bytes is never said). */
  SHARE_INVALID: 400,
  /** The shares given did not open the sealed secret (AES-GCM authentication failed). */
  UNSEAL_FAILED: 422,
  /** A sealed secret was used and must be re-sealed with a rotated secret first. */
  ROTATION_REQUIRED: 409,
  /** An Idempotency-Key header that is not one (draft-ietf-httpapi-idempotency-key-header). */
  IDEMPOTENCY_KEY_INVALID: 400,
  /** The key was first used with another method, path or body. */
  IDEMPOTENCY_KEY_REUSED: 422,
  /** The first request with this key is still being processed: retry later. */
  IDEMPOTENCY_KEY_IN_USE: 409,
  POLICY_INVALID: 422,
  PROVIDER_ERROR: 502,
  /** The audit trail cannot be signed (rolled back, forked, rows missing): state changes wait until it is fixed. */
  AUDIT_UNAVAILABLE: 503,
  CONFIG_INVALID: 500,
  /** Stint's own store cannot be reached or does not answer in time: nothing was changed; retry shortly. */
  STORE_UNAVAILABLE: 503,
  /** The disk holding Stint's store is full (SQLITE_FULL, ENOSPC, PostgreSQL 53100): nothing was changed. */
  STORE_FULL: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The facts each code may carry beside its message, one declared shape per code: what API clients may rely on
 * under `error.details`. A code not listed carries none, and the compiler refuses details for it. Every field is
 * here because some caller acts on it (retry after, which factor to offer, which scope to ask for).
 */
export type ErrorDetails = {
  INVALID_TRANSITION: { state: RequestState };
  NOT_AN_APPROVER: { tiers: RequestTier[] };
  /**
   * `unknown`: scopes a token named that do not exist; `problems`: where the input broke its schema (JSON
   * pointer into the part that failed, the validator's message and parameters).
   */
  VALIDATION_FAILED: {
    unknown?: string[];
    problems?: { path: string; message: string | undefined; params: Record<string, unknown> }[];
  };
  DURATION_TOO_SHORT: { minDurationSeconds: number; requestedSeconds: number };
  DURATION_TOO_LONG: { maxDurationSeconds: number; requestedSeconds: number };
  /** The ticket forms the rule accepts, as the policy author wrote them. */
  TICKET_MALFORMED: { patterns: string[] };
  /** `onCall: false` when being on call is all that is missing. */
  NOT_ELIGIBLE: { ruleId: string; onCall?: boolean };
  /** The scope a scoped token would need (null: no scoped token may do it). */
  FORBIDDEN: { needed: string | null };
  /** Second factors the user has enrolled, to offer the right one. */
  MFA_NOT_ENROLLED: { methods: string[] };
  MFA_REQUIRED: { methods: string[]; maxAgeSeconds: number };
  MFA_RATE_LIMITED: { retryAfterSeconds: number };
  /** A whole-trail verification is running on this server: about when it will have ended. */
  AUDIT_VERIFY_RUNNING: { retryAfterSeconds: number };
  REAUTH_REQUIRED: { maxAgeSeconds: number };
  POLICY_INVALID: {
    problems: { file: string; line: number; column: number; field: string; message: string }[];
  };
  /**
   * `permanent`: no retry can mend it (the target's database is gone), so revocation is abandoned;
   * `cancelled`: the call's deadline passed or its caller gave up; `class`: what kind of failure the provider
   * found it to be (`auth`, `privilege`, `unreachable`, …; see ProviderFailureClass), for alerts and retries.
   */
  PROVIDER_ERROR: {
    resource?: string;
    sqlstate?: string;
    permanent?: true;
    cancelled?: true;
    class?: ProviderFailureClass;
  };
  /** What the store reported: `SQLITE_FULL`, `ENOSPC` or `SQLSTATE 53100`. */
  STORE_FULL: { cause: string };
  /** Who holds break-glass on the resource now, under which request: the person to call. */
  BREAKGLASS_HELD: { holder: string; requestId: string };
  /** The attempt already open (its progress: GET /v1/breakglass/unseal). */
  UNSEAL_BUSY: { unsealId: string };
  /**
   * The resource at fault; `otherStore` when another Stint store already owns roles on the target under this
   * deployment name; `problems` when several resources' configurations fail at once.
   */
  CONFIG_INVALID: {
    resource?: string;
    otherStore?: string;
    problems?: string[];
    /** The environment variable (or flag) to change. */
    variable?: string;
    /** The capability's own rule, where it has one (e.g. OIDC_INSECURE_ISSUER). */
    rule?: string;
  };
  /** The id the server's log line for this failure carries, to quote to an operator. */
  INTERNAL: { requestId: string };
};

/**
 * Why a call to a target failed, as its provider classifies it (each provider maps its own error codes):
 * `auth` — the target refused Stint's own credentials (rotated or expired password); `privilege` — Stint's admin
 * lacks a right it needs; `unreachable` — the target could not be reached; `gone` — what was to be changed no
 * longer exists where it was (database dropped); `transient` — a conflict or overload worth retrying;
 * `refused` — the provider would not act (a principal it does not own); `unknown` — anything else.
 */
export const PROVIDER_FAILURE_CLASSES = [
  'auth',
  'privilege',
  'unreachable',
  'gone',
  'transient',
  'refused',
  'cancelled',
  'unknown',
] as const;
export type ProviderFailureClass = (typeof PROVIDER_FAILURE_CLASSES)[number];

/** The fields of each code's details, for documents (the OpenAPI `Error` schema); the compiler holds it to ErrorDetails. */
export const ERROR_DETAIL_FIELDS = {
  INVALID_TRANSITION: ['state'],
  NOT_AN_APPROVER: ['tiers'],
  VALIDATION_FAILED: ['unknown', 'problems'],
  DURATION_TOO_SHORT: ['minDurationSeconds', 'requestedSeconds'],
  DURATION_TOO_LONG: ['maxDurationSeconds', 'requestedSeconds'],
  TICKET_MALFORMED: ['patterns'],
  NOT_ELIGIBLE: ['ruleId', 'onCall'],
  FORBIDDEN: ['needed'],
  MFA_NOT_ENROLLED: ['methods'],
  MFA_REQUIRED: ['methods', 'maxAgeSeconds'],
  MFA_RATE_LIMITED: ['retryAfterSeconds'],
  AUDIT_VERIFY_RUNNING: ['retryAfterSeconds'],
  REAUTH_REQUIRED: ['maxAgeSeconds'],
  POLICY_INVALID: ['problems'],
  PROVIDER_ERROR: ['resource', 'sqlstate', 'permanent', 'cancelled', 'class'],
  STORE_FULL: ['cause'],
  BREAKGLASS_HELD: ['holder', 'requestId'],
  UNSEAL_BUSY: ['unsealId'],
  CONFIG_INVALID: ['resource', 'otherStore', 'problems', 'variable', 'rule'],
  INTERNAL: ['requestId'],
} as const satisfies { [C in keyof ErrorDetails]: readonly (keyof ErrorDetails[C])[] };

/** The details a code carries: its declared shape, or undefined for a code that carries none. */
export type DetailsOf<C extends ErrorCode> = C extends keyof ErrorDetails ? ErrorDetails[C] : undefined;

/** What follows the message in `new StintError(code, message, …)`: optional details of the code's shape, or nothing. */
type DetailsArgs<C extends ErrorCode> = C extends keyof ErrorDetails ? [details?: ErrorDetails[C]] : [];

/** The `error` object of an API error response, one variant per code: narrow on `code` to read `details`. */
export type ErrorBody = {
  [C in ErrorCode]: { code: C; message: string; details?: DetailsOf<C> };
}[ErrorCode];

/**
 * An API error response body, built from the registry: the code's declared details or none. Every body the HTTP
 * layer sends goes through here, so nothing is sent that the `Error` schema and `ErrorBody` do not declare.
 */
export function errorBody<C extends ErrorCode>(
  code: C,
  message: string,
  ...[details]: DetailsArgs<C>
): { error: ErrorBody } {
  return { error: { code, message, ...(details ? { details } : {}) } as ErrorBody };
}

export class StintError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = 'StintError';
  readonly code: C;
  readonly details: DetailsOf<C> | undefined;

  constructor(code: C, message: string, ...[details]: DetailsArgs<C>) {
    super(message);
    this.code = code;
    this.details = details as DetailsOf<C> | undefined;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * Any StintError as a union over codes (jose's closed set of error classes): unlike `StintError`, whose details
 * are those of any code, checking `code` on this narrows `details` to that code's shape.
 */
export type AnyStintError = { [C in ErrorCode]: StintError<C> }[ErrorCode];

export function isStintError(e: unknown): e is StintError {
  return e instanceof StintError;
}

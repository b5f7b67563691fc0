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
  MFA_INVALID: 400,
  MFA_REPLAYED: 400,
  MFA_NOT_ENROLLED: 409,
  MFA_ALREADY_ENROLLED: 409,
  MFA_RATE_LIMITED: 429,
  NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  ALREADY_REVIEWED: 409,
  INVALID_TRANSITION: 409,
  CONCURRENT_UPDATE: 409,
  CREDENTIAL_ALREADY_SHOWN: 410,
  GRANT_EXPIRED: 410,
  CREDENTIAL_NOT_AVAILABLE: 409,
  POLICY_INVALID: 422,
  PROVIDER_ERROR: 502,
  /** The audit trail cannot be signed (rolled back, forked, rows missing): state changes wait until it is fixed. */
  AUDIT_UNAVAILABLE: 503,
  CONFIG_INVALID: 500,
  /** Stint's own store cannot be reached or does not answer in time: nothing was changed; retry shortly. */
  STORE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class StintError extends Error {
  override readonly name = 'StintError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isStintError(e: unknown): e is StintError {
  return e instanceof StintError;
}

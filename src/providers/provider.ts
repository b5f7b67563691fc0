/**
 * One interface for every credential target (PostgreSQL now; SSH, cloud, Kubernetes later). The core never
 * talks to a target directly: it asks a provider to issue, revoke, verify and list what Stint owns.
 */

export interface IssueInput {
  requestId: string;
  requester: string;
  /** The resource role asked for, e.g. `admin`. */
  role: string;
  /** What that role grants on the target (from policy), e.g. PostgreSQL roles to join. */
  grants: string[];
  /** End of the window; the target itself should enforce it where it can (PostgreSQL `VALID UNTIL`). */
  expiresAt: Date;
}

export interface IssuedCredential {
  /** The name of what was created on the target, e.g. the login role. Not a secret. */
  principal: string;
  /** What the user needs to connect, shown once. Secret: never logged, encrypted at rest. */
  secret: Record<string, string>;
}

export interface OwnedPrincipal {
  principal: string;
  /** Request id recorded on the target, when the target can hold one (role comment). */
  requestId: string | null;
}

export interface CredentialProvider {
  readonly kind: string;
  /** Deterministic principal name for a request, so a retry after a crash finds what an earlier attempt left. */
  principalFor(requestId: string): string;
  /**
   * Creates the credential. All or nothing: on any failure it removes what it created and throws. An existing
   * principal of the same name (left by a crashed attempt) is removed first.
   */
  issue(input: IssueInput): Promise<IssuedCredential>;
  /**
   * Ends access: no new logins, live sessions terminated, principal removed. Idempotent: a principal that no
   * longer exists counts as revoked.
   */
  revoke(principal: string): Promise<void>;
  /** True when nothing of the principal remains: it cannot log in and has no live session. */
  verifyRevoked(principal: string): Promise<boolean>;
  /** Everything on the target that Stint created and still exists, for reconciliation. */
  listOwned(): Promise<OwnedPrincipal[]>;
  /** Whether the target answers; for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

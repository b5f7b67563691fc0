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
   * Tagged before store ids existed, with this deployment's name or none: it is this store's only if this store
   * knows its request, which the caller checks.
   */
  legacy: boolean;
}

/** A role of this deployment's name tagged by another store: two deployments share the name. */
export interface ForeignPrincipal {
  principal: string;
  storeId: string;
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
  /** What this store created on the target and still exists (and untagged legacy roles), for reconciliation. */
  listOwned(): Promise<OwnedPrincipal[]>;
  /** Roles tagged with this deployment's name by another store. Never touched; reported. */
  listForeign(): Promise<ForeignPrincipal[]>;
  /** Whether the target answers; for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

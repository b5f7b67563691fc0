import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { Policy } from '../policy/policy-types.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { StintDatabase } from '../store/database.js';
import type { GrantStore } from '../store/grant-store.js';
import type { RequestStore } from '../store/request-store.js';

// Clock lives in the domain (audit sits below requests and needs it); re-exported for the callers here.
export type { Clock };

/**
 * How long an issuance claim holds: longer than any issuance (the provider's connect and statement timeouts are a
 * few seconds), so a server that dies holding a claim is replaced by another once it lapses.
 */
export const CLAIM_MS = 15_000;

export interface PolicySource {
  current(): Policy;
}

/** What the workflow services share; each takes only the parts it uses. */
export interface WorkflowDeps {
  store: StintDatabase;
  requests: RequestStore;
  grants: GrantStore;
  audit: AuditWriter;
  policy: PolicySource;
  providers: ProviderSet;
  secrets: SecretBox;
  clock: Clock;
  logger: Logger;
}

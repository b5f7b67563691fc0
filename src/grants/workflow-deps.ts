import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { StintDatabase } from '../store/database.js';
import type { GrantStore } from '../store/grant-store.js';
import type { RequestStore } from '../store/request-store.js';

/**
 * What the workflow services share (requests, grants, jobs, directory); each takes only the parts it uses. It
 * lives with grants, the lowest of them, so none of the others has to import the request service's folder.
 */
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

import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { Policy } from '../policy/policy-types.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';

// Clock lives in the domain (audit sits below requests and needs it); re-exported for the callers here.
export type { Clock };

export interface PolicySource {
  current(): Policy;
}

/** What the workflow services share; each takes only the parts it uses. */
export interface WorkflowDeps {
  store: StintDatabase;
  requests: RequestStore;
  policy: PolicySource;
  providers: ProviderSet;
  secrets: SecretBox;
  clock: Clock;
  logger: Logger;
}

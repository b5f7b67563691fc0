import type { PolicySource } from '../policy/policy-source.js';
import type { Policy } from '../policy/policy-types.js';

/**
 * Holds the policy in force. A reload parses the whole new policy first and swaps only on success, so an invalid
 * edit never half-loads: the old policy stays and the error is reported.
 */
export function createPolicyHolder(initial: Policy, load: () => Policy): PolicySource & { reload(): Policy } {
  let current = initial;
  return {
    current: () => current,
    reload() {
      const next = load();
      current = next;
      return next;
    },
  };
}

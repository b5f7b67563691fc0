import type { Policy } from './policy-types.js';

/** Where the policy in force is read from: it is reloaded while the server runs, so callers ask each time. */
export interface PolicySource {
  current(): Policy;
}

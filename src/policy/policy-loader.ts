/**
 * Policy as code: one YAML file holds the directory, the resources and the rules. It is parsed whole, checked
 * whole, and either loaded whole or refused with every problem located to `file:line:column: field`. There is
 * no half-loaded policy: a running server keeps its previous policy when a reload fails.
 *
 * ```yaml
 * version: 1                       # format version; the policy's own version is a hash of the file
 * settings:                        # optional, defaults shown
 *   deployment: stint              # names this deployment (audit, checkpoints)
 *   hardCap: 4h                    # no rule may allow longer; above 4h is allowed, and noted
 *   pendingTimeout: 24h            # an unapproved request times out after this
 *   minDuration: 5m                # no rule allows a shorter window unless it sets duration.min
 *   allowSharedDeploymentName: false   # start although a target holds another Stint store's roles
 *                                  # under this deployment name (each store still touches only its own)
 * users:                           # the directory
 *   - id: alice                    # ids: lowercase letters, digits, . _ - (users, teams, resources, roles, rules)
 *     email: alice@example.com     # unique
 *     name: Alice                  # optional, defaults to the id
 *     manager: carol               # optional; must be another user
 *     teams: [payments]            # optional
 *     security: false              # optional: may fill security slots, revoke any grant
 *     admin: false                 # optional: configuration only
 *     auditor: false               # optional: read-only access to requests and audit
 *     onCall: false                # optional: on call now (rules may require it)
 * resources:
 *   - id: prod-db
 *     kind: postgres
 *     description: Production database               # optional
 *     sensitivity: critical                          # routine | sensitive | critical (critical refuses auto)
 *     connection: { env: STINT_PROD_DB_URL }         # or { file: /run/secrets/prod-db-url }; exactly one.
 *                                                    # A URL or password inline is refused. Optional
 *                                                    # only for kinds with a default credential chain.
 *     options: { publicHost: db.example.com }        # optional; the kind says which options exist
 *     roles:                                         # at least one
 *       admin: { description: Full DDL/DML, grants: [app_admin] }   # grants: as the kind names them
 * rules:                           # evaluated in order, the first match wins; no match = denied
 *   - id: prod-db-admin
 *     description: On-call DBA work                  # optional
 *     resources: [prod-db]
 *     roles: [admin]                                 # or ['*'] for every role of those resources
 *     who: { teams: [payments], users: [dave] }      # at least one of the two; onCall: true → only
 *                                                    # those of them on call now
 *     duration: { default: 1h, max: 4h }             # min (optional, else settings.minDuration)
 *                                                    # ≤ default ≤ max ≤ settings.hardCap
 *     ticket:                                        # optional; absent = any non-empty reason
 *       required: true                               # default true when the block is present
 *       patterns: ['^INC-\d+$', '^https://tracker\.example\.com/']   # anchored with ^; one must match
 *     approval: [manager, two-person]                # auto | peer | manager | security | two-person;
 *                                                    # all are required; auto stands alone
 * breakglass:                      # optional: emergency access without approval (breakglass-policy.ts,
 *   - id: prod-emergency           # docs/breakglass.md)
 *     resources: [prod-db]
 *     roles: [admin]
 *     who: { teams: [sre] }
 *     maxDuration: 30m             # ≤ 1h
 *     channels: [security-pager]
 * notifications:                   # optional: channels and who hears what (notifications-schema.ts)
 * ```
 *
 * Durations are `90m`, `2h`, `1h30m`, `1d`. Every field is checked strictly: an unknown field (a typo such as
 * `sensitivty`) is an error naming it. Things that are legal but probably not meant (a rule some eligible
 * requester could never get approved under, a team nobody is in) come back as `notes`.
 */
import { readFileSync } from 'node:fs';
import { checkBreakglass } from './breakglass-policy.js';
import { crossCheck } from './cross-checks.js';
import { checkKinds } from './kind-checks.js';
import { checkNotifications } from './notifications-schema.js';
import { build } from './policy-build.js';
import { PolicyError } from './policy-error.js';
import { policyFileSchema } from './policy-schema.js';
import type { Policy, PolicyKind } from './policy-types.js';
import { parseWith, readYaml, throwIfAny } from './yaml-source.js';

/**
 * Parses and checks a policy. Throws PolicyError listing every problem; never returns a partial policy.
 * `kinds` are the target kinds the server knows (the provider registry's descriptors): every resource is
 * checked against its own. Without them a resource's kind-specific blocks are kept as written, unchecked: only
 * for tools that read the directory, never for what runs or checks targets.
 */
export function parsePolicy(text: string, file: string, kinds?: readonly PolicyKind[]): Policy {
  const source = readYaml(text, file);
  const parsed = parseWith(source, policyFileSchema);
  const kindProblems = kinds ? checkKinds(parsed, source, kinds) : [];
  const policy = build(parsed, text);
  const { problems, notes } = crossCheck(parsed, policy, source);
  const notifyProblems = checkNotifications(parsed.notifications, source);
  throwIfAny([...kindProblems, ...problems, ...checkBreakglass(parsed, policy, source), ...notifyProblems]);
  return { ...policy, notes };
}

/** Reads and parses a policy file. An unreadable file is a PolicyError too, located at its start. */
export function loadPolicyFile(path: string, kinds?: readonly PolicyKind[]): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PolicyError([
      { file: path, line: 1, column: 1, field: '', message: `cannot read the file: ${(e as Error).message}` },
    ]);
  }
  return parsePolicy(text, path, kinds);
}

import type { V1PolicyRule } from '@kubernetes/client-node';

const WRITE = ['create', 'update', 'patch', '*'];

const has = (list: string[] | undefined, ...wanted: string[]) => (list ?? []).some((x) => wanted.includes(x));

/**
 * Why a role's rules would let its holder keep access after Stint deletes the ServiceAccount: mint or impersonate
 * another identity, give themselves or anyone a binding, or create a long-lived token secret. The counterpart of
 * the PostgreSQL kind's refusal of CREATEROLE roles. API groups are not told apart: a rule on `rolebindings` in any
 * group is treated as RBAC's. Empty when none.
 */
export function escalations(rules: V1PolicyRule[] | undefined): string[] {
  const found = new Set<string>();
  for (const rule of rules ?? []) {
    const verbs = rule.verbs ?? [];
    const resources = rule.resources ?? [];
    const onAny = (...names: string[]) => has(resources, '*', ...names);
    if (verbs.includes('*') && resources.includes('*')) found.add('every verb on every resource');
    for (const verb of ['escalate', 'bind', 'impersonate']) {
      if (verbs.includes(verb)) found.add(`${verb} on ${resources.join(', ') || 'anything'}`);
    }
    if (verbs.includes('*') && onAny('roles', 'clusterroles', 'serviceaccounts', 'users', 'groups')) {
      found.add('every verb on roles or identities (bind, escalate, impersonate)');
    }
    if (has(verbs, ...WRITE) && onAny('serviceaccounts/token'))
      found.add('create tokens for service accounts');
    if (has(verbs, ...WRITE) && onAny('rolebindings', 'clusterrolebindings', 'roles', 'clusterroles')) {
      found.add('change RBAC roles or bindings');
    }
    if (has(verbs, ...WRITE) && onAny('certificatesigningrequests/approval'))
      found.add('approve client certificates');
    if (has(verbs, 'create', '*') && onAny('secrets'))
      found.add('create secrets (a service-account-token secret never expires)');
  }
  return [...found];
}

import { authorize } from '../auth/authorize.js';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { ResourceView, WhoAmIView } from './catalog-types.js';

/** What one may ask for, and who one is: read from the policy and directory in force, nothing stored. */
export interface CatalogService {
  resources(actor: Actor): Promise<ResourceView[]>;
  whoami(actor: Actor): Promise<WhoAmIView>;
}

export function createCatalogService(deps: { policy: PolicySource }): CatalogService {
  return {
    async resources(actor) {
      authorize(actor, 'resource.list');
      return [...deps.policy.current().resources.values()].map((r) => ({
        id: r.id,
        kind: r.kind,
        description: r.description,
        sensitivity: r.sensitivity,
        roles: Object.values(r.roles).map((role) => ({ name: role.name, description: role.description })),
      }));
    },

    async whoami(actor) {
      authorize(actor, 'whoami');
      const user = deps.policy.current().users.get(actor.userId);
      if (!user) throw new StintError('UNAUTHENTICATED', 'this user is no longer in the directory');
      const roles = ['requester'];
      if (user.security) roles.push('security');
      if (user.auditor) roles.push('auditor');
      if (user.admin) roles.push('admin');
      if (user.onCall) roles.push('on-call');
      return {
        userId: user.id,
        email: user.email,
        name: user.name,
        teams: user.teams,
        manager: user.manager,
        roles,
      };
    },
  };
}

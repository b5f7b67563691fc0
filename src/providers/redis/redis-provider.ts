import type { Logger } from '../../logger.js';
import { guardCalls } from '../guard-calls.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { clientsOf } from './clients.js';
import { adminFor, withSession } from './connect.js';
import { issueCredential } from './issue-credential.js';
import { listForeign, listOwned } from './list-owned.js';
import { listStanding } from './list-standing.js';
import { principalName } from './principal-name.js';
import type { RedisConfig } from './redis-config.js';
import { revokeUser } from './revoke-user.js';

export interface RedisProviderOptions {
  config: RedisConfig;
  /** Carried in every user name created; listOwned returns only users carrying this store's id. */
  owner: TargetOwner;
  /** For what happens outside any call: an undo that failed. */
  logger?: Logger;
}

/**
 * Credentials on a Redis target: one ACL user per request, with the rules its policy role grants and a random
 * password, saved to the aclfile so it survives a restart. Redis has no expiry for users: Stint's own timers and
 * sweeper end the window, and nothing on the target does if Stint is down (docs/redis-target.md).
 *
 * The admin user needs only the ACL and CLIENT subcommands docs/redis-target.md lists, no key or channel.
 */
export function createRedisProvider(opts: RedisProviderOptions): CredentialProvider {
  const admin = adminFor(opts.config, opts.owner, opts.logger);

  const revoke = joinRevokes((principal, signal) => revokeUser(admin, principal, signal));

  const guarded = guardCalls((action, err, signal) => admin.fail(action, err, signal));

  return {
    kind: 'redis',
    principalFor: (requestId) => principalName(admin.marks, requestId),
    issue: (request, signal) => issueCredential(admin, request, signal),
    revoke: ({ principal }, signal) => revoke(principal, signal),

    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, () =>
        withSession(admin, signal, async (s) => {
          const user = await s.call('ACL', 'GETUSER', principal);
          return { gone: user === null && (await clientsOf(s, principal)) === 0 };
        }),
      ),

    listOwned: (_request, signal) =>
      guarded('list owned users', signal, async () => ({ principals: await listOwned(admin, signal) })),

    listForeign: (_request, signal) =>
      guarded('list foreign users', signal, async () => ({ principals: await listForeign(admin, signal) })),

    // Grants here are ACL rules, not roles someone could hold: every enabled user is listed, whatever they are.
    listStanding: (_request, signal) =>
      guarded('list standing users', signal, async () => ({ principals: await listStanding(admin, signal) })),

    ping: (_request, signal) =>
      guarded('ping', signal, () =>
        withSession(admin, signal, async (s) => ({ target: `Redis ${s.version}` })),
      ),

    // Nothing stays open between calls.
    close: async () => {},
  };
}

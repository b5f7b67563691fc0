import { z } from 'zod';
import { configError, describeRef, readConnectionRef } from '../connection-ref.js';
import { defineKind } from '../kind.js';
import { lazyProvider } from '../lazy-provider.js';
import { aclGrants } from './acl-rules.js';
import { ownerMarks, principalName, storeMark } from './principal-name.js';
import { parseRedisConfig } from './redis-config.js';

// Messages are fixed strings: zod's defaults could quote the input.
const options = z
  .strictObject({
    /** Host users connect to, when it is not the admin connection's (a proxy, a public name). */
    publicHost: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/, { error: 'must be a host name or address' })
      .optional(),
    publicPort: z.int({ error: 'must be a whole number' }).min(1).max(65_535).optional(),
  })
  .default({});

/**
 * Redis 7+: one ACL user per request, named with this store's mark, given the ACL rules its policy role grants
 * (then `-@admin -@dangerous`) and saved to the aclfile. Removable, listable (the name carries the owner), and
 * revoke disconnects live connections. Redis users never expire on their own: there is no target-side backstop.
 */
export const redisKind = defineKind({
  kind: 'redis',
  options,
  grants: aclGrants,
  connection: 'required',
  capabilities: {
    revocation: 'remove',
    listable: true,
    endsSessions: true,
    contactsTargetAtIssue: true,
    inventory: {
      lists: 'standing',
      sees: 'every enabled ACL user whose name is not one Stint makes (default and stint_admin included), with its command, key and channel rules, selectors and flags (nopass), from ACL USERS and ACL GETUSER with the password hashes dropped. Not: disabled users, and what a command category holds beyond its name',
    },
  },
  configure: (target, env) =>
    parseRedisConfig(
      target.id,
      readConnectionRef(target, env),
      target.options,
      target.connection ? describeRef(target.connection) : undefined,
    ),
  // The client (ioredis, ~3 MB of heap) loads with the first call on a resource of this kind, not with the server.
  create: (config, { owner, logger }) => {
    if (storeMark(owner.storeId) === null)
      throw configError(config.resourceId, 'the store id is not st_ followed by 16 hex digits');
    const marks = ownerMarks(owner);
    return lazyProvider(
      { kind: 'redis', principalFor: (requestId) => principalName(marks, requestId), listStanding: true },
      async () =>
        (await import('./redis-provider.js')).createRedisProvider({
          config,
          owner,
          ...(logger ? { logger } : {}),
        }),
    );
  },
});

import type { Logger } from '../../logger.js';
import { guardCalls } from '../guard-calls.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { connectAdmin, query, type Row } from './connect.js';
import { issueCredential } from './issue-credential.js';
import { listForeign, listOwned } from './list-owned.js';
import { listStanding } from './list-standing.js';
import type { MariaDbConfig } from './mariadb-config.js';
import { principalFor } from './principal-name.js';
import { removeStanding } from './remove-standing.js';
import { revokeAccount } from './revoke-account.js';
import { verifyRevoked } from './verify-revoked.js';

export interface MariaDbProviderOptions {
  config: MariaDbConfig;
  /** Written in the mark of every account created; listOwned returns only accounts carrying this store id. */
  owner: TargetOwner;
  /** For what happens outside any call: an undo that failed, the expiry backstop off. */
  logger?: Logger;
}

interface VersionRow extends Row {
  version: string;
  scheduler: string;
}

/**
 * Credentials on a MariaDB target: one account per request, given the one role its policy role grants as its
 * default role, with a scheduled EVENT as the target's own backstop for the window. docs/mariadb-target.md lists
 * and justifies the admin account's rights.
 */
export function createMariaDbProvider(opts: MariaDbProviderOptions): CredentialProvider {
  const admin = connectAdmin(opts.config, opts.owner, opts.logger);
  let closed = false;

  const revoke = joinRevokes((principal, signal) => revokeAccount(admin, principal, signal));

  const guarded = guardCalls((action, err, signal) => admin.fail(action, err, signal));

  return {
    kind: 'mariadb',
    principalFor,
    issue: (request, signal) => issueCredential(admin, request, signal, revoke),
    revoke: ({ principal }, signal) => revoke(principal, signal),

    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, async () => ({
        gone: await verifyRevoked(admin, principal, signal),
      })),

    listOwned: (_request, signal) =>
      guarded('list owned accounts', signal, async () => ({ principals: await listOwned(admin, signal) })),

    listForeign: (_request, signal) =>
      guarded('list foreign accounts', signal, async () => ({
        principals: await listForeign(admin, signal),
      })),

    listStanding: ({ grants }, signal) =>
      guarded('list standing privilege', signal, async () => ({
        principals: await listStanding(admin, grants, signal),
      })),

    removeStanding: (request, signal) =>
      guarded(`remove ${request.privilege} from ${request.principal}`, signal, () =>
        removeStanding(admin, request, signal),
      ),

    ping: (_request, signal) =>
      guarded('ping', signal, async () => {
        const [row] = await query<VersionRow>(
          admin,
          signal,
          'SELECT VERSION() AS version, @@global.event_scheduler AS scheduler',
        );
        const scheduler = row?.scheduler ?? 'unknown';
        const backstop = !opts.config.expiryEvent
          ? 'expiry EVENTs disabled'
          : scheduler === 'ON'
            ? 'event_scheduler ON'
            : `event_scheduler ${scheduler}: no expiry backstop on the target`;
        return { target: `MariaDB ${row?.version ?? 'unknown'} (${backstop})` };
      }),

    async close() {
      if (closed) return;
      closed = true;
      await admin.pool.end();
    },
  };
}

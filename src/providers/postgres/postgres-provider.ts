import type { Logger } from '../../logger.js';
import { guardCalls } from '../guard-calls.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { connectAdmin, query } from './connect.js';
import { issueCredential } from './issue-credential.js';
import { listForeign, listOwned } from './list-owned.js';
import { listStanding } from './list-standing.js';
import type { PostgresConfig } from './postgres-config.js';
import { principalFor } from './principal-name.js';
import { removeStanding } from './remove-standing.js';
import { revokeRoles } from './revoke-many.js';
import { revokeRole } from './revoke-role.js';

export interface PostgresProviderOptions {
  config: PostgresConfig;
  /** Written on every role created; listOwned returns only roles carrying this store id. */
  owner: TargetOwner;
  /** For what happens outside any call: an idle admin connection lost, an undo that failed. */
  logger?: Logger;
}

/**
 * Credentials on a PostgreSQL target: one LOGIN role per request, member of the roles its policy role grants,
 * with `VALID UNTIL` as the target's own backstop for the window.
 *
 * The admin role needs no standing privilege on the data: it is never a member (with inheritance) of a team role.
 * To end sessions and clean up, revoke makes it a member of the one role being removed, for the moments before
 * that role is dropped. docs/postgres-target.md lists and justifies the grants.
 */
export function createPostgresProvider(opts: PostgresProviderOptions): CredentialProvider {
  const admin = connectAdmin(opts.config, opts.owner, opts.logger);
  let closed = false;

  const revoke = joinRevokes((principal, signal) => revokeRole(admin, principal, signal));

  const guarded = guardCalls((action, err, signal) => admin.fail(action, err, signal));

  return {
    kind: 'postgres',
    principalFor,
    issue: (request, signal) => issueCredential(admin, request, signal, revoke),
    revoke: ({ principal }, signal) => revoke(principal, signal),
    revokeMany: (requests, signal) =>
      guarded(`revoke ${requests.length} roles`, signal, () =>
        revokeRoles(
          admin,
          requests.map((r) => r.principal),
          signal,
        ),
      ),

    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, async () => {
        const { rows } = await query<{ role: boolean; sessions: boolean }>(
          admin,
          signal,
          `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
                  EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1) AS sessions`,
          [principal],
        );
        const row = rows[0];
        return { gone: row !== undefined && !row.role && !row.sessions };
      }),

    listOwned: (_request, signal) =>
      guarded('list owned roles', signal, async () => ({ principals: await listOwned(admin, signal) })),

    listForeign: (_request, signal) =>
      guarded('list foreign roles', signal, async () => ({ principals: await listForeign(admin, signal) })),

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
        const { rows } = await query<{ version: string }>(
          admin,
          signal,
          "SELECT current_setting('server_version') AS version",
        );
        return { target: `PostgreSQL ${rows[0]?.version ?? 'unknown'}` };
      }),

    async close() {
      if (closed) return;
      closed = true;
      await admin.pool.end();
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { IssueResult } from '../provider.js';
import { type Admin, ident, literal, rollback, withConnection } from './connect.js';
import { commentFor } from './principal-name.js';
import { scramSha256Verifier } from './scram.js';

export interface NewRole {
  requestId: string;
  principal: string;
  grants: string[];
  expiresAt: Date;
}

/** How the role's creation ended when it did not succeed: `unknown` when a COMMIT may have gone through. */
export class CreateRoleFailed extends Error {
  override readonly name = 'CreateRoleFailed';
  constructor(
    readonly failure: unknown,
    /** The server may hold the role after all: the connection died or was cut with the outcome unread. */
    readonly unknown: boolean,
    /** The admin backend that ran the transaction, to wait out before any undo. */
    readonly backendPid: number | undefined,
    /** The password and verifier sent: redacted from any message about this failure. */
    readonly secrets: readonly string[],
  ) {
    super('create role failed');
  }
}

/**
 * The login role, its memberships and its ownership tag in one transaction: a failed grant leaves nothing
 * behind. The password never reaches the server, only its SCRAM verifier.
 */
export async function createRole(admin: Admin, role: NewRole, signal: AbortSignal): Promise<IssueResult> {
  const { config, owner } = admin;
  const password = randomBytes(32).toString('base64url');
  const verifier = await scramSha256Verifier(password);
  const secrets = [password, verifier];
  const name = ident(role.principal);
  const limit =
    config.connectionLimit === undefined ? '' : ` CONNECTION LIMIT ${Math.trunc(config.connectionLimit)}`;
  const statements = [
    `CREATE ROLE ${name} WITH LOGIN INHERIT${limit} PASSWORD ${literal(verifier)} VALID UNTIL ${literal(role.expiresAt.toISOString())}`,
    ...role.grants.map((g) => `GRANT ${ident(g)} TO ${name}`),
    `COMMENT ON ROLE ${name} IS ${literal(commentFor(role.requestId, owner))}`,
  ];

  let pid: number | undefined;
  try {
    await withConnection(admin, signal, async (client) => {
      pid = (client as unknown as { processID?: number }).processID;
      try {
        await client.query('BEGIN');
        for (const sql of statements) await client.query(sql);
        await client.query('COMMIT');
      } catch (err) {
        // A cut connection (a cancellation does that) rolls back server-side, unless it was our COMMIT whose
        // answer got lost.
        throw new CreateRoleFailed(err, signal.aborted || (await rollback(client, err)), pid, secrets);
      }
    });
  } catch (err) {
    throw err instanceof CreateRoleFailed ? err : new CreateRoleFailed(err, false, pid, secrets);
  }
  return { principal: role.principal, secret: credential(admin, role.principal, password) };
}

function credential(admin: Admin, principal: string, password: string): Record<string, string> {
  const { publicHost, publicPort, database, sslmode } = admin.config;
  const hostInUrl = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  const query = sslmode ? `?sslmode=${encodeURIComponent(sslmode)}` : '';
  const url = `postgres://${encodeURIComponent(principal)}:${encodeURIComponent(password)}@${hostInUrl}:${publicPort}/${encodeURIComponent(database)}${query}`;
  return {
    url,
    username: principal,
    password,
    host: publicHost,
    port: String(publicPort),
    database,
  };
}

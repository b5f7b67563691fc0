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
  /** Made by newRoleSecret before the checks, so its PBKDF2 runs while they wait on the target. */
  secret: RoleSecret;
}

/** The role's password and the SCRAM verifier the server is sent instead of it. */
export interface RoleSecret {
  password: string;
  verifier: string;
}

/** A fresh password and its verifier (PBKDF2 on libuv's thread pool, not on the event loop). */
export async function newRoleSecret(): Promise<RoleSecret> {
  const password = randomBytes(32).toString('base64url');
  return { password, verifier: await scramSha256Verifier(password) };
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
  const { password, verifier } = role.secret;
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
        // One simple-query message, one round trip instead of one per statement: the server runs them in order
        // and skips the rest after an error, leaving the block aborted for the rollback below. No parameters
        // (names and values are escaped above), so the simple protocol, which allows several statements, is used.
        await client.query(['BEGIN', ...statements, 'COMMIT'].join(';\n'));
      } catch (err) {
        // A cut connection (a cancellation does that) rolls back server-side, unless it was our COMMIT whose
        // answer got lost.
        throw new CreateRoleFailed(err, signal.aborted || (await rollback(client, err)), pid, secrets);
      }
    });
  } catch (err) {
    throw err instanceof CreateRoleFailed ? err : new CreateRoleFailed(err, false, pid, secrets);
  }
  if (!config.proxy)
    return { principal: role.principal, secret: credential(admin, role.principal, password) };
  // Through the proxy the user gets a secret of its own, for the proxy only; the role's password is kept by Stint
  // (sealed, never shown) for the proxy to log in with. The proxy keeps only the secret's SCRAM verifier.
  const proxySecret = randomBytes(32).toString('base64url');
  return {
    principal: role.principal,
    secret: proxyCredential(admin, config.proxy, role.principal, proxySecret),
    // With where the role lives: the proxy logs in there, whatever the policy later says of the connection.
    kept: {
      password,
      proxyVerifier: await scramSha256Verifier(proxySecret),
      host: config.host,
      port: String(config.port),
      database: config.database,
      sslmode: config.sslmode ?? '',
    },
  };
}

function proxyCredential(
  admin: Admin,
  proxy: { host: string; port: number },
  principal: string,
  secret: string,
): Record<string, string> {
  const { database } = admin.config;
  const hostInUrl = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  // The proxy takes TLS connections only.
  const url = `postgres://${encodeURIComponent(principal)}:${encodeURIComponent(secret)}@${hostInUrl}:${proxy.port}/${encodeURIComponent(database)}?sslmode=require`;
  return {
    url,
    username: principal,
    password: secret,
    host: proxy.host,
    port: String(proxy.port),
    database,
    sslmode: 'require',
  };
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

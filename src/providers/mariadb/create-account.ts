import { randomBytes } from 'node:crypto';
import type { IssueResult } from '../provider.js';
import { type Admin, account, asUser, checkSignal, ident, literal, withConnection } from './connect.js';
import { expiryEventSql, utcDateTime } from './expiry-event.js';
import { MARKS } from './marks.js';
import { nativePasswordHash } from './native-password.js';

/** Where the mark and the EVENT are in the issue's statements (the EVENT only when expiryEvent is on). */
const MARK_STEP = 0;
const EVENT_STEP = 1;

export interface NewAccount {
  requestId: string;
  principal: string;
  /** The one role the account is given and starts its sessions in. */
  role: string;
  expiresAt: Date;
}

/** How an account's creation ended when it did not succeed, for the undo. */
export class CreateAccountFailed extends Error {
  override readonly name = 'CreateAccountFailed';
  constructor(
    readonly failure: unknown,
    /** The mark was (or may have been) written: something of this request may be on the target. */
    readonly marked: boolean,
    /** The admin connection was cut with a statement in flight: its thread must be waited out before any undo. */
    readonly threadId: number | undefined,
    /** The expiry EVENT was (or may have been) created: the undo drops it. */
    readonly eventMayExist: boolean,
    /** The password and hash sent: redacted from any message about this failure. */
    readonly secrets: readonly string[],
  ) {
    super('create account failed');
  }
}

/**
 * Mark, backstop, account, role, in that order on one admin connection, so that an account never exists without
 * the row that says whose it is and the EVENT that ends it. MariaDB commits each of these statements on its own
 * (DDL cannot be rolled back): a failure part-way is undone by the caller, from the mark.
 *
 * Then the first login, as the new account: `SET DEFAULT ROLE` for another account needs UPDATE on the `mysql`
 * schema (nearly root), for oneself nothing, so the account sets its own default role. It also proves the
 * credential works before anyone is handed it.
 */
export async function createAccount(
  admin: Admin,
  acct: NewAccount,
  signal: AbortSignal,
): Promise<IssueResult> {
  const { config, owner } = admin;
  const password = randomBytes(32).toString('base64url');
  const hash = nativePasswordHash(password);
  const secrets = [password, hash];
  const name = account(acct.principal, config.userHost);
  const limit =
    config.connectionLimit === undefined
      ? ''
      : ` WITH MAX_USER_CONNECTIONS ${Math.trunc(config.connectionLimit)}`;
  const steps: [string, unknown[]][] = [
    [
      `INSERT INTO ${MARKS} (user, host, store_id, deployment, request_id, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [
        acct.principal,
        config.userHost,
        owner.storeId,
        owner.deployment,
        acct.requestId,
        utcDateTime(acct.expiresAt),
      ],
    ],
    ...(config.expiryEvent
      ? [
          [expiryEventSql(acct.principal, config.userHost, owner.storeId, acct.expiresAt), []] as [
            string,
            unknown[],
          ],
        ]
      : []),
    [`CREATE USER ${name} IDENTIFIED BY PASSWORD ${literal(hash)}${limit}`, []],
    [`GRANT ${ident(acct.role)} TO ${name}`, []],
  ];

  /** Steps the server answered with success, and whether the next one was in flight when the call failed. */
  let done = 0;
  let running = false;
  let threadId: number | undefined;
  try {
    await withConnection(admin, signal, async (conn) => {
      threadId = conn.threadId;
      for (const [sql, params] of steps) {
        checkSignal(signal);
        running = true;
        await conn.query(sql, params);
        running = false;
        done += 1;
      }
    });
    checkSignal(signal);
    await asUser(admin, acct.principal, password, signal, (user) =>
      user.query(`SET DEFAULT ROLE ${ident(acct.role)}`),
    );
  } catch (err) {
    // A statement the server refused has a known outcome; one cut in flight (a cancellation, a lost connection)
    // may still be running on the server.
    const unknown = running && !isServerAnswer(err);
    const reached = (step: number) => done > step || (done === step && unknown);
    throw new CreateAccountFailed(
      err,
      reached(MARK_STEP),
      unknown ? threadId : undefined,
      config.expiryEvent && reached(EVENT_STEP),
      secrets,
    );
  }
  return { principal: acct.principal, secret: credential(admin, acct.principal, password) };
}

function isServerAnswer(err: unknown): boolean {
  const e = err as { errno?: unknown; sqlState?: unknown } | undefined;
  return typeof e?.errno === 'number' && e.errno > 0 && typeof e.sqlState === 'string';
}

function credential(admin: Admin, principal: string, password: string): Record<string, string> {
  const { publicHost, publicPort, database } = admin.config;
  const hostInUrl = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  const path = database ? `/${encodeURIComponent(database)}` : '';
  return {
    url: `mysql://${encodeURIComponent(principal)}:${encodeURIComponent(password)}@${hostInUrl}:${publicPort}${path}`,
    username: principal,
    password,
    host: publicHost,
    port: String(publicPort),
    ...(database ? { database } : {}),
  };
}

import pg from 'pg';
import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { type Summary, sleep, summarize } from './stats.js';
import { createProviderTimes, timeProvider } from './timed-provider.js';

export interface RevocationLag {
  store: StoreKind;
  lanes: number;
  /** False for the control run: no login attempts at all, so only the session is timed. */
  pollLogins: boolean;
  /** max(session terminated, first new login refused) − expiresAt. */
  lag: Summary;
  /** The open SET ROLE session's 'error'/'end' event − expiresAt (Stint's timer, expire, revoke). */
  sessionLag: Summary;
  /** First refused login's answer − expiresAt (PostgreSQL's own VALID UNTIL, or Stint's NOLOGIN). */
  loginLag: Summary;
  /** Inside loginLag: the refused attempt's own connect + SCRAM exchange (measurement cost, not exposure). */
  refusedAttemptMs: Summary;
  /** expiresAt → the provider's revoke() called: timer delay + expire transaction + grant read. */
  untilRevokeCalled: Summary;
  /** revoke() called → the session's end seen by the client: ALTER ROLE NOLOGIN, terminate, backend exit. */
  revokeToSessionEnd: Summary;
  /** Login attempts per sample until one was refused (1 means the first attempt, made at expiresAt). */
  attemptsPerSample: Summary;
  /** Sessions ended before expiresAt, logins accepted after it, sessions never ended: all must be 0. */
  endedEarly: number;
  acceptedAfterExpiry: number;
  neverEnded: number;
}

/** Anything in SQLSTATE class 28 (invalid authorization): expired password, NOLOGIN, role gone. */
function isRefusal(err: unknown): boolean {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' && err.code.startsWith('28');
}

const SESSION_END_TIMEOUT_MS = 10_000;

/** Resolves with Date.now() when the server ends the session, or null if it is still open after the timeout. */
export function sessionEnd(client: pg.Client): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), SESSION_END_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve(Date.now());
    };
    client.once('error', done);
    client.once('end', done);
  });
}

/**
 * Tries to log in from the expiry instant on, back to back (2 ms apart), until a login is refused. One attempt is
 * usually enough: PostgreSQL refuses a login past VALID UNTIL by itself, so polling before the instant would only
 * add load at the moment being measured.
 */
async function firstRefusal(
  url: string,
  expiresAt: number,
): Promise<{ at: number; startedAt: number; attempts: number; acceptedAfter: number }> {
  await sleep(expiresAt - Date.now());
  let attempts = 0;
  let acceptedAfter = 0;
  for (;;) {
    attempts++;
    const startedAt = Date.now();
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    try {
      await client.connect();
      // A timer can fire a hair before the wall-clock instant; a login begun after it must never succeed.
      if (startedAt > expiresAt) acceptedAfter++;
      await client.end().catch(() => {});
    } catch (err) {
      if (isRefusal(err)) return { at: Date.now(), startedAt, attempts, acceptedAfter };
      throw err;
    }
    if (attempts > 2000) throw new Error('logins still accepted long after expiry');
    await sleep(2);
  }
}

/**
 * Revocation lag with nobody calling revoke: `lanes` grants at a time, each with a 1 s or 2 s window, lanes
 * started apart so expiries fall at different instants. Each grant has a live session that did SET ROLE.
 */
export async function measureRevocationLag(
  kind: StoreKind,
  targetEnv: Record<string, string>,
  samples: number,
  lanes: number,
  opts: { pollLogins: boolean } = { pollLogins: true },
): Promise<RevocationLag> {
  const times = createProviderTimes();
  const bench = await buildBenchApp(
    kind,
    () => (resource, owner) => timeProvider(createProvider(resource, targetEnv, { owner }), times),
  );
  const lag: number[] = [];
  const sessionLag: number[] = [];
  const loginLag: number[] = [];
  const refusedAttempt: number[] = [];
  const untilRevoke: number[] = [];
  const revokeToEnd: number[] = [];
  const attempts: number[] = [];
  let endedEarly = 0;
  let acceptedAfterExpiry = 0;
  let neverEnded = 0;
  let taken = 0;

  async function one(seq: number): Promise<void> {
    const created = await bench.post(REQUESTER, '/v1/requests', {
      resource: RESOURCE,
      role: 'read',
      reason: `bench expiry ${seq}`,
      duration: seq % 2 === 0 ? '1s' : '2s',
    });
    expectStatus(created, 201, 'create');
    const { view } = await untilActive(bench, REQUESTER, created);
    const id: string = view.id;
    const expiresAt = Date.parse(view.expiresAt);
    const cred = await bench.post(REQUESTER, `/v1/requests/${id}/credentials`);
    expectStatus(cred, 200, 'credentials');
    const url: string = cred.body.secret.url;
    const principal: string = cred.body.principal;

    const session = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    session.on('error', () => {});
    await session.connect();
    await session.query('SET ROLE app_read');
    await session.query('SELECT count(*) FROM accounts');
    const ended = sessionEnd(session);
    const refused = opts.pollLogins ? await firstRefusal(url, expiresAt) : null;
    const endedAt = await ended;
    await session.end().catch(() => {});

    if (endedAt === null) neverEnded++;
    else if (endedAt < expiresAt) endedEarly++;
    const sessionMs = (endedAt ?? expiresAt + SESSION_END_TIMEOUT_MS) - expiresAt;
    sessionLag.push(sessionMs);
    if (refused) {
      acceptedAfterExpiry += refused.acceptedAfter;
      const loginMs = refused.at - expiresAt;
      lag.push(Math.max(sessionMs, loginMs));
      loginLag.push(loginMs);
      refusedAttempt.push(refused.at - refused.startedAt);
      attempts.push(refused.attempts);
    } else {
      lag.push(sessionMs);
    }
    const calledAt = times.revokeCalledAt.get(principal);
    if (calledAt !== undefined) {
      untilRevoke.push(calledAt - expiresAt);
      if (endedAt !== null) revokeToEnd.push(endedAt - calledAt);
    }
  }

  try {
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        // Lanes start ~1/lanes of a window apart, so their expiries interleave instead of landing together.
        await sleep((lane * 1500) / lanes);
        while (taken < samples) await one(taken++);
      }),
    );
    // Let the last revocations finish on the target before the app (and its admin pool) closes.
    await bench.stint.sweep();
  } finally {
    await bench.close();
  }
  return {
    store: kind,
    lanes,
    pollLogins: opts.pollLogins,
    lag: summarize(lag),
    sessionLag: summarize(sessionLag),
    loginLag: summarize(loginLag),
    refusedAttemptMs: summarize(refusedAttempt),
    untilRevokeCalled: summarize(untilRevoke),
    revokeToSessionEnd: summarize(revokeToEnd),
    attemptsPerSample: summarize(attempts),
    endedEarly,
    acceptedAfterExpiry,
    neverEnded,
  };
}

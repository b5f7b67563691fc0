import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { recordingStore } from '../recording-store.js';
import { openSegmentWriter, type SegmentWriter } from '../segments.js';
import { recordSessionEnd, recordSessionStart } from '../session-start.js';
import type { CancelKeys } from './cancel-keys.js';
import type { PgGrant } from './pg-login.js';
import type { PgProxyDeps } from './pg-proxy-context.js';
import { StatementLog } from './statement-log.js';
import { openUpstream, type UpstreamLeg, UpstreamRefused } from './upstream.js';
import { backend, backendDecoder, Framer, MalformedPacket } from './wire.js';

/** One client session through the proxy, once its handshake proved a live grant. */
export interface PgSession {
  id: string;
  grant: PgGrant;
  /** Ends it: the client told why (FATAL, when `code` is given), both legs closed, the log sealed, the end audited. */
  end(reason: string, fatal?: { code: string; message: string }): Promise<void>;
}

/** Start-up parameters passed to the target: the client's, but the user is the grant's role. */
function upstreamParams(grant: PgGrant, params: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) {
    // client_encoding: pg-protocol's start-up sends UTF8, which the statement log is decoded as.
    if (k !== 'user' && k !== 'client_encoding') out[k] = v;
  }
  out.user = grant.principal;
  out.database = params.get('database') || grant.database;
  return out;
}

/**
 * Runs a session: recorded in the store with its review draw, its statement log opened (fail closed by policy), the
 * target logged in to with the kept password, the start-up relayed with the proxy's own cancel key, then both
 * directions bridged with back-pressure, every client message checked and every statement logged.
 */
export async function runPgSession(
  deps: PgProxyDeps,
  client: TLSSocket,
  clientAddress: string | null,
  grant: PgGrant,
  params: Map<string, string>,
  cancels: CancelKeys,
  sessions: Set<PgSession>,
): Promise<void> {
  const id = `ses_${randomBytes(12).toString('base64url')}`;
  const startedAt = deps.clock();
  const { request, resource } = grant;
  const database = params.get('database') || grant.database;
  const policy = resource.options.proxy;
  const abort = new AbortController();
  let upstream: UpstreamLeg | null = null;
  let writer: SegmentWriter | null = null;
  let recordingId: string | null = null;
  let cancelPid: number | null = null;
  let log: StatementLog | null = null;
  let ended = false;
  let inStore = false;
  /** The log stopped being written (at its start or later), whatever the policy then did. */
  let logFailed = false;

  const event = (action: string, details: Record<string, unknown>) =>
    deps.activity.push({
      at: deps.clock(),
      actor: action.startsWith('recording.') ? 'stint' : request.requester,
      action,
      requestId: request.id,
      target: { resource: resource.id },
      details: { sessionId: id, ...details },
    });

  const session: PgSession = {
    id,
    grant,
    async end(reason, fatal) {
      if (ended) return;
      ended = true;
      abort.abort();
      deps.watch.remove(id);
      sessions.delete(session);
      const running = log?.inFlight() === true && upstream !== null && !upstream.socket.destroyed;
      if (!client.destroyed) {
        if (fatal) client.end(backend.error('FATAL', fatal.code, fatal.message));
        else client.end();
        setTimeout(() => client.destroy(), 1_000).unref();
      }
      if (cancelPid !== null) {
        // A statement still running would run to its end on the target after the client is gone; the client was
        // told first, so the cancel's own error does not reach it in place of the reason.
        if (running) void cancels.cancel(cancelPid);
        cancels.drop(cancelPid);
      }
      if (upstream && !upstream.socket.destroyed) upstream.socket.end(Buffer.from([0x58, 0, 0, 0, 4]));
      log?.abandon(reason);
      await writer?.close().catch(() => {});
      if (recordingId)
        await recordingStore
          .endRecording(
            deps.db,
            recordingId,
            deps.clock().getTime(),
            logFailed || writer?.failure ? 'failed' : 'complete',
          )
          .catch(() => {});
      if (!inStore) return;
      await deps.activity.flush();
      await recordSessionEnd(deps, {
        id,
        requestId: request.id,
        resource: resource.id,
        reason,
        at: deps.clock(),
        startedAt,
      }).catch((e: unknown) =>
        deps.logger.error({ err: (e as Error).message, session: id }, 'session end not recorded'),
      );
    },
  };
  sessions.add(session);
  client.on('error', () => {});
  client.once('close', () => void session.end('client disconnected'));

  try {
    await recordSessionStart(deps, {
      id,
      request,
      resource,
      protocol: 'postgres',
      account: grant.principal,
      client: clientAddress,
      server: deps.server,
      now: startedAt,
      details: { database },
    });
    inStore = true;
  } catch (e) {
    deps.logger.error({ session: id, err: (e as Error).message }, 'pg proxy: session not recorded; ended');
    return session.end('the session could not be recorded in the store', {
      code: '58000',
      message: 'Stint could not record this session',
    });
  }
  deps.watch.add({
    id,
    requestId: request.id,
    expiresAt: grant.expiresAt,
    end: (reason) =>
      void session.end(reason, { code: '57P01', message: `terminating connection: Stint ${reason}` }),
  });

  const failClosed = policy.onRecordingFailure === 'end-session';
  const recordingFailed = (e: Error) => {
    logFailed = true;
    event('recording.failed', { recordingId, reason: e.message, continued: !failClosed });
    if (failClosed)
      void session.end(`recording cannot be written (${e.message})`, {
        code: '58030',
        message: 'terminating connection: the Stint statement log cannot be written',
      });
  };
  try {
    recordingId = `rec_${randomBytes(12).toString('base64url')}`;
    await recordingStore.insertRecording(deps.db, {
      id: recordingId,
      session_id: id,
      channel: 0,
      type: 'pg-query-log',
      command: null,
      storage: deps.storage.location,
      state: 'live',
      started_at: startedAt.getTime(),
      ended_at: null,
    });
    const ref = { recordingId, sessionId: id, requestId: request.id, resource: resource.id };
    let underWay = false;
    writer = await openSegmentWriter({ ...deps }, ref, (e) => {
      if (underWay) recordingFailed(e);
    });
    writer.write(
      `${JSON.stringify({ version: 1, kind: 'pg-query-log', sessionId: id, grantId: request.id, user: request.requester, role: grant.principal, resource: resource.id, database, startedAt: startedAt.toISOString(), redactParameters: policy.redactParameters })}\n`,
    );
    await writer.flush();
    if (writer.failure) throw writer.failure;
    underWay = true;
  } catch (e) {
    if (failClosed) {
      deps.logger.error({ session: id, err: (e as Error).message }, 'pg proxy: statement log not writable');
      return session.end(`recording cannot be written (${(e as Error).message})`, {
        code: '58030',
        message: 'the Stint statement log cannot be written; the session is refused',
      });
    }
    recordingFailed(e as Error);
    writer = null;
  }
  if (ended) return;

  try {
    upstream = await openUpstream(grant.target, upstreamParams(grant, params), grant.password, abort.signal);
  } catch (e) {
    const refused = e instanceof UpstreamRefused ? e : null;
    if (ended) return;
    if (refused?.frame && !client.destroyed) client.write(refused.frame);
    return session.end(
      `the target refused the session: ${(e as Error).message}`,
      refused?.frame ? undefined : { code: '08006', message: 'the Stint proxy could not reach the database' },
    );
  }
  if (ended) {
    upstream.socket.destroy();
    return;
  }
  event('session.target_connected', { database, backendPid: upstream.pid });
  const key = cancels.issue(grant.target, upstream.pid, upstream.secret);
  cancelPid = key.pid;
  client.write(
    Buffer.concat([
      backend.authOk(),
      ...upstream.startup,
      backend.keyData(key.pid, key.secret),
      backend.readyForQuery(upstream.status),
    ]),
  );
  log = bridge(deps, session, client, upstream.socket, grant, database, writer);
}

function bridge(
  deps: PgProxyDeps,
  session: PgSession,
  client: Socket,
  target: Socket,
  grant: PgGrant,
  database: string,
  writer: SegmentWriter | null,
): StatementLog {
  const log = new StatementLog(
    { grantId: grant.request.id, user: grant.request.requester, role: grant.principal, database },
    grant.resource.options.proxy.redactParameters,
    () => deps.clock().getTime(),
    (entry) => writer?.write(`${JSON.stringify(entry)}\n`),
  );
  const decode = backendDecoder();
  const fromClient = new Framer();
  const fromTarget = new Framer();
  target.on('error', () => {});
  // A revoke's clean-up on the target (which ends the role's backends) can beat the next poll: the grant's state is
  // read first, so the session's end says why the target closed it.
  target.once('close', () => {
    void deps.watch
      .poll()
      .catch(() => {})
      .finally(() => void session.end('the target closed the connection'));
  });

  client.on('data', (chunk: Buffer) => {
    let whole: Buffer;
    try {
      const read = fromClient.push(chunk);
      for (const f of read.frames) log.client(f.type, f.body);
      whole = read.whole;
    } catch (e) {
      if (!(e instanceof MalformedPacket)) throw e;
      deps.logger.warn({ session: session.id, reason: e.message }, 'pg proxy: malformed client message');
      void session.end(`malformed client message: ${e.message}`, {
        code: '08P01',
        message: `terminating connection: malformed message (${e.message})`,
      });
      return;
    }
    if (whole.length > 0 && !target.write(whole)) {
      client.pause();
      target.once('drain', () => client.resume());
    }
  });
  client.resume();
  target.on('data', (chunk: Buffer) => {
    let read: ReturnType<Framer['push']>;
    try {
      read = fromTarget.push(chunk);
    } catch (e) {
      void session.end(`the target sent ${(e as Error).message}`, {
        code: '08P01',
        message: 'terminating connection: the database sent a malformed message',
      });
      return;
    }
    for (const f of read.frames) {
      const t = f.type;
      if (t === 0x43 || t === 0x45 || t === 0x5a || t === 0x49 || t === 0x73) log.server(t, f.body, decode);
    }
    if (read.whole.length > 0 && !client.write(read.whole)) {
      target.pause();
      client.once('drain', () => target.resume());
    }
  });
  return log;
}

import type { Kysely } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import { StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import type { AuthSource } from './auth-audit.js';
import type { HostSessionMode } from './identity-config.js';
import type { HostMade, SessionStore } from './session-store.js';

/**
 * What a `first-factor` host-made session may call: who am I, my factors, enrolling one, signing out. Enrolling
 * is further limited to someone with no factor yet (mfa/factors.ts): with none, nobody can have stepped up as
 * them, so the factor the session plants is the first and is announced. Everything else (a step-up, approving,
 * requesting, tokens) needs a session the person signed in to, or their API token.
 */
const FIRST_FACTOR_ROUTES = new Set([
  'GET /v1/whoami',
  'GET /auth/session',
  'POST /auth/logout',
  'GET /v1/mfa',
  'POST /v1/mfa/totp/enroll',
  'POST /v1/mfa/totp/confirm',
  'POST /v1/mfa/webauthn/register/options',
  'POST /v1/mfa/webauthn/register/verify',
]);

/** The audit action announcing a host-made session: the user it was made for is under `notify`. */
export const HOST_SESSION_CREATED = 'session.host-created';

export interface HostSessionUse {
  sessionId: string;
  userId: string;
  hostMade: HostMade;
  /** `METHOD /route` as the route table keys it. */
  route: string;
  source: AuthSource;
  now: Date;
}

export interface HostSessions {
  readonly mode: HostSessionMode;
  /**
   * Called for every request made with a host-made session, before it acts: writes the audit event announcing
   * the session if none was written yet (exactly once, across servers), then refuses it when the deployment
   * turned host-made sessions off (HOST_SESSIONS_OFF) or limits them and the route is not enrolment
   * (HOST_SESSION_LIMITED). Returns whether the session is limited to enrolling a first factor.
   */
  admit(use: HostSessionUse): Promise<{ limited: boolean }>;
}

export function createHostSessions(deps: {
  db: Kysely<Database>;
  audit: AuditWriter;
  sessions: Pick<SessionStore, 'markAnnounced'>;
  mode: HostSessionMode;
}): HostSessions {
  async function announce(use: HostSessionUse): Promise<void> {
    const { hostMade } = use;
    await deps.db.transaction().execute(async (trx) => {
      if (!(await deps.sessions.markAnnounced(trx, use.sessionId, use.now))) return;
      await deps.audit.append(trx, {
        at: use.now,
        // The operator, not the person: the session is theirs until the person has a factor of their own.
        actor: `host:${hostMade.by}@${hostMade.host}`,
        action: HOST_SESSION_CREATED,
        requestId: null,
        target: { principal: use.userId },
        source: { ...use.source, via: 'host-session', hostSession: use.sessionId },
        details: {
          user: use.userId,
          session: use.sessionId,
          by: hostMade.by,
          host: hostMade.host,
          createdAt: hostMade.createdAt.toISOString(),
          mode: deps.mode,
          // For the notifier: the person someone signed in on the host should hear of it.
          notify: [use.userId],
        },
      });
    });
  }

  return {
    mode: deps.mode,
    async admit(use) {
      if (!use.hostMade.announced) await announce(use);
      if (deps.mode === 'off') {
        throw new StintError(
          'HOST_SESSIONS_OFF',
          'sessions made on the server host are turned off here (STINT_HOST_SESSIONS=off): sign in with `stint login`',
        );
      }
      const limited = deps.mode === 'first-factor';
      if (limited && !FIRST_FACTOR_ROUTES.has(use.route)) {
        throw new StintError(
          'HOST_SESSION_LIMITED',
          'a session made on the server host may only enrol a first second factor (STINT_HOST_SESSIONS=first-factor): use your API token or `stint login` for the rest',
        );
      }
      return { limited };
    },
  };
}

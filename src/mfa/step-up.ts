import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { StintError } from '../domain/errors.js';
import type { StintDatabase } from '../store/database.js';
import { type MfaMethod, mfaStore } from './mfa-store.js';

/** How far ahead of our clock a provider's `auth_time` may be and still be believed (its clock, not ours). */
export const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * Pure: whether a sign-in or second factor verified at `at` still counts at `now`. A time further in the future
 * than clock skew explains is a provider's broken clock or a forgery, and never counts: otherwise an `auth_time`
 * a month ahead would make one step-up (or one sign-in) last the whole session.
 */
export function isFresh(at: Date | null | undefined, now: Date, maxAgeSeconds: number): at is Date {
  if (!at) return false;
  const age = now.getTime() - at.getTime();
  return age >= -MAX_CLOCK_SKEW_MS && age < maxAgeSeconds * 1000;
}

export interface StepUp {
  readonly maxAgeSeconds: number;
  /**
   * The user's latest step-up verified in Stint, if it is still fresh; with `credentialId`, only one made with
   * that API token or session counts.
   */
  freshAt(userId: string, credentialId?: string): Promise<Date | null>;
  /**
   * Passes when the actor verified a second factor recently enough, in Stint or at the identity provider
   * (`actor.mfaAt`, from acr/amr); otherwise throws MFA_REQUIRED. `reason` completes the message:
   * "approving a critical request". Returns the verification that counted.
   */
  require(actor: Actor, reason: string): Promise<Date>;
  /** The methods a user has enrolled and confirmed, for the hint in MFA_REQUIRED. */
  methods(userId: string): Promise<MfaMethod[]>;
}

export function createStepUp(deps: {
  store: Pick<StintDatabase, 'db'>;
  clock: Clock;
  maxAgeSeconds: number;
}): StepUp {
  if (!Number.isSafeInteger(deps.maxAgeSeconds) || deps.maxAgeSeconds <= 0) {
    throw new Error(`step-up max age must be a positive number of seconds, got ${deps.maxAgeSeconds}`);
  }
  const db = deps.store.db;
  const { maxAgeSeconds } = deps;

  async function freshAt(userId: string, credentialId?: string): Promise<Date | null> {
    const at = await mfaStore.latestVerification(db, userId, credentialId);
    return isFresh(at, deps.clock(), maxAgeSeconds) ? at : null;
  }

  async function methods(userId: string): Promise<MfaMethod[]> {
    const [totp, credentials] = await Promise.all([
      mfaStore.getTotp(db, userId),
      mfaStore.listCredentials(db, userId),
    ]);
    const out: MfaMethod[] = [];
    if (totp?.confirmedAt) out.push('totp');
    if (credentials.length > 0) out.push('webauthn');
    return out;
  }

  return {
    maxAgeSeconds,
    freshAt,
    methods,
    async require(actor, reason) {
      const now = deps.clock();
      const fromProvider = actor.mfaAt ?? null;
      // Bound to the credential that stepped up: someone holding another of the user's tokens (a stolen one)
      // gains nothing from the user's own step-up.
      const inStint = await freshAt(actor.userId, actor.credential?.id);
      const candidates = [fromProvider, inStint].filter((d): d is Date => isFresh(d, now, maxAgeSeconds));
      const latest = candidates.sort((a, b) => b.getTime() - a.getTime())[0];
      if (latest) return latest;
      const enrolled = await methods(actor.userId);
      const how =
        enrolled.length > 0
          ? 'run `stint mfa verify`'
          : 'enroll one first with `stint mfa enroll totp`, then run `stint mfa verify`';
      throw new StintError(
        'MFA_REQUIRED',
        `${reason} needs a second factor verified in the last ${formatDuration(maxAgeSeconds)}: ${how}`,
        { methods: enrolled, maxAgeSeconds },
      );
    },
  };
}

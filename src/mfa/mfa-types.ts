import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { StintDatabase } from '../store/database.js';
import type { RateLimit } from './attempts.js';
import type { MfaConfig } from './mfa-config.js';
import type { MfaMethod } from './mfa-store.js';
import type { StepUp } from './step-up.js';

/** A step-up just recorded: it counts until `validUntil`. */
export interface StepUpView {
  method: MfaMethod;
  verifiedAt: string;
  validUntil: string;
}

export interface MfaStatusView {
  totp: 'none' | 'pending' | 'confirmed';
  webauthnCredentials: number;
  /** The latest step-up still fresh, if any, and until when it counts. */
  verifiedAt: string | null;
  validUntil: string | null;
  maxAgeSeconds: number;
}

/** Shown once, at enrollment: the server keeps the secret sealed and never shows it again. */
export interface TotpEnrollmentView {
  secret: string;
  otpauthUrl: string;
}

/** A reset of someone's factors (factor-reset.ts): asked for by an admin, confirmed by a second person. */
export interface FactorResetView {
  id: string;
  user: string;
  reason: string;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  confirmedBy: string | null;
  confirmedAt: string | null;
}

/** The browser's credential as JSON (PublicKeyCredential.toJSON()); checked field by field by the library. */
export type WebAuthnResponseJSON = Record<string, unknown>;

export interface MfaService {
  status(actor: Actor): Promise<MfaStatusView>;
  enrollTotp(actor: Actor): Promise<TotpEnrollmentView>;
  confirmTotp(actor: Actor, code: string): Promise<MfaStatusView>;
  verify(actor: Actor, input: { method: 'totp'; code: string }): Promise<StepUpView>;
  webauthnRegisterOptions(actor: Actor): Promise<PublicKeyCredentialCreationOptionsJSON>;
  webauthnRegisterVerify(actor: Actor, response: WebAuthnResponseJSON): Promise<{ credentialId: string }>;
  webauthnAuthenticateOptions(actor: Actor): Promise<PublicKeyCredentialRequestOptionsJSON>;
  webauthnAuthenticateVerify(actor: Actor, response: WebAuthnResponseJSON): Promise<StepUpView>;
  /** An admin asks for the reset of someone's factors (factor-reset.ts). */
  requestReset(actor: Actor, input: { user: string; reason: string }): Promise<FactorResetView>;
  /** Someone from security, a second person, confirms it: the factors are removed then. */
  confirmReset(actor: Actor, id: string): Promise<FactorResetView>;
}

export interface MfaServiceDeps {
  store: Pick<StintDatabase, 'db' | 'traits'>;
  /** The audit trail's writer (the audit module's): every verification, failure and factor change is recorded. */
  audit: AuditWriter;
  /** Seals TOTP secrets at rest (AES-256-GCM), bound to their user. */
  secrets: SecretBox;
  clock: Clock;
  stepUp: StepUp;
  config: MfaConfig;
  rateLimit?: RateLimit;
  /** How recent a sign-in must be to enrol a first factor (default five minutes). */
  reauthMaxAgeSeconds?: number;
  /** Whether the directory knows a user (for factor resets); without it every reset is refused. */
  userExists?: (userId: string) => boolean;
  /** Where a change of someone's factors is logged for them to be told (no notify module yet). */
  logger?: Pick<Logger, 'warn'>;
}

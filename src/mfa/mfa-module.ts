import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Logger } from '../logger.js';
import type { StintModule } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { DEFAULT_MFA_MAX_AGE_SECONDS, type MfaConfig } from './mfa-config.js';
import { MFA_ROUTE_ACCESS, mfaRoutes } from './mfa-routes.js';
import { createMfaService } from './mfa-service.js';
import { createStepUp } from './step-up.js';

export interface MfaModuleDeps {
  store: StintDatabase;
  /** The audit module's writer. */
  audit: AuditWriter;
  secrets: SecretBox;
  clock: () => Date;
  logger: Logger;
  /** Step-up settings; defaults: 15 min, TOTP only. */
  config?: MfaConfig;
  /** Whether the directory knows a user (factor resets are refused for anyone else). */
  userExists(userId: string): boolean;
}

/** Second factors: enrolment, verification and resets (the service), and the step-up other capabilities ask for. */
export function createMfaModule(deps: MfaModuleDeps) {
  const config = deps.config ?? {
    maxAgeSeconds: DEFAULT_MFA_MAX_AGE_SECONDS,
    issuer: 'Stint',
    webauthn: null,
  };
  const stepUp = createStepUp({ store: deps.store, clock: deps.clock, maxAgeSeconds: config.maxAgeSeconds });
  const service = createMfaService({
    store: deps.store,
    audit: deps.audit,
    secrets: deps.secrets,
    clock: deps.clock,
    stepUp,
    config,
    logger: deps.logger,
    userExists: deps.userExists,
  });
  const module: StintModule = {
    name: 'mfa',
    routes: [{ plugin: mfaRoutes(service), access: MFA_ROUTE_ACCESS }],
  };
  return { service, stepUp, module };
}

export type MfaModule = ReturnType<typeof createMfaModule>;

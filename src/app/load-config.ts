import { parseWitnesses, type WitnessConfig } from '../audit/witness/witness-config.js';
import { type BreakglassConfig, breakglassConfigFromEnv } from '../breakglass/breakglass-config.js';
import { type DirectoryConfig, directoryConfigFromEnv } from '../directory/directory-config.js';
import { isStintError, StintError } from '../domain/errors.js';
import { type IdentityConfig, IdentityConfigError, loadIdentityConfig } from '../identity/identity-config.js';
import { type MetricsConfig, metricsConfigFromEnv } from '../metrics/metrics-config.js';
import { type MfaConfig, mfaConfigFromEnv } from '../mfa/mfa-config.js';
import { type RecordingConfig, recordingConfigFromEnv } from '../recording/recording-config.js';
import { resolveConfig, type ServerConfig, type ServerFlags } from './config.js';

/** Everything a server reads from flags and the environment, checked before anything starts. */
export interface StintConfig {
  server: ServerConfig;
  identity: IdentityConfig;
  directory: DirectoryConfig;
  mfa: MfaConfig;
  witnesses: WitnessConfig[];
  breakglass: BreakglassConfig;
  metrics: MetricsConfig;
  recording: RecordingConfig;
}

/**
 * The one loader: each capability parses its own settings (its variables, its rules), and every refusal leaves
 * here in one shape, `CONFIG_INVALID` naming the variable (`details.variable`), with the capability's own rule
 * code where it has one (`details.rule`, e.g. OIDC_INSECURE_ISSUER). A new capability adds its parser here, not
 * to the server's start.
 */
export function loadConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): StintConfig {
  const server = parsed(() => resolveConfig(flags, env));
  return {
    server,
    identity: parsed(() => loadIdentityConfig(env)),
    directory: parsed(() => directoryConfigFromEnv(env)),
    mfa: parsed(() => mfaConfigFromEnv(env)),
    witnesses: parsed(() => parseWitnesses(env.STINT_AUDIT_WITNESSES)),
    breakglass: parsed(() => breakglassConfigFromEnv(env, server.dataDir)),
    metrics: parsed(() => metricsConfigFromEnv(env)),
    recording: parsed(() => recordingConfigFromEnv(env, server.dataDir)),
  };
}

const VARIABLE = /\bSTINT_[A-Z0-9_]+/;

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw asConfigInvalid(e);
  }
}

/** A parser's refusal as CONFIG_INVALID: the message names the variable; it never quotes a secret's value. */
export function asConfigInvalid(e: unknown): StintError {
  if (isStintError(e) && e.code === 'CONFIG_INVALID') {
    const details = (e as StintError<'CONFIG_INVALID'>).details ?? {};
    const variable = VARIABLE.exec(e.message)?.[0];
    return variable && details.variable === undefined
      ? new StintError('CONFIG_INVALID', e.message, { ...details, variable })
      : e;
  }
  if (!(e instanceof Error)) throw e;
  const rule = e instanceof IdentityConfigError ? e.code : undefined;
  const message = e instanceof IdentityConfigError ? e.message.slice(`${e.code}: `.length) : e.message;
  const variable = VARIABLE.exec(message)?.[0];
  return new StintError('CONFIG_INVALID', `invalid configuration: ${message}`, {
    ...(variable ? { variable } : {}),
    ...(rule ? { rule } : {}),
  });
}

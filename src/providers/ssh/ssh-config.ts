import { configError, describeRef, type Env, readConnectionRef } from '../connection-ref.js';
import type { KindConfig } from '../kind.js';
import type { TargetSpec } from '../target-spec.js';
import { type CaKey, CaKeyError, caKeySecrets, parseCaKey } from './ca-key.js';
import { parsePublicKeyLine } from './public-key.js';
import type { SshOptions } from './schemas.js';

export interface SshConfig extends KindConfig {
  resourceId: string;
  /** The user CA: signs every certificate of this resource. Its private half is the configured secret. */
  ca: CaKey;
  options: SshOptions;
  krlPath: string;
  /** `@cert-authority <pattern> <host CA key>`: the known_hosts line users are given with the credential. */
  knownHosts: string;
}

/** `host`, or `[host]:port` off port 22: how ssh names the host it checks against known_hosts. */
export function hostPatternFor(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * The resource's CA key (from its connection) and options, read once at load. Messages name where the key was
 * looked for and what is wrong with it, never a byte of it.
 */
export function parseSshConfig(target: TargetSpec<SshOptions>, env: Env): SshConfig {
  const { id, options } = target;
  const text = readConnectionRef(target, env);
  const where = target.connection ? describeRef(target.connection) : 'the connection';
  let ca: CaKey;
  try {
    ca = parseCaKey(text);
  } catch (e) {
    if (e instanceof CaKeyError) throw configError(id, `${where}: ${e.message}`);
    throw e;
  }
  const hostCa = parsePublicKeyLine(options.hostCaPublicKey);
  if (hostCa.blob.equals(ca.publicBlob)) {
    throw configError(
      id,
      'hostCaPublicKey is the user CA: sign host keys with a CA of their own, so a leak of one cannot forge the other',
    );
  }
  const pattern = options.knownHostsPattern ?? hostPatternFor(options.host, options.port);
  return {
    resourceId: id,
    ca,
    options,
    krlPath: options.krlPath ?? `${options.stateDir}/revoked.krl`,
    knownHosts: `@cert-authority ${pattern} ${hostCa.type} ${hostCa.blob.toString('base64')}`,
    secrets: caKeySecrets(text, ca),
  };
}

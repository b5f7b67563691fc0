import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { VaultConfig } from './vault-config.js';
import { providerError } from './vault-errors.js';
import { createVaultHttp, type VaultHttp } from './vault-http.js';

/** Everything a step needs to reach Vault: the API client and who Stint is there. */
export interface VaultAdmin {
  config: VaultConfig;
  owner: TargetOwner;
  http: VaultHttp;
  /** For what happens outside any call's answer (an undo that failed). */
  logger: Logger | undefined;
  /**
   * A failure as the StintError callers see: cancelled when the signal is aborted, else Vault's message with this
   * client's runtime tokens and `extraSecrets` (an issuing token) removed.
   */
  fail(action: string, err: unknown, signal: AbortSignal, extraSecrets?: readonly string[]): StintError;
}

export function connectVault(config: VaultConfig, owner: TargetOwner, logger?: Logger): VaultAdmin {
  const http = createVaultHttp(config);
  return {
    config,
    owner,
    http,
    logger,
    fail(action, err, signal, extraSecrets = []) {
      if (signal.aborted) return cancelledError(`vault target ${config.resourceId}: ${action}`, signal);
      return providerError(config.resourceId, action, err, [...http.runtimeSecrets(), ...extraSecrets]);
    },
  };
}

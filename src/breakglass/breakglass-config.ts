import { isAbsolute } from 'node:path';
import { StintError } from '../domain/errors.js';

/** Break-glass's server settings; the rest of it (who, how long, channels, drills) is the policy's. */
export interface BreakglassConfig {
  /**
   * Where offline unseal records are dropped (`stint breakglass unseal --offline --record-dir`): read at every
   * start and each minute after, each record alerted and its seal forced to rotate. Null: none are read.
   */
  recordDir: string | null;
}

/** STINT_BREAKGLASS_RECORD_DIR (an absolute path); unset: `<data dir>/breakglass-records`. */
export function breakglassConfigFromEnv(
  env: NodeJS.ProcessEnv,
  dataDir: string | undefined,
): BreakglassConfig {
  const dir = env.STINT_BREAKGLASS_RECORD_DIR?.trim();
  if (dir === undefined || dir === '') {
    return { recordDir: dataDir ? `${dataDir.replace(/\/+$/, '')}/breakglass-records` : null };
  }
  if (!isAbsolute(dir)) {
    throw new StintError('CONFIG_INVALID', 'STINT_BREAKGLASS_RECORD_DIR must be an absolute path', {
      variable: 'STINT_BREAKGLASS_RECORD_DIR',
    });
  }
  return { recordDir: dir };
}

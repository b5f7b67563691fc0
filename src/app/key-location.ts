import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { StintError } from '../domain/errors.js';

/** Lets a key file or key folder sit inside the data directory (not recommended: docs/audit.md, Keys). */
export const ALLOW_KEYS_IN_DATA_DIR = 'STINT_ALLOW_KEYS_IN_DATA_DIR';

/** Where `--demo` keeps the keys it generates when STINT_KEY_DIR is not set: beside the data folder, not in it. */
export const defaultKeyDir = (dataDir: string): string => `${resolve(dataDir).replace(/\/+$/, '')}-keys`;

function refuse(problem: string): StintError {
  return new StintError('CONFIG_INVALID', `invalid configuration: ${problem}`);
}

/** The path with symlinks resolved as far as it exists, so a link into the data folder is seen for what it is. */
function real(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : resolve(real(parent), relative(parent, absolute));
}

export function isInside(path: string, dir: string): boolean {
  const rel = relative(real(dir), real(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export interface KeyPlacement {
  dataDir: string;
  /** STINT_ALLOW_KEYS_IN_DATA_DIR=true. */
  allowInDataDir: boolean;
}

function outsideDataDir(variable: string, path: string, where: KeyPlacement, what: string): void {
  if (where.allowInDataDir || !isInside(path, where.dataDir)) return;
  throw refuse(
    `${variable}: ${path} is ${what} inside the data directory ${resolve(where.dataDir)}, beside the store: ` +
      'whoever can write the store could read the key and forge what it protects. Move it to a folder of its ' +
      `own (mode 0700) or supply the key by value, or set ${ALLOW_KEYS_IN_DATA_DIR}=true to accept that`,
  );
}

/**
 * A key file must be the owner's only (no group or other bits) and, unless allowed, outside the data directory:
 * the audit signing key is what lets the server, and only it, MAC and sign the trail its store holds.
 */
export function checkKeyFile(variable: string, path: string, where: KeyPlacement): void {
  outsideDataDir(variable, path, where, 'a key file');
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return; // Reading it reports what is wrong, naming the variable.
  }
  if ((mode & 0o077) !== 0) {
    throw refuse(
      `${variable}: ${path} has mode 0${mode.toString(8)}: a key file must be readable by its owner only ` +
        `(chmod 600 ${path})`,
    );
  }
}

/** A folder of keys: the owner's only (0700) and, unless allowed, neither the data directory nor inside it. */
export function checkKeyDir(variable: string, dir: string, where: KeyPlacement): void {
  outsideDataDir(variable, dir, where, 'a key folder');
  if (!existsSync(dir)) return;
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw refuse(
      `${variable}: ${dir} has mode 0${mode.toString(8)}: a key folder must be its owner's only (chmod 700 ${dir})`,
    );
  }
}

export function keyPlacement(env: NodeJS.ProcessEnv, dataDir: string): KeyPlacement {
  const allow = env[ALLOW_KEYS_IN_DATA_DIR];
  if (allow !== undefined && allow !== 'true' && allow !== 'false') {
    throw refuse(`${ALLOW_KEYS_IN_DATA_DIR}: must be true or false`);
  }
  return { dataDir, allowInDataDir: allow === 'true' };
}

/** The server's key files, as configured: each checked before it is read. Keys given by value need no file. */
export function checkConfiguredKeyFiles(env: NodeJS.ProcessEnv, dataDir: string): void {
  const where = keyPlacement(env, dataDir);
  if (!env.STINT_ENCRYPTION_KEY && env.STINT_ENCRYPTION_KEY_FILE)
    checkKeyFile('STINT_ENCRYPTION_KEY_FILE', env.STINT_ENCRYPTION_KEY_FILE, where);
  if (!env.STINT_AUDIT_SIGNING_KEY && env.STINT_AUDIT_SIGNING_KEY_FILE)
    checkKeyFile('STINT_AUDIT_SIGNING_KEY_FILE', env.STINT_AUDIT_SIGNING_KEY_FILE, where);
}

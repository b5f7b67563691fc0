import { dirname, join } from 'node:path';

/** Not an ESM import, which would load fs/promises and the fs streams on every run (see version.ts). */
const fs = () => process.getBuiltinModule('node:fs');

/**
 * Where `stint login` keeps the session token: $XDG_CONFIG_HOME/stint/token, else ~/.config/stint/token, mode
 * 0600 in a 0700 folder. Found from the CLI's own environment (CliIo.env) only, so tests never read a real one.
 */
export function tokenFilePath(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.STINT_TOKEN_FILE) return env.STINT_TOKEN_FILE;
  const base = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, '.config') : null);
  return base ? join(base, 'stint', 'token') : null;
}

export function readStoredToken(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const path = tokenFilePath(env);
  if (!path) return undefined;
  try {
    const token = fs().readFileSync(path, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

export function storeToken(path: string, token: string): void {
  fs().mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  fs().writeFileSync(path, `${token}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already existed: set it again.
  fs().chmodSync(path, 0o600);
}

/**
 * Stint's version from package.json, the same relative place from src/cli and dist/cli. node:fs comes through
 * process.getBuiltinModule: an ESM import of it reads every export, and its lazy `promises` and stream exports
 * load 13 internal modules (fs/promises, readline, os…) that no CLI command on the way to the server needs.
 */
export function packageVersion(): string {
  try {
    const { readFileSync } = process.getBuiltinModule('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built portal (`npm run build:web`): its one HTML shell and the hashed files under `assets/`. */
export interface BuiltPortal {
  dir: string;
  /** index.html as Vite wrote it: one module script and one stylesheet, both under /assets/, nothing inline. */
  index: string;
  /** Every file name under assets/: the only names the asset route serves (no path is ever joined from input). */
  assets: ReadonlySet<string>;
}

/**
 * Where the build puts the portal: `dist/web` beside the server's code, the same folder whether the server runs
 * from `src/` (tsx) or from `dist/` (built), both two levels under the package root.
 */
export function defaultPortalDir(): string {
  return fileURLToPath(new URL('../../dist/web', import.meta.url));
}

/** The portal built in `dir`, or null when there is none (then `/` keeps the start page). */
export function loadPortal(dir: string = defaultPortalDir()): BuiltPortal | null {
  const indexFile = join(dir, 'index.html');
  if (!existsSync(indexFile)) return null;
  const assetsDir = join(dir, 'assets');
  const assets = existsSync(assetsDir)
    ? readdirSync(assetsDir, { withFileTypes: true })
        // The compressed twins (.br, .gz) are chosen by Accept-Encoding, never asked for by name.
        .filter((e) => e.isFile() && !/\.(br|gz)$/.test(e.name))
        .map((e) => e.name)
    : [];
  return { dir, index: readFileSync(indexFile, 'utf8'), assets: new Set(assets) };
}

/**
 * The portal's policy: scripts, styles and calls from this origin only, nothing inline, no frames, no plugins.
 * WebAuthn and Web Crypto need nothing more; `form-action` stays 'self' (sign-in is a navigation, not a form).
 *
 * `'wasm-unsafe-eval'` is for the session player (asciinema-player 3): its terminal emulator is WebAssembly whose
 * bytes ship inside the player's own script, served from here, and a browser compiles WebAssembly only where the
 * policy allows it. It allows that and nothing else: not `eval`, not `new Function`, not inline script (CSP 3;
 * Chromium refuses the player's `WebAssembly.instantiate` without it, test/portal/sessions.test.ts). It is set for
 * every page because the portal moves between pages in place, under the policy of the first one loaded. The player
 * needs no style allowance: it sizes and colours itself through the CSSOM (`el.style…`), never a style attribute
 * or a <style> element, and its stylesheet is one of the portal's own files.
 */
export const PORTAL_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of the shell: never cached (a new build must be picked up at once), never framed or sniffed. */
export const PORTAL_HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': PORTAL_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
} as const;

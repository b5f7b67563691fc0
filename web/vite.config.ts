import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));

/**
 * Writes a .br and a .gz beside every script and stylesheet, once, at build time: the server sends the one the
 * browser accepts (@fastify/static's preCompressed) and never compresses per request.
 */
function precompress(): Plugin {
  return {
    name: 'stint-precompress',
    apply: 'build',
    closeBundle() {
      const assets = join(outDir, 'assets');
      for (const name of readdirSync(assets)) {
        if (!/\.(js|css|svg|json)$/.test(name)) continue;
        const file = join(assets, name);
        const data = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

/**
 * The portal: built into dist/web, served by the Stint server at / (src/server/routes/portal-routes.ts). No
 * inline script anywhere (the server's policy forbids it): the module-preload polyfill, the one thing Vite would
 * inline, is off; every browser the portal supports preloads modules itself.
 */
export default defineConfig(({ command }) => ({
  root,
  // React's production build whatever NODE_ENV the caller has (a test runner sets it to "test").
  ...(command === 'build' ? { define: { 'process.env.NODE_ENV': JSON.stringify('production') } } : {}),
  base: '/',
  plugins: [react(), precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    sourcemap: false,
    // Everything that could be inlined as a data: URL is a file instead: the policy allows images from data:
    // only for the favicon placeholder.
    assetsInlineLimit: 0,
  },
  server: {
    // `vite --config web/vite.config.ts` for work on the pages: the API is a Stint server on 7070.
    proxy: { '/v1': 'http://127.0.0.1:7070', '/auth': 'http://127.0.0.1:7070' },
  },
}));

/**
 * CLI cold start (issue 27): `stint --version` and `stint request` against a local Stint server, each run as a
 * fresh process, alternated round by round with `node -e 0` so that all three see the same machine. The CLI is
 * the shipped build (tsc -p tsconfig.build.json), compiled here into .bench-cli/ and removed afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBenchApp } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { round, type Summary, summarize } from './stats.js';

export interface CliStartFigures {
  rounds: number;
  /** Wall time from spawn to exit, ms. */
  nodeBare: Summary;
  version: Summary;
  /** The same with NODE_DISABLE_COMPILE_CACHE=1: what the compile cache saves. */
  versionNoCache: Summary;
  /** `stint request <resource> --role admin --reason … --json` answered `pending` by a real server on loopback. */
  request: Summary;
  requestNoCache: Summary;
  /**
   * The same POST from a bare `node -e` script (node:http, no CLI): the server's own share of `stint request`.
   * request ÷ this is what the CLI adds to the call it makes.
   */
  requestBare: Summary;
  /**
   * The server's own handling of the CLI's POSTs (`request` and `requestNoCache`): from the request reaching the
   * listening socket's handler to the answer's last byte handed to the socket, in the bench's process.
   */
  serverHandling?: Summary;
  /** p50 ÷ node -e 0's p50: the figures the floor is about. */
  versionRatio: number;
  requestRatio: number;
  requestOverBare: number;
}

/**
 * One POST /v1/requests as the CLI sends it (token, JSON body, Idempotency-Key), with nothing else loaded. The
 * key's random bytes come from /dev/urandom as src/cli/idempotency-key.ts takes them: node:crypto here would make
 * the bare script slower than the CLI it is the floor of.
 */
const BARE_REQUEST = `
const http = process.getBuiltinModule('node:http');
const fs = process.getBuiltinModule('node:fs');
const fd = fs.openSync('/dev/urandom', 'r');
const bytes = Buffer.alloc(16);
fs.readSync(fd, bytes);
fs.closeSync(fd);
const body = JSON.stringify({ resource: process.env.RESOURCE, role: 'admin', reason: process.env.REASON });
const req = http.request(new URL('/v1/requests', process.env.STINT_URL), {
  method: 'POST',
  headers: {
    authorization: 'Bearer ' + process.env.STINT_TOKEN,
    'content-type': 'application/json',
    'idempotency-key': bytes.toString('hex'),
  },
}, (res) => { res.resume(); res.on('end', () => { process.exitCode = res.statusCode === 201 ? 0 : 1; }); });
req.end(body);
`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Compiles src/ as `npm run build` does (without the portal) into a folder of its own beside node_modules. */
function buildCli(): { main: string; remove: () => void } {
  const out = join(ROOT, '.bench-cli');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(out, 'dist')], {
    stdio: 'inherit',
  });
  // dist/cli/version.js reads ../../package.json, and "type": "module" makes dist/ ESM.
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  return { main: join(out, 'dist/cli/main.js'), remove: () => rmSync(out, { recursive: true, force: true }) };
}

/** One process from spawn to exit; asynchronous, because the server it calls runs in this process. */
function timeProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let stderr = '';
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

export async function measureCliStart(rounds: number): Promise<CliStartFigures> {
  const cli = buildCli();
  const cacheDir = mkdtempSync(join(tmpdir(), 'stint-bench-compile-cache-'));
  const bench = await buildBenchApp('sqlite', () => () => createMemoryProvider());
  try {
    const address = await bench.app.listen({ port: 0, host: '127.0.0.1' });
    const { token } = await bench.stint.identity.tokens.create(REQUESTER, 'bench-cli', new Date());
    let timingServer = false;
    const serverMs: number[] = [];
    bench.app.server.on('request', (_req, res) => {
      if (!timingServer) return;
      const t0 = performance.now();
      res.on('finish', () => serverMs.push(performance.now() - t0));
    });
    // The child sees neither the bench's own environment tweaks nor a token file of whoever runs it.
    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_COMPILE_CACHE: cacheDir,
    };
    const noCache = { ...base, NODE_DISABLE_COMPILE_CACHE: '1' };
    const withServer = { ...base, STINT_URL: address, STINT_TOKEN: token };
    // `admin` needs the manager: the request is created and answered `pending`, so the run ends after one call.
    const request = (i: number) => [
      cli.main,
      'request',
      RESOURCE,
      '--role',
      'admin',
      '--reason',
      `cli ${i}`,
      '--json',
    ];
    const withServerTimed = async (i: number, run: () => Promise<number>) => {
      timingServer = i >= 0;
      try {
        return await run();
      } finally {
        timingServer = false;
      }
    };
    const variants = {
      nodeBare: (_: number) => timeProcess(['-e', '0'], base),
      version: (_: number) => timeProcess([cli.main, '--version'], base),
      versionNoCache: (_: number) => timeProcess([cli.main, '--version'], noCache),
      request: (i: number) => withServerTimed(i, () => timeProcess(request(i), withServer)),
      requestNoCache: (i: number) =>
        withServerTimed(i, () => timeProcess(request(i), { ...withServer, NODE_DISABLE_COMPILE_CACHE: '1' })),
      requestBare: (i: number) =>
        timeProcess(['-e', BARE_REQUEST], { ...withServer, RESOURCE, REASON: `bare ${i}` }),
    };
    const times = Object.fromEntries(Object.keys(variants).map((k) => [k, [] as number[]])) as Record<
      keyof typeof variants,
      number[]
    >;
    // Two warm-up rounds fill the compile cache and the page cache; then each round runs every variant once.
    for (let i = -2; i < rounds; i++) {
      for (const [name, run] of Object.entries(variants) as [
        keyof typeof variants,
        (i: number) => Promise<number>,
      ][]) {
        const ms = await run(i);
        if (i >= 0) times[name].push(ms);
      }
    }
    const s = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)])) as Record<
      keyof typeof variants,
      Summary
    >;
    return {
      rounds,
      ...s,
      serverHandling: summarize(serverMs),
      versionRatio: round(s.version.p50 / s.nodeBare.p50, 2),
      requestRatio: round(s.request.p50 / s.nodeBare.p50, 2),
      requestOverBare: round(s.request.p50 / s.requestBare.p50, 2),
    };
  } finally {
    await bench.close();
    rmSync(cacheDir, { recursive: true, force: true });
    cli.remove();
  }
}

/** `npx tsx bench/cli-start.ts [rounds]`: the figure alone. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  measureCliStart(Number(process.argv[2] ?? 20)).then(
    (f) => {
      process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** The figure as printed lines. */
export function renderCliStart(f: CliStartFigures): string {
  const line = (label: string, s: Summary) =>
    `  ${label.padEnd(44)} p50 ${s.p50} ms  (min ${s.min}, p90 ${s.p90})`;
  return [
    `CLI cold start, ${f.rounds} alternated rounds (wall time spawn → exit)`,
    line('node -e 0', f.nodeBare),
    line('stint --version', f.version),
    line('stint --version, compile cache off', f.versionNoCache),
    line('stint request (real server on loopback)', f.request),
    line('stint request, compile cache off', f.requestNoCache),
    line('the same POST from a bare node -e script', f.requestBare),
    ...(f.serverHandling ? [line("the server's own handling of the CLI's POST", f.serverHandling)] : []),
    `  ratios to node -e 0: --version ${f.versionRatio}×, request ${f.requestRatio}× (request ÷ bare POST ${f.requestOverBare}×)`,
  ].join('\n');
}

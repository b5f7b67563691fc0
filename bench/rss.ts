import { execFile, fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RssReport } from './rss-child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = 180_000;

/**
 * Compiles the child (and the src/ it imports) with the project's tsc into a temp dir, so it runs on plain
 * `node` as the production server does (`node dist/cli/main.js`): under tsx the loader thread and the transformed
 * sources it holds add ~30–40 MB of RSS that a deployed server does not have.
 */
export async function compileChild(name: 'rss-child' | 'soak-child' = 'rss-child'): Promise<CompiledChild> {
  const out = mkdtempSync(join(tmpdir(), 'stint-bench-rss-'));
  const config = join(out, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { rootDir: ROOT, outDir: out, sourceMap: false, noEmit: false },
      files: [join(ROOT, 'bench', `${name}.ts`), join(ROOT, 'bench', 'server-child.ts')],
      include: [],
    }),
  );
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  const entry = join(out, 'bench', `${name}.js`);
  // Started through server-child.js (the heap sized first, as `stint server` does): fork(launcher, [name, …]).
  const launcher = join(out, 'bench', 'server-child.js');
  try {
    await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', config], { cwd: ROOT });
  } catch (err) {
    // A type error elsewhere (work in progress) still emits JavaScript; only a missing output is fatal.
    if (!existsSync(entry)) throw err;
  }
  return {
    entry,
    launcher,
    name,
    cleanup: () => rmSync(out, { recursive: true, force: true }),
  };
}

export interface CompiledChild {
  entry: string;
  /** server-child.js: the entry to fork, with the child's name as its first argument. */
  launcher: string;
  name: string;
  cleanup(): void;
}

export interface MemoryResult {
  grants: number;
  /** Live heap after GC of the same app with no grant: the base of the per-grant figure. */
  idleRetainedHeapMb: number;
  /** (live heap with the grants − idle live heap) / grants, from the first run. */
  retainedBytesPerGrant: number;
  /** The server as shipped (no node flags), `repeats` times: V8's heap growth makes the peak vary run to run. */
  shipped: RssReport[];
  /** The same with flags tried (e.g. an old-space cap), once each. */
  flagged: RssReport[];
  /** The worst shipped peak: the figure held against the aim. */
  worstPeakMb: number;
}

/**
 * Server RSS with `count` active grants, each run in a child process of its own running compiled JS. The child
 * gets --expose-gc so it can report its live heap once the peak has been read; nothing calls gc() before that.
 */
export async function measureRss(
  count: number,
  concurrency: number,
  opts: { repeats: number; flagSets: string[][] },
): Promise<MemoryResult> {
  const child = await compileChild();
  try {
    const idle = await runChild(child, 0, 1, []);
    const shipped: RssReport[] = [];
    for (let i = 0; i < opts.repeats; i++) shipped.push(await runChild(child, count, concurrency, []));
    const flagged: RssReport[] = [];
    for (const flags of opts.flagSets) flagged.push(await runChild(child, count, concurrency, flags));
    const first = shipped[0] as RssReport;
    return {
      grants: count,
      idleRetainedHeapMb: idle.retainedHeapMb,
      retainedBytesPerGrant: Math.round(((first.retainedHeapMb - idle.retainedHeapMb) * 1024 * 1024) / count),
      shipped,
      flagged,
      worstPeakMb: Math.max(...shipped.map((r) => r.vmHwmMb)),
    };
  } finally {
    child.cleanup();
  }
}

export function runChild(
  child: CompiledChild,
  count: number,
  concurrency: number,
  flags: string[],
  timeoutMs = TIMEOUT_MS,
): Promise<RssReport> {
  return new Promise((resolve, reject) => {
    // A set's NAME=value entries are the child's environment (e.g. STINT_HEAP=v8), the rest node flags.
    const env = Object.fromEntries(flags.filter((f) => !f.startsWith('-')).map((f) => f.split('=', 2)));
    const proc = fork(child.launcher, [child.name, String(count), String(concurrency)], {
      execArgv: [...flags.filter((f) => f.startsWith('-')), '--expose-gc'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: RssReport | undefined;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`memory child took longer than ${timeoutMs / 1000} s`));
    }, timeoutMs);
    proc.on('message', (m) => {
      report = m as RssReport;
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (report && code === 0) resolve(report);
      else reject(new Error(`memory child exited with code ${code}`));
    });
  });
}

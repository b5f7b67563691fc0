import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkTransfer, type ProxyBench, startProxyBench, streamSsh } from './recording-ssh-app.js';
import { round, type Summary, summarize } from './stats.js';

/**
 * The SSH recording proxy (src/recording/ssh-proxy) against a real sshd, the application wired as the server
 * wires it (bench/recording-ssh-app.ts):
 * - throughput: one exec channel printing a file of base64 text (`cat`), straight to the host and through the
 *   proxy in the same run, alternating; MiB/s from the first byte to the last, counted by `wc -c` in a shell
 *   (not by this process, which runs the proxy: a consumer sharing its thread throttles it through the windows).
 *   Through the proxy every byte is also recorded (asciicast, sealed 1 MiB segments, each in the audit trail).
 * - recording size of a busy terminal: a command printing 80-column lines at ~100 lines/s, its recording's sealed
 *   bytes scaled to a minute (with the terminal's own output per minute beside it).
 * - session-end lag: sessions running a command when their grant is revoked (from the revoke's answer) or when
 *   its window ends (from its expiresAt), to the user's ssh exiting. The proxy's default poll (250 ms).
 */
export interface SshProxyFigures {
  throughput: {
    mib: number;
    runs: number;
    directMiBps: number;
    proxyMiBps: number;
    /** Proxy over direct, of the medians: the aim is ≥ 0.8. */
    ratio: number;
    /**
     * CPU time this process (the proxy, recording every byte) spent per MiB carried, median: what the proxy costs
     * whatever else runs on the machine (a direct login's bytes cost this process nothing).
     */
    proxyCpuMsPerMiB: number;
  };
  busyTerminal: {
    seconds: number;
    outputBytesPerMinute: number;
    recordingBytesPerMinute: number;
  };
  /** ms; at the window's end it may be negative (certificates end on a whole second, the session with them). */
  endLag: { revoke: Summary; windowEnd: Summary };
}

export interface SshProxyPlan {
  mib: number;
  runs: number;
  busySeconds: number;
  lagSessions: number;
}

export const SSH_PROXY_PLAN: SshProxyPlan = { mib: 64, runs: 3, busySeconds: 10, lagSessions: 20 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function throughput(b: ProxyBench, plan: SshProxyPlan): Promise<SshProxyFigures['throughput']> {
  // Made once on the host side: the measure is the channel, not the host's CPU making the data.
  const file = join(b.sshd.dir, 'bulk.txt');
  const chunk = Buffer.alloc(1 << 20);
  const lines: Buffer[] = [];
  for (let i = 0; i < plan.mib; i++) {
    for (let j = 0; j < chunk.length; j++) chunk[j] = 0x41 + ((i * 7 + j) % 26);
    for (let j = 76; j < chunk.length; j += 77) chunk[j] = 0x0a;
    lines.push(Buffer.from(chunk));
  }
  writeFileSync(file, Buffer.concat(lines), { mode: 0o644 });
  const g = await b.grant();
  const once = async (login: typeof g.direct) => {
    const r = await bulkTransfer(login, file);
    if (r.bytes !== plan.mib << 20) throw new Error(`bulk transfer carried ${r.bytes} bytes`);
    return r.bytes / (1 << 20) / r.seconds;
  };
  const direct: number[] = [];
  const proxied: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < plan.runs; i++) {
    direct.push(await once(g.direct));
    const before = process.cpuUsage();
    proxied.push(await once(g.proxy));
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000 / plan.mib);
  }
  const d = median(direct);
  const p = median(proxied);
  return {
    mib: plan.mib,
    runs: plan.runs,
    directMiBps: round(d),
    proxyMiBps: round(p),
    ratio: round(p / d),
    proxyCpuMsPerMiB: round(median(cpu)),
  };
}

async function busyTerminal(b: ProxyBench, seconds: number): Promise<SshProxyFigures['busyTerminal']> {
  const g = await b.grant();
  const lines = seconds * 100;
  // 80 columns a line (a counter and padding), 100 a second, on a pty as a person's terminal would be.
  const script = `i=0; while [ $i -lt ${lines} ]; do printf '%08d %070d\\n' $i $i; i=$((i+1)); sleep 0.01; done`;
  const started = performance.now();
  const s = streamSsh(g.proxy, [script], false, ['-tt']);
  const exit = await s.exited;
  if (exit.code !== 0) throw new Error(`busy terminal failed (${exit.code}): ${s.text()}`);
  const elapsed = (exit.at - started) / 1000;
  let bytes = 0;
  for (let i = 0; i < 200 && bytes === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    bytes = await b.recordingBytes(g.requestId);
  }
  return {
    seconds: round(elapsed),
    outputBytesPerMinute: Math.round((s.bytes() / elapsed) * 60),
    recordingBytesPerMinute: Math.round((bytes / elapsed) * 60),
  };
}

/** A session running `sleep`, once its command has started on the host. */
async function liveSession(b: ProxyBench, g: { requestId: string; proxy: Parameters<typeof streamSsh>[0] }) {
  const s = streamSsh(g.proxy, ['echo', 'started;', 'sleep', '120'], true);
  let done = false;
  void s.exited.then(() => {
    done = true;
  });
  for (let i = 0; i < 3000 && !done && !s.text().includes('started'); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!s.text().includes('started')) {
    await new Promise((r) => setTimeout(r, 500));
    const why = await b.endReasons(g.requestId);
    throw new Error(`session of ${g.requestId} did not start (ended: ${why.join('; ')}): ${s.text()}`);
  }
  return s;
}

async function endLag(b: ProxyBench, sessions: number): Promise<SshProxyFigures['endLag']> {
  const revoke: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const g = await b.grant();
    const s = await liveSession(b, g);
    await b.revoke(g.requestId);
    const at = performance.now();
    const exit = await s.exited;
    if (!s.text().includes('session ended: grant revoked'))
      throw new Error(`not ended by the revoke: ${s.text()}`);
    revoke.push(exit.at - at);
  }
  // Grants of 20 s, asked for and logged in to 400 ms apart (sshd's MaxStartups drops logins beyond 10 at once),
  // their sessions live together at the end, each ended by its window.
  const windowEnd: number[] = [];
  await Promise.all(
    Array.from({ length: sessions }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 400));
      const g = await b.grant('20s');
      const s = await liveSession(b, g);
      await s.exited;
      // performance.now() and the wall clock agree to well under a millisecond over seconds.
      const ended = Date.now();
      if (!/session ended: grant (window ended|expired)/.test(s.text())) {
        throw new Error(`not ended by the window: ${s.text()}`);
      }
      windowEnd.push(ended - g.expiresAt);
    }),
  );
  return { revoke: summarize(revoke), windowEnd: summarize(windowEnd) };
}

export async function measureSshProxy(plan: SshProxyPlan = SSH_PROXY_PLAN): Promise<SshProxyFigures> {
  const b = await startProxyBench();
  try {
    return {
      throughput: await throughput(b, plan),
      busyTerminal: await busyTerminal(b, plan.busySeconds),
      endLag: await endLag(b, plan.lagSessions),
    };
  } finally {
    await b.close();
  }
}

export function renderSshProxy(f: SshProxyFigures): string {
  const t = f.throughput;
  const lag = (s: Summary) => `p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms (n=${s.n})`;
  return [
    `SSH proxy throughput (cat of ${t.mib} MiB on an exec channel, median of ${t.runs}): ` +
      `direct ${t.directMiBps} MiB/s, through the proxy ${t.proxyMiBps} MiB/s, ratio ${t.ratio}× (aim ≥ 0.8×); ` +
      `the proxy's CPU ${t.proxyCpuMsPerMiB} ms per MiB`,
    `Recording of a busy terminal (100 lines/s of 80 columns, ${f.busyTerminal.seconds} s): ` +
      `${(f.busyTerminal.recordingBytesPerMinute / 1024).toFixed(0)} KiB per minute ` +
      `(terminal output ${(f.busyTerminal.outputBytesPerMinute / 1024).toFixed(0)} KiB per minute)`,
    `Session-end lag at a revoke (poll 250 ms): ${lag(f.endLag.revoke)}`,
    `Session-end lag at the window's end: ${lag(f.endLag.windowEnd)} (floor p99 ≤ 1000 ms)`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await measureSshProxy();
  console.log(renderSshProxy(figures));
  console.log(JSON.stringify(figures));
}

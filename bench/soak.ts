import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { StoreKind } from '../test/support/stores.js';
import { createLoopbackClient, type LoopbackReply } from './loopback.js';
import { MANAGER, REQUESTER, RESOURCE, TARGET_ENV } from './policy.js';
import { compileChild } from './rss.js';
import type { SoakHello, SoakSettled } from './soak-child.js';
import { round, type Summary, sleep, summarize } from './stats.js';

export interface SoakPlan {
  store: StoreKind;
  minutes: number;
  /** Cycles started per second (open loop: a slow server does not slow the offered load). */
  rate: number;
  /** At most this many cycles in flight; a start that finds them all busy is counted as shed. */
  maxInFlight: number;
  /** The first minute warms up: RSS growth and p99 drift are measured from its end. */
  warmupSeconds: number;
}

export interface SoakMinute {
  minute: number;
  cycles: number;
  /** request → approve → usable credential (active) → revoke answered. */
  cycle: Summary;
  rssMb: number;
}

export interface Soak {
  plan: SoakPlan;
  offered: number;
  completed: number;
  /** Starts skipped because `maxInFlight` cycles were still running: the server fell behind the rate. */
  shed: number;
  /** Answers other than the expected (HTTP status and error code → count). */
  apiErrors: Record<string, number>;
  /** Requests the issuance failed for (state `failed`): the target could have served each of them. */
  failedIssuances: number;
  achievedPerSecond: number;
  minutes: SoakMinute[];
  rssAfterWarmupMb: number;
  rssEndMb: number;
  peakRssMb: number;
  /** rssEnd ÷ rssAfterWarmup. */
  rssGrowth: number;
  /** p99 of the last minute ÷ p99 of the first minute after warm-up. */
  p99Drift: number;
  /** Where a cycle's time went, over the whole run: each call, and the wait for issuance after the approve. */
  phases: { create: Summary; approve: Summary; issuance: Summary; revoke: Summary };
  /** Principals of this store left on the target once every cycle had answered and the server settled. */
  leftOnTarget: number;
  settleMs: number;
  states: Record<string, number>;
}

const RSS_SAMPLE_MS = 1_000;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function once<T>(child: ReturnType<typeof fork>, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`soak child exited (${code}) before "${type}"`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * A soak of real cycles against a server in a child process (compiled JS, no flags, as shipped) with the real
 * PostgreSQL provider: each cycle creates a manager-tier request, approves it, waits until the credential is
 * issued on the target, and revokes it. Load is offered at a fixed rate for `minutes`; the child's RSS is read
 * every second and each minute's cycle latency kept, so growth and drift are seen, not guessed. At the end the
 * server settles and says how many of its roles are still on the target and how many issuances failed.
 */
export async function measureSoak(plan: SoakPlan, targetUrl: string): Promise<Soak> {
  const compiled = await compileChild('soak-child');
  const child = fork(compiled.launcher, [compiled.name, plan.store], {
    env: { ...process.env, [TARGET_ENV]: targetUrl },
    // STINT_BENCH_CHILD_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p": a profile of the server under the soak.
    execArgv: (process.env.STINT_BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const hello = await once<SoakHello>(child, 'hello');
    const pid = child.pid as number;
    const client = createLoopbackClient(hello.url, plan.maxInFlight);
    const auth = (user: string) => ({ authorization: `Bearer ${hello.tokens[user]}` });
    const apiErrors: Record<string, number> = {};
    const error = (what: string, r: LoopbackReply) => {
      const key = `${what}: ${r.status} ${r.body?.error?.code ?? ''}`.trim();
      apiErrors[key] = (apiErrors[key] ?? 0) + 1;
    };
    let failedIssuances = 0;
    const phases = {
      create: [] as number[],
      approve: [] as number[],
      issuance: [] as number[],
      revoke: [] as number[],
    };
    const timed = async <T>(into: number[], fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await fn();
      } finally {
        into.push(performance.now() - t);
      }
    };

    const cycle = async (i: number): Promise<boolean> => {
      const created = await timed(phases.create, () =>
        client.call('POST', '/v1/requests', auth(REQUESTER), {
          resource: RESOURCE,
          role: 'admin',
          reason: `soak ${i}`,
          duration: '1h',
        }),
      );
      if (created.status !== 201) return (error('create', created), false);
      const id = created.body.id as string;
      const approved = await timed(phases.approve, () =>
        client.call('POST', `/v1/requests/${id}/approve`, auth(MANAGER), {}),
      );
      const issuing = performance.now();
      if (approved.status !== 200) return (error('approve', approved), false);
      let state = approved.body.state as string;
      // Polled as `stint approve` waits for issuance (awaitIssuance), from a finer first step: 64 cycles polling
      // every few milliseconds were most of the server's load in a first try.
      for (let delay = 10, until = Date.now() + 30_000; state === 'approved' && Date.now() < until; ) {
        await sleep(delay);
        delay = Math.min(delay * 2, 200);
        const now = await client.call('GET', `/v1/requests/${id}`, auth(REQUESTER));
        if (now.status !== 200) return (error('read', now), false);
        state = now.body.state;
      }
      phases.issuance.push(performance.now() - issuing);
      if (state === 'failed') return (failedIssuances++, false);
      if (state !== 'active') return (error(`not active (${state})`, approved), false);
      const revoked = await timed(phases.revoke, () =>
        client.call('POST', `/v1/requests/${id}/revoke`, auth(REQUESTER), {}),
      );
      if (revoked.status !== 200) return (error('revoke', revoked), false);
      return true;
    };

    const start = Date.now();
    const end = start + plan.minutes * 60_000;
    const perMinute: { cycles: number[]; rss: number[] }[] = [];
    const bucket = (t: number) => {
      const m = Math.floor((t - start) / 60_000);
      perMinute[m] ??= { cycles: [], rss: [] };
      return perMinute[m];
    };
    let peak = 0;
    const rssSamples: { at: number; mb: number }[] = [];
    const sampler = setInterval(() => {
      const mb = rssOf(pid);
      peak = Math.max(peak, mb);
      rssSamples.push({ at: Date.now(), mb });
      bucket(Date.now()).rss.push(mb);
    }, RSS_SAMPLE_MS);

    let offered = 0;
    let completed = 0;
    let shed = 0;
    let inFlight = 0;
    const running = new Set<Promise<void>>();
    for (let i = 0; ; i++) {
      const due = start + (i * 1000) / plan.rate;
      if (due >= end) break;
      if (due > Date.now()) await sleep(due - Date.now());
      offered++;
      if (inFlight >= plan.maxInFlight) {
        shed++;
        continue;
      }
      inFlight++;
      const t0 = performance.now();
      const p = cycle(i)
        .then(
          (ok) => {
            if (!ok) return;
            completed++;
            bucket(Date.now()).cycles.push(performance.now() - t0);
          },
          (err: unknown) => {
            const key = `transport: ${err instanceof Error ? err.message : String(err)}`.slice(0, 120);
            apiErrors[key] = (apiErrors[key] ?? 0) + 1;
          },
        )
        .finally(() => {
          inFlight--;
          running.delete(p);
        });
      running.add(p);
    }
    await Promise.all(running);
    const wallMs = Date.now() - start;
    clearInterval(sampler);
    client.close();

    child.send({ type: 'finish' });
    const settled = await once<SoakSettled>(child, 'settled');

    const warmupMinutes = Math.ceil(plan.warmupSeconds / 60);
    const minutes = perMinute.map((m, minute) => ({
      minute,
      cycles: m?.cycles.length ?? 0,
      cycle: summarize(m?.cycles ?? []),
      rssMb: round(Math.max(...(m?.rss ?? [Number.NaN]))),
    }));
    const afterWarmup = rssSamples.filter((s) => s.at >= start + plan.warmupSeconds * 1000);
    const rssAfterWarmupMb = afterWarmup[0]?.mb ?? Number.NaN;
    const rssEndMb = afterWarmup.at(-1)?.mb ?? Number.NaN;
    // Whole minutes only: the last bucket may hold the tail of the run.
    const full = minutes.filter((m) => m.minute >= warmupMinutes && m.minute < plan.minutes);
    const first = full[0]?.cycle.p99 ?? Number.NaN;
    const last = full.at(-1)?.cycle.p99 ?? Number.NaN;
    return {
      plan,
      offered,
      completed,
      shed,
      apiErrors,
      failedIssuances: Math.max(failedIssuances, settled.states.failed ?? 0),
      achievedPerSecond: round((completed / wallMs) * 1000),
      minutes: minutes.filter((m) => m.minute < plan.minutes),
      rssAfterWarmupMb: round(rssAfterWarmupMb),
      rssEndMb: round(rssEndMb),
      peakRssMb: round(peak),
      rssGrowth: round(rssEndMb / rssAfterWarmupMb, 3),
      p99Drift: round(last / first, 2),
      phases: {
        create: summarize(phases.create),
        approve: summarize(phases.approve),
        issuance: summarize(phases.issuance),
        revoke: summarize(phases.revoke),
      },
      leftOnTarget: settled.leftOnTarget,
      settleMs: settled.settleMs,
      states: settled.states,
    };
  } finally {
    // It exits by itself once settled (a profile asked for is written then); killed only if it does not.
    const gone = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!gone) child.kill('SIGKILL');
    await exited;
    compiled.cleanup();
  }
}

export function renderSoak(s: Soak): string {
  const lines = [
    `Soak (${s.plan.store} store, real PostgreSQL provider, ${s.plan.minutes} min at ${s.plan.rate} cycles/s offered, ≤ ${s.plan.maxInFlight} in flight)`,
    `  offered ${s.offered}, completed ${s.completed} (${s.achievedPerSecond}/s), shed ${s.shed}, failed issuances ${s.failedIssuances}, API errors ${Object.values(s.apiErrors).reduce((a, b) => a + b, 0)}`,
    `  RSS ${s.rssAfterWarmupMb} MB after warm-up → ${s.rssEndMb} MB at the end (×${s.rssGrowth}), peak ${s.peakRssMb} MB; p99 drift ×${s.p99Drift}`,
    `  phases p50/p99 ms: ${Object.entries(s.phases)
      .map(([k, v]) => `${k} ${v.p50}/${v.p99}`)
      .join(', ')}`,
    `  left on the target after settling: ${s.leftOnTarget} (${s.settleMs} ms)`,
    '  minute  cycles   p50 ms   p99 ms   RSS MB',
    ...s.minutes.map(
      (m) =>
        `  ${String(m.minute).padStart(6)}  ${String(m.cycles).padStart(6)}  ${String(m.cycle.p50).padStart(7)}  ${String(m.cycle.p99).padStart(7)}  ${String(m.rssMb).padStart(7)}`,
    ),
  ];
  for (const [k, v] of Object.entries(s.apiErrors)) lines.push(`  error ${k}: ${v}`);
  return lines.join('\n');
}

import { randomBytes } from 'node:crypto';
import { bgDb } from '../src/breakglass/breakglass-tables.js';
import type { Actor } from '../src/domain/actor.js';
import type { StoreKind } from '../test/support/stores.js';
import { createMemoryProvider } from './memory-provider.js';
import { buildStint, startReceiver } from './notify.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { type Summary, summarize } from './stats.js';

export interface BreakglassAlertFigures {
  store: StoreKind;
  /** From the invoke call made (a real break-glass: step-up, exclusive hold, grant, alert) to the webhook's receipt. */
  invokeToAlert: Summary;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 24's figure: break-glass invoked → security's webhook received the alert. Each sample is a real invoke
 * through the break-glass service (eligibility, exclusive hold, the grant and the alert in one transaction,
 * issuance on the in-memory provider), delivered by the notifier to a local Standard Webhooks receiver; the
 * access is then revoked so the next sample can hold the resource again.
 */
export async function measureBreakglassAlert(
  opts: { store?: StoreKind; samples?: number } = {},
): Promise<BreakglassAlertFigures> {
  const store = opts.store ?? 'sqlite';
  const samples = opts.samples ?? 50;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const envName = `STINT_BENCH_BG_${randomBytes(3).toString('hex').toUpperCase()}`;
  const receiver = await startReceiver(secret);
  const provider = createMemoryProvider();
  const breakglass = `breakglass:\n  - id: bench-emergency\n    resources: [${RESOURCE}]\n    roles: [admin]\n    who: { users: [${REQUESTER}] }\n    maxDuration: 30m\n    channels: [security-pager]\n`;
  const b = await buildStint(
    store,
    `  channels:\n    security-pager: { kind: webhook, url: '${receiver.url}', secret: { env: ${envName} } }\n  routes:\n    - { audience: security, channels: [security-pager] }\n`,
    { [envName]: secret },
    500,
    breakglass,
    () => provider,
  );
  // A fresh second factor from the identity provider's claim, as a signed-in engineer would have.
  const actor = (): Actor => ({
    userId: REQUESTER,
    security: false,
    admin: false,
    auditor: false,
    source: { ip: '127.0.0.1', userAgent: 'stint-bench' },
    credential: { kind: 'session', id: 'bench', scopes: null },
    mfaAt: new Date(),
    authAt: new Date(),
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      const invoked = await b.stint.breakglass.invoker.invoke(actor(), {
        resource: RESOURCE,
        role: 'admin',
        reason: `bench break-glass ${i}`,
      });
      const [event] = await b.stint.deps.store.db
        .selectFrom('audit_events')
        .select('id')
        .where('seq', '=', invoked.invokedSeq)
        .execute();
      const id = event?.id as string;
      const deadline = Date.now() + 10_000;
      while (!receiver.got.has(id)) {
        if (Date.now() > deadline) throw new Error(`break-glass alert ${i} not received within 10 s`);
        await sleep(1);
      }
      latencies.push((receiver.got.get(id) as number) - started);
      await b.stint.requests.service.revoke(actor(), invoked.request.id, 'bench: next sample');
      // The hold is released once access has ended on the target.
      const until = Date.now() + 10_000;
      while (
        (await bgDb(b.stint.deps.store).selectFrom('breakglass_holders').select('resource').execute())
          .length > 0
      ) {
        if (Date.now() > until) throw new Error('break-glass hold not released within 10 s');
        await sleep(5);
      }
    }
  } finally {
    await b.close();
    await receiver.close();
  }
  return {
    store,
    invokeToAlert: summarize(latencies),
    notes: [
      'invoke → webhook: eligibility, the exclusive hold, the approved request and the alert in one transaction, then the notifier (a watcher between sweeps) to a local webhook',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const store of ['sqlite', 'postgresql'] as const) {
    console.log(JSON.stringify(await measureBreakglassAlert({ store, samples: 30 }), null, 2));
  }
  process.exit(0);
}

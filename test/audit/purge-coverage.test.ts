import { describe, expect, it } from 'vitest';
import { verifyLog } from '../../src/audit/log/verifier.js';
import { logKey, makeLog, ORIGIN } from './export-fixtures.js';

/** A null body counts as purged only under a signed `audit.purged` event that covers it (public verifier). */
describe('purge coverage', () => {
  const records = (log: ReturnType<typeof makeLog>) =>
    log.bodies.map((data, index) => ({ index, data, leafHash: log.leafHashes[index] as Uint8Array }));
  const verify = (log: ReturnType<typeof makeLog>, size: number) =>
    verifyLog(records(log), {
      origin: ORIGIN,
      keys: [logKey.verifier],
      checkpoints: [log.checkpoint(size)],
      requirePurges: true,
    });

  it('a signed purge event covers the bodies it names', async () => {
    expect(await verify(makeLog(60, { purgedBelow: 30, purgeEventAt: 55 }), 60)).toMatchObject({ ok: true });
  });

  it('a purge event no checkpoint covers yet (a store writer could have appended it) covers nothing', async () => {
    expect(await verify(makeLog(60, { purgedBelow: 30, purgeEventAt: 55 }), 50)).toMatchObject({
      ok: false,
      problem: { code: 'ERASED', index: 0 },
    });
  });

  it('without requirePurges the bare Merkle check accepts null bodies by their leaf hash', async () => {
    const log = makeLog(40, { purgedBelow: 10, purgeEventAt: -1 });
    const report = await verifyLog(records(log), {
      origin: ORIGIN,
      keys: [logKey.verifier],
      checkpoints: [log.checkpoint(40)],
    });
    expect(report).toMatchObject({ ok: true });
    expect(await verify(log, 40)).toMatchObject({ ok: false, problem: { code: 'ERASED', index: 0 } });
  });
});

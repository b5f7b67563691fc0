import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../src/audit/audit-writer.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

const event = (n: number) => ({
  at: new Date(),
  actor: 'alice',
  action: 'test.event',
  requestId: null,
  details: { n },
});

describe.each(STORE_KINDS)('the MAC keys belong to the audit module’s writer (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind, { stepUp: false, start: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  const macs = async () =>
    (
      await h.testStore.store.db
        .selectFrom('audit_events')
        .select(['seq', 'leaf_mac'])
        .orderBy('seq')
        .execute()
    ).map((r) => r.leaf_mac !== null);

  it('the server’s writer MACs its leaves; another writer on the same store holds no keys, and its leaf is refused', async () => {
    const before = (await macs()).length;
    await h.stint.audit.writer.append(h.testStore.store.db, event(1));
    expect((await macs()).slice(before)).toEqual([true]);
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(before + 1);
    // Building the server on this store registers nothing process-wide: a writer made elsewhere has no keys.
    await createAuditWriter([]).append(h.testStore.store.db, event(2));
    expect((await macs()).slice(before)).toEqual([true, false]);
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toMatchObject({ code: 'FORGED' });
  });
});

import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bgDb } from '../../src/breakglass/breakglass-tables.js';
import { encodeShare, parseShare } from '../../src/breakglass/seal-crypto.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { BREAKGLASS_POLICY, eventsOf } from './support.js';

const SECRET = 'stint-admin-recovery-key-0123456789';

/**
 * Stint itself down: the officers unseal with the CLI alone (no server), which writes a signed record before it
 * shows the secret. The next server to start reads it: alerted, the seal forced to rotate, a postmortem opened.
 */
describe.each(STORE_KINDS)('offline unseal, recorded and alerted when Stint is back (%s store)', (kind) => {
  let first: Harness;
  let next: Harness | undefined;
  let dir: string;
  let records: string;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stint-bg-offline-'));
    records = join(dir, 'records');
    first = await createHarness(kind, { policy: BREAKGLASS_POLICY, breakglass: { recordDir: records } });
    url = await first.app.listen({ host: '127.0.0.1', port: 0 });
    writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
    const sealed = await run(
      [
        'breakglass',
        'seal',
        '--scope',
        'stint',
        '--label',
        'Stint admin recovery key',
        '--threshold',
        '2',
        '--officers',
        'sam,dave,root',
        '--secret-file',
        join(dir, 'secret'),
        '--bundle',
        join(dir, 'bundle.json'),
        '--out-dir',
        join(dir, 'shares'),
      ],
      { env: { STINT_URL: url, STINT_TOKEN: first.tokens.root } },
    );
    expect(sealed.code, sealed.stderr).toBe(0);
  });
  afterAll(async () => {
    await next?.close();
    await first?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const shareFile = (officer: string) => join(dir, 'shares', `share-${officer}.txt`);
  // Nothing listens there: the offline path must not need a server.
  const offline = (shares: string[]) =>
    run(
      [
        'breakglass',
        'unseal',
        '--offline',
        '--bundle',
        join(dir, 'bundle.json'),
        ...shares.flatMap((s) => ['--share-file', s]),
        '--reason',
        'Stint and the IdP are down (INC-500)',
        '--record-dir',
        records,
        '--operator',
        'sam',
      ],
      { env: { STINT_URL: 'http://127.0.0.1:1' } },
    );

  it('with Stint down: a wrong or doubled share is refused by name; k good shares show the secret after the record is written', async () => {
    await first.app.close();
    await first.stint.stop();
    // dave's bytes presented as root's share: the bundle's commitment refuses it, naming root.
    const dave = parseShare(readFileSync(shareFile('dave'), 'utf8'));
    writeFileSync(join(dir, 'forged-root.txt'), encodeShare(dave.sealId, 'root', dave.bytes));
    const forged = await offline([shareFile('sam'), join(dir, 'forged-root.txt')]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/SHARE_INVALID.*root is not the one issued to them/);
    const doubled = await offline([shareFile('sam'), shareFile('sam')]);
    expect(doubled.code).toBe(1);
    expect(doubled.stderr).toMatch(/SHARE_ALREADY_GIVEN/);
    const tooFew = await offline([shareFile('dave')]);
    expect(tooFew.code).toBe(1);
    expect(existsSync(records)).toBe(false);

    const r = await offline([shareFile('sam'), shareFile('dave')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(SECRET);
    const [file] = readdirSync(records);
    const signed = JSON.parse(readFileSync(join(records, file as string), 'utf8'));
    expect(signed.record).toMatchObject({ scope: 'stint', officers: ['sam', 'dave'], operator: 'sam' });
    expect(JSON.stringify(signed)).not.toContain(SECRET);
  });

  it('the next server to start alerts it, forces rotation and opens a postmortem; a forged record is alerted as such', async () => {
    next = await createHarness(kind, {
      policy: BREAKGLASS_POLICY,
      beside: first.testStore,
      secrets: first.stint.deps.secrets,
      auditSigner: first.auditSigner,
      checkpointDir: first.checkpointDir,
      deployment: first.deployment,
      breakglass: { recordDir: records },
      stepUp: false,
    });
    // Ingested at start, before any sweep.
    const [seen] = await eventsOf(next, 'breakglass.offline_unsealed');
    expect(seen.details).toMatchObject({
      scope: 'stint',
      officers: ['sam', 'dave'],
      operator: 'sam',
      reason: 'Stint and the IdP are down (INC-500)',
      alert: true,
      notify: ['security'],
    });
    const [rotation] = await eventsOf(next, 'breakglass.rotation_required');
    expect(rotation.details).toMatchObject({ scope: 'stint', recordId: seen.details.recordId, alert: true });
    const seal = await bgDb(next.testStore.store)
      .selectFrom('breakglass_seals')
      .selectAll()
      .where('live_scope', '=', 'stint')
      .executeTakeFirstOrThrow();
    expect(seal).toMatchObject({ state: 'rotation_required', uses: 1 });
    const [opened] = await eventsOf(next, 'postmortem.opened');
    expect(opened.details).toMatchObject({
      subject: 'offline',
      owner: 'root',
      classification: 'emergency',
      notify: ['root'],
    });
    expect((await next.app.inject({ method: 'GET', url: '/readyz' })).json().degraded).toEqual([
      expect.objectContaining({ check: 'breakglass.rotation', count: 1 }),
    ]);
    expect(readdirSync(join(records, 'ingested'))).toHaveLength(1);

    // The same record again (copied back) is the same use: nothing new.
    const [file] = readdirSync(join(records, 'ingested'));
    copyFileSync(join(records, 'ingested', file as string), join(records, 'again.json'));
    // A record not made by an unseal: a signature that does not verify.
    const signed = JSON.parse(readFileSync(join(records, 'ingested', file as string), 'utf8'));
    writeFileSync(
      join(records, 'forged.json'),
      JSON.stringify({ ...signed, record: { ...signed.record, officers: ['mallory', 'sam'] } }),
    );
    await next.stint.sweep();
    expect(await eventsOf(next, 'breakglass.offline_unsealed')).toHaveLength(1);
    const [refused] = await eventsOf(next, 'breakglass.offline_record_refused');
    expect(refused).toMatchObject({ result: 'failure' });
    expect(refused.details).toMatchObject({ file: 'forged.json', alert: true });
    expect(refused.details.why).toMatch(/signature does not verify/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  checkShare,
  encodeShare,
  makeSeal,
  offlineRecordId,
  openSeal,
  parseShare,
  signOfflineRecord,
  verifyOfflineRecord,
} from '../../src/breakglass/seal-crypto.js';

const OFFICERS = ['sam', 'dave', 'carol', 'erin'];

async function sealed(threshold = 3) {
  return makeSeal({
    scope: 'prod-db',
    label: 'superuser',
    threshold,
    officers: OFFICERS,
    secret: 'hunter2-emergency',
  });
}

const bytesOf = (text: string) => parseShare(text).bytes;

describe('the sealed secret (AES-256-GCM under a key split k-of-n)', () => {
  it('any k shares of distinct officers open it; k-1 do not, and the tag says so without revealing anything', async () => {
    const { bundle, shares } = await sealed(3);
    const all = shares.map((s) => bytesOf(s.text));
    for (const pick of [
      [0, 1, 2],
      [1, 2, 3],
      [0, 2, 3],
      [3, 1, 0],
    ]) {
      const opened = await openSeal(
        bundle,
        pick.map((i) => all[i] as Uint8Array),
      );
      expect(opened.secret).toBe('hunter2-emergency');
    }
    await expect(openSeal(bundle, all.slice(0, 2))).rejects.toMatchObject({ code: 'UNSEAL_FAILED' });
    // The same share twice is not two officers.
    const twice = [all[0], all[0], all[1]] as Uint8Array[];
    await expect(openSeal(bundle, twice)).rejects.toMatchObject({ code: 'UNSEAL_FAILED' });
    // A share of another seal makes a wrong key: AES-GCM's tag refuses it, and nothing of the secret shows.
    // (Its x-coordinate, the share's last byte, must differ from the others', or it could not be combined at all.)
    const x = (b: Uint8Array) => b[b.length - 1];
    const mine = [all[0], all[1]] as Uint8Array[];
    const others = (await sealed(3)).shares.map((s) => bytesOf(s.text));
    const foreign = others.find((b) => !mine.some((m) => x(m) === x(b))) as Uint8Array;
    const e = await openSeal(bundle, [...mine, foreign]).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(e).toMatchObject({ code: 'UNSEAL_FAILED' });
    expect(e?.message).toMatch(/authentication tag did not verify/);
    expect(e?.message).not.toContain('hunter2');
  });

  it('a share is bound to its officer and seal: relabelled, altered or from another seal, it is refused by name', async () => {
    const { bundle, shares } = await sealed(2);
    const sam = parseShare((shares[0] as { text: string }).text);
    expect(checkShare(bundle, sam, 'sam').user).toBe('sam');
    // dave presenting sam's share.
    expect(() => checkShare(bundle, sam, 'dave')).toThrow(/issued to sam/);
    // sam's bytes relabelled as dave's (a valid checksum, so it parses): the commitment refuses it.
    const relabelled = parseShare(encodeShare(bundle.id, 'dave', sam.bytes));
    expect(() => checkShare(bundle, relabelled)).toThrow(/not the one issued to them/);
    // One byte changed.
    const altered = new Uint8Array(sam.bytes);
    altered[5] = (altered[5] as number) ^ 1;
    const e = (() => {
      try {
        checkShare(bundle, parseShare(encodeShare(bundle.id, 'sam', altered)));
      } catch (x) {
        return x as Error & { code: string };
      }
    })();
    expect(e?.code).toBe('SHARE_INVALID');
    // The refusal names whose share, never which bytes.
    expect(e?.message).not.toContain(Buffer.from(altered).toString('base64url'));
    const other = await sealed(2);
    expect(() => checkShare(bundle, parseShare((other.shares[0] as { text: string }).text))).toThrow(
      /belongs to seal/,
    );
  });

  it('a mistyped share fails its checksum before it is sent', async () => {
    const { shares } = await sealed(2);
    const text = (shares[1] as { text: string }).text;
    const i = text.lastIndexOf(':') - 3;
    const typo = `${text.slice(0, i)}${text[i] === 'A' ? 'B' : 'A'}${text.slice(i + 1)}`;
    expect(() => parseShare(typo)).toThrow(/does not check out/);
    expect(() => parseShare('hello')).toThrow(/not a break-glass share/);
  });

  it('an offline record verifies with the seal’s public key only, and any change breaks it', async () => {
    const { bundle, shares } = await sealed(2);
    const opened = await openSeal(
      bundle,
      shares.slice(0, 2).map((s) => bytesOf(s.text)),
    );
    const record = {
      kind: 'stint-breakglass-offline-unseal' as const,
      v: 1 as const,
      nonce: 'n1',
      sealId: bundle.id,
      scope: bundle.scope,
      at: '2025-06-01T12:00:00.000Z',
      reason: 'IdP down',
      officers: ['sam', 'dave'],
      operator: 'sam',
      host: 'laptop',
    };
    const signed = signOfflineRecord(record, opened.recordKey);
    expect(verifyOfflineRecord(signed, bundle.recordKey)).toBe(true);
    expect(
      verifyOfflineRecord({ ...signed, record: { ...record, officers: ['sam'] } }, bundle.recordKey),
    ).toBe(false);
    expect(verifyOfflineRecord(signed, (await sealed(2)).bundle.recordKey)).toBe(false);
    expect(offlineRecordId(JSON.stringify(signed))).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses a seal one person could open alone, or an officer listed twice', async () => {
    await expect(
      makeSeal({ scope: 'x', label: 'x', threshold: 1, officers: ['a', 'b'], secret: 's' }),
    ).rejects.toThrow(/one person alone never opens it/);
    await expect(
      makeSeal({ scope: 'x', label: 'x', threshold: 2, officers: ['a', 'a'], secret: 's' }),
    ).rejects.toThrow(/listed twice/);
  });
});

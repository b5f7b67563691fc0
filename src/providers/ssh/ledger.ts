import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LockAborted, withFileLock } from './file-lock.js';
import { encodeKrl, type RevokedUnderCa } from './krl.js';

/** One certificate signed for a grant. */
export interface SignedCertificate {
  serial: string;
  /** Fingerprint of the user's key: which key the certificate vouches for, without keeping the key. */
  key: string;
  signedAt: number;
  validBefore: number;
}

/** What Stint issued for one request on this CA, and whether it was cut short. */
export interface GrantRecord {
  requestId: string;
  keyId: string;
  storeId: string;
  deployment: string;
  /** The signing CA's public key blob (base64): after a CA rotation, each revocation stays under its own CA. */
  ca: string;
  issuedAt: number;
  /** The grant's window end: no certificate of it is valid past this. */
  expiresAt: number;
  /** When revoked early; its key id is in the published KRL until expiresAt (plus the clock allowance). */
  revokedAt: number | null;
  certificates: SignedCertificate[];
}

export interface LedgerState {
  format: 1;
  /** The version the KRL was last published with (a decimal string: it is a uint64 in the KRL). */
  krlVersion: string;
  grants: Record<string, GrantRecord>;
}

export interface LedgerPaths {
  stateDir: string;
  krlPath: string;
}

/** Thrown for a ledger file that is not what Stint writes: never replaced silently, revocations are in it. */
export class LedgerCorrupt extends Error {
  override readonly name = 'LedgerCorrupt';
}

const emptyState = (): LedgerState => ({ format: 1, krlVersion: '0', grants: {} });

/**
 * The CA's ledger: a JSON file in the state directory recording every grant issued on it (owner, window,
 * certificates signed) and every early revocation, and the KRL derived from it, published where hosts read it.
 * Every change happens under one lock and writes the KRL, then the ledger, each atomically (a new file renamed
 * over the old): a reader, sshd included, sees the old list or the new one, never half of one. A failure or crash
 * between the two leaves the change out of the ledger and the call failed (an issue leaves nothing; a revoke is
 * retried by the revoker until it answers), while hosts already refuse what the KRL lists.
 */
export function openLedger(paths: LedgerPaths, opts: { comment: string; keepRevokedMs: number }) {
  const ledgerPath = `${paths.stateDir}/ledger.json`;

  async function read(): Promise<LedgerState> {
    let text: string;
    try {
      text = await readFile(ledgerPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw e;
    }
    try {
      const state = JSON.parse(text) as LedgerState;
      if (state.format !== 1 || typeof state.grants !== 'object' || state.grants === null) throw new Error();
      return state;
    } catch {
      throw new LedgerCorrupt(`${ledgerPath} is not a Stint SSH ledger`);
    }
  }

  /** Revoked and not yet over, grouped by the CA that signed them. */
  function revocations(state: LedgerState, now: number): RevokedUnderCa[] {
    const byCa = new Map<string, { keyIds: string[]; serials: bigint[] }>();
    for (const g of Object.values(state.grants)) {
      if (g.revokedAt === null || g.expiresAt + opts.keepRevokedMs <= now) continue;
      const entry = byCa.get(g.ca) ?? { keyIds: [], serials: [] };
      entry.keyIds.push(g.keyId);
      for (const c of g.certificates) entry.serials.push(BigInt(c.serial));
      byCa.set(g.ca, entry);
    }
    return [...byCa.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([ca, e]) => ({ caBlob: Buffer.from(ca, 'base64'), ...e }));
  }

  return {
    ledgerPath,
    krlPath: paths.krlPath,
    read,

    /**
     * Applies `change` to the ledger under the lock and publishes the KRL it implies. `change` may throw: then
     * nothing is written. Records whose window ended (plus the clock allowance) are dropped on the way.
     */
    async update<T>(signal: AbortSignal, change: (state: LedgerState, now: number) => T): Promise<T> {
      await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
      return withFileLock(ledgerPath, signal, async () => {
        if (signal.aborted) throw new LockAborted('aborted');
        const state = await read();
        // Once more after the read, the last moment before anything is written: a caller that gave up meanwhile
        // finds nothing done.
        if (signal.aborted) throw new LockAborted('aborted');
        const now = Date.now();
        const result = change(state, now);
        for (const [principal, g] of Object.entries(state.grants)) {
          if (g.expiresAt + opts.keepRevokedMs <= now) delete state.grants[principal];
        }
        const version = BigInt(state.krlVersion) + 1n;
        state.krlVersion = version.toString();
        const krl = encodeKrl({
          version,
          generatedAt: new Date(now),
          comment: opts.comment,
          revoked: revocations(state, now),
        });
        // The KRL first: a failure between the two leaves hosts refusing more, never less, and the ledger
        // without the change, so the call fails whole and its retry makes it again.
        await mkdir(dirname(paths.krlPath), { recursive: true, mode: 0o755 });
        await writeAtomically(paths.krlPath, krl, 0o644);
        await writeAtomically(ledgerPath, JSON.stringify(state, null, 1), 0o600);
        return result;
      });
    },

    /** Whether a KRL stands where hosts read it (sshd refuses every key while its RevokedKeys file is missing). */
    async published(): Promise<boolean> {
      return stat(paths.krlPath).then(
        () => true,
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return false;
          throw e;
        },
      );
    },
  };
}

export type Ledger = ReturnType<typeof openLedger>;

async function writeAtomically(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } catch (e) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

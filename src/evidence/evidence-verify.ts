import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  isErrorResult,
  parseManifest,
  parseSegmentLine,
  SEGMENT_FILE,
} from '../audit/export/export-format.js';
import { verifyExport } from '../audit/export/export-verifier.js';
import { checkProofBundle } from '../audit/export/proof-bundle.js';
import { encodeBase64 } from '../audit/log/base64.js';
import { openCheckpoint } from '../audit/log/checkpoint.js';
import { isAuditLogError } from '../audit/log/errors.js';
import { bytesEqual } from '../audit/log/merkle.js';
import type { NoteVerifier } from '../audit/log/signed-note.js';
import { openNote } from '../audit/log/signed-note.js';
import { type CosignatureVerifier, cosignedBy } from '../audit/witness/cosignature.js';
import { ArchiveError, extractPack } from './evidence-archive.js';
import {
  ACCESS,
  AUDIT_DIR,
  BREAKGLASS,
  CONSISTENCY_PROOF,
  EVIDENCE_FORMAT,
  type EventSummary,
  type EvidenceManifest,
  INDEX,
  inclusionProofName,
  MANIFEST,
  POLICIES,
  PROOF_DIR,
  RECORDINGS,
  WITNESSES,
} from './evidence-format.js';
import { fileEntries, policyTextMatches } from './evidence-pack.js';
import { createSectionBuilder, type Sections } from './evidence-sections.js';
import { checkCasts, recordingSummary } from './recording-casts.js';

export interface EvidenceVerifyOptions {
  /** The log's trusted keys (pinned by the auditor, never taken from the pack). */
  keys: readonly NoteVerifier[];
  /** Witness keys: their cosignatures on the pack's checkpoints are checked. */
  witnesses?: readonly CosignatureVerifier[];
  /** How many of `witnesses` must have cosigned the pack's newest checkpoint (default: all given). */
  minWitnesses?: number;
  /** Hashing threads for the audit export (as `stint audit verify --offline --workers`). */
  workers?: number;
}

export type PackProblemCode =
  | 'PROOF'
  | 'ARCHIVE'
  | 'MALFORMED'
  | 'AUDIT'
  | 'BOUNDARY'
  | 'DERIVED'
  | 'POLICY'
  | 'WITNESS'
  | 'RECORDING'
  | 'FILES';

export interface VerifiedPack {
  ok: true;
  period: EvidenceManifest['period'];
  origin: string;
  createdAt: string;
  events: EventSummary;
  /** The signed checkpoint the events reach, and the newer one consistency.json proves extends it. */
  checkpoint: { size: number; rootHash: string; signedBy: string[] };
  latest: { size: number; rootHash: string };
  /** How the period's first and last events are shown to be the first and last (see below). */
  boundaries: {
    start: 'event-before' | 'log-start' | 'event-before-purged';
    end: 'event-after' | 'not-yet' | 'event-after-purged';
  };
  access: { requests: number; madeInPeriod: number };
  breakglass: { uses: number; events: number; postmortemEvents: number; drillEvents: number };
  /** Sessions of the period, their recordings and sealed segments, verdicts; `casts`: segment files checked. */
  recordings: ReturnType<typeof recordingSummary>;
  policies: { version: string; requests: number; text: boolean }[];
  policyInForce: string | null;
  witnesses: { size: number; cosigners: string[]; verifiedBy: string[] }[];
  /** The proof bundles checked on their own: inclusion of each break-glass use, and consistency. */
  proofs: { inclusion: number[]; consistency: { old: number; new: number } };
}

export type PackReport =
  | VerifiedPack
  | { ok: false; code: PackProblemCode; message: string; auditCode?: string; index?: number };

class PackProblem extends Error {
  constructor(
    readonly code: PackProblemCode,
    message: string,
    readonly extra: { auditCode?: string; index?: number } = {},
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

async function readText(dir: string, name: string): Promise<string> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch {
    throw new PackProblem('MALFORMED', `${name} is missing from the pack`);
  }
}

async function readJson(dir: string, name: string): Promise<unknown> {
  const text = await readText(dir, name);
  try {
    return JSON.parse(text);
  } catch {
    throw new PackProblem('MALFORMED', `${name} is not JSON`);
  }
}

function parsePackManifest(v: unknown): EvidenceManifest {
  if (!isObject(v) || v.format !== EVIDENCE_FORMAT) {
    throw new PackProblem('MALFORMED', `${MANIFEST} is not ${EVIDENCE_FORMAT}`);
  }
  const p = v.period;
  const e = v.events;
  const x = v.export;
  if (
    !isObject(p) ||
    typeof p.label !== 'string' ||
    typeof p.since !== 'string' ||
    typeof p.until !== 'string' ||
    Number.isNaN(Date.parse(p.since)) ||
    Number.isNaN(Date.parse(p.until)) ||
    !isObject(e) ||
    !isCount(e.start) ||
    !isCount(e.end) ||
    e.end < e.start ||
    !isObject(x) ||
    !isCount(x.start) ||
    !isCount(x.end) ||
    !isCount(x.checkpointSize) ||
    typeof v.origin !== 'string' ||
    typeof v.createdAt !== 'string' ||
    !Array.isArray(v.files)
  ) {
    throw new PackProblem('MALFORMED', `${MANIFEST} lacks the period, events, export or files it must name`);
  }
  return v as unknown as EvidenceManifest;
}

/** Reads the export's events in log order (the verifier has already checked every one against the root). */
async function* exportedEvents(auditDir: string, segments: readonly string[]) {
  for (const name of segments) {
    const lines = createInterface({ input: createReadStream(join(auditDir, name)), crlfDelay: Infinity });
    for await (const line of lines) {
      const record = parseSegmentLine(line);
      if (isErrorResult(record)) throw new PackProblem('AUDIT', `${name}: ${record.error}`);
      const { data } = record;
      yield {
        seq: record.index,
        body: data === null || typeof data === 'string' ? data : Buffer.from(data).toString('utf8'),
      };
    }
  }
}

const timeOf = (body: string | null): number | null => {
  if (body === null) return null;
  const t = (JSON.parse(body) as { time?: unknown }).time;
  return typeof t === 'string' ? Date.parse(t) : Number.NaN;
};

/**
 * Re-derives the period's sections from the verified events, checking the boundaries on the way: every event
 * the server counted in the period was stamped before its end (the range is the first event stamped at or after
 * `since` up to the first at or after `until`), the event just before it (in the pack when there is one) was
 * stamped before `since`, and the event just after it after `until`. So no event of the period can be left out
 * at either end without a check here failing.
 */
async function derive(
  auditDir: string,
  segments: readonly string[],
  m: EvidenceManifest,
): Promise<{ sections: Sections; boundaries: VerifiedPack['boundaries'] }> {
  const since = Date.parse(m.period.since);
  const until = Date.parse(m.period.until);
  const { start, end } = m.events;
  const builder = createSectionBuilder({ since: new Date(since), until: new Date(until) }, { start, end });
  let startProof: VerifiedPack['boundaries']['start'] = 'log-start';
  let endProof: VerifiedPack['boundaries']['end'] = 'not-yet';
  for await (const { seq, body } of exportedEvents(auditDir, segments)) {
    const t = timeOf(body);
    if (seq === start - 1) {
      if (t === null) startProof = 'event-before-purged';
      else if (t < since) startProof = 'event-before';
      else {
        throw new PackProblem(
          'BOUNDARY',
          `event ${seq}, just before the period's first, is stamped ${new Date(t).toISOString()}: inside the period, yet left out of it`,
          { index: seq },
        );
      }
    } else if (seq >= start && seq < end) {
      if (t !== null && !(t < until)) {
        throw new PackProblem(
          'BOUNDARY',
          `event ${seq} is stamped ${new Date(t).toISOString()}, after the period, yet counted in it`,
          { index: seq },
        );
      }
      builder.add(seq, body);
    } else if (seq === end) {
      if (t === null) endProof = 'event-after-purged';
      else if (t >= until) endProof = 'event-after';
      else {
        throw new PackProblem(
          'BOUNDARY',
          `event ${seq}, just after the period's last, is stamped ${new Date(t).toISOString()}: inside the period, yet left out of it`,
          { index: seq },
        );
      }
    }
  }
  try {
    return { sections: builder.finish(), boundaries: { start: startProof, end: endProof } };
  } catch (e) {
    throw new PackProblem('DERIVED', `the events do not cover the period's seqs: ${(e as Error).message}`);
  }
}

async function same(dir: string, name: string, derived: string): Promise<void> {
  const text = await readText(dir, name);
  if (text !== derived) {
    throw new PackProblem(
      'DERIVED',
      `${name} is not what the verified events say (recomputed from audit/, it differs)`,
    );
  }
}

async function checkPolicies(dir: string, sections: Sections) {
  const p = await readJson(dir, POLICIES);
  if (!isObject(p) || !Array.isArray(p.versions))
    throw new PackProblem('MALFORMED', `${POLICIES} has no versions`);
  const listed = p.versions as Record<string, unknown>[];
  const strip = (v: Record<string, unknown>) => ({
    version: v.version,
    requests: v.requests,
    firstSeq: v.firstSeq,
    lastSeq: v.lastSeq,
  });
  if (JSON.stringify(listed.map(strip)) !== JSON.stringify(sections.policyVersions)) {
    throw new PackProblem('DERIVED', `${POLICIES} does not list the versions the period's requests recorded`);
  }
  const inForce = isObject(p.inForce) ? p.inForce : null;
  const texts = new Map<string, string>();
  if (inForce) {
    const { version, sha256, text } = inForce;
    if (typeof version !== 'string' || typeof sha256 !== 'string' || text !== `policies/${version}.yaml`) {
      throw new PackProblem('MALFORMED', `${POLICIES} inForce is not { version, sha256, text }`);
    }
    const source = await readText(dir, text);
    if (!policyTextMatches(source, version, sha256)) {
      throw new PackProblem('POLICY', `${text} does not hash to policy version ${version}`);
    }
    texts.set(version, text);
  }
  for (const v of listed) {
    const version = String(v.version);
    if (v.text !== null && v.text !== texts.get(version)) {
      throw new PackProblem('POLICY', `${POLICIES} names a text for ${version} that the pack does not prove`);
    }
  }
  return {
    versions: listed.map((v) => ({
      version: String(v.version),
      requests: Number(v.requests),
      text: v.text !== null,
    })),
    inForce: inForce ? String(inForce.version) : null,
  };
}

/**
 * proofs/: exactly one inclusion bundle per break-glass use of the period and the consistency bundle, each
 * checked alone (proof-bundle.ts, as `stint audit check-proof` does) and against the pack's verified roots.
 */
async function checkProofs(
  dir: string,
  keys: readonly NoteVerifier[],
  useSeqs: readonly number[],
  checkpoint: { size: number; rootHash: string },
  latest: { size: number; rootHash: string },
): Promise<VerifiedPack['proofs']> {
  const expected = [CONSISTENCY_PROOF, ...useSeqs.map(inclusionProofName)].sort();
  const present = (await readdir(join(dir, PROOF_DIR)).catch(() => [] as string[]))
    .map((n) => `${PROOF_DIR}/${n}`)
    .sort();
  if (JSON.stringify(present) !== JSON.stringify(expected)) {
    throw new PackProblem(
      'PROOF',
      `${PROOF_DIR}/ holds ${present.join(', ') || 'nothing'}; the period's break-glass uses call for ${expected.join(', ')}`,
    );
  }
  for (const name of expected) {
    const check = checkProofBundle(await readJson(dir, name), keys);
    if (!check.ok) throw new PackProblem('PROOF', `${name}: ${check.code}: ${check.message}`);
    const fits =
      check.kind === 'inclusion'
        ? check.checkpoint.size === checkpoint.size && check.checkpoint.rootHash === checkpoint.rootHash
        : check.old.size === checkpoint.size &&
          check.old.rootHash === checkpoint.rootHash &&
          check.new.size === latest.size &&
          check.new.rootHash === latest.rootHash;
    if (!fits) throw new PackProblem('PROOF', `${name} is a proof against other checkpoints than the pack's`);
  }
  return { inclusion: [...useSeqs], consistency: { old: checkpoint.size, new: latest.size } };
}

async function checkWitnesses(
  dir: string,
  opts: EvidenceVerifyOptions,
  origin: string,
  known: { size: number; rootHash: Uint8Array }[],
) {
  const w = await readJson(dir, WITNESSES);
  if (!isObject(w) || !Array.isArray(w.checkpoints)) {
    throw new PackProblem('MALFORMED', `${WITNESSES} has no checkpoints`);
  }
  const out: VerifiedPack['witnesses'] = [];
  for (const c of w.checkpoints as Record<string, unknown>[]) {
    if (!isObject(c) || typeof c.note !== 'string' || !Array.isArray(c.cosigners)) {
      throw new PackProblem(
        'MALFORMED',
        `${WITNESSES} lists a checkpoint that is not { size, cosigners, note }`,
      );
    }
    let opened: ReturnType<typeof openCheckpoint>;
    try {
      opened = openCheckpoint(c.note, opts.keys, origin);
    } catch (e) {
      if (!isAuditLogError(e)) throw e;
      throw new PackProblem(
        'WITNESS',
        `${WITNESSES}: a checkpoint does not verify with the log's key: ${e.message}`,
      );
    }
    const { size, rootHash } = opened.checkpoint;
    if (c.size !== size || !known.some((k) => k.size === size && bytesEqual(k.rootHash, rootHash))) {
      throw new PackProblem(
        'WITNESS',
        `${WITNESSES}: checkpoint ${size} is not one of the pack's verified checkpoints`,
      );
    }
    const cosigners = openNote(c.note, opts.keys).unverified.map(
      (s) => `${s.name}+${s.keyId.toString(16).padStart(8, '0')}`,
    );
    const listed = (c.cosigners as { name?: unknown; keyId?: unknown }[]).map((s) => `${s.name}+${s.keyId}`);
    if (JSON.stringify(listed) !== JSON.stringify(cosigners)) {
      throw new PackProblem(
        'WITNESS',
        `${WITNESSES}: the cosigners listed for checkpoint ${size} are not the note's`,
      );
    }
    out.push({ size, cosigners, verifiedBy: cosignedBy(c.note, opts.witnesses ?? []) });
  }
  const witnesses = opts.witnesses ?? [];
  if (witnesses.length > 0) {
    const k = opts.minWitnesses ?? witnesses.length;
    const best = Math.max(0, ...out.map((c) => c.verifiedBy.length));
    if (best < k) {
      throw new PackProblem(
        'WITNESS',
        `no checkpoint of the pack is cosigned by ${k} of the ${witnesses.length} witness key(s) given (at most ${best})`,
      );
    }
  }
  return out;
}

/**
 * Verifies an evidence pack with no server: unpacks it safely, verifies the audit export against the pinned key
 * (src/audit/export's verifier: events → signed root, consistency to a newer checkpoint), checks the period's
 * boundaries, recomputes every derived file from the verified events and compares it byte for byte, checks the
 * policy texts against their versions, the witnesses' cosignatures (with their keys), and every file's SHA-256.
 */
export async function verifyEvidencePack(file: string, opts: EvidenceVerifyOptions): Promise<PackReport> {
  const tmp = await mkdtemp(join(tmpdir(), 'stint-evidence-verify-'));
  try {
    const dir = await extractPack(file, tmp);
    const m = parsePackManifest(await readJson(dir, MANIFEST));
    const auditDir = join(dir, AUDIT_DIR);
    const report = await verifyExport(auditDir, {
      keys: opts.keys,
      ...(opts.workers === undefined ? {} : { workers: opts.workers }),
    });
    if (!report.ok) {
      return {
        ok: false,
        code: 'AUDIT',
        message: `the audit export does not verify: ${report.problem.code}: ${report.problem.message}`,
        auditCode: report.problem.code,
        ...(report.problem.index !== undefined ? { index: report.problem.index } : {}),
      };
    }
    const audit = parseManifest(JSON.parse(await readFile(join(auditDir, 'manifest.json'), 'utf8')));
    if (typeof audit === 'string') throw new PackProblem('MALFORMED', audit);
    if (report.origin !== m.origin)
      throw new PackProblem('MALFORMED', `${MANIFEST} names log ${m.origin}, not ${report.origin}`);
    if (
      audit.range.since !== m.period.since ||
      audit.range.until !== m.period.until ||
      report.start !== m.export.start ||
      report.size !== m.export.end ||
      m.export.checkpointSize !== report.size
    ) {
      throw new PackProblem('MALFORMED', `${MANIFEST}'s period or export range is not the audit export's`);
    }
    // One event either side of the period, where the log has one: what the boundaries are proven with.
    if (m.export.start !== Math.max(0, m.events.start - 1) || m.events.end > m.export.end) {
      throw new PackProblem(
        'BOUNDARY',
        `the export (${m.export.start}..${m.export.end}) does not frame the period's events (${m.events.start}..${m.events.end})`,
      );
    }
    const segments = audit.files.filter((f) => SEGMENT_FILE.test(f.name)).map((f) => f.name);
    const { sections, boundaries } = await derive(auditDir, segments, m);
    if (JSON.stringify(sections.summary) !== JSON.stringify(m.events)) {
      throw new PackProblem(
        'DERIVED',
        `${MANIFEST}'s counts are not the verified events' (recomputed, they differ)`,
      );
    }
    await same(dir, ACCESS, sections.access);
    await same(dir, BREAKGLASS, sections.breakglass);
    await same(dir, RECORDINGS, sections.recordings);
    const casts = await checkCasts(dir, sections.sessions).catch((e: unknown) => {
      throw new PackProblem('RECORDING', (e as Error).message);
    });
    const policies = await checkPolicies(dir, sections);
    const witnesses = await checkWitnesses(dir, opts, report.origin, [
      { size: report.size, rootHash: report.rootHash },
      report.latest,
    ]);
    const proofs = await checkProofs(
      dir,
      opts.keys,
      sections.useSeqs,
      { size: report.size, rootHash: encodeBase64(report.rootHash) },
      { size: report.latest.size, rootHash: encodeBase64(report.latest.rootHash) },
    );
    await readText(dir, INDEX);
    const actual = await fileEntries(dir);
    if (JSON.stringify(actual) !== JSON.stringify(m.files)) {
      const listed = new Set(m.files.map((f) => f.name));
      const extra = actual.filter((f) => !listed.has(f.name)).map((f) => f.name);
      const differ = actual.filter((f) => m.files.some((g) => g.name === f.name && g.sha256 !== f.sha256));
      throw new PackProblem(
        'FILES',
        extra.length > 0
          ? `${extra.join(', ')} not listed in ${MANIFEST}`
          : differ.length > 0
            ? `${differ.map((f) => f.name).join(', ')} do(es) not match the SHA-256 in ${MANIFEST}`
            : `${MANIFEST} lists files the pack does not hold`,
      );
    }
    const access = sections.access === '' ? [] : sections.access.trimEnd().split('\n');
    const bg = JSON.parse(sections.breakglass) as {
      uses: unknown[];
      events: unknown[];
      postmortems: unknown[];
      drills: unknown[];
    };
    return {
      ok: true,
      period: m.period,
      origin: report.origin,
      createdAt: m.createdAt,
      events: sections.summary,
      checkpoint: {
        size: report.size,
        rootHash: encodeBase64(report.rootHash),
        signedBy: [...new Set(report.checkpoints.flatMap((c) => c.signedBy))],
      },
      latest: { size: report.latest.size, rootHash: encodeBase64(report.latest.rootHash) },
      boundaries,
      access: {
        requests: access.length,
        madeInPeriod: access.filter((l) => (JSON.parse(l) as { requested: unknown }).requested !== null)
          .length,
      },
      breakglass: {
        uses: bg.uses.length,
        events: bg.events.length,
        postmortemEvents: bg.postmortems.length,
        drillEvents: bg.drills.length,
      },
      recordings: recordingSummary(sections.sessions, casts),
      policies: policies.versions,
      policyInForce: policies.inForce,
      witnesses,
      proofs,
    };
  } catch (e) {
    if (e instanceof PackProblem) return { ok: false, code: e.code, message: e.message, ...e.extra };
    if (e instanceof ArchiveError) return { ok: false, code: 'ARCHIVE', message: e.message };
    throw e;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

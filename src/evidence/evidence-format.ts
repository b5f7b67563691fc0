/**
 * The auditor's evidence pack: one archive (tar.gz) an auditor checks with no server (`stint evidence verify`).
 *
 *   stint-evidence-<period>/
 *     README.md        the index: what each file shows, mapped to PCI DSS v4 10.2–10.5 and SOC 2 CC6/CC7
 *     evidence.json    this pack's manifest: period, seq ranges, counts per action, every file's SHA-256
 *     audit/           the audit export of the period (stint-audit-export/1: events, signed checkpoint, proofs)
 *     access.jsonl     who had what, when, why, approved by whom: one line per request with events in the period
 *     breakglass.json  break-glass uses, postmortems and drills (their events, by name)
 *     recordings.json  sessions through Stint's proxies: their recordings' segment hashes, failures, reviews
 *     recordings/<rec>/<segment>.cast  with --with-recordings: each sealed segment's bytes (checked by verify)
 *     policies.json    the policy versions requests of the period were decided under, and which texts are here
 *     policies/<v>.yaml the text of a version, when the server had it (its SHA-256 starts with the version)
 *     witnesses.json   the witness cosignature lines on the pack's checkpoints
 *     proofs/          stint-audit-proof/1 bundles: inclusion of each break-glass use in the pack's checkpoint, and
 *                      consistency of that checkpoint with the newer one (each checkable alone: stint audit check-proof)
 *
 * Only audit/checkpoint.txt (and consistency.json's newer checkpoint) is signed. Everything else is either
 * recomputed by `verify` from the verified events (access, break-glass, recordings, policies, the counts in
 * evidence.json) and must come out byte for byte the same, or checked against something verified (a policy text
 * against its version; a cosignature against a witness key given to verify).
 */

export const EVIDENCE_FORMAT = 'stint-evidence/1';
export const AUDIT_DIR = 'audit';
export const MANIFEST = 'evidence.json';
export const INDEX = 'README.md';
export const ACCESS = 'access.jsonl';
export const BREAKGLASS = 'breakglass.json';
export const RECORDINGS = 'recordings.json';
export const POLICIES = 'policies.json';
export const POLICY_DIR = 'policies';
export const WITNESSES = 'witnesses.json';
export const PROOF_DIR = 'proofs';
export const CONSISTENCY_PROOF = `${PROOF_DIR}/consistency.json`;
export const inclusionProofName = (seq: number) => `${PROOF_DIR}/inclusion-${seq}.json`;

/** The files derived from the events: verify recomputes each and compares bytes. */
export const DERIVED_FILES = [ACCESS, BREAKGLASS, RECORDINGS] as const;

/** How many events of one action the period holds, and where the first and last are. */
export interface ActionCount {
  count: number;
  firstSeq: number;
  lastSeq: number;
}

/** What the pack's events are: recomputed by verify from audit/. */
export interface EventSummary {
  /** Seqs [start, end) are the events recorded in the period. */
  start: number;
  end: number;
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Counts per action, in action order. Purged events have no action to count: see `purged`. */
  byAction: Record<string, ActionCount>;
  /** Events of the period whose bodies retention removed (their leaf hashes are still verified). */
  purged: { count: number; ranges: [number, number][] } | null;
  /** Events stamped outside the period though recorded within its seq range (clock skew between servers). */
  stampedOutside: number;
}

export interface EvidenceManifest {
  format: typeof EVIDENCE_FORMAT;
  period: { label: string; since: string; until: string };
  origin: string;
  createdAt: string;
  events: EventSummary;
  /** The audit export holds seqs [start, end): past the period's end up to the first checkpoint covering it. */
  export: { start: number; end: number; checkpointSize: number };
  /** Every file of the pack but this one, with its SHA-256 (a damaged copy shows; nothing here is trusted). */
  files: { name: string; sha256: string; bytes: number }[];
}

export const packDirName = (label: string) => `stint-evidence-${label.replace(/[^A-Za-z0-9._-]+/g, '_')}`;

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ProofBundle } from '../audit/export/proof-bundle.js';
import { type NoteVerifier, openNote } from '../audit/log/signed-note.js';
import type { Period } from '../report/period.js';
import { indexMarkdown } from './compliance-index.js';
import {
  ACCESS,
  BREAKGLASS,
  EVIDENCE_FORMAT,
  type EvidenceManifest,
  INDEX,
  MANIFEST,
  POLICIES,
  POLICY_DIR,
  PROOF_DIR,
  RECORDINGS,
  WITNESSES,
} from './evidence-format.js';
import type { Sections } from './evidence-sections.js';

/** The policy text the server had, with its version (the first 12 hex digits of the text's SHA-256). */
export interface PolicyText {
  version: string;
  sha256: string;
  source: string;
}

/** A checkpoint of the pack as the server lists it: with the witnesses' cosignature lines appended. */
export interface WitnessedNote {
  size: number;
  note: string;
}

export const policyFile = (version: string) => `${POLICY_DIR}/${version}.yaml`;
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** A policy text is the version it claims when its SHA-256 is the one listed and begins with the version. */
export function policyTextMatches(text: string, version: string, sha256: string): boolean {
  const actual = createHash('sha256').update(text, 'utf8').digest('hex');
  return actual === sha256 && actual.startsWith(version) && /^[0-9a-f]{12}$/.test(version);
}

/**
 * policies.json: every version requests of the period recorded (derived from the events), the text of each the
 * server had, and the version in force when the pack was made.
 */
export function policiesJson(sections: Sections, policy: PolicyText | null): string {
  const haveText = (v: string) => policy !== null && policy.version === v;
  return json({
    note:
      'Policy versions are content hashes of the policy file. Each request records the version it was decided ' +
      'under; the text of a version is here when the server still had it (it serves the policy in force only).',
    versions: sections.policyVersions.map((v) => ({
      ...v,
      text: haveText(v.version) ? policyFile(v.version) : null,
    })),
    inForce: policy
      ? { version: policy.version, sha256: policy.sha256, text: policyFile(policy.version) }
      : null,
  });
}

/** witnesses.json: the pack's checkpoints with every signature line that is not the log's own. */
export function witnessesJson(notes: readonly WitnessedNote[], keys: readonly NoteVerifier[]): string {
  return json({
    note:
      'Each checkpoint of the pack as the server lists it, with the cosignature lines of external witnesses ' +
      '(C2SP tlog-cosignature). `stint evidence verify --witness <vkey>` checks them.',
    checkpoints: notes.map(({ size, note }) => ({
      size,
      cosigners: openNote(note, keys).unverified.map((s) => ({
        name: s.name,
        keyId: s.keyId.toString(16).padStart(8, '0'),
      })),
      note,
    })),
  });
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file under `dir` (paths with `/`), sorted, the manifest itself left out. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
    if (path !== MANIFEST) out.push(path);
  }
  return out.sort();
}

export async function fileEntries(dir: string): Promise<EvidenceManifest['files']> {
  const files: EvidenceManifest['files'] = [];
  for (const name of await listFiles(dir)) {
    const path = join(dir, name);
    files.push({ name, sha256: await sha256Of(path), bytes: (await stat(path)).size });
  }
  return files;
}

/**
 * Writes the pack's own files beside the audit export already in `dir/audit`: the derived sections, the policy
 * text, the witnesses' cosigned checkpoints, the index, and last the manifest naming every file's SHA-256.
 */
export async function writePack(input: {
  dir: string;
  period: Period;
  origin: string;
  createdAt: Date;
  sections: Sections;
  export: EvidenceManifest['export'];
  policy: PolicyText | null;
  witnessNotes: readonly WitnessedNote[];
  keys: readonly NoteVerifier[];
  /** Proof bundles (stint-audit-proof/1) by their file name under proofs/. */
  proofs: readonly { name: string; bundle: ProofBundle }[];
  /** With --with-recordings: each sealed segment's bytes, `recordings/<rec>/<segment>.cast`. */
  casts?: readonly { name: string; data: Buffer }[];
}): Promise<EvidenceManifest> {
  const { dir, sections } = input;
  if (input.policy && !policyTextMatches(input.policy.source, input.policy.version, input.policy.sha256)) {
    throw new Error(`the policy text the server sent does not hash to its version ${input.policy.version}`);
  }
  const put = (name: string, text: string) => writeFile(join(dir, name), text, { flag: 'wx', mode: 0o644 });
  await put(ACCESS, sections.access);
  await put(BREAKGLASS, sections.breakglass);
  await put(RECORDINGS, sections.recordings);
  await put(POLICIES, policiesJson(sections, input.policy));
  if (input.policy) {
    await mkdir(join(dir, POLICY_DIR), { recursive: true });
    await put(policyFile(input.policy.version), input.policy.source);
  }
  await put(WITNESSES, witnessesJson(input.witnessNotes, input.keys));
  if (input.proofs.length > 0) await mkdir(join(dir, PROOF_DIR), { recursive: true });
  for (const { name, bundle } of input.proofs) await put(name, json(bundle));
  for (const { name, data } of input.casts ?? []) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), data, { flag: 'wx', mode: 0o644 });
  }
  const draft: EvidenceManifest = {
    format: EVIDENCE_FORMAT,
    period: {
      label: input.period.label,
      since: input.period.since.toISOString(),
      until: input.period.until.toISOString(),
    },
    origin: input.origin,
    createdAt: input.createdAt.toISOString(),
    events: sections.summary,
    export: input.export,
    files: [],
  };
  await put(
    INDEX,
    indexMarkdown(
      draft,
      sections.policyVersions.map((v) => v.version),
      (input.casts ?? []).length,
    ),
  );
  const manifest = { ...draft, files: await fileEntries(dir) };
  await put(MANIFEST, json(manifest));
  return manifest;
}

import { string, u32, u64 } from './wire.js';

/** PROTOCOL.krl: "SSHKRL\n\0", format 1, and the section and subsection types Stint writes. */
const KRL_MAGIC = 0x5353484b524c0a00n;
const KRL_FORMAT_VERSION = 1;
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_CERT_SERIAL_LIST = 0x20;
const KRL_SECTION_CERT_KEY_ID = 0x23;

/** What one CA revokes: certificates it signed, by key id and by serial. */
export interface RevokedUnderCa {
  /** The CA's public key blob: the KRL revokes only certificates this key signed. */
  caBlob: Buffer;
  keyIds: readonly string[];
  serials: readonly bigint[];
}

export interface KrlContents {
  /** Increases with every publication, so a host (or a person) can tell a newer list from an older one. */
  version: bigint;
  generatedAt: Date;
  comment: string;
  revoked: readonly RevokedUnderCa[];
}

const section = (type: number, data: Buffer) => Buffer.concat([Buffer.of(type), string(data)]);

/**
 * An OpenSSH key revocation list, byte for byte what `sshd`'s `RevokedKeys` and `ssh-keygen -Q` read. Entries
 * are sorted, so the same revocations always make the same sections. A KRL with no section revokes nothing and is
 * still valid: hosts can point at it before the first revocation.
 */
export function encodeKrl(krl: KrlContents): Buffer {
  const header = Buffer.concat([
    u64(KRL_MAGIC),
    u32(KRL_FORMAT_VERSION),
    u64(krl.version),
    u64(BigInt(Math.floor(krl.generatedAt.getTime() / 1000))),
    u64(0n),
    string(''),
    string(krl.comment),
  ]);
  const sections = krl.revoked.flatMap(({ caBlob, keyIds, serials }) => {
    const subsections: Buffer[] = [];
    const ids = [...new Set(keyIds)].sort();
    if (ids.length > 0)
      subsections.push(section(KRL_SECTION_CERT_KEY_ID, Buffer.concat(ids.map((id) => string(id)))));
    const sorted = [...new Set(serials)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (sorted.length > 0) {
      subsections.push(section(KRL_SECTION_CERT_SERIAL_LIST, Buffer.concat(sorted.map((s) => u64(s)))));
    }
    if (subsections.length === 0) return [];
    return [section(KRL_SECTION_CERTIFICATES, Buffer.concat([string(caBlob), string(''), ...subsections]))];
  });
  return Buffer.concat([header, ...sections]);
}

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createEd25519Signer,
  generateNoteKey,
  keyIdFor,
  openNote,
  parseSkey,
  parseVkey,
  signNote,
  vkeyFor,
} from '../../src/audit/log/signed-note.js';

/**
 * The example key and note of Go's reference implementation, golang.org/x/mod/sumdb/note (repository
 * golang/mod, sumdb/note/note_test.go: TestNewVerifier, TestSign, TestOpen). Ed25519 is deterministic, so
 * producing the same note byte for byte shows Go tooling and C2SP witnesses read our notes as we mean them.
 */
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const code = (c: string) => expect.objectContaining({ code: c });

describe('C2SP signed-note, against the Go reference vectors', () => {
  it('parses the reference vkey and skey, and derives the same key ID and vkey', () => {
    const verifier = parseVkey(GO_VKEY);
    expect(verifier.name).toBe('PeterNeumann');
    expect(verifier.keyId).toBe(0xc74f20a3);
    expect(keyIdFor('PeterNeumann', verifier.publicKey)).toBe(0xc74f20a3);
    const signer = parseSkey(GO_SKEY);
    expect(signer.vkey).toBe(GO_VKEY);
    expect(vkeyFor('PeterNeumann', signer.publicKey)).toBe(GO_VKEY);
  });

  it('signs the reference text to the reference note, byte for byte', () => {
    expect(signNote(TEXT, [parseSkey(GO_SKEY)])).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('opens it: known keys verified, unknown keys listed but ignored (TestOpen)', () => {
    const note = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const one = openNote(note, [parseVkey(GO_VKEY)]);
    expect(one.text).toBe(TEXT);
    expect(one.verified.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(one.unverified.map((s) => [s.name, s.keyId])).toEqual([['EnochRoot', 0xaf0cfe78]]);
    const both = openNote(note, [parseVkey(GO_VKEY), parseVkey(ENOCH_VKEY)]);
    expect(both.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(() => openNote(note, [])).toThrow(code('NOTE_UNVERIFIED'));
    // As bytes (read from a file) too.
    expect(openNote(Buffer.from(note), [parseVkey(GO_VKEY)]).text).toBe(TEXT);
  });

  it('rejects the whole note when a known key signature fails; drops repeats', () => {
    const bad = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    expect(() => openNote(bad, [parseVkey(GO_VKEY)])).toThrow(code('NOTE_INVALID_SIGNATURE'));
    const enochBad = `${ENOCH_SIG.slice(0, 60)}ABCD${ENOCH_SIG.slice(60)}`;
    const dup = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${enochBad}`, [
      parseVkey(GO_VKEY),
    ]);
    expect(dup.verified).toHaveLength(1);
    expect(dup.unverified).toHaveLength(2);
  });

  it('refuses malformed notes (TestOpen badMsgs, the 100-signature limit)', () => {
    const verifiers = [parseVkey(GO_VKEY)];
    for (const msg of [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\u0001${TEXT}\n${PETER_SIG}`,
      `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
      `${TEXT}\n${PETER_SIG.repeat(101)}`,
    ]) {
      expect(() => openNote(msg, verifiers), JSON.stringify(msg)).toThrow(code('NOTE_MALFORMED'));
    }
    const invalidUtf8 = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${TEXT}\n${PETER_SIG}`)]);
    expect(() => openNote(invalidUtf8, verifiers)).toThrow(code('NOTE_MALFORMED'));
  });

  it('refuses mangled vkeys and skeys (TestNewVerifier / TestNewSigner manglings)', () => {
    for (const key of [GO_VKEY, GO_SKEY]) {
      const parse = key === GO_VKEY ? parseVkey : parseSkey;
      for (let i = 0; i < key.length; i++) {
        const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
        // Only case-insensitive hex may survive a change: Go parses the key ID with ParseUint, so do we.
        if (mangled.toLowerCase() === key.toLowerCase()) continue;
        expect(() => parse(mangled), mangled).toThrow(code('KEY_INVALID'));
      }
      for (const cut of [1, 10, key.length - 1])
        expect(() => parse(key.slice(0, cut))).toThrow(code('KEY_INVALID'));
    }
    // Wrong key length, unknown algorithm (each with a key ID recomputed to match).
    expect(() =>
      parseVkey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    ).toThrow(code('KEY_INVALID'));
    expect(() => parseVkey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow(
      code('KEY_INVALID'),
    );
  });
});

describe('signing our own notes', () => {
  const origin = 'stint.example.com/audit';
  const key = () => parseSkey(generateNoteKey(origin).skey);

  it('round-trips, with keys from a generated skey or a node:crypto key pair', () => {
    const a = key();
    const { privateKey } = generateKeyPairSync('ed25519');
    const b = createEd25519Signer(origin, privateKey);
    for (const signer of [a, b]) {
      const opened = openNote(signNote('hello\n', [signer]), [parseVkey(signer.vkey)]);
      expect(opened.text).toBe('hello\n');
      expect(opened.verified[0]?.keyId).toBe(signer.keyId);
    }
  });

  it('fails with the wrong key, and when the text is tampered with', () => {
    const signer = key();
    const other = key();
    const note = signNote('size 10\n', [signer]);
    // Same name, different key: the key ID differs, so the signature is unknown and the note unverified.
    expect(() => openNote(note, [other.verifier])).toThrow(code('NOTE_UNVERIFIED'));
    expect(() => openNote(note.replace('size 10', 'size 11'), [signer.verifier])).toThrow(
      code('NOTE_INVALID_SIGNATURE'),
    );
    // A signature line copied under another key's name and ID: the known key's check fails.
    const forged = note.replace(/ [A-Za-z0-9+/=]+\n$/, (m) => {
      const sig = Buffer.from(m.trim(), 'base64');
      sig.writeUInt32BE(other.keyId, 0);
      return ` ${sig.toString('base64')}\n`;
    });
    expect(() => openNote(forged, [other.verifier])).toThrow(code('NOTE_INVALID_SIGNATURE'));
  });

  it('key rotation: one note signed by the old and the new key verifies under either alone', () => {
    const oldKey = key();
    const newKey = key();
    const note = signNote('rotating\n', [oldKey, newKey]);
    expect(openNote(note, [oldKey.verifier]).verified.map((s) => s.keyId)).toEqual([oldKey.keyId]);
    expect(openNote(note, [newKey.verifier]).verified.map((s) => s.keyId)).toEqual([newKey.keyId]);
    expect(openNote(note, [newKey.verifier]).unverified.map((s) => s.keyId)).toEqual([oldKey.keyId]);
    expect(openNote(note, [oldKey.verifier, newKey.verifier]).verified).toHaveLength(2);
  });

  it('refuses text it cannot sign faithfully, and bad key names', () => {
    const signer = key();
    expect(() => signNote('no newline', [signer])).toThrow(code('NOTE_TEXT_INVALID'));
    expect(() => signNote('tab\there\n', [signer])).toThrow(code('NOTE_TEXT_INVALID'));
    expect(() => signNote('lone \ud800\n', [signer])).toThrow(code('NOTE_TEXT_INVALID'));
    expect(() => signNote('ok\n', [])).toThrow(code('INVALID_ARGUMENT'));
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u3000b']) {
      expect(() => generateNoteKey(name), JSON.stringify(name)).toThrow(code('KEY_INVALID'));
    }
  });
});

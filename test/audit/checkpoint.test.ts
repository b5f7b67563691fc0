import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../src/audit/log/checkpoint.js';
import { EMPTY_ROOT, leafHash } from '../../src/audit/log/merkle.js';
import { generateNoteKey, openNote, parseSkey, signNote } from '../../src/audit/log/signed-note.js';

const origin = 'stint.example.com/audit';
const code = (c: string) => expect.objectContaining({ code: c });
const root = leafHash('root');
const rootB64 = Buffer.from(root).toString('base64');

describe('C2SP tlog-checkpoint', () => {
  it('formats the body exactly: origin, decimal size, base64 root, extensions, final newline', () => {
    expect(formatCheckpoint({ origin, size: 20852163, rootHash: root })).toBe(
      `${origin}\n20852163\n${rootB64}\n`,
    );
    expect(formatCheckpoint({ origin, size: 0, rootHash: EMPTY_ROOT })).toBe(
      `${origin}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`,
    );
    expect(formatCheckpoint({ origin, size: 1, rootHash: root, extensions: ['ext one', 'two'] })).toBe(
      `${origin}\n1\n${rootB64}\next one\ntwo\n`,
    );
  });

  it('parses what it formats, and the C2SP example body', () => {
    const cp = { origin, size: 42, rootHash: root, extensions: ['x'] };
    const parsed = parseCheckpoint(formatCheckpoint(cp));
    expect(parsed.origin).toBe(origin);
    expect(parsed.size).toBe(42);
    expect(Buffer.from(parsed.rootHash).equals(Buffer.from(root))).toBe(true);
    expect(parsed.extensions).toEqual(['x']);
    const example = parseCheckpoint(
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
    expect(example.size).toBe(20852163);
  });

  it.each([
    ['no final newline', `${origin}\n1\n${rootB64}`],
    ['too few lines', `${origin}\n1\n`],
    ['empty origin', `\n1\n${rootB64}\n`],
    ['leading zero', `${origin}\n01\n${rootB64}\n`],
    ['sign', `${origin}\n+1\n${rootB64}\n`],
    ['negative', `${origin}\n-1\n${rootB64}\n`],
    ['spaces in size', `${origin}\n 1\n${rootB64}\n`],
    ['hex size', `${origin}\n0x10\n${rootB64}\n`],
    ['size past 2^53', `${origin}\n9007199254740993\n${rootB64}\n`],
    ['root not base64', `${origin}\n1\n${rootB64.replace('=', '!')}\n`],
    ['root unpadded', `${origin}\n1\n${rootB64.replace('=', '')}\n`],
    ['root 31 bytes', `${origin}\n1\n${Buffer.alloc(31).toString('base64')}\n`],
    ['root 33 bytes', `${origin}\n1\n${Buffer.alloc(33).toString('base64')}\n`],
    ['root with stray low bits', `${origin}\n1\n${rootB64.slice(0, 42)}B=\n`],
    ['empty extension line', `${origin}\n1\n${rootB64}\n\nx\n`],
    ['trailing empty line', `${origin}\n1\n${rootB64}\n\n`],
  ])('rejects a malformed body: %s', (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(code('CHECKPOINT_MALFORMED'));
  });

  it('refuses to emit what a witness would not accept', () => {
    for (const bad of ['', 'has space', 'has+plus', 'nbsp\u00a0here']) {
      expect(() => formatCheckpoint({ origin: bad, size: 1, rootHash: root }), bad).toThrow(
        code('CHECKPOINT_MALFORMED'),
      );
    }
    expect(() => formatCheckpoint({ origin, size: 1, rootHash: root.subarray(1) })).toThrow(
      code('CHECKPOINT_MALFORMED'),
    );
    expect(() => formatCheckpoint({ origin, size: -1, rootHash: root })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => formatCheckpoint({ origin, size: 1.5, rootHash: root })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => formatCheckpoint({ origin, size: 1, rootHash: root, extensions: [''] })).toThrow(
      code('CHECKPOINT_MALFORMED'),
    );
    expect(() => formatCheckpoint({ origin, size: 1, rootHash: root, extensions: ['a\nb'] })).toThrow(
      code('CHECKPOINT_MALFORMED'),
    );
  });

  describe('signed', () => {
    const logKey = parseSkey(generateNoteKey(origin).skey);

    it('round-trips through a signed note, and the signature line names the origin', () => {
      const note = signCheckpoint({ origin, size: 7, rootHash: root }, [logKey]);
      expect(note).toMatch(new RegExp(`\n\n\u2014 ${origin.replace(/\./g, '\\.')} [A-Za-z0-9+/]+=*\n$`));
      const opened = openCheckpoint(note, [logKey.verifier], origin);
      expect(opened.checkpoint.size).toBe(7);
      expect(opened.note.verified[0]?.keyId).toBe(logKey.keyId);
    });

    it('requires the expected origin and a key named like it', () => {
      const other = parseSkey(generateNoteKey('other.example/log').skey);
      const note = signCheckpoint({ origin: 'other.example/log', size: 1, rootHash: root }, [other]);
      expect(() => openCheckpoint(note, [other.verifier], origin)).toThrow(code('CHECKPOINT_WRONG_ORIGIN'));
      expect(() => signCheckpoint({ origin, size: 1, rootHash: root }, [other])).toThrow(code('KEY_INVALID'));
    });

    it('a validly signed note whose body is not a checkpoint is refused', () => {
      const note = signNote(`${origin}\n007\n${rootB64}\n`, [logKey]);
      expect(openNote(note, [logKey.verifier]).verified).toHaveLength(1);
      expect(() => openCheckpoint(note, [logKey.verifier], origin)).toThrow(code('CHECKPOINT_MALFORMED'));
    });

    it('rotation: signed by old and new key, it opens with either; cosignatures are ignored', () => {
      const newKey = parseSkey(generateNoteKey(origin).skey);
      const witness = parseSkey(generateNoteKey('witness.example/w1').skey);
      const body = formatCheckpoint({ origin, size: 3, rootHash: root });
      const note = signNote(body, [logKey, newKey, witness]);
      expect(openCheckpoint(note, [logKey.verifier], origin).checkpoint.size).toBe(3);
      expect(openCheckpoint(note, [newKey.verifier], origin).note.unverified).toHaveLength(2);
    });

    it('a changed byte anywhere in the body breaks the signature', () => {
      const note = signCheckpoint({ origin, size: 12345, rootHash: root }, [logKey]);
      const bodyEnd = note.indexOf('\n\n');
      for (let i = 0; i < bodyEnd; i++) {
        const c = note.charCodeAt(i);
        if (c === 0x0a) continue;
        const tampered = note.slice(0, i) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + note.slice(i + 1);
        expect(() => openCheckpoint(tampered, [logKey.verifier], origin)).toThrow(
          code('NOTE_INVALID_SIGNATURE'),
        );
      }
    });
  });
});

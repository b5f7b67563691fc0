import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isAuditLogError } from '../../audit/log/errors.js';
import {
  type Ed25519NoteVerifier,
  generateNoteKey,
  isValidKeyName,
  parseVkey,
} from '../../audit/log/signed-note.js';
import type { StintApi } from '../api.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** The keys a verification trusts, and the log they name. */
export interface TrustedKeys {
  readonly keys: readonly Ed25519NoteVerifier[];
  /** The log's origin: a log key is named for its log, so this is the keys' shared name. */
  readonly origin: string;
  /** False when the keys came from the server being checked (nothing was pinned). */
  readonly pinned: boolean;
}

/** Commander collector for a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const KEY_OPTION_HELP =
  'trusted log public key: a vkey or a file of vkeys, one a line (repeat for old + new during a rotation; env STINT_AUDIT_KEY)';

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

function parseOne(text: string, where: string): Ed25519NoteVerifier {
  if (text.startsWith('PRIVATE+KEY+')) {
    throw usageError(
      `${where} is a private signing key (skey): give its public vkey (stint audit key prints it)`,
    );
  }
  try {
    return parseVkey(text);
  } catch (e) {
    if (!isAuditLogError(e)) throw e;
    throw usageError(`${where} is not a vkey or a readable file of vkeys: ${e.message}`);
  }
}

/** A vkey, several separated by white space, or the path of a file of them (`#` comments allowed). */
function keysFrom(value: string, where: string): Ed25519NoteVerifier[] {
  const text = value.trim();
  if (text !== '' && existsSync(text) && statSync(text).isFile()) {
    let content: string;
    try {
      content = readFileSync(text, 'utf8');
    } catch (e) {
      throw new CliError('FILE_UNREADABLE', `cannot read ${text}: ${(e as Error).message}`);
    }
    const lines = content
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    if (lines.length === 0) throw usageError(`${text} holds no vkey`);
    return lines.map((l, i) => parseOne(l, `${text} line ${i + 1}`));
  }
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw usageError(`${where} is empty`);
  return words.map((w) => parseOne(w, where));
}

function originOf(keys: readonly Ed25519NoteVerifier[]): string {
  const names = [...new Set(keys.map((k) => k.name))];
  if (names.length !== 1) {
    throw usageError(`the keys name different logs (${names.join(', ')}): give the keys of one log`);
  }
  return names[0] as string;
}

/** Keys from --key (repeatable) or STINT_AUDIT_KEY, or null when none was given. */
export function pinnedKeys(
  values: readonly string[] | undefined,
  env: CliContext['io']['env'],
): TrustedKeys | null {
  let keys: Ed25519NoteVerifier[];
  if (values && values.length > 0) keys = values.flatMap((v) => keysFrom(v, '--key'));
  else if (env.STINT_AUDIT_KEY) keys = keysFrom(env.STINT_AUDIT_KEY, 'STINT_AUDIT_KEY');
  else return null;
  return { keys, origin: originOf(keys), pinned: true };
}

/** The server's own published keys, each checked to be a well-formed key of the origin it names. */
export async function serverKeys(api: StintApi): Promise<TrustedKeys> {
  const answer = await api.auditKey();
  if (
    !answer ||
    typeof answer.origin !== 'string' ||
    !Array.isArray(answer.keys) ||
    answer.keys.length === 0
  ) {
    throw new CliError('BAD_RESPONSE', 'GET /v1/audit/key did not answer { origin, keys: [{ vkey }] }');
  }
  const keys = answer.keys.map((k, i) => {
    try {
      return parseVkey(String(k?.vkey));
    } catch (e) {
      if (!isAuditLogError(e)) throw e;
      throw new CliError('BAD_RESPONSE', `the server's key #${i + 1} is not a valid vkey: ${e.message}`);
    }
  });
  const stray = keys.find((k) => k.name !== answer.origin);
  if (stray) {
    throw new CliError(
      'BAD_RESPONSE',
      `the server's key ${stray.vkey} is not named for its origin ${answer.origin}`,
    );
  }
  return { keys, origin: answer.origin, pinned: false };
}

/**
 * Pinned keys when given; otherwise the server's, with a warning: a server that rewrote its log and re-signed
 * it with a new key would pass a check against its own key.
 */
export async function trustedKeys(
  values: readonly string[] | undefined,
  ctx: CliContext,
  api: () => StintApi,
  note: (text: string) => void,
): Promise<TrustedKeys> {
  const pinned = pinnedKeys(values, ctx.io.env);
  if (pinned) return pinned;
  const fetched = await serverKeys(api());
  note(
    `warning: the log key was not pinned (--key or STINT_AUDIT_KEY): trusting the server's own key ` +
      `${fetched.keys.map((k) => k.vkey).join(', ')}; a server that re-signed a rewritten log would pass`,
  );
  return fetched;
}

interface KeyFlags {
  generate?: boolean;
  name?: string;
  out?: string;
}

export function registerAuditKey(audit: Command, ctx: CliContext): void {
  audit
    .command('key')
    .description("show the audit log's origin, public key(s) and key hash(es); or generate a signing key")
    .option('--generate', 'make a new Ed25519 signing key (skey) and print its public vkey; no server needed')
    .option(
      '--name <origin>',
      'with --generate: the key name, which must be the log origin (e.g. stint.example.com/audit)',
    )
    .option(
      '--out <file>',
      'with --generate: write the skey to this new file (mode 0600) instead of printing it',
    )
    .action(async (flags: KeyFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      if (!flags.generate) {
        if (flags.name || flags.out) throw usageError('--name and --out only go with --generate');
        const { origin, keys } = await serverKeys(ctx.api(cmd));
        const view = { origin, keys: keys.map((k) => ({ vkey: k.vkey, keyHash: hex8(k.keyId) })) };
        out.result(view, () => {
          out.fields([['origin', origin]]);
          for (const k of view.keys) {
            out.fields([
              ['vkey', k.vkey],
              ['key hash', k.keyHash],
            ]);
          }
        });
        return;
      }
      if (!flags.name) throw usageError('--generate needs --name <origin>: the log origin the key signs for');
      if (!isValidKeyName(flags.name)) {
        throw usageError(`--name ${JSON.stringify(flags.name)}: an origin has no spaces and no '+'`);
      }
      const { skey, vkey } = generateNoteKey(flags.name);
      const keyHash = hex8(parseVkey(vkey).keyId);
      if (flags.out) {
        try {
          // 'wx': never overwrite a signing key, which may be the only copy of the one in use.
          writeFileSync(flags.out, `${skey}\n`, { flag: 'wx', mode: 0o600 });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new CliError(
            'FILE_UNREADABLE',
            code === 'EEXIST'
              ? `${flags.out} already exists: a signing key is never overwritten`
              : `cannot write ${flags.out}: ${(e as Error).message}`,
          );
        }
        out.result({ origin: flags.name, vkey, keyHash, skeyFile: flags.out }, () => {
          out.fields([
            ['origin', flags.name],
            ['vkey', vkey],
            ['key hash', keyHash],
          ]);
        });
        out.note(
          `signing key written to ${flags.out} (mode 0600). Give it to the server as STINT_AUDIT_SIGNING_KEY_FILE; ` +
            'publish the vkey to auditors.',
        );
        return;
      }
      out.result({ origin: flags.name, vkey, keyHash, skey }, () => {
        out.fields([
          ['origin', flags.name],
          ['vkey', vkey],
          ['key hash', keyHash],
          ['skey', skey],
        ]);
      });
      out.note(
        'warning: the skey above is the private signing key: store it as a secret, never in the audit log.',
      );
    });
}

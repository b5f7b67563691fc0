import { isIP } from 'node:net';

/**
 * What a role's `grants` may hold on an SSH resource, one item each:
 *   `deploy`                          a certificate principal: a name the hosts' AuthorizedPrincipalsFile (or the
 *                                     login name itself) accepts
 *   `force-command:/usr/bin/uptime`   the critical option force-command: the only command the certificate runs
 *   `source-address:10.0.0.0/8,…`     the critical option source-address: where the certificate may log in from
 *   `extension:permit-port-forwarding` an extension granted on top of the resource's
 * Principals are user-name-like, so none can be mistaken for the prefixed forms.
 */
export const PRINCIPAL = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/;

/** The user certificate extensions OpenSSH knows (PROTOCOL.certkeys); anything else would be ignored by sshd. */
export const EXTENSIONS = [
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
] as const;
export type Extension = (typeof EXTENSIONS)[number];

const FORCE_COMMAND = 'force-command:';
const SOURCE_ADDRESS = 'source-address:';
const EXTENSION = 'extension:';

/** A command sshd runs through the user's shell: printable, one line. */
export function isCommand(text: string): boolean {
  return text.length > 0 && text.length <= 1024 && /^[\x20-\x7e]+$/.test(text) && text.trim() === text;
}

/** `addr` or `addr/bits`, IPv4 or IPv6, as sshd's addr_match_cidr_list takes them. */
export function isCidr(text: string): boolean {
  const [addr = '', bits, extra] = text.split('/');
  if (extra !== undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export type ParsedGrant =
  | { kind: 'principal'; value: string }
  | { kind: 'force-command'; value: string }
  | { kind: 'source-address'; value: string[] }
  | { kind: 'extension'; value: Extension };

/** One grant item, or null when it is none of the forms above. */
export function parseGrant(grant: string): ParsedGrant | null {
  if (grant.startsWith(FORCE_COMMAND)) {
    const value = grant.slice(FORCE_COMMAND.length);
    return isCommand(value) ? { kind: 'force-command', value } : null;
  }
  if (grant.startsWith(SOURCE_ADDRESS)) {
    const value = grant.slice(SOURCE_ADDRESS.length).split(',');
    return value.every(isCidr) ? { kind: 'source-address', value } : null;
  }
  if (grant.startsWith(EXTENSION)) {
    const value = grant.slice(EXTENSION.length);
    return (EXTENSIONS as readonly string[]).includes(value)
      ? { kind: 'extension', value: value as Extension }
      : null;
  }
  return PRINCIPAL.test(grant) ? { kind: 'principal', value: grant } : null;
}

/** What the resource's options say every certificate of it carries. */
export interface ResourceRestrictions {
  forceCommand?: string | undefined;
  sourceAddress?: readonly string[] | undefined;
  extensions: readonly Extension[];
}

/** A certificate's contents, from the role's grants over the resource's options. */
export interface CertificateGrant {
  principals: string[];
  criticalOptions: Map<string, string>;
  extensions: Map<string, null>;
}

export class GrantConflict extends Error {
  override readonly name = 'GrantConflict';
}

/**
 * Merges a role's grants with the resource's restrictions. A restriction set on the resource cannot be loosened
 * by a role: a role naming its own force-command or source-address where the resource has one is refused rather
 * than guessed at (a certificate carries each option once). Extensions add up: they are what a role grants.
 */
export function certificateGrant(
  grants: readonly string[],
  resource: ResourceRestrictions,
): CertificateGrant {
  const principals: string[] = [];
  const extensions = new Map<string, null>(resource.extensions.map((e) => [e, null]));
  let forceCommand = resource.forceCommand;
  let sourceAddress = resource.sourceAddress?.join(',');
  for (const grant of grants) {
    const parsed = parseGrant(grant);
    if (parsed === null)
      throw new GrantConflict(
        `grant "${grant}" is not a principal, force-command:, source-address: or extension:`,
      );
    if (parsed.kind === 'principal') {
      if (!principals.includes(parsed.value)) principals.push(parsed.value);
    } else if (parsed.kind === 'extension') {
      extensions.set(parsed.value, null);
    } else if (parsed.kind === 'force-command') {
      if (forceCommand !== undefined && forceCommand !== parsed.value) {
        throw new GrantConflict(
          'the role sets a force-command and so does the resource (or another grant of the role)',
        );
      }
      forceCommand = parsed.value;
    } else {
      const value = parsed.value.join(',');
      if (sourceAddress !== undefined && sourceAddress !== value) {
        throw new GrantConflict(
          'the role sets a source-address and so does the resource (or another grant of the role)',
        );
      }
      sourceAddress = value;
    }
  }
  if (principals.length === 0) throw new GrantConflict('the role grants no principal to log in as');
  const criticalOptions = new Map<string, string>();
  if (forceCommand !== undefined) criticalOptions.set('force-command', forceCommand);
  if (sourceAddress !== undefined) criticalOptions.set('source-address', sourceAddress);
  return { principals, criticalOptions, extensions };
}

import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { EXTENSIONS, isCidr, isCommand, PRINCIPAL, parseGrant } from './grants.js';
import { isUserPublicKey, PublicKeyError, parsePublicKeyLine } from './public-key.js';

// Messages are fixed strings: zod's defaults could quote the input.
const absolutePath = z
  .string({ error: 'must be a path' })
  .refine(isAbsolute, { error: 'must be an absolute path' });

export const sshOptions = z.strictObject({
  /** Where users connect: a host name or address, shown with the credential and used by `stint ssh`. */
  host: z.string({ error: 'must name the host users connect to' }).regex(/^[A-Za-z0-9._:-]{1,253}$/, {
    error: 'must be a host name or address',
  }),
  port: z.int({ error: 'must be a whole number' }).min(1).max(65_535).default(22),
  /** The account users log in as; by default the first principal the role grants. */
  user: z.string().regex(PRINCIPAL, { error: 'must be a user name' }).optional(),
  /**
   * The principals the hosts accept (what their AuthorizedPrincipalsFile lists, or the account names): a role
   * granting any other is refused at issue, not discovered at the user's first login.
   */
  principals: z
    .array(z.string().regex(PRINCIPAL, { error: 'must be a principal name' }), {
      error: 'must list the principals the hosts accept',
    })
    .min(1, { error: 'must list at least one principal' }),
  /** The host CA's public key: users trust hosts it signed (`@cert-authority`), never on first use. */
  hostCaPublicKey: z.string({ error: 'must be the host CA public key line' }).refine(isUserPublicKey, {
    error: 'must be an OpenSSH public key line (ssh-ed25519 AAAA…)',
  }),
  /** The known_hosts pattern the host CA vouches for; by default the host (and port, when not 22). */
  knownHostsPattern: z
    .string()
    .regex(/^[A-Za-z0-9.*?![\]:,_-]{1,253}$/, { error: 'must be a known_hosts host pattern' })
    .optional(),
  /**
   * Stint's own files for this CA: the ledger of what it issued and revoked (and a lock). Shared by every
   * Stint server of the deployment when there are several.
   */
  stateDir: absolutePath,
  /** Where Stint publishes the KRL hosts read (sshd `RevokedKeys`); by default `<stateDir>/revoked.krl`. */
  krlPath: absolutePath.optional(),
  forceCommand: z.string().refine(isCommand, { error: 'must be a one-line printable command' }).optional(),
  sourceAddress: z
    .array(z.string().refine(isCidr, { error: 'must be an address or CIDR block' }))
    .min(1, { error: 'must list at least one address' })
    .optional(),
  /** Extensions every certificate of this resource carries; a role adds more with `extension:` grants. */
  extensions: z
    .array(z.enum(EXTENSIONS, { error: `must be one of ${EXTENSIONS.join(', ')}` }))
    .default(['permit-pty']),
  /** Sessions through Stint's SSH proxy (src/recording, docs/recording.md); absent: the defaults below. */
  proxy: z
    .strictObject({
      /** Forwarding through the proxy (-L, -R), for certificates that carry permit-port-forwarding. */
      portForwarding: z.boolean({ error: 'must be true or false' }).default(false),
      /** Record what the user types too (never while the terminal does not echo: password prompts). */
      captureInput: z.boolean({ error: 'must be true or false' }).default(false),
      /** When the recording cannot be written: end the session (fail closed) or carry on unrecorded. */
      onRecordingFailure: z
        .enum(['end-session', 'continue'], { error: 'must be end-session or continue' })
        .default('end-session'),
    })
    .optional(),
});
export type SshOptions = z.infer<typeof sshOptions>;

export const sshGrants = z
  .array(
    z.string().refine((g) => parseGrant(g) !== null, {
      error:
        'must be a principal name, force-command:<command>, source-address:<cidr,…> or extension:<permit-…>',
    }),
  )
  .refine((gs) => gs.some((g) => parseGrant(g)?.kind === 'principal'), {
    error: 'must grant at least one principal to log in as',
  });

/** The user's public key, sent at the take: the private half never leaves the user's machine. */
export const sshTakeInput = z.strictObject({
  publicKey: z
    .string({ error: 'must be the OpenSSH public key to sign' })
    .max(16_384, { error: 'is too long for a public key' })
    .check((ctx) => {
      try {
        parsePublicKeyLine(ctx.value);
      } catch (e) {
        if (!(e instanceof PublicKeyError)) throw e;
        ctx.issues.push({ code: 'custom', message: e.message, input: undefined });
      }
    }),
});

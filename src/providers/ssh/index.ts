import { defineKind } from '../kind.js';
import { sshGrants, sshOptions, sshTakeInput } from './schemas.js';
import { parseSshConfig } from './ssh-config.js';
import { createSshProvider } from './ssh-provider.js';

/**
 * OpenSSH: Stint is the user CA. Issue records the grant; at the take the user's public key (never the private
 * one) is signed into a certificate valid for what is left of the window, with the role's principals, critical
 * options and extensions. Nothing is created on the hosts, so there is nothing to remove or list: a certificate
 * ends at its own expiry, and an early revoke is a KRL Stint publishes for hosts to read (docs/ssh-target.md).
 */
export const sshKind = defineKind({
  kind: 'ssh',
  options: sshOptions,
  grants: sshGrants,
  takeInput: sshTakeInput,
  connection: 'required',
  capabilities: {
    revocation: 'expire-only',
    cutoff:
      'certificate validity = grant window; early revoke via KRL published by Stint (hosts read it with RevokedKeys)',
    listable: false,
    endsSessions: false,
    contactsTargetAtIssue: false,
    inventory: {
      lists: 'none',
      why: 'standing SSH access lives on each host (authorized_keys, AuthorizedPrincipalsFile, other trusted CAs, local accounts): out of reach without an agent on the host; Stint signs locally and contacts no host',
    },
  },
  configure: parseSshConfig,
  // Nothing to log beyond what the wrapper logs for every call: the provider reaches no server.
  create: (config, { owner }) => createSshProvider({ config, owner }),
});

import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult, TargetOwner } from '../provider.js';
import { type CertificateGrant, certificateGrant, GrantConflict } from './grants.js';
import type { Ledger } from './ledger.js';
import { keyIdFor, principalFor } from './principal-name.js';
import type { SshConfig } from './ssh-config.js';
import { refused, sshFailure } from './ssh-errors.js';

/** Everything the steps share: the resource's configuration, who Stint is, and the CA's ledger. */
export interface SshCa {
  config: SshConfig;
  owner: TargetOwner;
  ledger: Ledger;
}

/**
 * The certificate a role's grants make on this resource, or a refusal no retry mends: grants that conflict
 * with the resource's restrictions, or principals the hosts do not accept (the resource's `principals`).
 */
export function grantFor(ca: SshCa, grants: readonly string[]): CertificateGrant {
  const { options, resourceId } = ca.config;
  let grant: CertificateGrant;
  try {
    grant = certificateGrant(
      grants.filter((g) => g.length > 0),
      {
        forceCommand: options.forceCommand,
        sourceAddress: options.sourceAddress,
        extensions: options.extensions,
      },
    );
  } catch (e) {
    if (e instanceof GrantConflict) throw refused(resourceId, e.message, true);
    throw e;
  }
  const unknown = grant.principals.filter((p) => !options.principals.includes(p));
  if (unknown.length > 0) {
    throw refused(
      resourceId,
      `refusing to grant ${unknown.join(', ')}: not among the principals the hosts accept (options.principals)`,
      true,
    );
  }
  return grant;
}

/**
 * Issue signs nothing yet (the user's key comes at the take): it records the grant in the ledger, owned by this
 * store, with its window, and answers what the user needs besides the certificate. Checks first, so a grant the
 * hosts would refuse fails here and leaves nothing. A record of the same request left by an earlier attempt is
 * replaced; one of another store is never touched.
 */
export async function issueGrant(
  ca: SshCa,
  request: IssueRequest,
  signal: AbortSignal,
): Promise<IssueResult> {
  const { config, owner, ledger } = ca;
  const { resourceId, options } = config;
  const principal = principalFor(request.requestId);
  const action = `issue ${principal}`;
  if (signal.aborted) throw sshFailure(resourceId, action, null, signal);
  const expiresAt = request.expiresAt.getTime();
  if (Number.isNaN(expiresAt) || expiresAt <= Date.now()) {
    throw new StintError(
      'PROVIDER_ERROR',
      `ssh target ${resourceId}: ${action}: the window has no time left`,
      {
        resource: resourceId,
        class: 'refused',
      },
    );
  }
  const grant = grantFor(ca, request.grants);
  const keyId = keyIdFor(request.requestId, owner);
  try {
    await ledger.update(signal, (state, now) => {
      const earlier = state.grants[principal];
      if (earlier && earlier.storeId !== owner.storeId) {
        throw refused(
          resourceId,
          `${action}: the ledger holds ${principal} for another Stint store (${earlier.storeId}, deployment ${earlier.deployment})`,
        );
      }
      state.grants[principal] = {
        requestId: request.requestId,
        keyId,
        storeId: owner.storeId,
        deployment: owner.deployment,
        ca: config.ca.publicBlob.toString('base64'),
        issuedAt: now,
        expiresAt,
        revokedAt: null,
        certificates: [],
      };
    });
  } catch (e) {
    throw sshFailure(resourceId, action, e, signal);
  }
  return {
    principal,
    secret: {
      user: options.user ?? (grant.principals[0] as string),
      host: options.host,
      port: String(options.port),
      principals: grant.principals.join(','),
      knownHosts: config.knownHosts,
      keyId,
    },
  };
}

import type { V1ClusterRoleBinding, V1PolicyRule, V1RoleBinding } from '@kubernetes/client-node';
import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../provider.js';
import { escalations } from './escalation.js';
import { bindingName, describeGrant, type GrantRef, parseGrant } from './grants.js';
import type { KubeAdmin } from './kube-admin.js';
import { isConflict, isNotFound, refusal } from './kube-errors.js';
import { userKubeconfig } from './kubeconfig-out.js';
import { type Mark, markFor, parseMark, principalFor } from './principal-name.js';
import { readAccount } from './revoke-account.js';

/** Kubernetes mints no TokenRequest token shorter than this (apiserver validation of expirationSeconds). */
export const MIN_TOKEN_SECONDS = 600;
/** What undoing a failed issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;
/** Clock skew tolerated between Stint and the API server on the token's expiry. */
const EXPIRY_SLACK_MS = 5_000;

type Revoke = (principal: string, signal: AbortSignal) => Promise<unknown>;

class NothingCreated extends Error {
  constructor(readonly failure: unknown) {
    super('nothing created');
  }
}

/**
 * All or nothing: checks first (every granted role exists and would not let its holder outlast the revoke; no
 * clash with another request's ServiceAccount), clears what an earlier attempt of the same request left, then
 * creates the ServiceAccount (the mark listOwned finds), one binding per grant, and a TokenRequest token that
 * Kubernetes itself expires at the window's end. Any failure, cancellation included, deletes what was made.
 */
export async function issueAccount(
  admin: KubeAdmin,
  request: IssueRequest,
  signal: AbortSignal,
  revoke: Revoke,
): Promise<IssueResult> {
  const { config, owner } = admin;
  const id = config.resourceId;
  const principal = principalFor(request.requestId);
  const action = `issue ${principal}`;
  const end = request.expiresAt.getTime();
  if (Number.isNaN(end)) throw refusal(id, `${action}: invalid expiry`);
  const remaining = () => Math.floor((end - Date.now()) / 1000);
  const tooShort = () =>
    refusal(
      id,
      `${action}: Kubernetes mints no token shorter than ${MIN_TOKEN_SECONDS} s (10 minutes) and this window has ${Math.max(0, remaining())} s left: ask for at least 10 minutes`,
      true,
    );
  if (remaining() < MIN_TOKEN_SECONDS) throw tooShort();
  const grants: GrantRef[] = [];
  for (const g of new Set(request.grants)) {
    const parsed = parseGrant(g);
    if (parsed === null) throw refusal(id, `${action}: not a Kubernetes grant: ${g}`, true);
    grants.push(parsed);
  }
  if (grants.length === 0) throw refusal(id, `${action}: the role grants nothing`, true);

  const k = await admin.apis().catch((err: unknown) => {
    throw admin.fail(action, err, signal);
  });
  try {
    await checkGrants(admin, action, grants, signal);
    const leftover = await readAccount(admin, principal, signal);
    if (leftover !== null) {
      // What an earlier attempt for the same request left is cleared; anything else is a name clash or another
      // store's, and is not touched.
      const mark = parseMark(leftover.metadata);
      if (mark?.storeId !== owner.storeId || mark.requestId !== request.requestId) {
        throw refusal(id, `${action}: a ServiceAccount of that name exists for another request or store`);
      }
      await revoke(principal, signal);
    }
  } catch (err) {
    throw admin.fail(action, err, signal);
  }

  const mark = markFor(owner, request.requestId, principal);
  const minted: string[] = [];
  try {
    try {
      await k.core.createNamespacedServiceAccount(
        {
          namespace: config.namespace,
          body: {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name: principal, labels: mark.labels, annotations: mark.annotations },
            automountServiceAccountToken: false,
          },
        },
        k.call(signal),
      );
    } catch (err) {
      // Another attempt created it between our read and this write: that attempt's to finish or undo.
      if (isConflict(err)) throw new NothingCreated(err);
      throw err;
    }
    for (const grant of grants) await createBinding(admin, principal, grant, mark, signal);

    if (remaining() < MIN_TOKEN_SECONDS) throw tooShort();
    const answer = await k.core.createNamespacedServiceAccountToken(
      {
        name: principal,
        namespace: config.namespace,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { audiences: config.audiences, expirationSeconds: remaining() },
        },
      },
      k.call(signal),
    );
    const token = answer.status?.token;
    const expires = answer.status?.expirationTimestamp;
    if (!token) throw refusal(id, `${action}: the API server answered no token`);
    minted.push(token);
    // --service-account-extend-token-expiration and friends may lengthen a token: one outliving the window is refused.
    if (!(expires instanceof Date) || expires.getTime() > end + EXPIRY_SLACK_MS) {
      throw refusal(
        id,
        `${action}: the API server made the token expire ${expires instanceof Date ? expires.toISOString() : 'at an unknown time'}, after the window's end`,
        true,
      );
    }
    const kubeconfig = userKubeconfig({
      server: config.publicServer,
      caData: config.caData,
      tlsServerName: config.tlsServerName,
      principal,
      token,
      namespace: grants.find((g) => g.namespace !== null)?.namespace ?? null,
    });
    return { principal, secret: { kubeconfig, token, server: config.publicServer } };
  } catch (err) {
    if (err instanceof NothingCreated) throw admin.fail(action, err.failure, signal);
    const failure = admin.fail(action, err, signal, minted);
    await undo(admin, principal, revoke);
    throw failure;
  }
}

/** Every granted role must exist (a binding to a missing role is legal, and would come alive when someone makes it). */
async function checkGrants(
  admin: KubeAdmin,
  action: string,
  grants: GrantRef[],
  signal: AbortSignal,
): Promise<void> {
  const { resourceId } = admin.config;
  const k = await admin.apis();
  for (const grant of grants) {
    let rules: V1PolicyRule[] | undefined;
    try {
      const role =
        grant.kind === 'ClusterRole'
          ? await k.rbac.readClusterRole({ name: grant.name }, k.call(signal))
          : await k.rbac.readNamespacedRole(
              { name: grant.name, namespace: grant.namespace as string },
              k.call(signal),
            );
      rules = role.rules;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw refusal(resourceId, `${action}: ${describeGrant(grant)}: no such ${grant.kind}`);
    }
    const why = escalations(rules);
    if (why.length > 0 && !admin.config.allowEscalatingGrants) {
      throw refusal(
        resourceId,
        `${action}: refusing to grant ${describeGrant(grant)}: it lets its holder outlast the revoke (${why.join('; ')}); set allowEscalatingGrants if that is meant`,
        true,
      );
    }
  }
}

async function createBinding(
  admin: KubeAdmin,
  principal: string,
  grant: GrantRef,
  mark: Mark,
  signal: AbortSignal,
): Promise<void> {
  const k = await admin.apis();
  const body = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: {
      name: bindingName(principal, grant),
      labels: mark.labels,
      annotations: mark.annotations,
      ...(grant.namespace === null ? {} : { namespace: grant.namespace }),
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: grant.kind, name: grant.name },
    subjects: [{ kind: 'ServiceAccount', name: principal, namespace: admin.config.namespace }],
  };
  if (grant.namespace === null) {
    const crb: V1ClusterRoleBinding = { ...body, kind: 'ClusterRoleBinding' };
    await k.rbac.createClusterRoleBinding({ body: crb }, k.call(signal));
  } else {
    const rb: V1RoleBinding = { ...body, kind: 'RoleBinding' };
    await k.rbac.createNamespacedRoleBinding({ namespace: grant.namespace, body: rb }, k.call(signal));
  }
}

async function undo(admin: KubeAdmin, principal: string, revoke: Revoke): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    await revoke(principal, signal);
  } catch (e) {
    const message = e instanceof StintError ? e.message : admin.fail('cleanup', e, signal).message;
    admin.logger?.warn(
      { resource: admin.config.resourceId, principal, error: message },
      'kubernetes issue cleanup failed',
    );
  }
}

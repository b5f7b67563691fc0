import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../provider.js';
import { grantBinding, principalFor, readMark } from './binding-mark.js';
import { changePolicy } from './change-policy.js';
import type { BindingIndex } from './find-bindings.js';
import { refusal } from './gcp-errors.js';
import { memberFor, SERVICE_ACCOUNT } from './gcp-options.js';
import type { GcpTarget } from './iam-api.js';
import { removeBindings } from './remove-bindings.js';

/** What undoing an issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 10_000;

/**
 * Lets the requester impersonate each service account the role grants: one conditional binding of
 * roles/iam.serviceAccountTokenCreator per account, for the requester's member only, expiring with the window
 * (`request.time < timestamp(…)`), its condition's description carrying this store's mark. Each grant is its own
 * binding, so two grants of one person never share (or cut) one. All or nothing: a failure removes what this
 * issuance added.
 */
export async function issueBinding(
  t: GcpTarget,
  index: BindingIndex,
  request: IssueRequest,
  signal: AbortSignal,
): Promise<IssueResult> {
  const id = t.config.resourceId;
  const { project } = t.config.options;
  const principal = principalFor(request.requestId);
  const member = memberFor(t.config.options, request.requester);
  if (member === undefined)
    throw refusal(
      id,
      `requester ${request.requester} has no IAM member: add them to options.members or set memberDomain`,
    );
  const accounts = [...new Set(request.grants)];
  if (accounts.length === 0) throw refusal(id, `role ${request.role} grants nothing`);
  for (const email of accounts) {
    const m = SERVICE_ACCOUNT.exec(email);
    if (m?.[2] !== project) throw refusal(id, `${email} is not a service account of project ${project}`);
  }
  if (!(request.expiresAt.getTime() > t.now() + 1000)) throw refusal(id, 'the window has already ended');

  const binding = grantBinding(member, principal, request.requestId, t.owner, request.expiresAt);
  const touched: string[] = [];
  try {
    for (const email of accounts) {
      touched.push(email);
      index.remember(principal, email);
      await changePolicy(t, email, signal, (bindings) => {
        const marks = bindings.map((b) => ({ b, mark: readMark(b) }));
        const theirs = marks.find(
          (x) => x.mark?.principal === principal && x.mark.storeId !== t.owner.storeId,
        );
        if (theirs)
          throw new StintError(
            'PROVIDER_ERROR',
            `gcp target ${id}: ${principal} on ${email} belongs to another Stint store`,
            {
              resource: id,
              class: 'refused',
            },
          );
        // An earlier attempt of this request (a crash) is replaced, not added to.
        const kept = marks.filter((x) => x.mark?.principal !== principal).map((x) => x.b);
        return [...kept, binding];
      });
    }
  } catch (err) {
    await undo(t, touched, principal);
    throw t.fail(`issue ${principal}`, err, signal);
  }
  return {
    principal,
    secret: {
      serviceAccounts: accounts.join(', '),
      member,
      project,
      expiresAt: request.expiresAt.toISOString(),
    },
  };
}

async function undo(t: GcpTarget, accounts: string[], principal: string): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  for (const [i, email] of accounts.entries()) {
    try {
      // The last account's write may have been sent and cut: fence it off (see removeBindings).
      await removeBindings(t, email, principal, signal, i === accounts.length - 1);
    } catch (e) {
      t.logger?.warn(
        { resource: t.config.resourceId, principal, error: t.fail('undo', e, signal).message },
        'gcp issue cleanup failed; the reconciler will find the binding',
      );
    }
  }
}

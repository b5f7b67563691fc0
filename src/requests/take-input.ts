import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { StintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import type { PolicySource } from '../policy/policy-source.js';
import { NO_CANCEL } from '../providers/provider.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { GrantStore } from '../store/grant-store.js';
import type { Database } from '../store/schema.js';

/**
 * The take's body against what the resource's kind takes from the user (`takeInput`). Checked before anything
 * changes, so bad input leaves the credential takeable. A kind that takes nothing refuses any non-empty body:
 * an input it would ignore is a mistake the user should hear about. Messages name fields, never values.
 */
export function checkTakeInput(
  schema: z.ZodType<Record<string, unknown>> | undefined,
  body: unknown,
  resource: string,
): Record<string, unknown> | undefined {
  const given = body ?? {};
  if (schema === undefined) {
    if (typeof given === 'object' && !Array.isArray(given) && Object.keys(given).length === 0)
      return undefined;
    throw new StintError('VALIDATION_FAILED', `resource ${resource} takes no input with its credential`, {
      problems: [{ path: '', message: 'must be empty: this kind takes no input', params: {} }],
    });
  }
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({
    path: i.path.length > 0 ? `/${i.path.map(String).join('/')}` : '',
    message: i.message,
    params: { code: i.code },
  }));
  throw new StintError(
    'VALIDATION_FAILED',
    `invalid credential input for ${resource}: ${problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ')}`,
    { problems },
  );
}

export interface TakeInputDeps {
  policy: PolicySource;
  providers: Pick<ProviderSet, 'get' | 'takeInput'>;
  grants: Pick<GrantStore, 'get'>;
  db: Kysely<Database>;
}

/**
 * Checks the take's body and, for a kind that takes input, has the provider make what needs it. Runs before the
 * take's transaction (a target call must not hold the store's write lock); a take that then loses to another
 * take or to expiry throws away what was made, which ends with the window like the rest of the grant. Answers
 * the fields to add to the shown secret and the names of the checked input's fields, or undefined when the kind
 * takes no input.
 */
export async function completeFromInput(
  deps: TakeInputDeps,
  request: AccessRequest,
  expiresAt: Date,
  body: unknown,
): Promise<{ secret: Record<string, string>; inputFields: string[] } | undefined> {
  const resource = deps.policy.current().resources.get(request.resource);
  const input = checkTakeInput(
    resource ? deps.providers.takeInput(resource) : undefined,
    body,
    request.resource,
  );
  if (input === undefined || resource === undefined) return undefined;
  const grant = await deps.grants.get(deps.db, request.id);
  // Shown before: answered by the take itself (CREDENTIAL_ALREADY_SHOWN), without asking the target.
  if (!grant || grant.credential_shown_at != null) return undefined;
  const provider = deps.providers.get(resource);
  if (!provider.completeCredential) {
    throw new StintError(
      'INTERNAL',
      `kind ${resource.kind} declares takeInput but cannot complete a credential`,
    );
  }
  const made = await provider.completeCredential(
    {
      requestId: request.id,
      requester: request.requester,
      role: request.role,
      grants: resource.roles[request.role]?.grants ?? [],
      principal: grant.principal,
      expiresAt,
      input,
    },
    NO_CANCEL,
  );
  return { secret: made.secret, inputFields: Object.keys(input).sort() };
}

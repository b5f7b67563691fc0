import { z } from 'zod';

// Messages are fixed strings: zod's defaults could quote the input.
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** A user-managed service account: `name@project.iam.gserviceaccount.com`. */
export const SERVICE_ACCOUNT =
  /^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;
const MEMBER = /^(user|group|serviceAccount):[^\s@:]+@[^\s@:]+$/;
const STINT_USER = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const endpoint = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
  error: 'must be an http(s) URL',
});

export const gcpOptions = z
  .strictObject({
    /**
     * `binding` (the only mode): a conditional IAM binding of roles/iam.serviceAccountTokenCreator on the service
     * account, expiring with the window, removed at revoke.
     */
    mode: z.literal('binding', { error: 'mode must be binding' }).default('binding'),
    /** The project whose service accounts the grants name; reconciliation reads their policies. */
    project: z.string().regex(PROJECT_ID, { error: 'must be a Google Cloud project id' }),
    /** Each Stint user's IAM member, e.g. `alice: user:alice@example.com`. */
    members: z
      .record(
        z.string().regex(STINT_USER, { error: 'must be a Stint user id' }),
        z.string().regex(MEMBER, { error: 'must be an IAM member such as user:alice@example.com' }),
      )
      .optional(),
    /** For users not in `members`: `user:<stint user id>@<memberDomain>`. */
    memberDomain: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, {
        error: 'must be a domain name',
      })
      .optional(),
    /** The IAM API's endpoint, other than Google's (Private Service Connect; the tests' double). */
    endpoints: z.strictObject({ iam: endpoint.optional() }).optional(),
  })
  .refine((o) => o.members !== undefined || o.memberDomain !== undefined, {
    error: 'name the users’ IAM members: members, memberDomain, or both',
  });

export type GcpOptions = z.output<typeof gcpOptions>;

/** A role's grants: the service accounts its holder may impersonate. */
export const gcpGrants = z
  .array(
    z.string().regex(SERVICE_ACCOUNT, {
      error: 'must be a service account email (name@project.iam.gserviceaccount.com)',
    }),
  )
  .min(1, { error: 'must grant at least one service account' });

/** The IAM member a Stint user is, or undefined when the options name none. */
export function memberFor(options: GcpOptions, requester: string): string | undefined {
  return (
    options.members?.[requester] ??
    (options.memberDomain ? `user:${requester}@${options.memberDomain}` : undefined)
  );
}

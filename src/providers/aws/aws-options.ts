import { z } from 'zod';

// Messages are fixed strings: zod's defaults could quote the input.
const PARTITION = '(?:aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b)';
export const ROLE_ARN = new RegExp(
  `^arn:${PARTITION}:iam::(\\d{12}):role(\\/(?:[\\w+=,.@-]+\\/)*)([\\w+=,.@-]{1,64})$`,
);
export const PERMISSION_SET_ARN = new RegExp(
  `^arn:${PARTITION}:sso:::permissionSet\\/((?:sso)?ins-[a-zA-Z0-9-.]{16})\\/ps-[a-zA-Z0-9-./]{16}$`,
);
const INSTANCE_ARN = new RegExp(`^arn:${PARTITION}:sso:::instance\\/((?:sso)?ins-[a-zA-Z0-9-.]{16})$`);

/** The instance id an instance or permission set ARN names: a permission set belongs to one instance. */
export function instanceIdOf(arn: string): string | undefined {
  return INSTANCE_ARN.exec(arn)?.[1] ?? PERMISSION_SET_ARN.exec(arn)?.[1];
}

const endpoint = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
  error: 'must be an http(s) URL',
});

const common = {
  /** Where Stint signs and sends its calls; IAM is global and signed for us-east-1 whatever this says. */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'must be an AWS region such as eu-west-1' })
    .default('us-east-1'),
  /**
   * Service endpoints other than AWS's public ones (VPC interface endpoints, FIPS; the tests' double). Each
   * service separately, as AWS has one endpoint per service.
   */
  endpoints: z
    .strictObject({ sts: endpoint.optional(), iam: endpoint.optional(), ssoAdmin: endpoint.optional() })
    .optional(),
};

const assumeRole = z.strictObject({
  mode: z.literal('assume-role'),
  ...common,
  /** Where to look for the roles Stint granted (their ledger tags), when reconciling or revoking after a restart. */
  rolePathPrefix: z
    .string()
    .regex(/^\/(?:[\w+=,.@-]+\/)*$/, { error: 'must be an IAM path such as / or /stint/' })
    .default('/'),
});

/** An Identity Store user id: a UUID, optionally after the store's 10-hex prefix. */
const IDENTITY_STORE_USER =
  /^(?:[0-9a-f]{10}-)?[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/;

const permissionSet = z.strictObject({
  mode: z.literal('permission-set'),
  ...common,
  instanceArn: z.string().regex(INSTANCE_ARN, { error: 'must be an IAM Identity Center instance ARN' }),
  /** The account the permission sets are assigned in. */
  accountId: z.string().regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' }),
  /** Each Stint user who may be granted here, by their Identity Store user id. */
  principals: z
    .record(
      z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'must be a Stint user id' }),
      z.string().regex(IDENTITY_STORE_USER, { error: 'must be an Identity Store user id' }),
    )
    .refine((m) => Object.keys(m).length > 0, { error: 'must name at least one user' }),
  /** The AWS access portal's start URL, shown with the credential. */
  portalUrl: endpoint.optional(),
});

export const awsOptions = z.discriminatedUnion('mode', [assumeRole, permissionSet], {
  error: 'mode must be assume-role or permission-set',
});

export type AwsOptions = z.output<typeof awsOptions>;
export type AssumeRoleOptions = z.output<typeof assumeRole>;
export type PermissionSetOptions = z.output<typeof permissionSet>;

/**
 * A role's grants: IAM role ARNs (assume-role) or permission set ARNs (permission-set). Which fits the resource's
 * mode is checked at issue, as grants are checked here without the resource's options.
 */
export const awsGrants = z
  .array(
    z.string().refine((s) => ROLE_ARN.test(s) || PERMISSION_SET_ARN.test(s), {
      error: 'must be an IAM role ARN or an IAM Identity Center permission set ARN',
    }),
  )
  .min(1, { error: 'must grant at least one role or permission set' });

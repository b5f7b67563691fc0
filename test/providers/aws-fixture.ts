import { CreateUserCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import type { AwsOptions } from '../../src/providers/aws/aws-options.js';
import { awsKind } from '../../src/providers/aws/index.js';
import type { TargetOwner } from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import type { ContractSession, ContractTarget } from './contract.js';
import type { AwsDouble } from './doubles/aws/server.js';
import {
  ACCOUNT_ID,
  INSTANCE_ARN,
  MISSING_PERMISSION_SET as MISSING_PS,
  READ_ONLY_PERMISSION_SET as READ_ONLY_PS,
  roleArn,
} from './doubles/aws/state.js';
import { assignmentHeld, sessionUsable } from './doubles/aws/views.js';

export const READ_ROLE = roleArn('/stint/', 'StintRead');
export const CONNECTION_ENV = 'STINT_AWS_TEST_CONNECTION';
const registry = createKindRegistry([awsKind]);

/** Options of a resource reaching the double (or a proxy in front of it), parsed as the policy loader would. */
export function awsOptions(
  double: AwsDouble,
  mode: AwsOptions['mode'],
  via?: { host: string; port: number },
  extra: Record<string, unknown> = {},
): AwsOptions {
  const url = via ? `http://${via.host}:${via.port}` : double.url;
  const endpoints = { sts: url, iam: url, ssoAdmin: url };
  const users = Object.fromEntries([...double.state.users.values()].map((u) => [u.userName, u.id]));
  return awsKind.options.parse(
    mode === 'assume-role'
      ? { mode, endpoints, rolePathPrefix: '/stint/', ...extra }
      : { mode, endpoints, instanceArn: INSTANCE_ARN, accountId: ACCOUNT_ID, principals: users, ...extra },
  );
}

/** A provider inside the registry's wrapper, its credentials read from env config as a deployment's would be. */
export function awsProvider(
  double: AwsDouble,
  mode: AwsOptions['mode'],
  owner: TargetOwner,
  opts: { via?: { host: string; port: number }; secret?: string; extra?: Record<string, unknown> } = {},
) {
  const spec = {
    id: `aws-${mode}`,
    kind: 'aws',
    connection: { env: CONNECTION_ENV },
    options: awsOptions(double, mode, opts.via, opts.extra),
  };
  return registry.create(registry.resolve(spec, { [CONNECTION_ENV]: double.connection(opts.secret) }), {
    owner,
  });
}

/** A session used as its user would: IAM calls signed with the issued (or portal-given) credentials. */
async function sessionWithCredentials(
  double: AwsDouble,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string },
): Promise<ContractSession> {
  const iam = new IAMClient({ region: 'us-east-1', endpoint: double.url, credentials, maxAttempts: 1 });
  // The read-only policy allows reading roles, not making users.
  const granted = () => iam.send(new GetRoleCommand({ RoleName: 'StintRead' }));
  try {
    await granted();
  } catch (e) {
    iam.destroy();
    throw e;
  }
  return {
    doGranted: granted,
    doUngranted: () => iam.send(new CreateUserCommand({ UserName: 'stint-contract-intruder' })),
    alive: () =>
      granted().then(
        () => true,
        () => false,
      ),
    close: async () => iam.destroy(),
  };
}

/** The contract suite's view of one mode on the double. */
export function awsContractTarget(double: AwsDouble, mode: AwsOptions['mode']): ContractTarget {
  const assumeRole = mode === 'assume-role';
  return {
    endpoint: { host: double.host, port: double.port },
    grants: [assumeRole ? READ_ROLE : READ_ONLY_PS],
    unknownGrant: assumeRole ? roleArn('/stint/', 'NoSuchRole') : MISSING_PS,
    makeProvider: (owner, via) => awsProvider(double, mode, owner, via ? { via } : {}),
    async openSession(secret) {
      if (assumeRole) {
        return sessionWithCredentials(double, {
          accessKeyId: secret.accessKeyId as string,
          secretAccessKey: secret.secretAccessKey as string,
          sessionToken: secret.sessionToken as string,
        });
      }
      // Through the access portal, as the user signs in: their own SSO token, the account and the permission set.
      const user = [...double.state.users.values()].find((u) => u.id === secret.identityStoreUserId);
      const roleName = (secret.permissionSets ?? '').split(', ')[0] ?? '';
      const res = await fetch(
        `${double.url}/federation/credentials?account_id=${secret.accountId}&role_name=${encodeURIComponent(roleName)}`,
        { headers: { 'x-amz-sso_bearer_token': user?.portalToken ?? 'none' } },
      );
      if (res.status !== 200) throw new Error(`the portal refused: ${res.status}`);
      const { roleCredentials: c } = (await res.json()) as {
        roleCredentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
      };
      return sessionWithCredentials(double, {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
      });
    },
    principalExists: async (principal) =>
      assumeRole
        ? sessionUsable(double.state, principal, double.now())
        : assignmentHeld(double.state, principal, double.now()),
    close: async () => {},
  };
}

/** The crash suite's resource: a real server process reaches the double with the same env config. */
export function crashResource(double: AwsDouble, mode: AwsOptions['mode']): string {
  const o = awsOptions(double, mode);
  const options =
    o.mode === 'assume-role'
      ? `{ mode: assume-role, rolePathPrefix: /stint/, endpoints: { sts: '${double.url}', iam: '${double.url}' } }`
      : `{ mode: permission-set, instanceArn: '${o.instanceArn}', accountId: '${o.accountId}', endpoints: { ssoAdmin: '${double.url}' }, principals: { ${Object.entries(
          o.principals,
        )
          .map(([k, v]) => `${k}: '${v}'`)
          .join(', ')} } }`;
  return `  - id: crash-target
    kind: aws
    sensitivity: routine
    connection: { env: ${CONNECTION_ENV} }
    options: ${options}
    roles:
      use: { grants: ['${mode === 'assume-role' ? READ_ROLE : READ_ONLY_PS}'] }`;
}

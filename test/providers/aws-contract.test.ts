import { afterAll } from 'vitest';
import { awsKind, MODE_CAPABILITIES } from '../../src/providers/aws/index.js';
import { awsContractTarget, CONNECTION_ENV, crashResource } from './aws-fixture.js';
import { providerContract } from './contract.js';
import { startAwsDouble } from './doubles/aws/server.js';

/**
 * The whole contract suite, per mode, with the official AWS SDK against a local double that recomputes every SigV4
 * signature and checks every action's parameters (contract tests against a double: no real AWS account here). The
 * double starts before the suites are declared, as the crash suite's server process needs its address in its policy.
 */
const double = await startAwsDouble();
afterAll(() => double.close());

// assume-role can end sessions (the deny refuses their every call); the kind declares what both modes can, so the
// suite is run here with this mode's own, stronger, capabilities.
providerContract('aws assume-role (contract tests against a double)', {
  kind: { ...awsKind, capabilities: MODE_CAPABILITIES['assume-role'] },
  networked: true,
  server: {
    resourceYaml: crashResource(double, 'assume-role'),
    env: { [CONNECTION_ENV]: double.connection() },
  },
  fixture: async () => awsContractTarget(double, 'assume-role'),
});

providerContract('aws permission-set (contract tests against a double)', {
  kind: awsKind,
  networked: true,
  server: {
    resourceYaml: crashResource(double, 'permission-set'),
    env: { [CONNECTION_ENV]: double.connection() },
  },
  fixture: async () => awsContractTarget(double, 'permission-set'),
});

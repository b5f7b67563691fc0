import { afterAll } from 'vitest';
import { gcpKind } from '../../src/providers/gcp/index.js';
import { providerContract } from './contract.js';
import { startGcpDouble } from './doubles/gcp/server.js';
import { crashResource, gcpContractTarget, KEY_ENV } from './gcp-fixture.js';

/**
 * The whole contract suite with google-auth-library against a local double of Cloud IAM that verifies the service
 * account key's self-signed JWT on every call and enforces etag concurrency (contract tests against a double: no
 * real Google Cloud project here). The double starts before the suite is declared, as the crash suite's server
 * process needs its address in its policy.
 */
const double = await startGcpDouble();
afterAll(() => double.close());

providerContract('gcp (contract tests against a double)', {
  kind: gcpKind,
  networked: true,
  server: { resourceYaml: crashResource(double), env: { [KEY_ENV]: double.state.admin.keyJson } },
  fixture: async () => gcpContractTarget(double),
});

import { randomBytes } from 'node:crypto';

/** The env var the bench resource reads its admin connection from (the scram cluster's stint_admin URL). */
export const TARGET_ENV = 'STINT_BENCH_DB_URL';
export const RESOURCE = 'bench-db';
export const REQUESTER = 'alice';
export const MANAGER = 'carol';

/**
 * One resource, two rules: `admin` needs the requester's manager (the approve path being measured), `read` is
 * auto-approved (grants that go live on creation, for the expiry and memory figures). `routine` because auto is
 * refused on critical resources. A deployment name of its own, so the reconciler touches only this run's roles.
 */
export function benchPolicy(): string {
  const deployment = `bench-${randomBytes(4).toString('hex')}`;
  return `
version: 1
settings: { deployment: ${deployment}, hardCap: 4h, pendingTimeout: 24h }
users:
  - { id: ${REQUESTER}, email: alice@example.com, name: Alice, manager: ${MANAGER}, teams: [payments] }
  - { id: ${MANAGER}, email: carol@example.com, name: Carol, teams: [leads] }
resources:
  - id: ${RESOURCE}
    kind: postgres
    description: The benchmark target
    sensitivity: routine
    connection: { env: ${TARGET_ENV} }
    roles:
      admin: { description: Full access, grants: [app_admin] }
      read: { description: Read only, grants: [app_read] }
rules:
  - id: bench-admin
    resources: [${RESOURCE}]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [manager]
  - id: bench-read
    resources: [${RESOURCE}]
    roles: [read]
    who: { teams: [payments] }
    # The revocation-lag bench asks for 1-2 s windows.
    duration: { min: 1s, default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [auto]
`;
}

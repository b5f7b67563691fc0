/**
 * The policy the workflow and API tests run under. prod-db and payments-db point at the test cluster through
 * env vars; down-db points at a port where nothing listens.
 */
export const TEST_POLICY = `
version: 1
settings: { deployment: stint-test, hardCap: 4h, pendingTimeout: 24h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [payments] }
  - { id: bob, email: bob@example.com, name: Bob, manager: carol, teams: [payments] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security], security: true }
  - { id: dave, email: dave@example.com, name: Dave, teams: [security], security: true }
  - { id: erin, email: erin@example.com, name: Erin, teams: [audit], auditor: true }
  - { id: root, email: root@example.com, name: Root, teams: [platform], admin: true }
  - { id: mallory, email: mallory@example.com, name: Mallory, manager: carol, teams: [marketing] }
resources:
  - id: prod-db
    kind: postgres
    description: Production database
    sensitivity: critical
    connection: { env: STINT_TEST_DB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
      read: { description: Read only, grants: [app_read] }
      ops: { description: Operations, grants: [app_read] }
  - id: payments-db
    kind: postgres
    description: Payments
    sensitivity: critical
    connection: { env: STINT_TEST_DB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
  - id: staging-db
    kind: postgres
    description: Staging, low risk
    sensitivity: routine
    connection: { env: STINT_TEST_DB_URL }
    roles:
      read: { description: Read only, grants: [app_read] }
  - id: down-db
    kind: postgres
    description: A target that is down
    sensitivity: routine
    connection: { env: STINT_DOWN_DB_URL }
    roles:
      read: { description: Read only, grants: [app_read] }
rules:
  - id: prod-db-admin
    resources: [prod-db]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: true, patterns: ['^INC-\\d+$', '^CHG-\\d+$', '^https://tracker\\.example\\.com/'] }
    approval: [manager]
  - id: prod-db-read
    resources: [prod-db]
    roles: [read]
    who: { teams: [payments] }
    duration: { min: 1s, default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [peer]
  - id: prod-db-ops
    resources: [prod-db]
    roles: [ops]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [security]
  - id: payments
    resources: [payments-db]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 2h }
    ticket: { required: true, patterns: ['^INC-\\d+$'] }
    approval: [manager, two-person]
  - id: staging
    resources: [staging-db, down-db]
    roles: [read]
    who: { teams: [payments, marketing] }
    # Expiry tests ask for 2 s windows.
    duration: { min: 1s, default: 30m, max: 2h }
    ticket: { required: false, patterns: [] }
    approval: [auto]
`;

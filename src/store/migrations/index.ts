import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './0001-initial.js';
import { auditTrail } from './0002-audit-trail.js';
import { identity } from './0003-identity.js';
import { directory } from './0004-directory.js';
import { mfa } from './0005-mfa.js';
import { oidcProfiles } from './0006-oidc-profiles.js';
import { storeIdentity } from './0007-store-identity.js';
import { factorChanges } from './0008-factor-changes.js';
import { auditIntegrity } from './0009-audit-integrity.js';
import { countedAttempts } from './0010-counted-attempts.js';
import { hostSessions } from './0011-host-sessions.js';
import { idempotencyKeys } from './0012-idempotency-keys.js';
import { notifications } from './0013-notifications.js';
import { breakglass } from './0014-breakglass.js';
import { operationsIndexes } from './0015-operations-indexes.js';
import { recordings } from './0016-recordings.js';
import { conversion } from './0017-conversion.js';
import { keptCredential } from './0018-kept-credential.js';
import { sessionReviewClaims } from './0019-session-review-claims.js';
import { hostTokens } from './0020-host-tokens.js';
import type { MigrationContext } from './migration-context.js';

/**
 * Migrations are compiled into the program (no directory scan), so the bundle that runs is the bundle that
 * was tested. Names sort in order of application.
 */
export function migrationProvider(ctx: MigrationContext): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '0001-initial': initial(ctx),
        '0002-audit-trail': auditTrail(ctx),
        '0003-identity': identity(ctx),
        '0004-directory': directory(ctx),
        '0005-mfa': mfa(ctx),
        '0006-oidc-profiles': oidcProfiles(ctx),
        '0007-store-identity': storeIdentity(ctx),
        '0008-factor-changes': factorChanges(ctx),
        '0009-audit-integrity': auditIntegrity(ctx),
        '0010-counted-attempts': countedAttempts(ctx),
        '0011-host-sessions': hostSessions(ctx),
        '0012-idempotency-keys': idempotencyKeys(ctx),
        '0013-notifications': notifications(ctx),
        '0014-breakglass': breakglass(ctx),
        '0015-operations-indexes': operationsIndexes(ctx),
        '0016-recordings': recordings(ctx),
        '0017-conversion': conversion(ctx),
        '0018-kept-credential': keptCredential(ctx),
        '0019-session-review-claims': sessionReviewClaims(ctx),
        '0020-host-tokens': hostTokens(ctx),
      };
    },
  };
}

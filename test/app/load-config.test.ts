import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/load-config.js';

const VALID = {
  STINT_POLICY: 'policy.yaml',
  STINT_ENCRYPTION_KEY: 'k',
  STINT_AUDIT_SIGNING_KEY: 'PRIVATE+KEY+stint-test+00000000+AAAA',
  STINT_DATA_DIR: '/tmp/stint-load-config-test',
};

function refusal(env: Record<string, string>): unknown {
  try {
    loadConfig({}, { ...VALID, ...env });
    return null;
  } catch (e) {
    return e;
  }
}

/**
 * Every capability parses its own settings, and every refusal at boot comes out in one shape: CONFIG_INVALID
 * with the variable to change named in the message and in `details.variable`.
 */
describe('one shape for every boot refusal', () => {
  it('accepts the minimal configuration', () => {
    expect(refusal({})).toBeNull();
  });

  const cases: [string, Record<string, string>, string][] = [
    ['the server (a port)', { STINT_PORT: 'seventy' }, 'STINT_PORT'],
    ['identity (a trusted proxy)', { STINT_TRUSTED_PROXIES: 'proxy.internal' }, 'STINT_TRUSTED_PROXIES'],
    ['step-up (a duration)', { STINT_MFA_MAX_AGE: 'soon' }, 'STINT_MFA_MAX_AGE'],
    ['the directory (LDAP without a base)', { STINT_LDAP_URL: 'ldap://127.0.0.1:1' }, 'STINT_LDAP_USER_BASE'],
    ['the audit trail (a witness)', { STINT_AUDIT_WITNESSES: 'not-a-witness' }, 'STINT_AUDIT_WITNESSES'],
  ];
  it.each(cases)('%s', (_what, env, variable) => {
    const e = refusal(env);
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', details: { variable } });
    expect((e as Error).message).toContain(variable);
  });
});

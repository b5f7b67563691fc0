import { describe, expect, it } from 'vitest';
import { actorLabel } from '../../src/cli/render-audit-event.js';

describe('the actor column of `stint audit list` and `audit tail`', () => {
  it('says when the actor used a session an operator made on the server host', () => {
    const source = { ip: null, userAgent: null, via: 'host-session', hostSession: 'abc' };
    expect(actorLabel({ actor: 'carol', body: { source } })).toBe('carol (host-made session)');
    expect(actorLabel({ actor: 'carol', body: { source: { ...source, via: undefined } } })).toBe('carol');
    expect(actorLabel({ actor: 'carol', body: null })).toBe('carol');
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { type AnyKind, type KindCapabilities, standingInventory } from '../../src/providers/kind.js';
import {
  type CredentialProvider,
  type IssueResult,
  isCancelled,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { type CrashServer, crashRecovery } from './contract-crash.js';

/** A live login made with an issued credential, as its user would hold it. */
export interface ContractSession {
  /** Something the role grants (e.g. read a table): resolves. */
  doGranted(): Promise<unknown>;
  /** One thing the role does not grant (e.g. write that table): rejects. */
  doUngranted(): Promise<unknown>;
  /** Whether the session still answers: false once the target ended it. */
  alive(): Promise<boolean>;
  close(): Promise<void>;
}

/** What a provider's test supplies: its real target, seen through the provider and, independently, as root. */
export interface ContractTarget {
  /**
   * Where the provider's admin connection goes; the suite puts a proxy in front of it to take the target down.
   * Absent for a target with no network endpoint: those tests are skipped, and say so.
   */
  endpoint?: { host: string; port: number };
  /** A role of the target's policy: what an issued credential is given. */
  grants: string[];
  /** A grant the target does not have: issuing with it must fail and leave nothing. */
  unknownGrant: string;
  /** A provider for this target (inside the registry's wrapper), through `via` when given. */
  makeProvider(owner: TargetOwner, via?: { host: string; port: number }): CredentialProvider;
  /** Logs in with an issued secret; rejects when the target refuses it. */
  openSession(secret: Record<string, string>): Promise<ContractSession>;
  /** Whether the principal exists on the target, read as the target's root, not through the provider. */
  principalExists(principal: string): Promise<boolean>;
  /**
   * For a kind that declares `takeInput`: the body its user sends when taking the credential (a fresh public
   * key). The suite then completes every credential it logs in with, as the take does, before `openSession`.
   * Absent: the issued secret is the whole credential.
   */
  takeInput?(): Record<string, unknown>;
  /**
   * For a kind that declares a standing-access inventory: makes, as the target's root, a privileged principal
   * Stint did not grant (a superuser, an admin account), as a team would have one.
   */
  makeStanding?(): Promise<StandingFixture>;
  close(): Promise<void>;
}

/** A principal made by hand on the target, and what the inventory must show of it. */
export interface StandingFixture {
  /** As `listStanding` names it. */
  principal: string;
  /** One privilege the listing must show for it, in the kind's words. */
  privilege: string;
  /** Its password and whatever form of it the target stores (a hash): neither may appear in the listing. */
  secrets: string[];
  drop(): Promise<void>;
}

const inAnHour = () => new Date(Date.now() + 3_600_000);
const newOwner = (deployment: string): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
/** Request ids unique to this run: other suites share the target. */
const newId = (label = 'ct') => `${label}-${randomBytes(5).toString('hex')}`;

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** What a kind's test hands the suite: its descriptor (whose capabilities pick the tests), its target, its server. */
export interface ContractOptions {
  kind: AnyKind;
  fixture: () => Promise<ContractTarget>;
  /** How a real server process serves a resource of this kind, for the kill -9 tests. */
  server: CrashServer;
  /** The target has a network endpoint the suite can take down (the fixture gives `endpoint`). */
  networked: boolean;
}

/**
 * Why a test does not apply to a kind, from its declared capabilities and its fixture; null when it applies.
 * Every skip is stated in the test's title, so a run's report says what was not checked and why.
 */
type Needs = (caps: KindCapabilities, hasEndpoint: boolean) => string | null;
const removable: Needs = (c) =>
  c.revocation === 'remove'
    ? null
    : `revocation is ${c.revocation}: the credential cannot be removed early${c.cutoff ? `; declared cut-off: ${c.cutoff}` : ''}`;
const listable: Needs = (c) => (c.listable ? null : 'the kind declares listable: false');
const reachableDown: Needs = (_c, e) => (!e ? 'the fixture has no network endpoint to take down' : null);
const inventory: Needs = (c) => {
  const declared = standingInventory(c);
  return declared.lists === 'standing' ? null : `no standing-access inventory: ${declared.why}`;
};
const contactsAtIssue: Needs = (c, e) =>
  !c.contactsTargetAtIssue
    ? 'issue does not contact the target (contactsTargetAtIssue: false)'
    : reachableDown(c, e);

/**
 * The behaviour every credential provider must show against its real target, as far as its kind declares it
 * can. A provider's test calls `providerContract('kind', { kind, fixture, server })`; the fixture says how to
 * reach the target and check it as root.
 */
export function providerContract(name: string, options: ContractOptions): void {
  const { fixture } = options;
  const caps = options.kind.capabilities;
  const hasEndpoint = options.networked;
  const test = (title: string, needs: Needs[], fn: () => Promise<void>) => {
    const why = needs.map((n) => n(caps, hasEndpoint)).find((w) => w !== null);
    if (why) it.skip(`${title} (skipped: ${why})`, fn);
    else it(title, fn);
  };
  describe(`provider contract: ${name}`, () => {
    let target: ContractTarget;
    let provider: CredentialProvider;
    let proxy: TcpProxy;
    /** The same store's provider, reaching the target through a proxy that can be taken down. */
    let viaProxy: CredentialProvider;
    const owner = newOwner(`contract-${name}`);

    const issue = (p: CredentialProvider, requestId = newId(), signal = NO_CANCEL) =>
      p.issue(
        { requestId, requester: 'contract', role: 'read', grants: target.grants, expiresAt: inAnHour() },
        signal,
      );
    /** Issue, then the take as its user makes it: with the kind's input, when it takes one. */
    const issueAndTake = async (p: CredentialProvider, requestId = newId(), expiresAt = inAnHour()) => {
      const issued = await p.issue(
        { requestId, requester: 'contract', role: 'read', grants: target.grants, expiresAt },
        NO_CANCEL,
      );
      if (!target.takeInput) return issued;
      if (!p.completeCredential)
        throw new Error('the fixture gives take input but the provider cannot complete');
      const made = await p.completeCredential(
        {
          requestId,
          requester: 'contract',
          role: 'read',
          grants: target.grants,
          principal: issued.principal,
          expiresAt,
          input: target.takeInput(),
        },
        NO_CANCEL,
      );
      return { principal: issued.principal, secret: { ...issued.secret, ...made.secret } };
    };

    beforeAll(async () => {
      target = await fixture();
      provider = target.makeProvider(owner);
      if (target.endpoint) {
        proxy = await startTcpProxy(target.endpoint.host, target.endpoint.port);
        viaProxy = target.makeProvider(owner, { host: '127.0.0.1', port: proxy.port });
      }
    });
    afterAll(async () => {
      await provider?.close();
      await viaProxy?.close();
      await proxy?.close();
      await target?.close();
    });

    it('answers ping', async () => {
      const { target: what } = await provider.ping({}, NO_CANCEL);
      expect(what.length).toBeGreaterThan(0);
    });

    it('issues a credential with exactly the role’s privileges', async () => {
      const requestId = newId();
      const cred = await issueAndTake(provider, requestId);
      expect(cred.principal).toBe(provider.principalFor(requestId));
      expect(await target.principalExists(cred.principal)).toBe(true);
      const session = await target.openSession(cred.secret);
      try {
        await expect(session.doGranted()).resolves.toBeDefined();
        await expect(session.doUngranted()).rejects.toThrow();
      } finally {
        await session.close();
        await provider.revoke({ principal: cred.principal }, NO_CANCEL);
      }
    });

    test(
      'revoke ends live sessions and logins, and nothing of the principal remains',
      [removable],
      async () => {
        const cred = await issueAndTake(provider);
        const session = await target.openSession(cred.secret);
        expect(await session.alive()).toBe(true);
        expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);

        expect(await provider.revoke({ principal: cred.principal }, NO_CANCEL)).toMatchObject({
          outcome: 'revoked',
        });

        // By the time revoke answers, not eventually.
        if (caps.endsSessions) expect(await session.alive()).toBe(false);
        await session.close();
        await expect(target.openSession(cred.secret)).rejects.toThrow();
        expect(await target.principalExists(cred.principal)).toBe(false);
        expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
      },
    );

    test(
      'an expire-only credential is not claimed removed: revoke says it is expiring, and it ends at its expiry',
      [(c) => (c.revocation === 'expire-only' ? null : 'revocation is remove: covered by the removal tests')],
      async () => {
        const expiresAt = new Date(Date.now() + 1_500);
        const cred = await issueAndTake(provider, newId(), expiresAt);
        expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('expiring');
        // Past its own end (waited for, not raced): no login, and verifyRevoked agrees it is gone.
        await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 100));
        await expect(target.openSession(cred.secret)).rejects.toThrow();
        expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
      },
    );

    it('two grants of one person on one resource never cut each other: ending one leaves the other working', async () => {
      // Same requester, same role, same resource, overlapping windows: each grant is its own principal.
      const first = await issueAndTake(provider);
      const second = await issueAndTake(provider);
      expect(second.principal).not.toBe(first.principal);
      const before = await target.openSession(second.secret);
      expect(await before.alive()).toBe(true);

      await provider.revoke({ principal: first.principal }, NO_CANCEL);

      // The other grant's live session and its new logins both still work, with the role's privileges.
      expect(await before.alive()).toBe(true);
      await before.doGranted();
      await before.close();
      const after = await target.openSession(second.secret);
      await after.doGranted();
      await after.close();
      // Whether the first grant's own credential still opens anything is not asked here: where access belongs to
      // the person (a cloud identity holding both grants), it rightly does while the second grant lives. The
      // removal tests check an ended grant alone.
      await provider.revoke({ principal: second.principal }, NO_CANCEL);
    });

    test('revoke again is a no-op, as is revoking a principal never issued', [removable], async () => {
      const cred = await issue(provider);
      expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
      expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('absent');
      const never = provider.principalFor(newId('never'));
      expect((await provider.revoke({ principal: never }, NO_CANCEL)).outcome).toBe('absent');
      expect((await provider.verifyRevoked({ principal: never }, NO_CANCEL)).gone).toBe(true);
    });

    test(
      'listOwned sees this store’s principals and not another store’s',
      [listable, removable],
      async () => {
        const other = target.makeProvider(newOwner(`contract-${name}-other`));
        const mine = await issue(provider);
        const theirs = await issue(other);
        try {
          const owned = (await provider.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
          const otherOwned = (await other.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
          expect(owned).toContain(mine.principal);
          expect(owned).not.toContain(theirs.principal);
          expect(otherOwned).toContain(theirs.principal);
          expect(otherOwned).not.toContain(mine.principal);
          // Nor does it touch another store's principal.
          await expect(provider.revoke({ principal: theirs.principal }, NO_CANCEL)).rejects.toThrow();
          expect(await target.principalExists(theirs.principal)).toBe(true);
        } finally {
          await provider.revoke({ principal: mine.principal }, NO_CANCEL);
          await other.revoke({ principal: theirs.principal }, NO_CANCEL);
          await other.close();
        }
        const after = (await provider.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
        expect(after).not.toContain(mine.principal);
      },
    );

    test('listStanding lists what Stint did not grant and never what it did', [inventory], async () => {
      const listStanding = provider.listStanding;
      if (!listStanding)
        throw new Error('the kind declares an inventory but its provider has no listStanding');
      if (!target.makeStanding)
        throw new Error('the kind declares an inventory: its fixture must make a standing principal');
      const other = target.makeProvider(newOwner(`contract-${name}-other`));
      const mine = await issue(provider);
      const theirs = await issue(other);
      const standing = await target.makeStanding();
      try {
        const { principals } = await listStanding({ grants: target.grants }, NO_CANCEL);
        const found = principals.find((p) => p.principal === standing.principal);
        expect(found, `${standing.principal} is listed`).toBeDefined();
        expect(found?.privileges).toContain(standing.privilege);
        expect(found?.reason).toMatch(/\S/);
        // Stint's own principals, this store's and another's, are not standing access: not even named.
        const text = JSON.stringify(principals);
        expect(text).not.toContain(mine.principal);
        expect(text).not.toContain(theirs.principal);
        const issuedSecrets = [mine, theirs].flatMap((c) =>
          ['password', 'token', 'url', 'kubeconfig'].flatMap((k) => c.secret[k] ?? []),
        );
        for (const secret of [...standing.secrets, ...issuedSecrets]) expect(text).not.toContain(secret);
      } finally {
        await standing.drop();
        await provider.revoke({ principal: mine.principal }, NO_CANCEL);
        await other.revoke({ principal: theirs.principal }, NO_CANCEL);
        await other.close();
      }
      // Dropped by hand, gone from the listing: it reads the target, not a memory of it.
      const after = (await listStanding({ grants: target.grants }, NO_CANCEL)).principals;
      expect(after.map((p) => p.principal)).not.toContain(standing.principal);
    });

    it('an issue the target refuses part-way leaves nothing behind', async () => {
      const requestId = newId();
      const err = await rejection(
        provider.issue(
          {
            requestId,
            requester: 'contract',
            role: 'broken',
            grants: [...target.grants, target.unknownGrant],
            expiresAt: inAnHour(),
          },
          NO_CANCEL,
        ),
      );
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(await target.principalExists(provider.principalFor(requestId))).toBe(false);
    });

    test('target down at issue: a clean, retryable error and nothing issued', [contactsAtIssue], async () => {
      const requestId = newId();
      proxy.down();
      try {
        const err = await rejection(issue(viaProxy, requestId));
        expect(err.code).toBe('PROVIDER_ERROR');
        expect(isPermanentFailure(err)).toBe(false);
        expect(err.message).not.toMatch(/password|SCRAM-SHA-256/i);
      } finally {
        proxy.up();
      }
      expect(await target.principalExists(viaProxy.principalFor(requestId))).toBe(false);
    });

    test(
      'target down at revoke: a retryable (not permanent) error; once it is back, revoke completes',
      [removable, reachableDown],
      async () => {
        const cred = await issue(viaProxy);
        proxy.down();
        try {
          const err = await rejection(viaProxy.revoke({ principal: cred.principal }, NO_CANCEL));
          expect(err.code).toBe('PROVIDER_ERROR');
          expect(isPermanentFailure(err)).toBe(false);
          expect(await target.principalExists(cred.principal)).toBe(true);
        } finally {
          proxy.up();
        }
        expect((await viaProxy.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
        expect(await target.principalExists(cred.principal)).toBe(false);
      },
    );

    it('an aborted signal stops issue with a clear error and leaves nothing behind', async () => {
      const requestId = newId();
      const before = new AbortController();
      before.abort();
      const err = await rejection(issue(provider, requestId, before.signal));
      expect(isCancelled(err)).toBe(true);
      expect(err.message).toMatch(/cancelled/);
      expect(await target.principalExists(provider.principalFor(requestId))).toBe(false);

      // Cut at every stage of the call: each attempt either finished (and is revoked) or left nothing. The first
      // cut lands at the call's first await (a kind whose issue is local files can finish within a timer's
      // first millisecond on a quiet machine), the rest on timers.
      let cut = 0;
      for (const afterMs of [-1, 0, 1, 2, 4, 8, 16, 32, 64, 128]) {
        const id = newId();
        const controller = new AbortController();
        const pending = issue(provider, id, controller.signal);
        if (afterMs < 0) queueMicrotask(() => controller.abort());
        else setTimeout(() => controller.abort(), afterMs);
        let issued: IssueResult | undefined;
        try {
          issued = await pending;
        } catch (e) {
          expect(isCancelled(e)).toBe(true);
          expect(isPermanentFailure(e)).toBe(false);
          cut += 1;
        }
        if (issued) await provider.revoke({ principal: issued.principal }, NO_CANCEL);
        // An expire-only credential that was issued stays until its expiry; one that was cut must not exist.
        if (!issued || caps.revocation === 'remove')
          expect(await target.principalExists(provider.principalFor(id))).toBe(false);
      }
      expect(cut).toBeGreaterThan(0);
    });

    test(
      'an aborted revoke stops with a clear, retryable error; a later revoke completes',
      [removable],
      async () => {
        const cred = await issue(provider);
        const controller = new AbortController();
        controller.abort();
        const err = await rejection(provider.revoke({ principal: cred.principal }, controller.signal));
        expect(isCancelled(err)).toBe(true);
        expect(isPermanentFailure(err)).toBe(false);
        expect(await target.principalExists(cred.principal)).toBe(true);
        expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
      },
    );

    crashRecovery(options.server, caps, () => ({ provider, target }));
  });
}

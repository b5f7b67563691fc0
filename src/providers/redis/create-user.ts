import { createHash, randomBytes } from 'node:crypto';
import type { IssueResult } from '../provider.js';
import { TRAILING_DENY } from './acl-rules.js';
import type { Admin, Session } from './connect.js';
import { isReplyError } from './redis-errors.js';

/** Why creating the user failed, and whether the server may hold it anyway. */
export class CreateUserFailed extends Error {
  override readonly name = 'CreateUserFailed';
  constructor(
    readonly failure: unknown,
    /** The user may exist: the command's answer never came (cut, cancelled), or the undo after a failed save failed. */
    readonly unknown: boolean,
    /** The password and hash sent: redacted from any message about this failure. */
    readonly secrets: readonly string[],
    /** The command that failed, for the message. */
    readonly step: 'ACL SETUSER' | 'ACL SAVE',
  ) {
    super('create user failed');
  }
}

/**
 * The user, its rules and its password in one `ACL SETUSER` (atomic since Redis 7.0: an unknown command in the
 * rules leaves nothing), then `ACL SAVE` so it survives a restart. A failed save is undone at once on the same
 * connection: a user that would not survive a restart is not handed out.
 *
 * Only the password's SHA-256 (`#<hash>`) reaches the server, as Redis stores it: the plaintext is never in its
 * memory, MONITOR output or slow log.
 */
export async function createUser(
  admin: Admin,
  session: Session,
  principal: string,
  grants: readonly string[],
): Promise<IssueResult> {
  const password = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(password).digest('hex');
  const secrets = [password, hash];
  try {
    // `reset` alone gives every channel on a server set to `acl-pubsub-default allchannels`: reset them again.
    await session.call(
      'ACL',
      'SETUSER',
      principal,
      ...['reset', 'resetkeys', 'resetchannels', '-@all'],
      ...grants,
      ...TRAILING_DENY,
      `#${hash}`,
      'on',
    );
  } catch (err) {
    // A refusal is the whole command refused; anything else (cut, cancelled) may have created it.
    throw new CreateUserFailed(err, !isReplyError(err), secrets, 'ACL SETUSER');
  }
  try {
    await session.call('ACL', 'SAVE');
  } catch (err) {
    if (!isReplyError(err)) throw new CreateUserFailed(err, true, secrets, 'ACL SAVE');
    const undone = await session.call('ACL', 'DELUSER', principal).then(
      () => true,
      () => false,
    );
    // Best effort: the failed save left the file without the user, unless another call's save took it along
    // meanwhile; then only a save now keeps it from coming back at a restart (else the reconciler removes it then).
    if (undone) await session.call('ACL', 'SAVE').catch(() => {});
    throw new CreateUserFailed(err, !undone, secrets, 'ACL SAVE');
  }
  return { principal, secret: credential(admin, principal, password) };
}

function credential(admin: Admin, principal: string, password: string): Record<string, string> {
  const { publicHost, publicPort, tls } = admin.config;
  const hostInUrl = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  const scheme = tls ? 'rediss' : 'redis';
  return {
    url: `${scheme}://${encodeURIComponent(principal)}:${encodeURIComponent(password)}@${hostInUrl}:${publicPort}`,
    username: principal,
    password,
    host: publicHost,
    port: String(publicPort),
  };
}

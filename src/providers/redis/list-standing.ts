import type { StandingPrincipal } from '../provider.js';
import { type Admin, withSession } from './connect.js';
import { parseName } from './principal-name.js';

/** Commands whose grant makes a user an administrator of the server, whatever its key patterns. */
const ADMIN_COMMAND =
  /(^| )\+(@admin|@dangerous|acl|config|module|debug|shutdown|flushall|flushdb|replicaof|slaveof)( |\||$)/;

/** `ACL GETUSER`'s RESP2 answer, `[name, value, name, value, …]`, as a map. */
function fieldsOf(reply: unknown[]): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  return fields;
}

const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/** A selector's rules, `(+get ~cache:*)`, as `ACL SETUSER` takes them. */
function selectorRules(selector: unknown): string {
  const f = Array.isArray(selector) ? fieldsOf(selector) : new Map<string, unknown>();
  return `(${[text(f.get('commands')), text(f.get('keys')), text(f.get('channels'))].filter(Boolean).join(' ')})`;
}

/**
 * Every enabled ACL user that Stint did not make (no name Stint makes, whichever store), with its rules as
 * `ACL GETUSER` reports them: commands, key and channel patterns, selectors and the flags that matter (`nopass`).
 * In Redis every user is standing access to what its rules allow, so all are listed; a disabled (`off`) user
 * cannot log in and is not. `ACL GETUSER` answers the password hashes too: they are dropped here, field by name,
 * and never leave this function. (`ACL LIST` would print them inline: Stint's admin is not allowed it.)
 */
export async function listStanding(admin: Admin, signal: AbortSignal): Promise<StandingPrincipal[]> {
  return withSession(admin, signal, async (s) => {
    const users = ((await s.call('ACL', 'USERS')) as string[]).filter((u) => parseName(u) === null).sort();
    const out: StandingPrincipal[] = [];
    for (const user of users) {
      const reply = await s.call('ACL', 'GETUSER', user);
      // Deleted since ACL USERS answered.
      if (!Array.isArray(reply)) continue;
      const f = fieldsOf(reply);
      f.delete('passwords');
      const flags = Array.isArray(f.get('flags')) ? (f.get('flags') as unknown[]).map(String) : [];
      if (!flags.includes('on')) continue;
      const commands = text(f.get('commands'));
      const selectors = Array.isArray(f.get('selectors')) ? (f.get('selectors') as unknown[]) : [];
      const privileges = [
        commands,
        text(f.get('keys')),
        text(f.get('channels')),
        ...selectors.map(selectorRules),
        ...flags.filter((flag) => flag !== 'on'),
      ].filter((p) => p.length > 0);

      const reasons: string[] = [];
      if (user === 'default')
        reasons.push('the default user: every connection that does not authenticate is it');
      if (flags.includes('nopass')) reasons.push('logs in with any password, or none');
      const allCommands = /(^| )\+@all( |$)/.test(commands) && !/-@(admin|dangerous)/.test(commands);
      if (allCommands) reasons.push('runs every command, administration included');
      else if (
        ADMIN_COMMAND.test(commands) ||
        selectors.some((sel) => ADMIN_COMMAND.test(selectorRules(sel)))
      )
        reasons.push('can run administrative or dangerous commands');
      if (reasons.length === 0) reasons.push('a standing ACL user: its rules apply all the time');
      const self = user === admin.config.username;
      out.push({
        principal: user,
        privileges,
        reason: self ? `Stint's own admin user on this target: ${reasons.join('; ')}` : reasons.join('; '),
        ...(self ? { detail: { stintAdmin: true } } : {}),
      });
    }
    return out;
  });
}

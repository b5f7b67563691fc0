import { z } from 'zod';

/**
 * What a policy may grant on a Redis target: ACL rules that give commands, keys and channels, and nothing that
 * touches the user itself (its password, its on/off state, a reset) or reaches past the rule grammar Stint
 * checks (selectors). Checked when the policy is loaded and again at issue.
 *
 * The guarantee does not rest on this list alone: at issue Stint appends `-@admin -@dangerous` after the policy's
 * rules (ACL rules apply left to right), so no command Redis files under either category is ever granted, even
 * one a later Redis version adds to `@read` or `@write`. What is refused here is refused so that a policy never
 * says it grants something the user would not get.
 */
export const TRAILING_DENY = ['-@admin', '-@dangerous'] as const;

/** Redis 7's ACL categories (`ACL CAT`). A category outside this list is a typo, refused at load. */
export const CATEGORIES: ReadonlySet<string> = new Set([
  'keyspace',
  'read',
  'write',
  'set',
  'sortedset',
  'list',
  'hash',
  'string',
  'bitmap',
  'hyperloglog',
  'geo',
  'stream',
  'pubsub',
  'admin',
  'fast',
  'slow',
  'blocking',
  'dangerous',
  'connection',
  'transaction',
  'scripting',
  'all',
]);

const REFUSED_CATEGORIES: Readonly<Record<string, string>> = {
  all: 'grants every command, ACL and CONFIG included',
  admin:
    'grants ACL, CONFIG, MODULE, CLIENT KILL and the like: the user could make users that outlive the revoke',
  dangerous:
    'grants commands that reach past key patterns or other clients (FLUSHALL, KEYS, MIGRATE, CLIENT KILL)',
};

/**
 * Commands (and subcommands) Redis 7.0 files under @admin or @dangerous (`ACL CAT admin`, `ACL CAT dangerous`).
 * `+acl` or `+client` whole would grant their admin subcommands, so a container command listed here with a `|`
 * is refused whole as well.
 */
const ADMIN_OR_DANGEROUS: ReadonlySet<string> = new Set(
  `acl|deluser acl|dryrun acl|getuser acl|list acl|load acl|log acl|save acl|setuser acl|users bgrewriteaof bgsave
  client|kill client|list client|no-evict client|pause client|unblock client|unpause cluster|addslots
  cluster|addslotsrange cluster|bumpepoch cluster|count-failure-reports cluster|delslots cluster|delslotsrange
  cluster|failover cluster|flushslots cluster|forget cluster|meet cluster|replicas cluster|replicate cluster|reset
  cluster|saveconfig cluster|set-config-epoch cluster|setslot cluster|slaves config|get config|resetstat
  config|rewrite config|set debug failover flushall flushdb info keys lastsave latency|doctor latency|graph
  latency|histogram latency|history latency|latest latency|reset migrate module|list module|load module|loadex
  module|unload monitor pfdebug pfselftest psync replconf replicaof restore restore-asking role save shutdown
  slaveof slowlog|get slowlog|len slowlog|reset sort sort_ro swapdb sync`
    .split(/\s+/)
    .filter((s) => s.length > 0),
);
const CONTAINERS_WITH_ADMIN: ReadonlySet<string> = new Set(
  [...ADMIN_OR_DANGEROUS].filter((c) => c.includes('|')).map((c) => c.split('|')[0] as string),
);

/** A glob for keys or channels: printable ASCII without spaces (the aclfile separates rules by spaces). */
const PATTERN = /^[\x21-\x7e]{1,512}$/;
const COMMAND = /^[a-z][a-z0-9_.-]{0,63}(?:\|[a-z0-9_.-]{1,63})?$/;

/** Words that change the user rather than grant something, with why each is refused. */
const USER_WORDS: Readonly<Record<string, string>> = {
  on: 'Stint turns the user on itself',
  off: 'Stint turns the user on itself',
  nopass: 'would let anyone log in as the user without a password',
  reset: 'Stint resets the user itself before the grants',
  resetpass: 'Stint sets the password itself',
  resetkeys: 'Stint resets the key patterns itself before the grants',
  resetchannels: 'Stint resets the channel patterns itself before the grants',
  allcommands: 'grants every command, ACL and CONFIG included',
  nocommands: 'write -@all',
  clearselectors: 'selectors are not supported',
  'skip-sanitize-payload': 'would let RESTORE load unchecked payloads',
  'sanitize-payload': 'is a server setting, not a grant',
};

/**
 * Why one grant is refused, or null when it is a rule Stint will pass on. Messages name the grant's shape, never
 * its whole text beyond the short command or category (which the policy author wrote and may see).
 */
export function refusal(rule: string): string | null {
  if (rule.length === 0) return 'must not be empty';
  if (!/^[\x21-\x7e]+$/.test(rule))
    return 'must be one ACL rule of printable ASCII with no spaces (the aclfile separates rules by spaces, users by lines)';
  if (/["']/.test(rule))
    return 'must not hold quotes: a Redis that reads its aclfile with quoting would read the rule differently after a restart';
  const lower = rule.toLowerCase();
  const word = USER_WORDS[lower];
  if (word !== undefined) return `"${lower}" is refused: ${word}`;
  const first = rule[0];
  if (first === '>' || first === '<' || first === '#' || first === '!')
    return 'passwords are refused in grants: Stint sets a random one per credential';
  if (first === '(')
    return 'selectors are refused: Stint appends -@admin -@dangerous to the root permissions only';
  if (lower === 'allkeys' || lower === 'allchannels') return null;
  if (first === '~' || first === '&') {
    return PATTERN.test(rule.slice(1)) ? null : 'the pattern must be 1 to 512 printable characters';
  }
  const flagged = /^%([RW]{1,2})~(.*)$/i.exec(rule);
  if (flagged) {
    const flags = (flagged[1] ?? '').toUpperCase();
    if (flags.length === 2 && flags[0] === flags[1]) return 'key permissions must be %R~, %W~ or %RW~';
    return PATTERN.test(flagged[2] ?? '') ? null : 'the pattern must be 1 to 512 printable characters';
  }
  if (first === '+' || first === '-') return commandRefusal(first, lower.slice(1));
  return 'must be an ACL rule granting commands (+get, +@read, -@write), keys (~app:*, %R~cache:*) or channels (&events:*)';
}

function commandRefusal(sign: '+' | '-', body: string): string | null {
  if (body.startsWith('@')) {
    const category = body.slice(1);
    if (!CATEGORIES.has(category)) return `"@${category}" is not a Redis ACL category`;
    const why = REFUSED_CATEGORIES[category];
    if (sign === '+' && why !== undefined) return `+@${category} is refused: it ${why}`;
    return null;
  }
  if (!COMMAND.test(body)) return 'must name a command as +name or +name|subcommand';
  if (sign === '-') return null;
  if (ADMIN_OR_DANGEROUS.has(body) || CONTAINERS_WITH_ADMIN.has(body)) {
    return `+${body} is refused: Redis files it (or a subcommand of it) under @admin or @dangerous, which Stint never grants`;
  }
  return null;
}

/** A role's `grants` on a Redis target: one ACL rule per item, at least one. */
export const aclGrants = z
  .array(
    z.string({ error: 'must be an ACL rule' }).superRefine((rule, ctx) => {
      const why = refusal(rule);
      if (why !== null) ctx.addIssue({ code: 'custom', message: why });
    }),
  )
  .min(1, { error: 'must grant at least one ACL rule' });

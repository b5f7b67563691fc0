import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { TIERS } from '../domain/request.js';
import { notificationsSchema } from './notifications-schema.js';
import { type ConnectionRef, SENSITIVITIES } from './policy-types.js';
import { strictObject } from './yaml-source.js';

/**
 * The shape of a policy file, field by field. Cross-field rules (references, limits, combinations) live in
 * the loader, which sees the whole file; this schema only knows one value at a time.
 */

const ID = /^[a-z0-9][a-z0-9._-]*$/;

/** Whether `text` is a valid user, team, resource, role or rule id (ID-token claims are checked with it too). */
export const isPolicyId = (text: string): boolean => text.length <= 64 && ID.test(text);

/**
 * Ids of users, teams, resources, roles and rules share one grammar, so none can be mistaken for the `*`
 * wildcard, carry whitespace, or differ from another only by case.
 */
const idSchema = z.string().max(64).regex(ID, {
  error: 'must be lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
});

/** `90m`, `2h`, `1h30m` → seconds. A bare number is refused: seconds or minutes would be a guess. */
export const durationSchema = z
  .string({
    error: (iss) => (iss.input === undefined ? undefined : 'must be a duration with a unit, e.g. 90m or 2h'),
  })
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (e) {
      ctx.issues.push({ code: 'custom', message: (e as Error).message, input: text });
      return z.NEVER;
    }
  });

/** Compiled once here; must be anchored with `^` so a ticket cannot hide in the middle of other text. */
const patternSchema = z.string().transform((source, ctx) => {
  if (!source.startsWith('^')) {
    ctx.issues.push({
      code: 'custom',
      message: `pattern must start with "^" so the reason itself is the ticket, e.g. "^${source}"`,
      input: source,
    });
    return z.NEVER;
  }
  try {
    return new RegExp(source);
  } catch (e) {
    const why = (e as Error).message.replace(/^Invalid regular expression: /, '');
    ctx.issues.push({ code: 'custom', message: `invalid regular expression: ${why}`, input: source });
    return z.NEVER;
  }
});

const userSchema = strictObject({
  id: idSchema,
  email: z.email({ error: 'must be an email address' }),
  name: z.string().min(1).optional(),
  manager: idSchema.nullable().optional(),
  teams: z.array(idSchema).default([]),
  security: z.boolean().default(false),
  admin: z.boolean().default(false),
  auditor: z.boolean().default(false),
  onCall: z.boolean().default(false),
});

const INLINE_SECRET =
  'inline connection details are refused: secrets never live in the policy; use { env: VARIABLE } or { file: /path }';

const connectionSchema = strictObject(
  {
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name, e.g. STINT_DB_URL' })
      .optional(),
    file: z.string().startsWith('/', { error: 'must be an absolute path' }).optional(),
  },
  { unknownKey: (key) => `"${key}": ${INLINE_SECRET}`, notAMap: INLINE_SECRET },
).transform((value, ctx): ConnectionRef => {
  if (value.env !== undefined && value.file === undefined) return { env: value.env };
  if (value.file !== undefined && value.env === undefined) return { file: value.file };
  ctx.issues.push({ code: 'custom', message: 'give exactly one of env or file', input: value });
  return z.NEVER;
});

// What a grant must look like, and which options a resource takes, is its kind's to say: the loader checks both
// with the kind's own schemas. Here only the frame.
const roleSchema = strictObject({
  description: z.string().default(''),
  grants: z.array(z.string().min(1)).min(1),
});

const resourceSchema = strictObject({
  id: idSchema,
  kind: idSchema,
  description: z.string().default(''),
  sensitivity: z.enum(SENSITIVITIES),
  connection: connectionSchema.optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  roles: z.record(idSchema, roleSchema).refine((roles) => Object.keys(roles).length > 0, {
    error: 'must define at least one role',
  }),
});

const ruleSchema = strictObject({
  id: idSchema,
  description: z.string().default(''),
  resources: z.array(idSchema).min(1),
  roles: z
    .array(
      z.string().refine((s) => s === '*' || ID.test(s), {
        error: 'must be a role name or "*" for every role',
      }),
    )
    .min(1),
  who: strictObject({
    teams: z.array(idSchema).default([]),
    users: z.array(idSchema).default([]),
    // Only `true` means something; `false` would read as "only people off call", which it is not.
    onCall: z.literal(true, { error: 'must be true (only people on call may ask) or left out' }).optional(),
  }),
  duration: strictObject({ min: durationSchema.optional(), default: durationSchema, max: durationSchema }),
  ticket: strictObject({
    required: z.boolean().default(true),
    patterns: z.array(patternSchema).default([]),
  }).optional(),
  approval: z.array(z.enum(TIERS)).min(1),
});

const settingsSchema = strictObject({
  deployment: idSchema.optional(),
  hardCap: durationSchema.optional(),
  pendingTimeout: durationSchema.optional(),
  minDuration: durationSchema.optional(),
  allowSharedDeploymentName: z.boolean().optional(),
});

// ---------------------------------------------------------------------------------------------------------------
// break-glass (src/breakglass): who may invoke emergency access to a set of resources, skipping approval. Limits
// between fields (max duration, drill interval, references) are checked in breakglass-policy.ts.

const channelSchema = z
  .string()
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, {
    error: 'must be a channel name from the notifications block: lowercase letters, digits, ".", "_" or "-"',
  });

const breakglassSchema = strictObject({
  id: idSchema,
  description: z.string().default(''),
  resources: z.array(idSchema).min(1),
  roles: z
    .array(
      z.string().refine((s) => s === '*' || ID.test(s), {
        error: 'must be a role name or "*" for every role',
      }),
    )
    .min(1),
  who: strictObject({ teams: z.array(idSchema).default([]), users: z.array(idSchema).default([]) }),
  maxDuration: durationSchema,
  channels: z.array(channelSchema).min(1),
  escalateAfter: durationSchema.optional(),
  drillEvery: durationSchema.optional(),
  postmortem: strictObject({ owner: idSchema.optional(), due: durationSchema.optional() }).optional(),
});

export const policyFileSchema = strictObject({
  version: z.literal(1, { error: (iss) => (iss.input === undefined ? undefined : 'must be 1') }),
  settings: settingsSchema.optional(),
  users: z.array(userSchema),
  resources: z.array(resourceSchema),
  rules: z.array(ruleSchema),
  breakglass: z.array(breakglassSchema).optional(),
  // Who hears what, through which channels (notifications-schema.ts).
  notifications: notificationsSchema.optional(),
});

export type PolicyFile = z.output<typeof policyFileSchema>;

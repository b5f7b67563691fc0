/**
 * `Prefer: wait=N` (RFC 7240 §4.3): the client would rather wait up to N seconds for the final outcome than get
 * an interim answer and poll. Stint honours it where a change starts work after its commit (issuing a credential)
 * and caps it below the CLI's own call timeout (30 s), so a waiting client never gives up on an answer on its way.
 */
export const MAX_WAIT_SECONDS = 20;

export const preferHeaders = {
  type: 'object',
  properties: {
    prefer: {
      type: 'string',
      maxLength: 200,
      description: `RFC 7240. \`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}): answer once this server has issued the credential (\`active\` or \`failed\`) rather than at the approval's commit; still \`approved\` if the wait ran out. Other preferences are ignored.`,
    },
  },
} as const;

/**
 * The wait asked for, in ms (0 when none). Per RFC 7240 a preference the server does not understand, or a value
 * that is not delta-seconds, is ignored rather than refused.
 */
export function preferredWaitMs(header: string | string[] | undefined): number {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const value of values) {
    for (const preference of value.split(',')) {
      const [token = '', raw] = (preference.split(';')[0] ?? '').split('=', 2).map((part) => part.trim());
      if (token.toLowerCase() !== 'wait' || raw === undefined) continue;
      const seconds = /^"?(\d{1,9})"?$/.exec(raw)?.[1];
      if (seconds !== undefined) return Math.min(Number(seconds), MAX_WAIT_SECONDS) * 1000;
    }
  }
  return 0;
}

/**
 * The one CEL form the double evaluates: `request.time < timestamp("<RFC 3339>")`, the expiring condition IAM's own
 * documentation gives for temporary access. Anything else is refused at setIamPolicy, so a condition the double
 * cannot judge never passes silently.
 */
const EXPIRING = /^request\.time < timestamp\("(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)"\)$/;

export function parseCondition(expression: string): { until: number } | null {
  const m = EXPIRING.exec(expression.trim());
  if (!m?.[1]) return null;
  const until = Date.parse(m[1]);
  return Number.isNaN(until) ? null : { until };
}

export function conditionHolds(expression: string, now: number): boolean {
  const parsed = parseCondition(expression);
  if (!parsed) throw new Error(`the GCP double cannot evaluate ${expression}`);
  return now < parsed.until;
}

import type { EvidenceManifest } from './evidence-format.js';

/** Where in the pack an auditor finds what a control asks for. A pointer, not a claim of compliance. */
export const CONTROL_MAP: { framework: string; control: string; asks: string; where: string }[] = [
  {
    framework: 'PCI DSS v4.0',
    control: '10.2.1, 10.2.1.2, 10.2.1.5',
    asks: 'audit logs capture actions by anyone with administrative access and every elevation of privilege',
    where:
      '`access.jsonl` (each elevation: requester, resource, role, reason, approvers, window, end); `audit/events-*.jsonl` (every event)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.2.1.2',
    asks: 'all actions taken by any individual with administrative access are logged',
    where:
      '`recordings.json` (each privileged session through the proxy: who, as which account, from where, when, what was recorded, each segment’s SHA-256 sealed in the audit trail); `recordings/` with `--with-recordings` (the terminal output itself, checked against those hashes)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.2.1.4, 10.2.1.7',
    asks: 'invalid access attempts; creation and deletion of system-level objects',
    where:
      '`audit/` (`auth.failed`, `request.denied`; `grant.activated` creates and `grant.revocation_completed` confirms removal of the account on the target)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.2.2',
    asks: 'each record names the user, event type, date and time, success or failure, origin and affected resource',
    where:
      'every event body in `audit/`: `actor`, `action`, `time`, `result`, `source`, `target` (docs/audit.md)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.3.2, 10.3.4',
    asks: 'audit logs are protected from modification and changes are detected',
    where:
      '`audit/checkpoint.txt` (signed Merkle root of every event up to the period’s end), `audit/start.json` (the tree before it), `audit/consistency.json` and `proofs/` (the later signed log extends it), `witnesses.json` (independent cosignatures); `stint evidence verify` recomputes all of it',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.3.3',
    asks: 'audit logs are promptly backed up to a secure, central store',
    where: 'the checkpoints Stint writes to its WORM folder and submits to witnesses (`witnesses.json`)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.4.1, 10.4.1.1, 10.4.3',
    asks: 'security events are reviewed (automated where possible) and exceptions followed up',
    where:
      '`breakglass.json` (each emergency use, its escalations, postmortems and drills); `stint report` for the period (approval-time and rubber-stamping warnings)',
  },
  {
    framework: 'PCI DSS v4.0',
    control: '10.5.1',
    asks: 'audit history is retained for at least 12 months',
    where:
      '`evidence.json` `events.purged` (events whose bodies retention removed, never fewer than 365 days old: their hashes still verify); `audit.retention` and `audit.purged` events',
  },
  {
    framework: 'SOC 2 (TSC 2017)',
    control: 'CC6.1, CC6.2, CC6.3',
    asks: 'logical access is granted on approval, by role, least privilege, and removed when no longer needed',
    where:
      '`access.jsonl` (who approved each grant and when it ended); `policies.json` and `policies/` (the rules in force: who may ask, who approves, how long)',
  },
  {
    framework: 'SOC 2 (TSC 2017)',
    control: 'CC6.6, CC6.8',
    asks: 'access from outside and unauthorised changes are prevented or detected',
    where:
      '`audit/` (`reconciler.removed`, `grant.vanished`: accounts on targets Stint did not make or that went missing)',
  },
  {
    framework: 'SOC 2 (TSC 2017)',
    control: 'CC7.2, CC7.3, CC7.4',
    asks: 'anomalies are monitored, evaluated and responded to',
    where:
      '`breakglass.json` (uses, acknowledgements, escalations, postmortems); `access.jsonl` `revocation` (clean-up failures retried or abandoned); `/metrics` and `stint report` for the period',
  },
  {
    framework: 'SOC 2 (TSC 2017)',
    control: 'CC7.2, CC7.3',
    asks: 'privileged activity is monitored and evaluated',
    where:
      '`recordings.json` `review` (sessions drawn for review, by rule or seeded sample, their claims, due-date reminders and verdicts: `ok`, `concern`, `incident`)',
  },
  {
    framework: 'SOC 2 (TSC 2017)',
    control: 'CC7.5',
    asks: 'recovery from incidents is planned and tested',
    where: '`breakglass.json` `drills` (break-glass drills and their steps)',
  },
];

/** The pack's README.md: what the period holds and where each control's evidence is. */
export function indexMarkdown(m: EvidenceManifest, policyVersions: string[], casts = 0): string {
  const e = m.events;
  const actions = Object.entries(e.byAction)
    .map(([action, c]) => `| \`${action}\` | ${c.count} | ${c.firstSeq} | ${c.lastSeq} |`)
    .join('\n');
  const purged = e.purged
    ? `**${e.purged.count} event(s) of this period were purged by retention** (seqs ${e.purged.ranges
        .map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`))
        .join(
          ', ',
        )}): their leaf hashes are in the pack and verified, their content is gone. Nothing else is missing.`
    : 'No event of this period was purged: every event is here with its content.';
  return `# Stint evidence pack: ${m.period.label}

Period ${m.period.since} to ${m.period.until} (UTC, end exclusive), log \`${m.origin}\`, made ${m.createdAt}.

The period's events are seqs ${e.start} to ${e.end - 1} (${e.count} events). ${purged}
${e.stampedOutside > 0 ? `\n${e.stampedOutside} event(s) recorded in this seq range carry a time just outside the period (servers' clocks differ slightly); they are counted here.\n` : ''}
Check it with no server: \`stint evidence verify <this archive> --key <the log's vkey>\` (add \`--witness <vkey>\` to
check witness cosignatures). It recomputes the events against the signed checkpoint, the checkpoint against the
newer one, and every derived file below from the events.

## Files

| file | what it is |
| --- | --- |
| \`audit/\` | the audit export of the period: events as JSON Lines per day, the signed checkpoint, the frontier before it, a consistency proof to a newer signed checkpoint |
| \`access.jsonl\` | who had what, when, why, approved by whom: one line per request with events in the period |
| \`breakglass.json\` | break-glass uses with their events, postmortems and drills |
| \`recordings.json\` | sessions through Stint's proxies with events in the period: who, where, when, each recording's sealed segments with their SHA-256 and size, failures to record, and the session review (draw, claims, reminders, verdict); refused logins |
| \`recordings/\` | ${casts > 0 ? `the bytes of ${casts} sealed segment(s) (\`--with-recordings\`), each checked by verify against its \`recording.segment\` event` : "not in this pack (export with `--with-recordings` to carry the segments' bytes; their hashes are in `recordings.json`)"} |
| \`policies.json\`, \`policies/\` | the policy versions requests were decided under (${policyVersions.length > 0 ? policyVersions.map((v) => `\`${v}\``).join(', ') : 'none in this period'}), and the text of those the server had |
| \`witnesses.json\` | cosignature lines of external witnesses on the pack's checkpoints |
| \`proofs/\` | proof bundles that travel alone (\`stint audit check-proof\`): each break-glass use included in the pack's checkpoint, and that checkpoint consistent with the newer one |
| \`evidence.json\` | this pack's manifest: counts per action and every file's SHA-256 |

## Events by action

| action | events | first seq | last seq |
| --- | --- | --- | --- |
${actions || '| (none) | 0 | - | - |'}

## Where each control's evidence is

| framework | control | asks for | where in this pack |
| --- | --- | --- | --- |
${CONTROL_MAP.map((c) => `| ${c.framework} | ${c.control} | ${c.asks} | ${c.where} |`).join('\n')}
`;
}

/** Times in the viewer's own zone and language, with the zone named so a screenshot cannot mislead. */
const when = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

export const formatTime = (iso: string) => when.format(new Date(iso));

/** 3725 → "1h 2m 5s"; whole units only, the largest first. */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', r || (!h && !m) ? `${r}s` : ''];
  return parts.filter(Boolean).join(' ');
}

/** The approvals still needed, as one line: "manager approval — carol; security reviewer approval — dave, sam". */
export const waitingText = (waitingFor: readonly { label: string; eligible: readonly string[] }[]) =>
  waitingFor.map((w) => `${w.label} approval — ${w.eligible.join(', ')}`).join('; ');

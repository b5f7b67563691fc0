import { truncate } from './output.js';

/** The why of an event in a few words: its reason or comment, else its first plain fields. */
export function shortDetails(details: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof details.reason === 'string' && details.reason) parts.push(`reason: ${details.reason}`);
  if (typeof details.comment === 'string' && details.comment) parts.push(`comment: ${details.comment}`);
  if (parts.length === 0) {
    for (const [k, v] of Object.entries(details)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parts.push(`${k}=${v}`);
    }
  }
  return truncate(parts.join('; '), 60);
}

/** The actor, marked when they acted with a session an operator made on the server host. */
export function actorLabel(e: { actor: string; body?: { source?: { via?: string } | null } | null }): string {
  return e.body?.source?.via === 'host-session' ? `${e.actor} (host-made session)` : e.actor;
}

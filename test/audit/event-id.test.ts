import { describe, expect, it } from 'vitest';
import { eventId } from '../../src/audit/event-id.js';

describe('audit event ids', () => {
  it('are RFC 9562 version 7 UUIDs carrying their millisecond, in time order, and unique', () => {
    const at = Date.UTC(2026, 11, 7, 2, 40, 0, 123);
    const id = eventId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const later = eventId(at + 1);
    expect(later > id).toBe(true);
    const many = new Set(Array.from({ length: 10_000 }, () => eventId(at)));
    expect(many.size).toBe(10_000);
  });
});

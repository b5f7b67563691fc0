import type { Clock } from '../domain/clock.js';

/** setTimeout's longest delay; later expiries are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Expiry instants by grant, ordered by a binary min-heap in two parallel arrays (packed doubles and ids): a few
 * dozen bytes per grant where a Timeout, its closure and its context cost ~450 (measured with 10,000 grants).
 * Cancelled or rescheduled entries stay in the heap and are skipped when they surface (`deadlines` is the truth).
 */
function createDeadlineHeap() {
  let ats: number[] = [];
  let ids: string[] = [];

  function swap(i: number, j: number): void {
    const at = ats[i] as number;
    ats[i] = ats[j] as number;
    ats[j] = at;
    const id = ids[i] as string;
    ids[i] = ids[j] as string;
    ids[j] = id;
  }

  function up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((ats[parent] as number) <= (ats[i] as number)) return;
      swap(i, parent);
      i = parent;
    }
  }

  function down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < ats.length && (ats[l] as number) < (ats[least] as number)) least = l;
      if (r < ats.length && (ats[r] as number) < (ats[least] as number)) least = r;
      if (least === i) return;
      swap(i, least);
      i = least;
    }
  }

  return {
    get length(): number {
      return ats.length;
    },
    push(id: string, at: number): void {
      ats.push(at);
      ids.push(id);
      up(ats.length - 1);
    },
    /** The earliest entry, or undefined when empty. */
    peek(): { id: string; at: number } | undefined {
      return ats.length === 0 ? undefined : { id: ids[0] as string, at: ats[0] as number };
    },
    pop(): void {
      const lastAt = ats.pop() as number;
      const lastId = ids.pop() as string;
      if (ats.length === 0) return;
      ats[0] = lastAt;
      ids[0] = lastId;
      down(0);
    },
    /** Rebuilt from the live deadlines only, when stale entries outnumber them. */
    rebuild(live: Map<string, number>): void {
      ats = [...live.values()];
      ids = [...live.keys()];
      for (let i = (ats.length >> 1) - 1; i >= 0; i--) down(i);
    },
    clear(): void {
      ats = [];
      ids = [];
    },
  };
}

/**
 * Arms the exact expiry instant of every active grant, so access ends within milliseconds rather than at the next
 * poll. One timer serves them all, armed for the earliest deadline: a timer per grant held ~450 bytes each on the
 * heap. Timers are an optimisation over the durable due times in the store: the sweeper still finds anything a
 * timer missed (restart, another server's grant).
 */
export function createExpiryScheduler(clock: Clock, onDue: (requestId: string) => void) {
  const deadlines = new Map<string, number>();
  const heap = createDeadlineHeap();
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Number.POSITIVE_INFINITY;

  /** Drops cancelled and superseded entries from the top, so the top is the earliest live deadline. */
  function settleTop(): { id: string; at: number } | undefined {
    for (let top = heap.peek(); top; top = heap.peek()) {
      if (deadlines.get(top.id) === top.at) return top;
      heap.pop();
    }
    return undefined;
  }

  function arm(): void {
    const next = settleTop();
    const at = next?.at ?? Number.POSITIVE_INFINITY;
    if (at === armedFor) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    armedFor = at;
    if (!next) return;
    timer = setTimeout(fire, Math.min(Math.max(0, at - clock().getTime()), MAX_TIMER_MS));
    timer.unref();
  }

  function fire(): void {
    timer = undefined;
    armedFor = Number.POSITIVE_INFINITY;
    // Timers may fire a hair early against the wall clock; never end access before its instant.
    const now = clock().getTime();
    const due: string[] = [];
    for (let top = settleTop(); top && top.at <= now; top = settleTop()) {
      heap.pop();
      deadlines.delete(top.id);
      due.push(top.id);
    }
    arm();
    for (const id of due) onDue(id);
  }

  return {
    schedule(id: string, expiresAt: Date): void {
      const at = expiresAt.getTime();
      if (deadlines.get(id) === at) return;
      deadlines.set(id, at);
      heap.push(id, at);
      if (heap.length > 2 * deadlines.size + 64) heap.rebuild(deadlines);
      if (at < armedFor) arm();
    },
    cancel(id: string): void {
      // Its heap entry is skipped when it surfaces; the timer, if armed for it, finds nothing due and re-arms.
      deadlines.delete(id);
      if (deadlines.size === 0) {
        heap.clear();
        arm();
      }
    },
    size(): number {
      return deadlines.size;
    },
    stop(): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
      armedFor = Number.POSITIVE_INFINITY;
      deadlines.clear();
      heap.clear();
    },
  };
}

export type ExpiryScheduler = ReturnType<typeof createExpiryScheduler>;

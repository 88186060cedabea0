/**
 * One timer for every pending connect deadline.
 *
 * A connect usually finishes long before its deadline (60 s by default), so a Node timer per
 * connect is created and cleared almost at once, and Node's timer list for that duration is
 * built and torn down again and again. Here the pending deadlines sit in one list, one timer is
 * armed for the earliest of them, and finishing a connect takes its item out of the list in
 * constant time (each item knows its slot; no hashing). The timer keeps the process alive only
 * while some deadline is pending.
 */

/** Something with a deadline: `timedOut()` is called once `expiresAt` (performance.now() time) passes. */
export interface Expiring {
  readonly expiresAt: number;
  timedOut(): void;
  /** The clock's bookkeeping: the item's index in the pending list while it is scheduled. */
  clockSlot?: number | undefined;
}

/** The scheduled items, in no particular order; `item.clockSlot` is each one's index here. */
const pending: Expiring[] = [];
let timer: NodeJS.Timeout | null = null;
let armedAt = Infinity;

/**
 * Calls `item.timedOut()` once its time has come, unless `unschedule(item)` is called first.
 *
 * @example
 * ```ts
 * const item = { expiresAt: performance.now() + 5000, timedOut: () => console.log("late") };
 * schedule(item);
 * unschedule(item);
 * ```
 */
export function schedule(item: Expiring): void {
  if (isScheduled(item)) return;
  item.clockSlot = pending.length;
  pending.push(item);
  if (timer === null || item.expiresAt < armedAt) arm(item.expiresAt);
  else if (pending.length === 1) timer.ref();
}

/**
 * Forgets `item`; a no-op if it was not scheduled or has already timed out.
 *
 * @example
 * ```ts
 * unschedule(item);
 * ```
 */
export function unschedule(item: Expiring): void {
  if (!isScheduled(item)) return;
  remove(item);
  // The timer stays armed for the earliest time seen, but no longer holds the process open.
  if (pending.length === 0 && timer !== null) timer.unref();
}

function isScheduled(item: Expiring): boolean {
  const slot = item.clockSlot;
  return slot !== undefined && pending[slot] === item;
}

/** Takes a scheduled item out of the list: the last item moves into its slot. */
function remove(item: Expiring): void {
  const slot = item.clockSlot!;
  const last = pending.pop()!;
  if (last !== item) {
    pending[slot] = last;
    last.clockSlot = slot;
  }
  item.clockSlot = undefined;
}

function arm(at: number): void {
  if (timer !== null) clearTimeout(timer);
  armedAt = at;
  timer = setTimeout(fire, Math.max(1, Math.ceil(at - performance.now())));
}

function fire(): void {
  timer = null;
  armedAt = Infinity;
  const now = performance.now();
  const due: Expiring[] = [];
  for (const item of pending) if (item.expiresAt <= now) due.push(item);
  // A late timer (a busy event loop) may find several due: they still go in deadline order.
  if (due.length > 1) due.sort((a, b) => a.expiresAt - b.expiresAt);
  for (const item of due) {
    // An earlier item's callback may have unscheduled this one.
    if (!isScheduled(item)) continue;
    remove(item);
    item.timedOut();
  }
  // Re-arm for what is left, unless a callback already armed for something earlier.
  let next = Infinity;
  for (const item of pending) if (item.expiresAt < next) next = item.expiresAt;
  if (next < armedAt) arm(next);
}

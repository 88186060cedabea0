/**
 * The one deadline primitive: a time limit joined with the caller's AbortSignal, under every
 * call that waits (connect with its resolve, dial and handshakes; reads, writes, flush, close,
 * startTls, accept, receive). Each step races the same clock, and whoever waits is told once.
 */
import { schedule, unschedule, type Expiring } from "./deadline-clock.js";
import { socketError, type Phase, type SocketError } from "./errors.js";
import { timeoutProblem } from "./options.js";

/**
 * The last argument of every call that waits.
 *
 * @example
 * ```ts
 * const line = await socket.readLine({ timeout: 5000, signal: AbortSignal.timeout(10_000) });
 * ```
 */
export interface CallOptions {
  /** Milliseconds before the call rejects with ETIMEDOUT; overrides the socket's default; 0 waits forever. */
  timeout?: number | undefined;
  /** Aborting it rejects the call with ERR_ABORTED (the signal's reason as `cause`). */
  signal?: AbortSignal | undefined;
}

/** Deadlines share one timer (deadline-clock.ts) unless the bench asks for a Node timer each. */
let sharedClock = true;

/**
 * For the bench's A/B row only: true gives every deadline its own Node timer instead of the
 * shared clock.
 *
 * @example
 * ```ts
 * useNodeTimers(true); // measure, then
 * useNodeTimers(false);
 * ```
 */
export function useNodeTimers(on: boolean): void {
  sharedClock = !on;
}

/**
 * Tracks the current phase and tells the waiting steps when the time is up or the caller
 * aborts. Call `clear()` when the operation ends, whichever way.
 *
 * @example
 * ```ts
 * const deadline = new Deadline(5000, signal, url);
 * deadline.phase = "resolve";
 * const addresses = await deadline.race(resolveHost(host, {}, url));
 * deadline.clear();
 * ```
 */
export class Deadline implements Expiring {
  phase: Phase;
  /** When the time is up, in performance.now() time (Infinity without a timeout). */
  readonly expiresAt: number;
  readonly #url: string | undefined;
  readonly #ms: number;
  readonly #started: number;
  /** What did not happen in time, for the message ("no data arrived"); absent: "timed out". */
  readonly #what: string | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #expired: SocketError | null = null;
  /** Who to tell when time is up: one step at a time as a rule, so one slot, and a list only beyond it. */
  #listener: ((err: SocketError) => void) | null = null;
  #moreListeners: Array<(err: SocketError) => void> | null = null;
  /** @internal The deadline clock's bookkeeping. */
  clockSlot: number | undefined = undefined;

  /**
   * @param ms the time limit (0: none, only the signal)
   * @param what what did not happen in time, for the message ("no data arrived")
   */
  constructor(ms: number, signal: AbortSignal | undefined, url: string | undefined, phase: Phase = "connect", what?: string) {
    this.phase = phase;
    this.#url = url;
    this.#ms = ms;
    this.#what = what;
    this.#started = performance.now();
    this.expiresAt = ms > 0 ? this.#started + ms : Infinity;
    if (ms > 0) {
      // Most deadlines are cleared long before they pass: one shared timer serves them all.
      if (sharedClock) schedule(this);
      else this.#timer = setTimeout(() => this.timedOut(), ms);
    }
    if (signal) {
      this.#signal = signal;
      if (signal.aborted) this.#expire(this.#abortError());
      else {
        this.#onAbort = () => this.#expire(this.#abortError());
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
  }

  /** @internal Called by the deadline clock once `expiresAt` has passed. */
  timedOut(): void {
    const text = this.#what === undefined ? `timed out after ${this.#ms} ms` : `${this.#what} within ${this.#ms} ms`;
    this.#expire(socketError("ETIMEDOUT", this.phase, this.#url, text));
  }

  #abortError(): SocketError {
    return socketError("ERR_ABORTED", this.phase, this.#url, "aborted by the caller's signal", {
      cause: this.#signal?.reason,
    });
  }

  #expire(err: SocketError): void {
    if (this.#expired) return;
    this.#expired = err;
    this.#stopTimer();
    const first = this.#listener;
    const more = this.#moreListeners;
    this.#listener = null;
    this.#moreListeners = null;
    first?.(err);
    if (more !== null) for (const fn of more) fn(err);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else unschedule(this);
  }

  /** Milliseconds left (Infinity without a timeout). */
  remaining(): number {
    return this.#ms > 0 ? Math.max(1, Math.ceil(this.#ms - (performance.now() - this.#started))) : Infinity;
  }

  /** The error if the deadline has passed or the caller aborted, else null. */
  get expired(): SocketError | null {
    return this.#expired;
  }

  /** Runs `fn` when the deadline passes (at once if it has); `offExpire(fn)` unregisters it. */
  onExpire(fn: (err: SocketError) => void): void {
    if (this.#expired) fn(this.#expired);
    else if (this.#listener === null) this.#listener = fn;
    else (this.#moreListeners ??= []).push(fn);
  }

  /** Unregisters a function given to `onExpire`. */
  offExpire(fn: (err: SocketError) => void): void {
    if (this.#listener === fn) this.#listener = null;
    else if (this.#moreListeners !== null) {
      const i = this.#moreListeners.indexOf(fn);
      if (i !== -1) this.#moreListeners.splice(i, 1);
    }
  }

  /** Settles with `step`, or rejects when the deadline passes first (then runs `cancel`). */
  race<T>(step: Promise<T>, cancel?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const expire = (err: SocketError): void => {
        cancel?.();
        reject(err);
      };
      this.onExpire(expire);
      step.then(
        (v) => {
          this.offExpire(expire);
          resolve(v);
        },
        (e: unknown) => {
          this.offExpire(expire);
          reject(e);
        },
      );
    });
  }

  /** Stops the timer and forgets the signal and the listeners. */
  clear(): void {
    this.#stopTimer();
    if (this.#onAbort !== undefined) {
      this.#signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = undefined;
    }
    this.#listener = null;
    this.#moreListeners = null;
  }
}

/**
 * The deadline of one waiting call: its own `timeout` (else `fallback`, the handle's default)
 * and `signal`; `null` when neither limits it (the call waits as long as it must, at no cost).
 * The options must have passed `checkCallOptions()`, which the call runs before anything else.
 *
 * @example
 * ```ts
 * checkCallOptions(options, url, "read");
 * // … answer at once from the buffer if possible, else:
 * const deadline = callDeadline(options, readTimeout, url, "read", "no data arrived");
 * ```
 */
export function callDeadline(
  options: CallOptions | undefined,
  fallback: number,
  url: string | undefined,
  phase: Phase,
  what: string,
): Deadline | null {
  const ms = options?.timeout ?? fallback;
  const signal = options?.signal;
  return ms > 0 || signal !== undefined ? new Deadline(ms, signal, url, phase, what) : null;
}

/**
 * Checks the `{ timeout, signal }` of a waiting call; throws ERR_INVALID_OPTION naming the target.
 *
 * @example
 * ```ts
 * checkCallOptions({ timeout: -1 }, "tcp://127.0.0.1:80", "read"); // throws
 * ```
 */
export function checkCallOptions(options: unknown, url: string | undefined, phase: Phase): asserts options is CallOptions {
  if (options === null || typeof options !== "object") {
    throw socketError("ERR_INVALID_OPTION", phase, url, `call options must be an object like { timeout, signal }, got ${String(options)}`);
  }
  const o = options as CallOptions;
  const problem = o.timeout === undefined ? null : timeoutProblem(o.timeout, "timeout");
  if (problem !== null) throw socketError("ERR_INVALID_OPTION", phase, url, problem);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw socketError("ERR_INVALID_OPTION", phase, url, "signal must be an AbortSignal");
  }
}

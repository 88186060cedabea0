/**
 * One deadline for a whole operation (connect: resolve + dial + handshakes), joined with
 * the caller's AbortSignal, so every step races the same clock.
 */
import { schedule, unschedule, type Expiring } from "./deadline-clock.js";
import { SocketError, socketError, type Phase } from "./errors.js";

/**
 * Tracks the current phase and rejects `race()`d steps when the time is up or the
 * caller aborts. Call `clear()` when the operation ends, whichever way.
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
  phase: Phase = "connect";
  /** When the time is up, in performance.now() time (Infinity without a timeout). */
  readonly expiresAt: number;
  readonly #url: string;
  readonly #ms: number;
  readonly #started = performance.now();
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #expired: SocketError | null = null;
  /** Who to tell when time is up: one step at a time as a rule, so one slot, and a list only beyond it. */
  #listener: ((err: SocketError) => void) | null = null;
  #moreListeners: Array<(err: SocketError) => void> | null = null;
  /** @internal The deadline clock's bookkeeping. */
  clockSlot: number | undefined = undefined;

  constructor(ms: number, signal: AbortSignal | undefined, url: string) {
    this.#url = url;
    this.#ms = ms;
    this.expiresAt = ms > 0 ? this.#started + ms : Infinity;
    // Every connect makes one, and most finish long before it: one shared timer serves them all.
    if (ms > 0) schedule(this);
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
    this.#expire(socketError("ETIMEDOUT", this.phase, this.#url, `timed out after ${this.#ms} ms`));
  }

  #abortError(): SocketError {
    return socketError("ERR_ABORTED", this.phase, this.#url, "aborted by the caller's signal", {
      cause: this.#signal?.reason,
    });
  }

  #expire(err: SocketError): void {
    if (this.#expired) return;
    this.#expired = err;
    unschedule(this);
    const first = this.#listener;
    const more = this.#moreListeners;
    this.#listener = null;
    this.#moreListeners = null;
    first?.(err);
    if (more !== null) for (const fn of more) fn(err);
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

  /** Stops the timer and forgets the signal. */
  clear(): void {
    unschedule(this);
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    this.#listener = null;
    this.#moreListeners = null;
  }
}

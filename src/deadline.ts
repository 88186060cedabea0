/**
 * One deadline for a whole operation (connect: resolve + dial + handshakes), joined with
 * the caller's AbortSignal, so every step races the same clock.
 */
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
export class Deadline {
  phase: Phase = "connect";
  readonly #url: string;
  readonly #ms: number;
  #timer: NodeJS.Timeout | undefined;
  #signal: AbortSignal | undefined;
  #expired: SocketError | null = null;
  readonly #started = performance.now();
  #listeners = new Set<(err: SocketError) => void>();

  constructor(ms: number, signal: AbortSignal | undefined, url: string) {
    this.#url = url;
    this.#ms = ms;
    if (ms > 0) this.#timer = setTimeout(() => this.#expire(this.#timeoutError()), ms);
    if (signal) {
      this.#signal = signal;
      if (signal.aborted) this.#expire(this.#abortError());
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  #onAbort = (): void => this.#expire(this.#abortError());

  #timeoutError(): SocketError {
    return socketError("ETIMEDOUT", this.phase, this.#url, `timed out after ${this.#ms} ms`);
  }

  #abortError(): SocketError {
    return socketError("ERR_ABORTED", this.phase, this.#url, "aborted by the caller's signal", {
      cause: this.#signal?.reason,
    });
  }

  #expire(err: SocketError): void {
    if (this.#expired) return;
    this.#expired = err;
    for (const fn of this.#listeners) fn(err);
    this.#listeners.clear();
  }

  /** Milliseconds left (Infinity without a timeout). */
  remaining(): number {
    return this.#ms > 0 ? Math.max(1, Math.ceil(this.#ms - (performance.now() - this.#started))) : Infinity;
  }

  /** The error if the deadline has passed or the caller aborted, else null. */
  get expired(): SocketError | null {
    return this.#expired;
  }

  /** Registers `fn` to run when the deadline passes; returns a function that unregisters it. */
  onExpire(fn: (err: SocketError) => void): () => void {
    if (this.#expired) {
      fn(this.#expired);
      return () => {};
    }
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Settles with `step`, or rejects when the deadline passes first (then runs `cancel`). */
  race<T>(step: Promise<T>, cancel?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const off = this.onExpire((err) => {
        cancel?.();
        reject(err);
      });
      step.then(
        (v) => {
          off();
          resolve(v);
        },
        (e: unknown) => {
          off();
          reject(e);
        },
      );
    });
  }

  /** Stops the timer and forgets the signal. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#listeners.clear();
  }
}

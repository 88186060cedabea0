/**
 * Async iteration over a source that ends by closing: Server connections, datagrams.
 */
import { SocketError } from "./errors.js";

/**
 * The one finished-iteration result every iterator here returns (frozen, shared).
 *
 * @example
 * ```ts
 * return: () => Promise.resolve(DONE),
 * ```
 */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * An iterator that yields what `next()` resolves with and ends when it rejects with
 * ERR_SOCKET_CLOSED. A plain object, not an async generator, which would add a promise and a
 * frame per item.
 *
 * @example
 * ```ts
 * [Symbol.asyncIterator]() { return untilClosed(() => this.accept()); }
 * ```
 */
export function untilClosed<T>(next: () => Promise<T>): AsyncIterator<T, undefined> {
  const item = (value: T): IteratorYieldResult<T> => ({ value, done: false });
  const end = (err: unknown): IteratorReturnResult<undefined> => {
    if (err instanceof SocketError && err.code === "ERR_SOCKET_CLOSED") return DONE;
    throw err;
  };
  return {
    next: () => next().then(item, end),
    return: () => Promise.resolve(DONE),
  };
}

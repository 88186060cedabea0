/**
 * The reads a Socket has waiting: each says what it takes from the Reader (plain data, not a
 * closure per call) and may carry a deadline. They complete in order, as far as the buffer
 * allows; a read whose deadline passes leaves the queue and consumes nothing.
 */
import type { Deadline } from "./deadline.js";
import type { SocketError } from "./errors.js";
import type { Reader } from "./reader.js";

/** What a read takes: `take(n)`, `takeExactly(n)`, `takeLine(n)`, `takeUntil(needle, n)`, `takeInto(target)`, or all at the end. */
export const SOME = 0, EXACTLY = 1, LINE = 2, UNTIL = 3, INTO = 4, ALL = 5;
export type ReadKind = typeof SOME | typeof EXACTLY | typeof LINE | typeof UNTIL | typeof INTO | typeof ALL;

/** A read that waits for bytes. */
interface PendingRead {
  kind: ReadKind;
  n: number;
  /** The delimiter (UNTIL) or the caller's buffer (INTO). */
  arg: Uint8Array | null;
  resolve: (value: never) => void;
  reject: (err: SocketError) => void;
  deadline: Deadline | null;
  expire: ((err: SocketError) => void) | null;
}

/**
 * One attempt at a read from the buffer: a value, or `undefined` while more bytes are needed.
 * Throws a SocketError for a read that cannot succeed (a cut frame, a line too long).
 *
 * @example
 * ```ts
 * const line = attempt(reader, LINE, 8192, null); // a string, null at end, or undefined
 * ```
 */
export function attempt(reader: Reader, kind: ReadKind, n: number, arg: Uint8Array | null): unknown {
  switch (kind) {
    case SOME: return reader.take(n);
    case EXACTLY: return reader.takeExactly(n);
    case LINE: return reader.takeLine(n);
    case UNTIL: return reader.takeUntil(arg as Buffer, n);
    case INTO: return reader.takeInto(arg!);
    // Everything, once the stream has ended: nothing is consumed before then.
    case ALL: return reader.ended ? reader.takeExactly(reader.length) : undefined;
  }
}

/**
 * The waiting reads of one Socket, oldest first.
 *
 * @example
 * ```ts
 * const queue = new ReadQueue(reader);
 * const line = queue.wait(LINE, 8192, null, deadline);
 * reader.push(chunk);
 * queue.settle(null);
 * ```
 */
export class ReadQueue {
  readonly #reader: Reader;
  #pending: PendingRead[] = [];

  constructor(reader: Reader) {
    this.#reader = reader;
  }

  /** How many reads wait. */
  get length(): number {
    return this.#pending.length;
  }

  /** Queues a read; it settles through `settle()`, `failAll()` or its deadline. */
  wait<T>(kind: ReadKind, n: number, arg: Uint8Array | null, deadline: Deadline | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: PendingRead = { kind, n, arg, resolve: resolve as (v: never) => void, reject, deadline, expire: null };
      if (deadline !== null) {
        // The read leaves the queue unanswered: the bytes it would have taken stay buffered.
        op.expire = (err) => {
          const i = this.#pending.indexOf(op);
          if (i !== -1) this.#pending.splice(i, 1);
          reject(err);
        };
        deadline.onExpire(op.expire);
      }
      if (op.deadline?.expired == null) this.#pending.push(op);
    });
  }

  /**
   * Completes waiting reads in order, as far as the buffer allows. Reads that still need bytes
   * are rejected with `final` when it is given (the stream failed or closed), else they go on waiting.
   */
  settle(final: SocketError | null): void {
    const pending = this.#pending;
    while (pending.length > 0) {
      const op = pending[0]!;
      let value: unknown;
      try {
        value = attempt(this.#reader, op.kind, op.n, op.arg);
      } catch (err) {
        pending.shift();
        done(op);
        op.reject(err as SocketError);
        continue;
      }
      if (value === undefined) {
        if (final === null) break;
        pending.shift();
        done(op);
        op.reject(final);
        continue;
      }
      pending.shift();
      done(op);
      op.resolve(value as never);
    }
  }

  /** Rejects every waiting read with `err`. */
  failAll(err: SocketError): void {
    for (const op of this.#pending.splice(0)) {
      done(op);
      op.reject(err);
    }
  }
}

/** A read is answered: its deadline no longer matters. */
function done(op: PendingRead): void {
  if (op.deadline !== null) op.deadline.clear();
}

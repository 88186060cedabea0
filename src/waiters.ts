/**
 * Callers waiting for the same kind of event (a write buffer that drains, written bytes that
 * reach the kernel), each with its own optional deadline: a waiter whose deadline passes leaves
 * the list and rejects; the others are settled in order by the event.
 */
import type { Deadline } from "./deadline.js";
import type { SocketError } from "./errors.js";

/** One waiting caller (internal). */
export interface Waiter {
  resolve: () => void;
  reject: (err: SocketError) => void;
}

/**
 * A list of waiting callers.
 *
 * @example
 * ```ts
 * const drains = new Waiters();
 * const written = drains.wait(deadline); // settles with drains.resolveAll() or rejectAll(err)
 * ```
 */
export class Waiters {
  #list: Waiter[] = [];

  /** How many wait. */
  get length(): number {
    return this.#list.length;
  }

  /** Waits until settled, or until `deadline` passes. */
  wait(deadline: Deadline | null): Promise<void> {
    return new Promise((resolve, reject) => this.add(deadline, resolve, reject));
  }

  /** Adds a waiter (settled by the list, or leaving it when `deadline` passes); null if it already has. */
  add(deadline: Deadline | null, resolve: () => void, reject: (err: SocketError) => void): Waiter | null {
    const list = this.#list;
    if (deadline === null) {
      const waiter = { resolve, reject };
      list.push(waiter);
      return waiter;
    }
    const waiter: Waiter = {
      resolve: () => {
        deadline.clear();
        resolve();
      },
      reject: (err) => {
        deadline.clear();
        reject(err);
      },
    };
    deadline.onExpire((err) => {
      const i = list.indexOf(waiter);
      if (i !== -1) list.splice(i, 1);
      reject(err);
    });
    if (deadline.expired !== null) return null;
    list.push(waiter);
    return waiter;
  }

  /** Settles one waiter (if it still waits): with `err`, or resolved. */
  settle(waiter: Waiter, err?: SocketError): void {
    const i = this.#list.indexOf(waiter);
    if (i === -1) return;
    this.#list.splice(i, 1);
    if (err === undefined) waiter.resolve();
    else waiter.reject(err);
  }

  /** Resolves every waiter. */
  resolveAll(): void {
    const waiting = this.#list;
    this.#list = [];
    for (const w of waiting) w.resolve();
  }

  /** Rejects every waiter with `err`. */
  rejectAll(err: SocketError): void {
    const waiting = this.#list;
    this.#list = [];
    for (const w of waiting) w.reject(err);
  }
}

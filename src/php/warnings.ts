/**
 * By-reference parameters, PHP's warnings and PHP's ValueError.
 *
 * PHP reports most failures twice: a `false` return and an E_WARNING. Warnings go to the
 * handler set with `set_error_handler()`; without one (or when it returns false) they are
 * collected: `error_get_last()` reads the latest, `php_warnings()` all of them since the last
 * `error_clear_last()`. Nothing is printed.
 */
import { E_WARNING } from "./constants.js";

/** A by-reference parameter (`$errno`, `$errstr`, `$peer_name`, `$address`): read it through `.value`. */
export interface Ref<T> {
  value: T;
}

/**
 * Makes a by-reference parameter.
 *
 * @example
 * ```ts
 * const errno = ref(0), errstr = ref("");
 * const fp = await fsockopen("tcp://127.0.0.1", 1, errno, errstr, 2);
 * if (fp === false) console.log(errno.value, errstr.value); // 111 Connection refused
 * ```
 */
export function ref<T>(initial: T): Ref<T> {
  return { value: initial };
}

/** One warning, shaped like PHP's `error_get_last()` array. */
export interface PhpError {
  type: number;
  /** `function(): text`, exactly as PHP prints it. */
  message: string;
  file: string;
  line: number;
}

/** A handler for warnings: return `false` to let the default (collect) run too, as in PHP. */
export type ErrorHandler = (errno: number, errstr: string, errfile: string, errline: number) => boolean | void;

/** PHP's ValueError: thrown (or rejected with) for arguments PHP refuses outright. */
export class ValueError extends Error {
  override readonly name = "ValueError";
}

const MAX_COLLECTED = 1000;
let handlers: ErrorHandler[] = [];
let collected: PhpError[] = [];
let last: PhpError | null = null;

/**
 * Reports a warning the way PHP does: `fn(): text`.
 * @internal used by the layer's functions
 */
export function warn(fn: string, text: string, type: number = E_WARNING, raw = false): void {
  const message = raw ? text : `${fn}(): ${text}`;
  const handler = handlers[handlers.length - 1];
  if (handler !== undefined) {
    let handled: boolean | void;
    try {
      handled = handler(type, message, "", 0);
    } catch {
      handled = true;
    }
    if (handled !== false) return;
  }
  const entry: PhpError = { type, message, file: "", line: 0 };
  last = entry;
  collected.push(entry);
  if (collected.length > MAX_COLLECTED) collected = collected.slice(-MAX_COLLECTED / 2);
}

/**
 * The latest collected warning, or null (PHP's `error_get_last()`).
 *
 * @example
 * ```ts
 * await fsockopen("127.0.0.1", -1);
 * error_get_last()?.message; // 'fsockopen(): Unable to connect to 127.0.0.1:-1 (Failed to parse address "127.0.0.1")'
 * ```
 */
export function error_get_last(): PhpError | null {
  return last === null ? null : { ...last };
}

/**
 * Forgets the collected warnings (PHP's `error_clear_last()`, which also empties `php_warnings()`).
 *
 * @example
 * ```ts
 * error_clear_last();
 * ```
 */
export function error_clear_last(): void {
  last = null;
  collected = [];
}

/**
 * Every warning collected since the last `error_clear_last()`, oldest first (not in PHP; for tests and logs).
 *
 * @example
 * ```ts
 * php_warnings().map((w) => w.message);
 * ```
 */
export function php_warnings(): PhpError[] {
  return collected.map((e) => ({ ...e }));
}

/**
 * Sets the warning handler; returns the previous one (or null), like PHP's `set_error_handler()`.
 * `null` restores the default: collect.
 *
 * @example
 * ```ts
 * set_error_handler((errno, errstr) => { console.warn(errstr); return true; });
 * ```
 */
export function set_error_handler(handler: ErrorHandler | null): ErrorHandler | null {
  const previous = handlers[handlers.length - 1] ?? null;
  if (handler === null) handlers = [];
  else handlers.push(handler);
  return previous;
}

/**
 * Goes back to the handler before the latest `set_error_handler()` (PHP's `restore_error_handler()`).
 *
 * @example
 * ```ts
 * restore_error_handler();
 * ```
 */
export function restore_error_handler(): true {
  handlers.pop();
  return true;
}

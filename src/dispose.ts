/**
 * `Symbol.asyncDispose` for `await using`, on every Node the package supports. Node defines it
 * from 20.4 (as `Symbol.for("nodejs.asyncDispose")`); on older 20.x it is missing, and a class
 * member written `[Symbol.asyncDispose]` would silently be named "undefined". Importing this
 * module first defines it the way Node itself does, so the key is the same symbol either way.
 *
 * @example
 * ```ts
 * import "./dispose.js";
 * class Handle { async [Symbol.asyncDispose]() {} }
 * ```
 */
for (const name of ["asyncDispose", "dispose"] as const) {
  if (typeof (Symbol as unknown as Record<string, unknown>)[name] !== "symbol") {
    Object.defineProperty(Symbol, name, { value: Symbol.for(`nodejs.${name}`), enumerable: false, configurable: false, writable: false });
  }
}

/**
 * The symbol `await using` calls, present once this module has run.
 *
 * @example
 * ```ts
 * await server[ASYNC_DISPOSE]();
 * ```
 */
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = Symbol.asyncDispose;

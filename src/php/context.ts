/**
 * Stream contexts: `stream_context_create`, `stream_context_set_option`, `stream_context_get_options`.
 * Options are PHP's nested array as a plain object: `{ ssl: { verify_peer: false }, socket: { bindto: "0:0" } }`.
 */
import { ValueError } from "./warnings.js";

/** `[wrapper][option] = value`, e.g. `{ ssl: { cafile: "/etc/ca.pem" } }`. */
export type PhpContextOptions = Record<string, Record<string, unknown>>;

let nextContextId = 1;

/** A stream context resource. Options are read when a connection, accept or handshake uses them. */
export class PhpContext {
  readonly id = nextContextId++;
  /** @internal */
  readonly options: PhpContextOptions = {};
  /** @internal */
  readonly params: Record<string, unknown> = {};

  /** @internal */
  get(wrapper: string, option: string): unknown {
    return this.options[wrapper]?.[option];
  }

  /** @internal */
  has(wrapper: string, option: string): boolean {
    const w = this.options[wrapper];
    return w !== undefined && Object.prototype.hasOwnProperty.call(w, option);
  }

  /** @internal */
  set(wrapper: string, option: string, value: unknown): void {
    (this.options[wrapper] ??= {})[option] = value;
  }

  toString(): string {
    return `Resource id #${this.id}`;
  }
}

/** Anything that has a context: a context, or a stream (which carries one). */
export interface HasContext {
  readonly context: PhpContext;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !(v instanceof Uint8Array);
}

function merge(context: PhpContext, fn: string, options: unknown, argument: number): void {
  if (!isRecord(options)) {
    throw new TypeError(`${fn}(): Argument #${argument} ($options) must be of type array, ${options === null ? "null" : typeof options} given`);
  }
  for (const [wrapper, values] of Object.entries(options)) {
    if (!isRecord(values)) throw new ValueError('Options should have the form ["wrappername"]["optionname"] = $value');
    for (const [name, value] of Object.entries(values)) context.set(wrapper, name, value);
  }
}

/**
 * Creates a context (PHP's `stream_context_create`).
 *
 * @example
 * ```ts
 * const ctx = stream_context_create({ ssl: { cafile: "ca.pem", peer_name: "mail.example" } });
 * ```
 */
export function stream_context_create(options: PhpContextOptions | null = null, params: Record<string, unknown> | null = null): PhpContext {
  const context = new PhpContext();
  if (options !== null && options !== undefined) merge(context, "stream_context_create", options, 1);
  if (params !== null && params !== undefined) {
    if (isRecord(params.options)) merge(context, "stream_context_create", params.options, 2);
    for (const [k, v] of Object.entries(params)) if (k !== "options") context.params[k] = v;
  }
  return context;
}

function contextOf(fn: string, target: PhpContext | HasContext): PhpContext {
  if (target instanceof PhpContext) return target;
  if (target && typeof target === "object" && "context" in target && target.context instanceof PhpContext) {
    (target as { assertOpen?: (fn: string) => void }).assertOpen?.(fn);
    return target.context;
  }
  throw new TypeError(`${fn}(): supplied resource is not a valid Stream-Context resource`);
}

/**
 * Sets one option (`wrapper, name, value`) or several (`{ wrapper: { name: value } }`) on a
 * context or on a stream's context (PHP's `stream_context_set_option`).
 *
 * @example
 * ```ts
 * stream_context_set_option(fp, "ssl", "peer_name", "mail.example");
 * ```
 */
export function stream_context_set_option(
  context: PhpContext | HasContext,
  wrapper_or_options: string | PhpContextOptions,
  option_name: string | null = null,
  value?: unknown,
): boolean {
  const ctx = contextOf("stream_context_set_option", context);
  if (typeof wrapper_or_options === "string") {
    if (option_name === null) {
      throw new ValueError("stream_context_set_option(): Argument #3 ($option_name) cannot be null when argument #2 ($wrapper_or_options) is a string");
    }
    if (arguments.length < 4) {
      throw new ValueError("stream_context_set_option(): Argument #4 ($value) must be provided when argument #2 ($wrapper_or_options) is a string");
    }
    ctx.set(wrapper_or_options, option_name, value);
    return true;
  }
  if (option_name !== null) {
    throw new ValueError("stream_context_set_option(): Argument #3 ($option_name) must be null when argument #2 ($wrapper_or_options) is an array");
  }
  merge(ctx, "stream_context_set_option", wrapper_or_options, 2);
  return true;
}

/**
 * The options of a context or of a stream's context (PHP's `stream_context_get_options`).
 * After a TLS connection with `capture_peer_cert`, `ssl.peer_certificate` holds the peer's
 * certificate as a Node `X509Certificate` (PHP: an `OpenSSLCertificate`).
 *
 * @example
 * ```ts
 * const cert = stream_context_get_options(fp).ssl?.peer_certificate;
 * ```
 */
export function stream_context_get_options(stream_or_context: PhpContext | HasContext): PhpContextOptions {
  const ctx = contextOf("stream_context_get_options", stream_or_context);
  const out: PhpContextOptions = {};
  for (const [wrapper, values] of Object.entries(ctx.options)) out[wrapper] = { ...values };
  return out;
}

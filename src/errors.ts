/**
 * SocketError and the catalogue of error codes (DESIGN §3).
 *
 * Every failure sockurl reports is a `SocketError`: one class, a stable `code`
 * to branch on, the `phase` it happened in and the target it concerned.
 */

/**
 * The stage of a socket's life in which an error happened.
 *
 * @example
 * ```ts
 * if (err instanceof SocketError && err.phase === "tls") console.log("the handshake or verification failed");
 * ```
 */
export type Phase =
  | "address"
  | "resolve"
  | "connect"
  | "tls"
  | "starttls"
  | "read"
  | "write"
  | "listen"
  | "accept";

/**
 * Codes that sockurl itself defines. OS codes (`ECONNREFUSED`, `ENOTFOUND`,
 * `EADDRINUSE`, `ECONNRESET`, …) pass through unchanged and are also valid codes.
 *
 * @example
 * ```ts
 * ERROR_CODES.ERR_TLS_CERT; // "the peer certificate failed verification"
 * ```
 */
export const ERROR_CODES = {
  ERR_INVALID_ADDRESS: "the target is not a valid transport URL",
  ERR_UNKNOWN_TRANSPORT: "the transport name is not one sockurl knows",
  ERR_UNSUPPORTED_TRANSPORT: "the transport is known but cannot be used (SSL 2.0/3.0)",
  ERR_INVALID_OPTION: "an option has the wrong type or an out-of-range value",
  ETIMEDOUT: "a deadline passed: connect, handshake, read, write, close, accept or receive (the phase says which)",
  ERR_TLS_CERT: "the peer certificate failed verification",
  ERR_TLS_FINGERPRINT: "the peer certificate does not match the pinned fingerprint",
  ERR_TLS_HANDSHAKE: "the TLS handshake failed",
  ERR_TLS_ALREADY_ACTIVE: "TLS is already active on this socket",
  ERR_STARTTLS_PENDING_DATA: "plaintext bytes were buffered when the upgrade began",
  ERR_STARTTLS_UNSUPPORTED: "the peer does not offer or refused STARTTLS",
  ERR_PROTOCOL: "the peer sent a reply the protocol does not allow",
  ERR_LINE_TOO_LONG: "a line exceeded maxLength",
  ERR_UNEXPECTED_EOF: "the stream ended before the requested data arrived",
  ERR_SOCKET_CLOSED: "the socket is closed",
  ERR_DATAGRAM_TOO_LARGE: "a datagram exceeds the maximum size",
  ERR_ABORTED: "the operation was aborted through its AbortSignal",
} as const;

/**
 * A code sockurl defines, or an OS error code such as `ECONNREFUSED`.
 *
 * @example
 * ```ts
 * const retryable: ErrorCode[] = ["ECONNREFUSED", "ETIMEDOUT"];
 * ```
 */
export type ErrorCode = keyof typeof ERROR_CODES | (string & {});

/**
 * Fields of a SocketError besides its message.
 *
 * @example
 * ```ts
 * new SocketError("tls tls://h:443: the certificate has expired (ERR_TLS_CERT)",
 *   { code: "ERR_TLS_CERT", phase: "tls", address: "tls://h:443", reason: "CERT_HAS_EXPIRED" });
 * ```
 */
export interface SocketErrorInit {
  code: ErrorCode;
  phase: Phase;
  /** The target URL, when there is one. */
  address?: string | undefined;
  /** The OS errno (positive), when the system reported one. */
  errno?: number | undefined;
  /** A finer reason, e.g. `CERT_HAS_EXPIRED` for `ERR_TLS_CERT`. */
  reason?: string | undefined;
  /** What went wrong, in words: the message without its phase, target and code. */
  detail?: string | undefined;
  cause?: unknown;
}

/**
 * The one error type sockurl throws and rejects with.
 *
 * @example
 * ```ts
 * import { connect, SocketError } from "sockurl";
 * try {
 *   await connect("tcp://127.0.0.1:1");
 * } catch (err) {
 *   if (err instanceof SocketError && err.code === "ECONNREFUSED") console.log(err.message);
 *   // connect tcp://127.0.0.1:1: connection refused (ECONNREFUSED)
 * }
 * ```
 */
export class SocketError extends Error {
  override readonly name = "SocketError";
  readonly code: ErrorCode;
  readonly phase: Phase;
  readonly address: string | undefined;
  readonly errno: number | undefined;
  readonly reason: string | undefined;
  /** What went wrong, in words: the message without its phase, target and code. */
  readonly detail: string;

  constructor(message: string, init: SocketErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.phase = init.phase;
    this.address = init.address;
    this.errno = init.errno;
    this.reason = init.reason;
    this.detail = init.detail ?? message;
  }
}

/**
 * The same failure reported for another phase (a reset during a STARTTLS dialogue is a
 * failure of the starttls step): a new SocketError built from the fields, the original as cause.
 *
 * @example
 * ```ts
 * throw inPhase(err, "starttls"); // "starttls tcp://127.0.0.1:25: connection reset by peer (ECONNRESET)"
 * ```
 */
export function inPhase(err: SocketError, phase: Phase): SocketError {
  if (err.phase === phase) return err;
  return socketError(err.code, phase, err.address, err.detail, { errno: err.errno, reason: err.reason, cause: err });
}

/** Human wording for the OS codes sockets commonly meet. */
const OS_MESSAGES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ECONNABORTED: "connection aborted",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "temporary failure in name resolution",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOENT: "no such file or directory",
  ETIMEDOUT: "timed out",
  EPIPE: "broken pipe",
  EMFILE: "too many open files",
  ENFILE: "too many open files in system",
  EAFNOSUPPORT: "address family not supported",
  EINVAL: "invalid argument",
  EMSGSIZE: "message too long",
  ENOTSOCK: "not a socket",
};

/**
 * The words for an OS error code (`ENOENT` → "no such file or directory"), or the code itself
 * when sockurl has none: for messages that name a system failure without repeating its code.
 *
 * @example
 * ```ts
 * osWords("EACCES"); // "permission denied"
 * ```
 */
export function osWords(code: string): string {
  return OS_MESSAGES[code] ?? code;
}

const ERRNO_BY_CODE: Record<string, number> = {
  EPERM: 1, ENOENT: 2, EACCES: 13, EINVAL: 22, ENFILE: 23, EMFILE: 24, EPIPE: 32,
  ENOTSOCK: 88, EMSGSIZE: 90, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99,
  ENETUNREACH: 101, ECONNABORTED: 103, ECONNRESET: 104, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTUNREACH: 113,
};

interface NodeSystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

/**
 * Wraps any error from Node (or anything thrown) as a SocketError for `phase`,
 * keeping OS codes and the original error as `cause`. A SocketError passes through.
 *
 * @example
 * ```ts
 * socket.on("error", (err) => reject(toSocketError(err, "connect", "tcp://127.0.0.1:1")));
 * ```
 */
export function toSocketError(err: unknown, phase: Phase, address?: string): SocketError {
  if (err instanceof SocketError) return err;
  const sys = (err ?? {}) as NodeSystemError;
  const code = typeof sys.code === "string" && sys.code !== "" ? sys.code : "ERR_SOCKET_CLOSED";
  const what = OS_MESSAGES[code] ?? detailOf(err);
  const errno =
    typeof sys.errno === "number" ? Math.abs(sys.errno) : ERRNO_BY_CODE[code];
  const target = address === undefined ? "" : ` ${address}`;
  return new SocketError(`${phase}${target}: ${what} (${code})`, {
    code,
    phase,
    address,
    errno,
    detail: what,
    cause: err,
  });
}

/**
 * Builds a SocketError with the standard message shape `PHASE TARGET: TEXT (CODE)`.
 *
 * @example
 * ```ts
 * throw socketError("ETIMEDOUT", "read", "tcp://127.0.0.1:25", "no data within 5000 ms");
 * ```
 */
export function socketError(
  code: ErrorCode,
  phase: Phase,
  address: string | undefined,
  text: string,
  extra: Omit<SocketErrorInit, "code" | "phase" | "address"> = {},
): SocketError {
  const target = address === undefined ? "" : ` ${address}`;
  const errno = extra.errno ?? ERRNO_BY_CODE[code];
  return new SocketError(`${phase}${target}: ${text} (${code})`, {
    ...extra,
    code,
    phase,
    address,
    errno,
    detail: text,
  });
}

/**
 * The words of a foreign error, taken from its fields: OpenSSL errors carry their text in
 * `reason` (their message adds a numeric prefix and a library name), anything else its message.
 *
 * @example
 * ```ts
 * try { tls.createSecureContext({ cert, key }); } catch (err) { detailOf(err); } // "key values mismatch"
 * ```
 */
export function detailOf(err: unknown): string {
  const e = (err ?? {}) as { reason?: unknown; message?: unknown };
  if (typeof e.reason === "string" && e.reason !== "") return e.reason;
  if (typeof e.message === "string" && e.message !== "") return e.message.trim();
  return String(err);
}

/**
 * Where an option error is reported: the target it concerns and the phase (default "address").
 *
 * @example
 * ```ts
 * const place: OptionErrorPlace = { url: "tls://127.0.0.1:443" };
 * ```
 */
export interface OptionErrorPlace {
  /** The target URL, when the call has one: the message then names it. */
  url?: string | undefined;
  /** "address" for options checked before any I/O; "starttls" for the upgrade's own options. */
  phase?: Phase;
  cause?: unknown;
}

/**
 * The ERR_INVALID_OPTION error every option check throws: one builder, so that every option
 * message has the same shape, `address tcp://127.0.0.1:80: timeout must be … (ERR_INVALID_OPTION)`.
 *
 * @example
 * ```ts
 * throw invalidOption("timeout must be a number of milliseconds", { url: "tcp://127.0.0.1:80" });
 * ```
 */
export function invalidOption(text: string, place: OptionErrorPlace = {}): SocketError {
  return socketError("ERR_INVALID_OPTION", place.phase ?? "address", place.url, text,
    place.cause === undefined ? {} : { cause: place.cause });
}

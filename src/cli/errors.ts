/**
 * How the command reports a failure: one line on stderr, `sockurl: CODE: message — what to do`,
 * and an exit code (2 for usage mistakes, 1 for everything else).
 */
import { SocketError } from "../errors.js";
import { visible } from "./output.js";

/** A mistake in the command line: exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "ERR_USAGE";
  /** The subcommand whose help to point at, if any. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

const GRAMMAR = "URLs look like tcp://host:port, tls://host:443, udp://host:53, tcp://[::1]:80, unix:///path/to.sock";

/** What to do next, per error code. */
const HINTS: Record<string, string> = {
  ECONNREFUSED: "is the server running? check host and port",
  ECONNRESET: "the peer dropped the connection; check that it speaks this protocol (tls:// vs tcp://)",
  ETIMEDOUT: "no answer in time: check host, port and firewalls, or raise --timeout MS",
  ENOTFOUND: "check the host name (the DNS lookup found no address)",
  EAI_AGAIN: "DNS is not answering right now; check your resolver or try again",
  EHOSTUNREACH: "no route to the host; check the address and your network",
  ENETUNREACH: "no route to that network; check the address family (IPv4/IPv6) and your network",
  ENOENT: "no such socket file; is the server running, and is the path right?",
  EACCES: "permission denied; ports below 1024 and some socket paths need privileges",
  EADDRINUSE: "another process already uses this address; pick another port, or port 0 for any free one",
  EADDRNOTAVAIL: "that address is not on this machine; listen on 127.0.0.1, [::1] or 0.0.0.0",
  ERR_INVALID_ADDRESS: GRAMMAR,
  ERR_UNKNOWN_TRANSPORT: GRAMMAR,
  ERR_UNSUPPORTED_TRANSPORT: "tls:// negotiates TLS 1.2 or 1.3, what servers speak today",
  ERR_INVALID_OPTION: "check the flag values; see sockurl help",
  ERR_TLS_CERT: "use --ca FILE, --fingerprint, or --insecure for testing",
  ERR_TLS_FINGERPRINT: "the certificate is not the pinned one; check --fingerprint (sockurl probe URL shows the real one)",
  ERR_TLS_HANDSHAKE: "is it a TLS server on this port? try sockurl probe URL, or check the TLS version and --alpn",
  ERR_STARTTLS_UNSUPPORTED: "the server does not offer STARTTLS here; check --starttls PROTO and the port, or use tls:// for implicit TLS",
  ERR_STARTTLS_PENDING_DATA: "the server sent bytes before the TLS handshake (a STARTTLS injection pattern); do not trust this server",
  ERR_PROTOCOL: "the server's reply does not fit the protocol; is --starttls PROTO right for this port?",
  ERR_DATAGRAM_TOO_LARGE: "send shorter lines (a UDP datagram holds at most 65507 bytes)",
  ERR_SOCKET_CLOSED: "the connection was closed",
  ERR_USAGE: "see sockurl help",
};

/** The code of any error: a SocketError's, a UsageError's, a Node error's, or ERR_INTERNAL. */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code !== "" ? code : "ERR_INTERNAL";
}

/**
 * A SocketError's message without its `phase target:` prefix and its `(CODE)`/`(REASON)` suffix.
 *
 * @example
 * ```ts
 * bareMessage(err); // "the certificate has expired"
 * ```
 */
export function bareMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err instanceof SocketError ? err.detail : err.message;
}

/**
 * A message without its trailing code: `phase target: detail` for a SocketError.
 *
 * @example
 * ```ts
 * messageWithoutCode(err); // "connect tcp://127.0.0.1:1: connection refused"
 * ```
 */
export function messageWithoutCode(err: unknown): string {
  if (!(err instanceof SocketError)) return err instanceof Error ? err.message : String(err);
  return `${err.phase}${err.address === undefined ? "" : ` ${err.address}`}: ${err.detail}`;
}

/**
 * The same SocketError, naming `url` as its target (built from its fields).
 *
 * @example
 * ```ts
 * const named = withTarget(err, "tls://127.0.0.1:443");
 * ```
 */
export function withTarget(err: SocketError, url: string): SocketError {
  return new SocketError(`${err.phase} ${url}: ${err.detail} (${err.code})`, {
    code: err.code, phase: err.phase, address: url, errno: err.errno, reason: err.reason, detail: err.detail, cause: err,
  });
}

/**
 * The one line to print for an error (without the newline).
 *
 * @example
 * ```ts
 * errorLine(err); // sockurl: ECONNREFUSED: connect tcp://127.0.0.1:1: connection refused — is the server running? check host and port
 * ```
 */
export function errorLine(err: unknown): string {
  const code = codeOf(err);
  // The line starts with the code: the message goes without it, on one line. It can quote a
  // server's reply or an argument: every control character in it is escaped (see visible()).
  const message = visible(messageWithoutCode(err).replace(/\s*\n\s*/g, " "));
  let hint = HINTS[code];
  if (err instanceof UsageError) hint = err.command ? `see: sockurl help ${err.command}` : "see: sockurl --help";
  return `sockurl: ${code}: ${message}${hint ? ` — ${hint}` : ""}`;
}

/** 2 for usage mistakes and bad input, 1 for failures. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof SocketError && ["ERR_INVALID_ADDRESS", "ERR_UNKNOWN_TRANSPORT", "ERR_UNSUPPORTED_TRANSPORT", "ERR_INVALID_OPTION"].includes(err.code)) return 2;
  return 1;
}

/** Prints the error line on stderr and returns the exit code. */
export function report(err: unknown): number {
  process.stderr.write(errorLine(err) + "\n");
  return exitCodeOf(err);
}

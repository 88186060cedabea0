/**
 * Linux errno numbers and glibc's strerror() texts, as PHP reports them in `$errno`/`$errstr`,
 * and getaddrinfo's texts (gai_strerror).
 */
import { constants } from "node:os";
import { SocketError } from "../index.js";

const STRERROR: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  EPIPE: "Broken pipe",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  ENOTSOCK: "Socket operation on non-socket",
  EDESTADDRREQ: "Destination address required",
  EMSGSIZE: "Message too long",
  EPROTOTYPE: "Protocol wrong type for socket",
  ENOPROTOOPT: "Protocol not available",
  EPROTONOSUPPORT: "Protocol not supported",
  ESOCKTNOSUPPORT: "Socket type not supported",
  EOPNOTSUPP: "Operation not supported",
  EAFNOSUPPORT: "Address family not supported by protocol",
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  ENETDOWN: "Network is down",
  ENETUNREACH: "Network is unreachable",
  ENETRESET: "Network dropped connection on reset",
  ECONNABORTED: "Software caused connection abort",
  ECONNRESET: "Connection reset by peer",
  ENOBUFS: "No buffer space available",
  EISCONN: "Transport endpoint is already connected",
  ENOTCONN: "Transport endpoint is not connected",
  ETIMEDOUT: "Connection timed out",
  ECONNREFUSED: "Connection refused",
  EHOSTDOWN: "Host is down",
  EHOSTUNREACH: "No route to host",
  EALREADY: "Operation already in progress",
  EINPROGRESS: "Operation now in progress",
};

const GAI: Record<string, string> = {
  ENOTFOUND: "Name or service not known",
  EAI_NONAME: "Name or service not known",
  EAI_AGAIN: "Temporary failure in name resolution",
  EAI_FAIL: "Non-recoverable failure in name resolution",
  EAI_NODATA: "No address associated with hostname",
  EAI_FAMILY: "ai_family not supported",
  EAI_MEMORY: "Memory allocation failure",
  EAI_SERVICE: "Servname not supported for ai_socktype",
  EAI_SYSTEM: "System error",
};

const NAME_BY_NUMBER = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The Linux errno number of an error code such as `ECONNREFUSED` (0 when unknown). */
export function errnoOf(code: string): number {
  return (constants.errno as Record<string, number>)[code] ?? 0;
}

/** The code (`ECONNREFUSED`) of a Linux errno number. */
export function codeOf(errno: number): string | undefined {
  return NAME_BY_NUMBER.get(errno);
}

/** glibc's text for an errno code or number. */
export function strerror(code: string | number): string {
  const name = typeof code === "number" ? NAME_BY_NUMBER.get(code) ?? "" : code;
  if (STRERROR[name] !== undefined) return STRERROR[name]!;
  return typeof code === "number" ? `Unknown error ${code}` : "Unknown error";
}

/** The OS error behind a sockurl error: `{ errno, text }`, or null when it was not the system's. */
export function osError(err: unknown): { errno: number; code: string; text: string } | null {
  let code: string | undefined;
  let errno: number | undefined;
  if (err instanceof SocketError) {
    code = err.code;
    errno = err.errno;
    const cause = err.cause as { code?: unknown; errno?: unknown } | undefined;
    if (!/^E[A-Z0-9]+$/.test(code) && cause && typeof cause.code === "string") code = cause.code;
  } else if (err && typeof err === "object") {
    const e = err as { code?: unknown; errno?: unknown };
    if (typeof e.code === "string") code = e.code;
    if (typeof e.errno === "number") errno = Math.abs(e.errno);
  }
  if (code === undefined || !/^E[A-Z0-9]+$/.test(code) || code.startsWith("ERR_")) return null;
  const n = errnoOf(code) || errno || 0;
  return { errno: n, code, text: strerror(code) };
}

/** getaddrinfo's text for a resolver error code. */
export function gaiText(code: string | undefined): string {
  return (code !== undefined ? GAI[code] : undefined) ?? GAI.ENOTFOUND!;
}

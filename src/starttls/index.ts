/**
 * negotiateStartTls(): a protocol's plaintext dialogue, then socket.startTls() — strict by
 * default, with deadlines and limits, and never a silent plaintext fallback.
 */
import { hostOfUrl } from "../address.js";
import { Deadline } from "../deadline.js";
import { invalidOption, SocketError, socketError } from "../errors.js";
import { DEFAULT_MAX_LINE } from "../reader.js";
import { UPGRADE, type Socket } from "../socket.js";
import { checkTlsFiles, validateTlsOptions } from "../tls-options.js";
import { Dialogue } from "./dialogue.js";
import { PROTOCOLS } from "./registry.js";
import {
  STARTTLS_PROTOCOLS, type StartTlsNegotiationOptions, type StartTlsProtocol, type StartTlsResult,
} from "./types.js";

const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_MAX_LINES = 256;
const KEYS = new Set(["mode", "timeout", "signal", "maxLineLength", "maxLines", "clientName", "tls"]);

const invalid = (text: string): SocketError => invalidOption(text, { phase: "starttls" });

/**
 * Checks STARTTLS options before any I/O; returns them unchanged.
 *
 * @example
 * ```ts
 * validateStartTlsOptions("smtp", { mode: "required" });
 * ```
 */
export function validateStartTlsOptions(protocol: unknown, options: unknown): StartTlsNegotiationOptions {
  if (typeof protocol !== "string" || !(STARTTLS_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw invalid(`unknown STARTTLS protocol ${JSON.stringify(protocol)}; known: ${STARTTLS_PROTOCOLS.join(", ")}`);
  }
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") throw invalid("STARTTLS options must be an object");
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!KEYS.has(key)) throw invalid(`unknown STARTTLS option "${key}"; known: ${[...KEYS].join(", ")}`);
  if (o.mode !== undefined && o.mode !== "required" && o.mode !== "opportunistic") throw invalid(`mode must be "required" or "opportunistic"`);
  for (const key of ["timeout", "maxLineLength", "maxLines"]) {
    const v = o[key];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v > 0)) throw invalid(`${key} must be a positive integer`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid("signal must be an AbortSignal");
  if (o.clientName !== undefined && !(typeof o.clientName === "string" && /^[\w.-]{1,255}$/.test(o.clientName))) {
    throw invalid("clientName must be a host name (letters, digits, dots, hyphens)");
  }
  validateTlsOptions(o.tls);
  return o as StartTlsNegotiationOptions;
}

/**
 * Runs `protocol`'s STARTTLS dialogue on a plaintext socket, then upgrades it in place.
 * In "required" mode (the default) a missing capability, a refusal or an IMAP PREAUTH
 * greeting is ERR_STARTTLS_UNSUPPORTED, an unexpected reply ERR_PROTOCOL, bytes after the
 * go-ahead ERR_STARTTLS_PENDING_DATA — and the socket is destroyed. In "opportunistic" mode
 * an unsupported server leaves the socket open in plaintext and the result says so.
 * Everything learned in plaintext is only in `transcript`: ask the server again after TLS.
 *
 * @example
 * ```ts
 * import { connect, negotiateStartTls } from "sockurl";
 * const socket = await connect("tcp://127.0.0.1:587");
 * const result = await negotiateStartTls(socket, "smtp", { tls: { ca } });
 * await socket.write("EHLO me\r\n"); // again, now encrypted
 * ```
 */
export function negotiateStartTls(
  socket: Socket,
  protocol: StartTlsProtocol,
  options: StartTlsNegotiationOptions = {},
): Promise<StartTlsResult> {
  let checked: StartTlsNegotiationOptions;
  try {
    checked = validateStartTlsOptions(protocol, options);
    // Unreadable CA or certificate files fail now, before a line of the dialogue is sent.
    if (checked.tls !== undefined) checkTlsFiles(checked.tls, socket.url);
  } catch (err) {
    return Promise.reject(err);
  }
  return negotiate(socket, protocol, checked);
}

/**
 * @internal negotiateStartTls() with options already checked. `serverName` is the host the
 * socket dialled; `outer` is the caller's deadline (connect()'s), used instead of one of its own.
 *
 * @example
 * ```ts
 * await negotiate(socket, "smtp", checkedOptions, "mail.example", connectDeadline);
 * ```
 */
export async function negotiate(
  socket: Socket,
  protocol: StartTlsProtocol,
  o: StartTlsNegotiationOptions,
  serverName?: string,
  outer?: Deadline,
): Promise<StartTlsResult> {
  if (socket.encrypted) {
    throw socketError("ERR_TLS_ALREADY_ACTIVE", "starttls", socket.url, "the socket is already encrypted");
  }
  const mode = o.mode ?? "required";
  const started = performance.now();
  const deadline = outer ?? new Deadline(o.timeout ?? DEFAULT_TIMEOUT, o.signal, socket.url, "starttls",
    "the STARTTLS negotiation did not finish");
  deadline.phase = "starttls";
  const dialogue = new Dialogue(socket, {
    deadline,
    maxLineLength: o.maxLineLength ?? DEFAULT_MAX_LINE,
    maxLines: o.maxLines ?? DEFAULT_MAX_LINES,
  });
  const tls = o.tls ?? {};
  const ctx = {
    clientName: o.clientName ?? "localhost",
    serverName: tls.peerName ?? serverName ?? hostOfUrl(socket.url),
  };
  try {
    const negotiator = await PROTOCOLS[protocol]();
    const outcome = await negotiator(dialogue, ctx);
    const negotiated = performance.now();
    if (outcome !== "go") {
      if (mode === "opportunistic") {
        return {
          protocol, encrypted: false, mode, plaintextReason: outcome.unsupported, transcript: dialogue.transcript,
          timings: { negotiate: negotiated - started, handshake: 0 },
        };
      }
      throw dialogue.unsupported(`${protocol}: ${outcome.unsupported}; refusing to continue in plaintext (mode "required")`);
    }
    // The handshake runs inside the same deadline, reported as phase tls.
    deadline.phase = "tls";
    await socket[UPGRADE]({ ...tls, ...(tls.peerName || serverName ? { peerName: ctx.serverName } : {}) }, false, deadline);
    return {
      protocol, encrypted: true, mode, plaintextReason: null, transcript: dialogue.transcript,
      timings: { negotiate: negotiated - started, handshake: performance.now() - negotiated },
    };
  } catch (err) {
    // Never plaintext after a failed negotiation: the connection is closed.
    socket.destroy();
    throw err;
  } finally {
    if (outer === undefined) deadline.clear();
  }
}

export { STARTTLS_PROTOCOLS, type StartTlsNegotiationOptions, type StartTlsProtocol, type StartTlsResult };

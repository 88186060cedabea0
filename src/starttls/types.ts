/**
 * Types shared by the STARTTLS negotiators.
 */
import type { TlsOptions } from "../tls-options.js";

/** One line (or binary message, hex-encoded) of the plaintext exchange. */
export interface TranscriptEntry {
  from: "client" | "server";
  text: string;
}

/** The protocols `negotiateStartTls` speaks (the set `openssl s_client -starttls` knows). */
export const STARTTLS_PROTOCOLS = [
  "smtp", "lmtp", "pop3", "imap", "ftp", "xmpp", "xmpp-server", "ldap", "postgres", "mysql",
  "nntp", "sieve", "irc", "telnet",
] as const;

export type StartTlsProtocol = (typeof STARTTLS_PROTOCOLS)[number];

/** Options of `negotiateStartTls()` and of `connect(url, { startTls })`. */
export interface StartTlsNegotiationOptions {
  /** "required" (default): fail unless TLS is established. "opportunistic": go on in plaintext, saying so. */
  mode?: "required" | "opportunistic";
  /** Deadline in ms for the whole negotiation and handshake (default 30 000; inside connect's `timeout`). */
  timeout?: number;
  /** Aborts the negotiation (ERR_ABORTED); the socket is then closed. */
  signal?: AbortSignal;
  /** Longest reply line, in bytes (default 8 KiB, the one default line limit). */
  maxLineLength?: number;
  /** Most reply lines in the negotiation (default 256). */
  maxLines?: number;
  /** The name this client announces (EHLO/LHLO), default "localhost". */
  clientName?: string;
  /** TLS options for the handshake (verification on by default). */
  tls?: TlsOptions;
}

/** What a negotiation did. */
export interface StartTlsResult {
  protocol: StartTlsProtocol;
  /** True when the session is now encrypted. False only in opportunistic mode. */
  encrypted: boolean;
  mode: "required" | "opportunistic";
  /** Why the session stayed in plaintext (opportunistic mode), else null. */
  plaintextReason: string | null;
  /** The plaintext exchange, both directions, in order. */
  transcript: TranscriptEntry[];
  /** Milliseconds spent in the plaintext dialogue and in the TLS handshake. */
  timings: { negotiate: number; handshake: number };
}

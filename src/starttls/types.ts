/**
 * Types shared by the STARTTLS negotiators.
 */
import type { Dialogue, TranscriptEntry } from "./dialogue.js";
import type { TlsOptions } from "../tls-options.js";

/** The protocols `negotiateStartTls` speaks (the set `openssl s_client -starttls` knows). */
export const STARTTLS_PROTOCOLS = [
  "smtp", "lmtp", "pop3", "imap", "ftp", "xmpp", "xmpp-server", "ldap", "postgres", "mysql",
  "nntp", "sieve", "irc", "telnet",
] as const;

export type StartTlsProtocol = (typeof STARTTLS_PROTOCOLS)[number];

/** What a negotiator knows about the connection. */
export interface NegotiationContext {
  /** The name this client gives (EHLO/LHLO argument); default "localhost". */
  clientName: string;
  /** The server's name (XMPP `to=`); the URL host, or `tls.peerName` when set. */
  serverName: string;
}

/**
 * A protocol's plaintext dialogue up to the server's go-ahead. Returns "go" when the server
 * agreed (the TLS handshake follows at once), or `{ unsupported }` when STARTTLS is not offered
 * or was refused. Anything else the server says that the protocol does not allow: throw
 * `d.protocolError(…)`.
 */
export type Negotiator = (d: Dialogue, ctx: NegotiationContext) => Promise<"go" | { unsupported: string }>;

/** Options of `negotiateStartTls()` and of `connect(url, { startTls })`. */
export interface StartTlsNegotiationOptions {
  /** "required" (default): fail unless TLS is established. "opportunistic": go on in plaintext, saying so. */
  mode?: "required" | "opportunistic";
  /** Deadline in ms for the whole negotiation and handshake (default 30 000; inside connect's `timeout`). */
  timeout?: number;
  /** Longest reply line, in bytes (default 4096). */
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

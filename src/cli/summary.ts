/**
 * The `-v` connection summary (stderr): endpoints, TLS parameters, verification and the peer
 * certificate, and the STARTTLS transcript.
 */
import type { Socket, TlsInfo, TranscriptEntry } from "../index.js";
import { hostPort, keyValues, ms, visible, type Paint } from "./output.js";

/** How verification was configured, to word the verdict. */
export interface VerifyMode {
  insecure: boolean;
  pinned: boolean;
}

/** One-line verdict for a TLS connection. */
export function verdict(tls: TlsInfo, mode: VerifyMode, paint: Paint): string {
  if (mode.insecure) {
    const why = tls.authorized ? "the chain did verify" : `chain: ${visible(tls.authorizationError ?? "not checked")}`;
    return `${paint("yellow", "OFF")} (--insecure; ${why})`;
  }
  if (mode.pinned) return `${paint("green", "OK")} (pinned fingerprint)`;
  return `${paint("green", "OK")} (chain and name)`;
}

/** Transcript lines, `S: …` / `C: …`, each escaped (the server wrote them). */
export function transcriptLines(transcript: readonly TranscriptEntry[], indent: number, paint: Paint): string {
  return transcript.map((t) => `${" ".repeat(indent)}${paint("dim", t.from === "server" ? "S:" : "C:")} ${visible(t.text)}\n`).join("");
}

/**
 * The summary block; every line starts with `* ` so it stands apart from the data.
 *
 * @example
 * ```ts
 * process.stderr.write(summary(socket, { elapsed: 3.2, mode, transcript: null, paint }));
 * ```
 */
export function summary(
  socket: Socket,
  o: { elapsed: number; mode: VerifyMode; transcript: readonly TranscriptEntry[] | null; paint: Paint },
): string {
  const rows: Array<[string, string]> = [
    ["connected", `${visible(socket.url)} in ${ms(o.elapsed)}`],
    ["remote", hostPort(socket.remote)],
    ["local", hostPort(socket.local)],
  ];
  const tls = socket.tls;
  if (tls !== null) {
    rows.push(["protocol", tls.protocol], ["cipher", tls.cipher], ["alpn", tls.alpn === null ? "-" : visible(tls.alpn)]);
    rows.push(["verification", verdict(tls, o.mode, o.paint)]);
    const peer = tls.peerCertificate;
    if (peer !== null) {
      // Names in a certificate are the server's words: escaped.
      rows.push(["subject", visible(peer.subject)], ["issuer", visible(peer.issuer)], ["SANs", visible(peer.subjectAltNames.join(", ")) || "-"]);
    }
  } else {
    rows.push(["tls", "none (plaintext)"]);
  }
  let text = keyValues(rows.map(([k, v]) => [`* ${k}`, v] as const));
  if (o.transcript !== null && o.transcript.length > 0) {
    text += "* starttls transcript\n" + transcriptLines(o.transcript, 4, o.paint);
  }
  return text;
}

/**
 * The probe report: its JSON shape (stable; documented in `sockurl help probe`) and its
 * human rendering.
 */
import { X509Certificate } from "node:crypto";
import type { CertificateInfo, Endpoint } from "../index.js";
import { hostPort, keyValues, ms, round, visibleDeep, type Paint } from "./output.js";
import { transcriptLines } from "./summary.js";

const DAY = 86_400_000;

/** One certificate of the chain, as JSON. */
export interface CertificateJson {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  validFrom: string;
  validTo: string;
  /** Whole days until validTo (truncated); negative once expired by a day or more. */
  daysLeft: number;
  expired: boolean;
  notYetValid: boolean;
  serialNumber: string;
  keyType: string;
  keyBits: number | null;
  isCA: boolean;
  selfSigned: boolean;
  fingerprints: { sha256: string; sha1: string };
  spkiSha256: string;
}

/** What `sockurl probe --json` prints. */
export interface ProbeReport {
  target: string;
  transport: string;
  host: string | null;
  port: number | null;
  path: string | null;
  peerName: string | null;
  starttls: string | null;
  connected: boolean;
  /** true: TLS verified; false: TLS not verified (or not reached); null: plaintext, nothing to verify. */
  verified: boolean | null;
  resolved: Array<{ address: string; family: 4 | 6 }>;
  remote: Endpoint | null;
  local: Endpoint | null;
  /** Milliseconds; null for a step that did not happen. */
  timings: { resolve: number | null; connect: number | null; starttls: number | null; tls: number | null; total: number };
  tls: { protocol: string; cipher: string; alpn: string | null; servername: string | null; sessionReused: boolean } | null;
  verification: { result: "ok" | "failed" | "none"; reason: string | null; message: string | null };
  chain: CertificateJson[];
  transcript: Array<{ from: "client" | "server"; text: string }> | null;
  error: { code: string; phase: string | null; reason: string | null; message: string } | null;
}

/** A CertificateInfo as JSON, with days left and both fingerprints. */
export function certificateJson(c: CertificateInfo, now = Date.now()): CertificateJson {
  return {
    subject: c.subject,
    issuer: c.issuer,
    subjectAltNames: c.subjectAltNames,
    validFrom: c.validFrom.toISOString(),
    validTo: c.validTo.toISOString(),
    daysLeft: Math.trunc((c.validTo.getTime() - now) / DAY),
    expired: c.validTo.getTime() < now,
    notYetValid: c.validFrom.getTime() > now,
    serialNumber: c.serialNumber,
    keyType: c.keyType,
    keyBits: c.keyBits ?? null,
    isCA: c.isCA,
    selfSigned: c.subject === c.issuer,
    fingerprints: { sha256: c.fingerprint256, sha1: new X509Certificate(c.pem).fingerprint },
    spkiSha256: c.spkiSha256,
  };
}

/** Rounds the timings for output. */
export function rounded(r: ProbeReport): ProbeReport {
  const t = r.timings;
  const f = (v: number | null) => (v === null ? null : round(v));
  return { ...r, timings: { resolve: f(t.resolve), connect: f(t.connect), starttls: f(t.starttls), tls: f(t.tls), total: round(t.total) } };
}

/** An error's message without its `phase target:` prefix, which the report shows already. */
const bareDetail = (e: NonNullable<ProbeReport["error"]>): string => e.message.replace(/^[a-z]+ \S+: /, "");

const date = (iso: string) => iso.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");

function validity(c: CertificateJson, paint: Paint): string {
  const days = (n: number) => `${n} day${n === 1 ? "" : "s"}`;
  const left = c.expired ? paint("red", c.daysLeft === 0 ? "EXPIRED today" : `EXPIRED ${days(-c.daysLeft)} ago`)
    : c.notYetValid ? paint("red", "NOT YET VALID")
    : c.daysLeft < 30 ? paint("yellow", `${days(c.daysLeft)} left`) : `${days(c.daysLeft)} left`;
  return `${date(c.validFrom)} → ${date(c.validTo)} (${left})`;
}

/**
 * The human report: aligned, coloured through `paint`. Every string of the report is escaped
 * first (certificate names, the transcript and error messages come from the server).
 *
 * @example
 * ```ts
 * process.stdout.write(formatProbe(report, painter(false)));
 * ```
 */
export function formatProbe(raw: ProbeReport, paint: Paint): string {
  const r = visibleDeep(raw);
  const label = (s: string) => paint("bold", s);
  const t = r.timings;
  const timings = ([["resolve", t.resolve], ["connect", t.connect], ["starttls", t.starttls], ["tls", t.tls], ["total", t.total]] as const)
    .filter(([, v]) => v !== null).map(([k, v]) => `${k} ${ms(v)}`).join(", ");
  const rows: Array<[string, string]> = [
    ["target", `${r.target}${r.starttls ? ` (STARTTLS ${r.starttls})` : ""}`],
    ["resolved", r.resolved.length > 0 ? r.resolved.map((a) => a.address).join(", ") : "-"],
    ["connected", r.remote && r.local ? `${hostPort(r.remote)} from ${hostPort(r.local)}` : "-"],
    ["timings", timings],
  ];
  if (r.tls !== null) {
    rows.push(["peer name", r.peerName ?? "-"], ["protocol", r.tls.protocol], ["cipher", r.tls.cipher], ["alpn", r.tls.alpn ?? "-"]);
  } else {
    rows.push(["tls", "none (plaintext)"]);
  }
  const v = r.verification;
  if (v.result === "ok") rows.push(["verification", paint("green", "OK")]);
  else if (v.result === "failed" && r.tls === null) {
    // The handshake never completed (STARTTLS refused, handshake failed): nothing was verified.
    rows.push(["verification", `${paint("red", "FAILED")}: no TLS session${r.error === null ? "" : ` (${r.error.code}: ${bareDetail(r.error)})`}`]);
  } else if (v.result === "failed") rows.push(["verification", `${paint("red", "FAILED")} (${v.reason}: ${v.message})`]);
  const width = 16;
  let out = keyValues(rows.map(([k, val]) => [label(k), val] as const), 0, width);
  if (r.chain.length > 0) {
    out += `\n${label(`certificate chain`)} (${r.chain.length}, as the server sent it)\n`;
    r.chain.forEach((c, i) => {
      out += `[${i}] ${paint("cyan", c.subject)}\n`;
      out += keyValues([
        ["issuer", c.issuer + (c.selfSigned ? " (self-signed)" : "")],
        ["SANs", c.subjectAltNames.join(", ") || "-"],
        ["valid", validity(c, paint)],
        ["key", `${c.keyType}${c.keyBits ? ` ${c.keyBits} bits` : ""}${c.isCA ? ", CA" : ""}`],
        ["serial", c.serialNumber],
        ["sha256", c.fingerprints.sha256],
        ["sha1", c.fingerprints.sha1],
        ["spki sha256", c.spkiSha256],
      ], 4, width - 4);
    });
  }
  if (r.transcript !== null && r.transcript.length > 0) {
    out += `\n${label("starttls transcript")}\n` + transcriptLines(r.transcript, 4, paint);
  }
  return out;
}

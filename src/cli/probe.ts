/**
 * `sockurl probe URL`: connects with verification on and reports what it found — resolved
 * addresses, timings, TLS parameters, the verification verdict and the certificate chain.
 * A chain that fails verification is fetched again with verification off, only to show it.
 * Timings are taken around library calls: the resolver through the `lookup` option, the TCP
 * connect, then the TLS handshake as an in-place upgrade (socket.startTls or negotiateStartTls).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import {
  connect, formatAddress, negotiateStartTls, SocketError,
  type Address, type Lookup, type StartTlsProtocol, type TlsOptions,
} from "../index.js";
import { checkTransport } from "../address.js";
import { prepareClient } from "../tls-client.js";
import { validateTlsOptions, versionRange } from "../tls-options.js";
import { bareMessage, messageWithoutCode, report, UsageError, withTarget } from "./errors.js";
import {
  COMMON_FLAGS, isTlsTransport, oneUrl, parseFlags, pinnedVersions, starttlsFlag, timeoutFlag, TLS_FLAGS, tlsOptionsFromFlags,
} from "./flags.js";
import { painter, useColour, visibleJson } from "./output.js";
import { certificateJson, formatProbe, rounded, type ProbeReport } from "./probe-report.js";

const FLAGS = { ...COMMON_FLAGS, ...TLS_FLAGS, starttls: { type: "string" }, timeout: { type: "string" }, json: { type: "boolean" } } as const;

interface Plan {
  url: string;
  address: Address;
  starttls: StartTlsProtocol | undefined;
  timeout: number;
  tls: TlsOptions;
  secure: boolean;
}

/** Runs `sockurl probe`; returns the exit code (0 only when connected and verified). */
export async function probeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags("probe", argv, FLAGS);
  const { address } = oneUrl("probe", positionals);
  if (address.transport === "udp" || address.transport === "udg") {
    throw new UsageError(`probe needs a stream URL (tcp://, tls://, unix://), not ${address.transport}://`, "probe");
  }
  const starttls = starttlsFlag("probe", values.starttls);
  if (starttls !== undefined && address.transport !== "tcp" && address.transport !== "unix") {
    throw new UsageError(`--starttls upgrades a plaintext connection: use tcp://, not ${address.transport}://`, "probe");
  }
  const url = formatAddress(address);
  // What connect() would refuse before any I/O, refused here too: probe connects in plaintext
  // and upgrades, so without these checks sslv2:// and sslv3:// would be probed in plaintext and
  // a tlsv1.0:// pin found wanting only after the connection.
  checkTransport(address, url);
  const plan: Plan = {
    url,
    address,
    starttls,
    timeout: timeoutFlag("probe", values.timeout),
    tls: tlsOptionsFromFlags("probe", values, address, starttls !== undefined) ?? {},
    secure: starttls !== undefined || isTlsTransport(address.transport),
  };
  // Checked before any connection: a pinned old version needs its security level, and files
  // named by --ca, --cert, --key must be readable (ERR_INVALID_OPTION, exit 2, nothing dialled).
  if (plan.secure) {
    const checked = validateTlsOptions(plan.tls, plan.url);
    versionRange(address.transport, checked, plan.url);
    prepareClient(checked, { host: "host" in address ? address.host : "localhost", transport: "tls", url: plan.url });
  }
  const result = await probe(plan);
  if (values.json) process.stdout.write(visibleJson(JSON.stringify(rounded(result.report), null, 2)) + "\n");
  else if (result.report.connected) process.stdout.write(formatProbe(result.report, painter(useColour(process.stdout))));
  if (result.error !== null) return report(result.error);
  return 0;
}

/** Probes; the error, if any, is returned rather than thrown so that the report is printed too. */
async function probe(plan: Plan): Promise<{ report: ProbeReport; error: unknown }> {
  const first = await attempt(plan, plan.tls);
  if (first.error === null || !(first.error instanceof SocketError) || !["ERR_TLS_CERT", "ERR_TLS_FINGERPRINT"].includes(first.error.code)) {
    return first;
  }
  // The chain did not verify: look again without verification, only to show it.
  const { fingerprint: _pin, ...rest } = plan.tls;
  const second = await attempt(plan, { ...rest, verifyPeer: false, verifyPeerName: false });
  if (second.error !== null) return first;
  const e = first.error;
  second.report.verified = false;
  second.report.verification = { result: "failed", reason: e.reason ?? e.code, message: bareMessage(e) };
  second.report.error = errorJson(e);
  return { report: second.report, error: e };
}

async function attempt(plan: Plan, tls: TlsOptions): Promise<{ report: ProbeReport; error: unknown }> {
  const { address, url } = plan;
  const host = "host" in address ? address.host : null;
  const r: ProbeReport = {
    target: url, transport: address.transport, host, port: "port" in address ? address.port : null,
    path: "path" in address ? address.path : null, peerName: plan.secure ? tls.peerName ?? host ?? "localhost" : null,
    starttls: plan.starttls ?? null, connected: false, verified: plan.secure ? false : null,
    resolved: host !== null && isIP(host) !== 0 ? [{ address: host, family: isIP(host) as 4 | 6 }] : [],
    remote: null, local: null,
    timings: { resolve: null, connect: null, starttls: null, tls: null, total: 0 },
    tls: null, verification: { result: plan.secure ? "failed" : "none", reason: null, message: null },
    chain: [], transcript: null, error: null,
  };
  const lookup: Lookup = async (hostname, { family }) => {
    const started = performance.now();
    const found = await dnsLookup(hostname, { all: true, family, verbatim: true });
    r.timings.resolve = performance.now() - started;
    r.resolved = found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    return r.resolved;
  };
  const started = performance.now();
  const left = () => (plan.timeout === 0 ? undefined : Math.max(1, Math.ceil(plan.timeout - (performance.now() - started))));
  const plainUrl = "host" in address ? formatAddress({ transport: "tcp", host: address.host, port: address.port }) : url;
  try {
    const socket = await connect(plainUrl, { timeout: plan.timeout, lookup });
    try {
      r.timings.connect = performance.now() - started - (r.timings.resolve ?? 0);
      r.connected = true;
      r.remote = socket.remote;
      r.local = socket.local;
      const t = left();
      if (plan.starttls !== undefined) {
        const result = await negotiateStartTls(socket, plan.starttls,
          { tls, mode: "opportunistic", ...(t === undefined ? {} : { timeout: t }) });
        r.timings.starttls = result.timings.negotiate;
        r.transcript = result.transcript;
        if (!result.encrypted) {
          const detail = result.plaintextReason ?? "STARTTLS is not available";
          throw new SocketError(`starttls ${url}: ${detail} (ERR_STARTTLS_UNSUPPORTED)`,
            { code: "ERR_STARTTLS_UNSUPPORTED", phase: "starttls", address: url, detail });
        }
        r.timings.tls = result.timings.handshake;
      } else if (plan.secure) {
        const handshake = performance.now();
        await socket.startTls({ ...tls, ...pinnedVersions(address.transport), ...(t === undefined ? {} : { timeout: t }) });
        r.timings.tls = performance.now() - handshake;
      }
      const info = socket.tls;
      if (info !== null) {
        r.tls = { protocol: info.protocol, cipher: info.cipher, alpn: info.alpn, servername: info.servername, sessionReused: info.sessionReused };
        r.chain = info.peerChain.map((c) => certificateJson(c));
        r.verified = tls.verifyPeer !== false;
        r.verification = { result: "ok", reason: null, message: null };
      }
    } finally {
      socket.destroy();
    }
  } catch (err) {
    // Upgrades run on the tcp:// socket: name the URL that was asked for.
    const error = err instanceof SocketError && err.address === plainUrl && plainUrl !== url
      ? withTarget(err, url)
      : err;
    r.error = errorJson(error);
    return { report: finish(r, started), error };
  }
  return { report: finish(r, started), error: null };
}

function finish(r: ProbeReport, started: number): ProbeReport {
  r.timings.total = performance.now() - started;
  return r;
}

function errorJson(err: unknown): ProbeReport["error"] {
  const e = err as { code?: string; phase?: string; reason?: string; message?: string };
  const code = e.code ?? "ERR_INTERNAL";
  return { code, phase: e.phase ?? null, reason: e.reason ?? null, message: messageWithoutCode(err) };
}

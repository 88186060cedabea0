/**
 * `sockurl connect URL`: standard input to the socket, the socket to standard output, like
 * ncat. Standard input's end half-closes the connection (closeWrite); the peer's end of stream
 * ends the command with exit code 0. udp:// and udg:// go to ./connect-datagram.ts.
 */
import type { Address } from "../address.js";
import type { Socket } from "../socket.js";
import type { StartTlsProtocol } from "../starttls/types.js";
import type { TranscriptEntry } from "../starttls/types.js";
import type { TlsOptions } from "../tls-options.js";
import { UsageError } from "./errors.js";
import { COMMON_FLAGS, oneUrl, parseFlags, starttlsFlag, timeoutFlag, TLS_FLAGS, tlsOptionsFromFlags } from "./flags.js";
import { painter, useColour, writeOut } from "./output.js";
import { summary } from "./summary.js";
import { openStdin, type StdinSource } from "./upload.js";

const FLAGS = {
  ...COMMON_FLAGS,
  ...TLS_FLAGS,
  insecure: { type: "boolean" },
  starttls: { type: "string" },
  timeout: { type: "string" },
  crlf: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
} as const;

/** Warns once on stderr that --insecure turns verification off. */
export function warnInsecure(): void {
  process.stderr.write("sockurl: warning: --insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection\n");
}

/** Runs `sockurl connect`; returns the exit code. */
export async function connectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags("connect", argv, FLAGS);
  const { url, address } = oneUrl("connect", positionals);
  const starttls = starttlsFlag("connect", values.starttls);
  const timeout = timeoutFlag("connect", values.timeout);
  const tls = tlsOptionsFromFlags("connect", values, address, starttls !== undefined);
  if (address.transport === "udp" || address.transport === "udg") {
    if (starttls !== undefined) throw new UsageError(`--starttls needs a stream URL (tcp:// or unix://), not ${address.transport}://`, "connect");
    const { connectDatagram } = await import("./connect-datagram.js");
    return connectDatagram(url, address, { timeout, verbose: values.verbose ?? false });
  }
  if (starttls !== undefined && address.transport !== "tcp" && address.transport !== "unix") {
    throw new UsageError(`--starttls upgrades a plaintext connection: use tcp://, not ${address.transport}://`, "connect");
  }
  if (values.insecure) warnInsecure();
  const started = performance.now();
  // Input is read while the library loads and the connection opens; it is sent once both are done.
  const stdin = openStdin();
  let opened: { socket: Socket; transcript: TranscriptEntry[] | null };
  try {
    opened = await open(url, address, { timeout, tls, starttls });
  } catch (err) {
    stdin.close();
    throw err;
  }
  const { socket, transcript } = opened;
  if (values.verbose) {
    const mode = { insecure: values.insecure ?? false, pinned: values.fingerprint !== undefined };
    process.stderr.write(summary(socket, { elapsed: performance.now() - started, mode, transcript, paint: painter(useColour(process.stderr)) }));
  }
  return pipe(socket, stdin, values.crlf ?? false);
}

/** Connects, and negotiates STARTTLS when asked, inside one deadline. */
async function open(
  url: string,
  address: Address,
  o: { timeout: number; tls: TlsOptions | undefined; starttls: StartTlsProtocol | undefined },
): Promise<{ socket: Socket; transcript: TranscriptEntry[] | null }> {
  const started = performance.now();
  const { connect } = await import("../connect.js");
  if (o.starttls === undefined) {
    return { socket: await connect(url, { timeout: o.timeout, ...(o.tls === undefined ? {} : { tls: o.tls }) }), transcript: null };
  }
  // --ca/--cert/--key files are read before the connection exists (exit 2, nothing to close).
  if (o.tls !== undefined) (await import("../tls-options.js")).checkTlsFiles(o.tls, url);
  const socket = await connect(url, { timeout: o.timeout });
  const left = o.timeout === 0 ? undefined : Math.max(1, Math.ceil(o.timeout - (performance.now() - started)));
  const { negotiateStartTls } = await import("../starttls/index.js");
  try {
    const result = await negotiateStartTls(socket, o.starttls, { tls: o.tls ?? {}, ...(left === undefined ? {} : { timeout: left }) });
    return { socket, transcript: result.transcript };
  } catch (err) {
    socket.destroy(); // an open socket would keep the command from exiting
    throw err;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from("\r\n");

/** A stateful LF → CRLF converter for a byte stream (a CR that ends one chunk is remembered). */
export function crlfConverter(): (chunk: Buffer) => Buffer {
  let lastWasCR = false;
  return (chunk) => {
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      const cr = i > 0 ? chunk[i - 1] === CR : lastWasCR;
      if (!cr) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
    }
    if (chunk.length > 0) lastWasCR = chunk[chunk.length - 1] === CR;
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  };
}

/** Copies stdin → socket and socket → stdout until the socket ends; returns the exit code. */
async function pipe(socket: Socket, stdin: StdinSource, crlf: boolean): Promise<number> {
  const convert = crlf ? crlfConverter() : null;
  let stdoutGone = false;
  const onStdoutError = () => {
    // The reader of our output went away (EPIPE): nobody is listening any more.
    stdoutGone = true;
    socket.destroy();
  };
  process.stdout.on("error", onStdoutError);
  const upload = stdin.pipeTo(socket, convert);
  // When the socket fails, the download reports it; the upload's error is the same one.
  upload.done.then(() => socket.closeWrite()).catch(() => {});
  try {
    for await (const chunk of socket) await writeOut(process.stdout, chunk);
    return 0;
  } catch (err) {
    if (stdoutGone) return 0;
    throw err;
  } finally {
    upload.stop();
    await socket.close();
    process.stdout.off("error", onStdoutError);
  }
}

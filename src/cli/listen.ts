/**
 * `sockurl listen URL`: accepts connections (or datagrams) and echoes them back (`--echo`) or
 * prints what arrives. tls:// without --cert gets a throwaway self-signed certificate whose
 * SHA-256 fingerprint is printed, for `sockurl connect --fingerprint`.
 */
import {
  listen, type Address, type DatagramTarget, type Server, type Socket, type TlsOptions,
} from "../index.js";
import { selfSigned, LOOPBACK_NAMES } from "./certs.js";
import { report, UsageError } from "./errors.js";
import { COMMON_FLAGS, isTlsTransport, oneUrl, parseFlags } from "./flags.js";
import { visible, writeOut } from "./output.js";

const FLAGS = {
  ...COMMON_FLAGS,
  echo: { type: "boolean" },
  once: { type: "boolean" },
  cert: { type: "string" },
  key: { type: "string" },
  ca: { type: "string" },
  verbose: { type: "boolean", short: "v" },
} as const;

interface Mode {
  echo: boolean;
  once: boolean;
  verbose: boolean;
}

const say = (line: string) => process.stderr.write(line + "\n");

/** Runs `sockurl listen`; returns the exit code. */
export async function listenCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags("listen", argv, FLAGS);
  const { url, address } = oneUrl("listen", positionals);
  const mode: Mode = { echo: values.echo ?? false, once: values.once ?? false, verbose: values.verbose ?? false };
  const { tls, throwaway } = await serverTls(address, values);
  if (address.transport === "udp" || address.transport === "udg") return listenDatagram(url, mode);
  const server = await listen(url, tls === undefined ? {} : { tls });
  // One write, so that a reader of stderr sees the whole block at once.
  say(`listening on ${visible(server.url)}` + (throwaway === null ? "" : [
    "", `certificate: throwaway self-signed for ${LOOPBACK_NAMES.join(", ")}`,
    `sha256 fingerprint: ${throwaway}`, `connect with: sockurl connect --fingerprint ${throwaway} ${server.url}`,
  ].join("\n")));
  return serve(server, mode);
}

/** TLS options from --cert/--key/--ca, or a throwaway certificate (its fingerprint in `throwaway`). */
async function serverTls(
  address: Address,
  v: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
): Promise<{ tls: TlsOptions | undefined; throwaway: string | null }> {
  if (!isTlsTransport(address.transport)) {
    const flag = (["cert", "key", "ca"] as const).find((k) => v[k] !== undefined);
    if (flag) throw new UsageError(`--${flag} is for TLS: listen on a tls:// URL`, "listen");
    return { tls: undefined, throwaway: null };
  }
  if (v.key !== undefined && v.cert === undefined) throw new UsageError("--key needs --cert", "listen");
  const clientAuth: TlsOptions = v.ca === undefined ? {} : { caFile: v.ca, requestCert: true };
  if (v.cert !== undefined) return { tls: { certFile: v.cert, keyFile: v.key ?? v.cert, ...clientAuth }, throwaway: null };
  const made = await selfSigned();
  return { tls: { cert: made.cert, key: made.key, ...clientAuth }, throwaway: made.fingerprint256 };
}

/** Accepts connections until interrupted (or the first one ends, with --once). */
async function serve(server: Server, mode: Mode): Promise<number> {
  const active = new Set<Socket>();
  const stop = () => {
    void server.close();
    for (const s of active) s.destroy();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    if (mode.once) {
      const socket = await server.accept();
      active.add(socket);
      return await handle(socket, mode);
    }
    for await (const socket of server) {
      active.add(socket);
      void handle(socket, mode).finally(() => active.delete(socket));
    }
    return 0;
  } catch (err) {
    // Interrupted while waiting for a connection.
    if ((err as { code?: string }).code === "ERR_SOCKET_CLOSED") return 0;
    throw err;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await server.close();
  }
}

/** Echoes or prints one connection; a failure is reported and does not stop the listener. */
async function handle(socket: Socket, mode: Mode): Promise<number> {
  const peer = visible(socket.url);
  if (mode.verbose) {
    const tls = socket.tls;
    // The ALPN protocol is the client's choice: escaped like everything else from the network.
    say(`* connection from ${peer}${tls ? ` (${tls.protocol}, ${tls.cipher}${tls.alpn ? `, ${visible(tls.alpn)}` : ""})` : ""}`);
  }
  let bytes = 0;
  try {
    for await (const chunk of socket) {
      bytes += chunk.length;
      if (mode.echo) await socket.write(chunk);
      else await writeOut(process.stdout, chunk);
    }
    await socket.close();
    if (mode.verbose) say(`* ${peer} closed after ${bytes} bytes`);
    return 0;
  } catch (err) {
    socket.destroy();
    return report(err);
  }
}

/** Receives datagrams until interrupted (or the first one, with --once). */
async function listenDatagram(url: string, mode: Mode): Promise<number> {
  const socket = await listen(url as DatagramTarget);
  say(`listening on ${visible(socket.url)}`);
  const stop = () => void socket.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for await (const { data, remote } of socket) {
      if (mode.verbose) say(`* ${data.length} bytes from ${remote.family === "unix" ? visible(remote.host) || "(unbound)" : `${remote.host}:${remote.port}`}`);
      if (!mode.echo) await writeOut(process.stdout, data.length > 0 && data[data.length - 1] === 0x0a ? data : Buffer.concat([data, Buffer.from("\n")]));
      else if (remote.family !== "unix" || remote.host !== "") await socket.sendTo(data, remote);
      if (mode.once) break;
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await socket.close();
  }
}

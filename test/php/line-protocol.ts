/**
 * The line protocol of the test servers (test/php/servers.ts describes the commands), shared by the
 * plain, unix, TLS and SMTP-like servers.
 */
import type net from "node:net";
import tls from "node:tls";

export type Duplex = net.Socket | tls.TLSSocket;

function tlsInfo(socket: Duplex): string {
  if (!(socket instanceof tls.TLSSocket)) return "sni=- alpn=- proto=- cert=-";
  const sni = (socket as tls.TLSSocket & { servername?: string | false }).servername;
  const peer = socket.getPeerCertificate();
  const cn = peer && typeof peer.subject?.CN === "string" ? peer.subject.CN.replace(/ /g, "_") : "-";
  return `sni=${sni || "-"} alpn=${socket.alpnProtocol || "-"} proto=${socket.getProtocol() ?? "-"} cert=${cn}`;
}

function bytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = 0x30 + (i % 10);
  return out;
}

/**
 * Runs the line protocol on `socket`. `extra` may take a command first (the SMTP server's verbs);
 * it returns true when it handled the line, or "detach" when it took the socket over.
 */
export function serveLines(socket: Duplex, extra?: (line: string, socket: Duplex, rest: Buffer) => boolean | "detach"): void {
  socket.on("error", () => {});
  let buffered = Buffer.alloc(0);
  let counting = -1;
  let detached = false;
  const onData = (chunk: Buffer): void => {
    if (counting >= 0) {
      counting += chunk.length;
      return;
    }
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (detached || counting >= 0) return;
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) return;
      const line = buffered.subarray(0, nl).toString("latin1").replace(/\r$/, "");
      buffered = buffered.subarray(nl + 1);
      if (extra) {
        const handled = extra(line, socket, buffered);
        if (handled === "detach") {
          detached = true;
          socket.off("data", onData);
          socket.off("end", onEnd);
          return;
        }
        if (handled) continue;
      }
      const [verb = "", ...args] = line.split(" ");
      const arg = args.join(" ");
      switch (verb) {
        case "ECHO":
          socket.write(arg + "\n");
          break;
        case "TWO":
          socket.write("one\ntwo\n");
          break;
        case "BYTES":
          socket.write(bytes(Number(arg)));
          break;
        case "SLEEP":
          setTimeout(() => socket.writable && socket.write("woke\n"), Number(arg)).unref();
          break;
        case "SHUTWR":
          socket.end(arg + "\n");
          break;
        case "CLOSE":
          socket.destroy();
          return;
        case "COUNT":
          counting = buffered.length;
          buffered = Buffer.alloc(0);
          return;
        case "INFO":
          socket.write(tlsInfo(socket) + "\n");
          break;
        default:
          socket.write(`? ${line}\n`);
      }
    }
  };
  const onEnd = (): void => {
    if (counting >= 0 && socket.writable) socket.end(`got ${counting} bytes\n`);
    else if (socket.writable) socket.end();
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
}

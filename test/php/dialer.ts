/**
 * The dialer: a control port through which a scenario that plays the server has the test process
 * connect to it (see `dial()`), and reads back one report line.
 */
import net from "node:net";
import tls from "node:tls";
import type { Pki } from "../fixtures/pki.js";
import type { Duplex } from "./line-protocol.js";

/**
 * `DIAL <kind> <host:port> [text]`, one report line back:
 *   tcp        connect, send "<text>\n", report "tcp read=<first line>|eof" (or "tcp failed")
 *   tls        TLS connect (CA: the test root, no client certificate), send "<text>\n",
 *              report "tls proto=<version> read=<line>" or "tls failed"
 *   tls-cert   the same with the `client` certificate
 *   starttls   plaintext "STARTTLS\n", wait for a line, upgrade (as tls), send "<text>\n",
 *              report "starttls got=<plain line> proto=<version> read=<line>" or "starttls failed"
 *   hold       connect and keep the connection open 2 s without sending, report "hold done"
 */
export function dialerHandler(pki: Pki): (control: net.Socket) => void {
  const ca = pki.caBundle;
  return (control) => {
    control.on("error", () => {});
    let buffered = "";
    control.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        void dial(line, ca, pki).then((report) => {
          if (control.writable) control.write(report + "\n");
        });
      }
    });
  };
}

function firstLine(socket: Duplex, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    const finish = (result: string): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      const nl = text.indexOf("\n");
      if (nl >= 0) finish(text.slice(0, nl).replace(/\r$/, ""));
    };
    const onEnd = (): void => finish(text === "" ? "eof" : text);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
  });
}

async function dial(command: string, ca: string, pki: Pki): Promise<string> {
  const [, kind = "", target = "", ...rest] = command.split(" ");
  const text = rest.join(" ") || "ping";
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(colon + 1));
  const plain = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once("connect", () => {
        s.off("error", reject);
        s.on("error", () => {});
        resolve(s);
      });
      s.once("error", reject);
    });
  const secure = (socket: net.Socket | null, withCert: boolean): Promise<tls.TLSSocket> =>
    new Promise((resolve, reject) => {
      const options: tls.ConnectionOptions = { ca, servername: "localhost", minVersion: "TLSv1.2" };
      if (socket) options.socket = socket;
      else Object.assign(options, { host, port });
      if (withCert) Object.assign(options, { cert: pki.client.chain, key: pki.client.key });
      const s = tls.connect(options);
      s.once("secureConnect", () => {
        s.off("error", reject);
        s.on("error", () => {});
        resolve(s);
      });
      s.once("error", reject);
      s.once("close", () => reject(Object.assign(new Error("closed"), { code: "closed" })));
    });
  let socket: Duplex | null = null;
  try {
    switch (kind) {
      case "tcp": {
        socket = await plain();
        socket.write(text + "\n");
        return `tcp read=${await firstLine(socket)}`;
      }
      case "tls":
      case "tls-cert": {
        const s = await secure(null, kind === "tls-cert");
        socket = s;
        const proto = s.getProtocol(); // now: once the peer has closed, it is null
        s.write(text + "\n");
        const read = await firstLine(s);
        return `tls proto=${proto} read=${read}`;
      }
      case "starttls": {
        const raw = await plain();
        socket = raw;
        raw.write("STARTTLS\n");
        const got = await firstLine(raw);
        const s = await secure(raw, false);
        socket = s;
        const proto = s.getProtocol();
        s.write(text + "\n");
        const read = await firstLine(s);
        return `starttls got=${got} proto=${proto} read=${read}`;
      }
      case "hold": {
        socket = await plain();
        await new Promise((r) => setTimeout(r, 2000));
        return "hold done";
      }
      default:
        return `dialer: unknown kind ${kind}`;
    }
  } catch {
    // Which side notices a failed handshake first (and so which alert or code this end sees) is a
    // race: report only that it failed.
    return `${kind} failed`;
  } finally {
    socket?.destroy();
  }
}

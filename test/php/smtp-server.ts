/**
 * The scripted SMTP-like STARTTLS server (test/php/servers.ts describes its verbs).
 */
import type net from "node:net";
import tls from "node:tls";
import type { Pki } from "../fixtures/pki.js";
import { serveLines, type Duplex } from "./line-protocol.js";

export function smtpHandler(pki: Pki): (socket: net.Socket) => void {
  const secureContext = tls.createSecureContext({ cert: pki.valid.chain, key: pki.valid.key, minVersion: "TLSv1.2" });
  return (socket) => {
    socket.on("error", () => {});
    socket.write("220 sockurl ESMTP\r\n");
    const upgrade = (raw: Duplex, rest: Buffer): void => {
      if (rest.length) raw.unshift(rest);
      const secure = new tls.TLSSocket(raw as net.Socket, { isServer: true, secureContext });
      secure.on("error", () => raw.destroy());
      serveLines(secure, smtpVerbs(false));
    };
    const smtpVerbs =
      (plain: boolean) =>
      (line: string, s: Duplex, rest: Buffer): boolean | "detach" => {
        const verb = line.split(" ")[0]!.toUpperCase();
        switch (verb) {
          case "EHLO":
            s.write(plain ? "250-sockurl\r\n250 STARTTLS\r\n" : "250-sockurl\r\n250 AUTH PLAIN\r\n");
            return true;
          case "NOOP":
            s.write("250 ok\r\n");
            return true;
          case "QUIT":
            s.end("221 bye\r\n");
            return true;
          case "STARTTLS":
            if (!plain) {
              s.write("503 already\r\n");
              return true;
            }
            s.write("220 go ahead\r\n");
            upgrade(s, rest);
            return "detach";
          case "STARTTLS-INJECT":
            s.write("220 go ahead\r\n250 injected\r\n");
            upgrade(s, rest);
            return "detach";
          case "STARTTLS-MUTE":
            s.write("220 go ahead\r\n");
            s.removeAllListeners("data");
            s.on("data", () => {});
            return "detach";
          default:
            return false;
        }
      };
    serveLines(socket, smtpVerbs(true));
  };
}

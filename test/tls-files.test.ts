/**
 * TLS files (caFile, caPath, certFile, keyFile) are read before any I/O. An
 * unreadable one is ERR_INVALID_OPTION in phase address, the server sees no connection (and, for
 * STARTTLS, no byte), and no descriptor is left open. Real loopback listeners, no mocks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, negotiateStartTls, type ConnectOptions } from "../src/index.js";
import type { TlsOptions } from "../src/tls-options.js";
import { openFds, rawServer, rejectsWith, tempDir, until } from "./helpers.js";
import { makePki, writePki } from "./fixtures/pki.js";

const pki = await makePki();

/** Every unreadable-file case, with the option named in the message. */
function unreadable(dir: string): Array<[string, TlsOptions]> {
  return [
    ["caFile", { caFile: `${dir}/missing-ca.pem` }],
    ["caPath", { caPath: `${dir}/missing-dir` }],
    ["certFile", { certFile: `${dir}/missing.crt`, keyFile: `${dir}/missing.key` }],
    ["keyFile", { cert: pki.client.cert, keyFile: `${dir}/missing.key` }],
    ["caFile", { caFile: dir }], // a directory: EISDIR
  ];
}

describe("tls files are read before any I/O", () => {
  test("tls:// connect: an unreadable file is ERR_INVALID_OPTION, the server sees no connection, no descriptor leaks", async () => {
    const { dir, cleanup } = tempDir();
    const server = await rawServer(() => {});
    try {
      const before = openFds();
      for (const [option, tls] of unreadable(dir)) {
        const err = await rejectsWith(connect(`tls://127.0.0.1:${server.port}`, { timeout: 5000, tls }), "ERR_INVALID_OPTION", {
          phase: "address",
          message: new RegExp(`tls\\.${option}: cannot read`),
        });
        assert.equal(err.address, `tls://127.0.0.1:${server.port}`);
      }
      assert.equal(server.accepted, 0, "the server saw no connection");
      assert.equal(openFds(), before, "descriptors before == after");
    } finally {
      await server.close();
      cleanup();
    }
  });

  test("connect with the startTls option: refused before the dialogue, with no connection made", async () => {
    const { dir, cleanup } = tempDir();
    const server = await rawServer((s) => s.write("220 ready\r\n"));
    try {
      const before = openFds();
      for (const [option, tls] of unreadable(dir)) {
        await rejectsWith(connect(server.url, { timeout: 5000, startTls: "smtp", tls } as ConnectOptions), "ERR_INVALID_OPTION", {
          phase: "address",
          message: new RegExp(`tls\\.${option}: cannot read`),
        });
      }
      assert.equal(server.accepted, 0, "the server saw no connection");
      assert.equal(openFds(), before, "descriptors before == after");
    } finally {
      await server.close();
      cleanup();
    }
  });

  test("negotiateStartTls on a connected socket: refused before a byte of the dialogue is sent", async () => {
    const { dir, cleanup } = tempDir();
    let received = 0;
    const server = await rawServer((s) => {
      s.on("data", (d: Buffer) => (received += d.length));
      s.write("220 ready\r\n");
    });
    try {
      const socket = await connect(server.url, { timeout: 5000 });
      try {
        await until(() => server.accepted === 1, "the server accepted");
        await rejectsWith(negotiateStartTls(socket, "smtp", { tls: { caFile: `${dir}/missing-ca.pem` } }), "ERR_INVALID_OPTION", {
          message: /tls\.caFile: cannot read/,
        });
        // The plaintext socket is untouched and still the caller's: it reads the greeting.
        assert.equal(await socket.readLine(), "220 ready");
        assert.equal(received, 0, "no EHLO or STARTTLS was sent");
      } finally {
        socket.destroy();
      }
    } finally {
      await server.close();
      cleanup();
    }
  });

  test("readable files still work: caFile and caPath verify, the connection is made", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const paths = await writePki(dir, pki);
      const { listen } = await import("../src/index.js");
      const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
      try {
        const url = server.url;
        const viaFile = await connect(url, { timeout: 5000, tls: { caFile: paths.caBundle } });
        assert.equal(viaFile.tls!.authorized, true);
        viaFile.destroy();
        if (paths.capath !== null) {
          const viaPath = await connect(url, { timeout: 5000, tls: { caPath: paths.capath } });
          assert.equal(viaPath.tls!.authorized, true);
          viaPath.destroy();
        }
      } finally {
        await server.close();
      }
    } finally {
      cleanup();
    }
  });
});

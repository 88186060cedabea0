/**
 * TLS files from the command line: `sockurl connect` and `sockurl probe` with a --ca
 * file that cannot be read exit 2 at once with one clear line, and make no connection. The
 * built CLI is spawned against a real loopback listener.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { killAll, oneLine, runCli } from "./cli-helpers.js";
import { rawServer } from "./helpers.js";

after(killAll);

describe("cli: unreadable TLS files", () => {
  const cases: Array<[string, (port: number) => string[]]> = [
    ["connect tls://", (port) => ["connect", "--ca", "/nonexistent/ca.pem", `tls://127.0.0.1:${port}`]],
    ["connect --starttls smtp", (port) => ["connect", "--starttls", "smtp", "--ca", "/nonexistent/ca.pem", `tcp://127.0.0.1:${port}`]],
    ["probe tls://", (port) => ["probe", "--ca", "/nonexistent/ca.pem", `tls://127.0.0.1:${port}`]],
  ];
  for (const [name, args] of cases) {
    test(`${name} --ca /nonexistent/ca.pem: exit 2, ERR_INVALID_OPTION naming the file, no connection`, async () => {
      const server = await rawServer((s) => s.write("220 ready\r\n"));
      try {
        // stdin stays open, as at a terminal: the command must exit on its own.
        const r = await runCli(args(server.port), { keepStdinOpen: true, timeoutMs: 20_000 });
        assert.equal(r.code, 2, r.stderr);
        assert.match(oneLine(r.stderr), /^sockurl: ERR_INVALID_OPTION: .*tls\.caFile: cannot read \/nonexistent\/ca\.pem: no such file or directory/);
        assert.equal(r.stdout, "", "no probe report for a connection that was never made");
        assert.equal(server.accepted, 0, "the server saw no connection");
      } finally {
        await server.close();
      }
    });
  }
});

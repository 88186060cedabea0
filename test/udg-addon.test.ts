/**
 * udg:// rests on the unix-dgram native addon, loaded by the first udg socket. When it cannot be
 * loaded, udg:// fails with a typed error and everything else keeps working. A working addon
 * cannot be unloaded inside one process, so a child process is given a module loader that
 * refuses to resolve "unix-dgram".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tempDir } from "./helpers.js";

const indexUrl = pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href;

const REFUSING_LOADER = `
export async function resolve(specifier, context, next) {
  if (specifier === "unix-dgram") {
    throw Object.assign(new Error("Cannot find package 'unix-dgram' (refused by the test's loader)"), { code: "ERR_MODULE_NOT_FOUND" });
  }
  return next(specifier, context);
}`;

const REGISTER = `import { register } from "node:module";
register(${JSON.stringify("data:text/javascript," + encodeURIComponent(REFUSING_LOADER))});`;

test("without the unix-dgram addon, udg:// fails with ERR_UNSUPPORTED_TRANSPORT and tcp:// still works", { timeout: 30_000 }, () => {
  const t = tempDir();
  try {
    const script = `
      const { connect, listen, SocketError } = await import(${JSON.stringify(indexUrl)});
      const out = {};
      for (const [name, open] of [
        ["listen", () => listen(${JSON.stringify(`udg://${join(t.dir, "server.sock")}`)})],
        ["connect", () => connect(${JSON.stringify(`udg://${join(t.dir, "server.sock")}`)})],
      ]) {
        try {
          await open();
          out[name] = "opened";
        } catch (e) {
          out[name] = { socketError: e instanceof SocketError, code: e.code, phase: e.phase, message: e.message };
        }
      }
      const server = await listen("tcp://127.0.0.1:0");
      const [client, peer] = await Promise.all([connect(server.url), server.accept()]);
      await client.write("still here\\n");
      out.tcp = await peer.readLine();
      await Promise.all([client.close(), peer.close(), server.close()]);
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, [
      "--no-warnings", "--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`,
      "--input-type=module", "-e", script,
    ], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
    for (const phase of ["listen", "connect"]) {
      const e = out[phase] as { socketError: boolean; code: string; phase: string; message: string };
      assert.equal(e.socketError, true, `${phase}: ${JSON.stringify(e)}`);
      assert.equal(e.code, "ERR_UNSUPPORTED_TRANSPORT", e.message);
      assert.equal(e.phase, phase);
      assert.match(e.message, /unix-dgram native module, which failed to load/);
      assert.match(e.message, /refused by the test's loader/);
    }
    assert.equal(out.tcp, "still here");
  } finally {
    t.cleanup();
  }
});

/**
 * cli-pipe-ncat / cli-pipe-socat: 1 GiB piped through a command-line client into a loopback
 * sink; bytes/s from spawning the client to the sink seeing end of stream with every byte.
 *
 * sockurl: `head -c 1G /dev/zero | sockurl connect tcp://127.0.0.1:PORT`
 * baseline: the same pipe through `ncat --send-only 127.0.0.1 PORT` or
 *           `socat -u - TCP:127.0.0.1:PORT` (Debian's ncat and socat).
 * The sink is a raw node:net server in this process, the same for every client.
 */
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { HOST, RUN_TIMEOUT_MS, closeNetServer, now, scaled, withTimeout, type Impl, type RunOptions, type Sample } from "./common.js";

const TOTAL_BYTES = 1024 ** 3;
const SOCKURL_BIN = fileURLToPath(new URL("../../bin/sockurl.js", import.meta.url));

type Peer = "ncat" | "socat";

function command(tool: Impl | Peer, port: number, bytes: number): string {
  const source = `head -c ${bytes} /dev/zero`;
  switch (tool) {
    case "ncat": return `${source} | ncat --send-only ${HOST} ${port}`;
    case "socat": return `${source} | socat -u - TCP:${HOST}:${port}`;
    default: return `${source} | ${JSON.stringify(process.execPath)} ${JSON.stringify(SOCKURL_BIN)} connect tcp://${HOST}:${port}`;
  }
}

async function pipeThrough(tool: Impl | Peer, bytes: number): Promise<Sample> {
  let received = 0;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const server = net.createServer((socket) => {
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.on("error", () => {});
    socket.on("end", () => {
      socket.end();
      ended();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const start = now();
    const child = spawn("sh", ["-c", command(tool, port, bytes)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await withTimeout(Promise.all([done, exited]), RUN_TIMEOUT_MS, `cli-pipe through ${tool}`, () => child.kill());
    const seconds = (now() - start) / 1000;
    const code = await exited;
    if (code !== 0) throw new Error(`cli-pipe: ${tool} exited with ${code}: ${stderr.trim()}`);
    if (received !== bytes) throw new Error(`cli-pipe: ${tool} delivered ${received} of ${bytes} bytes`);
    return { value: bytes / seconds };
  } finally {
    await closeNetServer(server);
  }
}

/** The benchmark against one peer tool: sockurl's run is the same in both. */
export function cliPipe(peer: Peer) {
  return (impl: Impl, { scale }: RunOptions): Promise<Sample> => {
    if (impl === "baseline" && spawnSync("sh", ["-c", `command -v ${peer}`]).status !== 0) {
      return Promise.reject(new Error(`cli-pipe-${peer}: ${peer} is not installed; on Debian: sudo apt-get install -y ncat socat`));
    }
    return pipeThrough(impl === "sockurl" ? "sockurl" : peer, scaled(TOTAL_BYTES, scale, 1024 * 1024));
  };
}

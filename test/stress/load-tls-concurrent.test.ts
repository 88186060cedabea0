/**
 * Load 2: 5,000 concurrent TLS connections to a sockurl tls:// server, each echoing 100 lines,
 * beside the same workload against a raw node:tls server in the same run.
 *
 * Three processes per run: the server (sockurl or raw node:tls, `--expose-gc`, measured alone),
 * the clients (raw node:tls in both runs, so only the server differs) and this test, which
 * orchestrates. The clients open all connections first (at most 128 handshakes in flight), so all
 * 5,000 are open at once; the server's collected heap and RSS are read then ("retained per
 * connection"); then every connection echoes 100 lines in lock-step (write a line, wait for it back),
 * all connections at once, while the server samples its peak RSS; then the clients close.
 *
 * Accept rate = connections ÷ (last accept − first accept), timed in the server process.
 *
 * Reproduce: npm run build && node --test dist/test/stress/load-tls-concurrent.test.js
 * (LOAD_TLS_CONNECTIONS and LOAD_TLS_LINES change the counts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { listen, type Socket } from "../../src/index.js";
import { makePki } from "../fixtures/pki.js";
import {
  HOST, PeakSampler, bytes, escapeCount, escapes, heard, keepFigures, maxChildNofile, openFds, pool,
  recordEscapes, role, roleConfig, runRole, settledMemory, sleep, spawnRole, tell, type Memory,
} from "./util-load.js";

const FILE = fileURLToPath(import.meta.url);
const HANDSHAKES_IN_FLIGHT = 128;

type Impl = "sockurl" | "raw";

interface ServerConfig {
  impl: Impl;
  cert: string;
  key: string;
}

interface ServerReport {
  accepted: number;
  closed: number;
  errors: Record<string, number>;
  handshakeFailures: number;
  firstAcceptMs: number;
  lastAcceptMs: number;
  base: Memory;
  connected: Memory & { fds: number };
  peak: Memory;
  escapes: string[];
  escapeCount: number;
  /** CPU seconds (user + system) while the clients connected, and during the echo and the closes. */
  cpuConnect: number;
  cpuEchoAndClose: number;
}

const cpuSeconds = (u: NodeJS.CpuUsage) => Number(((u.user + u.system) / 1e6).toFixed(2));

interface ClientsConfig {
  port: number;
  ca: string;
  count: number;
  lines: number;
}

// ---------------------------------------------------------------- server role

async function server(): Promise<void> {
  recordEscapes();
  const { impl, cert, key } = roleConfig<ServerConfig>();
  let accepted = 0;
  let closed = 0;
  let firstAcceptMs = 0;
  let lastAcceptMs = 0;
  let rawHandshakeFailures = 0;
  const errors: Record<string, number> = {};
  const noteError = (err: unknown) => {
    const key = String((err as { code?: unknown })?.code ?? err);
    errors[key] = (errors[key] ?? 0) + 1;
  };
  const onAccept = () => {
    const t = performance.now();
    if (accepted === 0) firstAcceptMs = t;
    lastAcceptMs = t;
    accepted++;
  };

  let port: number;
  let handshakeFailures: () => number;
  if (impl === "sockurl") {
    const listener = await listen(`tls://${HOST}:0`, { tls: { cert, key } });
    port = "port" in listener.address ? listener.address.port : 0;
    handshakeFailures = () => listener.handshakeFailures;
    const echo = async (s: Socket) => {
      try {
        for (let line; (line = await s.readLine()) !== null; ) await s.write(line + "\n");
      } catch (err) {
        noteError(err);
      } finally {
        await s.close();
        closed++;
      }
    };
    void (async () => {
      for await (const s of listener) {
        onAccept();
        void echo(s);
      }
    })().catch(noteError);
  } else {
    // The idiomatic node:tls echo server: a line splitter over 'data', write() without waiting.
    const listener = tls.createServer({ cert, key }, (s) => {
      onAccept();
      s.setNoDelay(true);
      let pending = "";
      s.setEncoding("utf8");
      s.on("data", (chunk: string) => {
        let text = pending + chunk;
        let nl: number;
        while ((nl = text.indexOf("\n")) !== -1) {
          const line = text.slice(0, nl).replace(/\r$/, "");
          s.write(line + "\n");
          text = text.slice(nl + 1);
        }
        pending = text;
      });
      s.on("end", () => s.end());
      s.on("error", noteError);
      s.on("close", () => closed++);
    });
    listener.on("tlsClientError", (_err, s) => {
      rawHandshakeFailures++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, HOST, resolve));
    port = (listener.address() as { port: number }).port;
    handshakeFailures = () => rawHandshakeFailures;
  }

  const base = await settledMemory();
  const sampler = new PeakSampler(25);
  const cpuAtListen = process.cpuUsage();
  await tell({ type: "listening", port });

  await heard("measure");
  const cpuConnect = cpuSeconds(process.cpuUsage(cpuAtListen));
  const connected = { ...(await settledMemory()), fds: openFds() };
  const cpuAtGo = process.cpuUsage();
  await tell({ type: "measured", connected, accepted, cpuConnect });

  // Reports (as often as asked) until told to stop.
  const stop = heard("stop").then(() => "stop" as const);
  for (;;) {
    const next = await Promise.race([heard("report").then(() => "report" as const), stop]);
    if (next === "stop") break;
    sampler.sample();
    const report: ServerReport = {
      accepted, closed, errors, handshakeFailures: handshakeFailures(), firstAcceptMs, lastAcceptMs,
      base, connected, peak: { ...sampler.peak }, escapes: escapes(), escapeCount: escapeCount(),
      cpuConnect, cpuEchoAndClose: cpuSeconds(process.cpuUsage(cpuAtGo)),
    };
    await tell({ type: "report", report });
  }
  sampler.stop();
}

// ---------------------------------------------------------------- clients role (raw node:tls)

async function clients(): Promise<void> {
  recordEscapes();
  const { port, ca, count, lines } = roleConfig<ClientsConfig>();
  const context = tls.createSecureContext({ ca });
  const problems: string[] = [];
  let errorCount = 0;
  const problem = (text: string) => {
    errorCount++;
    if (problems.length < 10) problems.push(text);
  };

  interface Conn {
    socket: tls.TLSSocket;
    next: () => Promise<string | null>;
  }
  const conns: Conn[] = [];
  const open = (i: number): Promise<void> => new Promise((resolve) => {
    const socket = tls.connect({ host: HOST, port, secureContext: context, servername: "localhost" });
    const lines: string[] = [];
    let waiter: ((l: string | null) => void) | null = null;
    let ended = false;
    let pending = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      let text = pending + chunk;
      let nl: number;
      while ((nl = text.indexOf("\n")) !== -1) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (waiter) {
          const w = waiter;
          waiter = null;
          w(line);
        } else lines.push(line);
      }
      pending = text;
    });
    const finish = () => {
      ended = true;
      if (waiter) {
        const w = waiter;
        waiter = null;
        w(null);
      }
    };
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (err) => {
      problem(`connection ${i}: ${String((err as { code?: string }).code ?? err.message)}`);
      finish();
      resolve();
    });
    socket.once("secureConnect", () => {
      socket.setNoDelay(true);
      conns[i] = {
        socket,
        next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : ended ? Promise.resolve(null) : new Promise((r) => (waiter = r))),
      };
      resolve();
    });
  });

  const connectStart = performance.now();
  const cpuStart = process.cpuUsage();
  await pool(count, HANDSHAKES_IN_FLIGHT, open);
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const open_ = conns.filter(Boolean).length;
  await tell({ type: "connected", open: open_, connectSeconds, cpu: cpuSeconds(process.cpuUsage(cpuStart)) });

  await heard("go");
  const echoStart = performance.now();
  const cpuEcho = process.cpuUsage();
  let echoed = 0;
  await Promise.all(conns.map(async (c, i) => {
    if (!c) return;
    for (let j = 0; j < lines; j++) {
      const line = `connection ${i} line ${j} ${"x".repeat(40)}`;
      c.socket.write(line + "\n");
      const back = await c.next();
      if (back !== line) {
        problem(`connection ${i} line ${j}: got ${JSON.stringify(back)}`);
        break;
      }
      echoed++;
    }
  }));
  const echoSeconds = (performance.now() - echoStart) / 1000;
  await tell({ type: "echoed", echoed, echoSeconds, cpu: cpuSeconds(process.cpuUsage(cpuEcho)) });

  await heard("close");
  await Promise.all(conns.map((c) => c && new Promise<void>((resolve) => {
    if (c.socket.destroyed) return resolve();
    c.socket.once("close", () => resolve());
    c.socket.end();
  })));
  await tell({ type: "done", errorCount, problems, escapes: escapes(), escapeCount: escapeCount() });
}

// ---------------------------------------------------------------- the test

interface RunFigures {
  impl: Impl;
  connections: number;
  errors: number;
  acceptRate: number;
  connectSeconds: number;
  echoSeconds: number;
  linesPerSecond: number;
  retainedPerConnection: { heap: number; rss: number };
  peakPerConnection: { rss: number; heap: number };
  server: ServerReport;
  /** CPU seconds of the server and the clients process, beside the wall time of each phase. */
  cpu: { connect: { server: number; clients: number; wall: number }; echo: { server: number; clients: number; wall: number } };
  clientProblems: string[];
}

async function runOnce(impl: Impl, count: number, lines: number, pki: Awaited<ReturnType<typeof makePki>>): Promise<RunFigures> {
  const nofile = count + 512;
  const srv = spawnRole(FILE, "tls-server", { impl, cert: pki.valid.chain, key: pki.valid.key } satisfies ServerConfig, { exposeGc: true, nofile });
  let cli: ReturnType<typeof spawnRole> | undefined;
  let lastReport: ServerReport | undefined;
  try {
    const { port } = (await srv.next("listening", 30_000)) as unknown as { port: number };
    cli = spawnRole(FILE, "tls-clients", { port, ca: pki.caBundle, count, lines } satisfies ClientsConfig, { nofile });
    const connected = (await cli.next("connected", 180_000)) as unknown as { open: number; connectSeconds: number; cpu: number };
    srv.send({ type: "measure" });
    const measured = (await srv.next("measured", 60_000)) as unknown as { connected: Memory & { fds: number }; accepted: number };
    cli.send({ type: "go" });
    const echoed = (await cli.next("echoed", 300_000)) as unknown as { echoed: number; echoSeconds: number; cpu: number };
    cli.send({ type: "close" });
    const done = (await cli.next("done", 60_000)) as unknown as { errorCount: number; problems: string[]; escapeCount: number; escapes: string[] };
    // The server counts its closes as the clients' FINs arrive: give it a moment.
    for (let i = 0; i < 50; i++) {
      srv.send({ type: "report" });
      const { report } = (await srv.next("report", 30_000)) as unknown as { report: ServerReport };
      if (report.closed >= report.accepted || i === 49) {
        lastReport = report;
        break;
      }
      await sleep(100);
    }
    const report = lastReport!;
    srv.send({ type: "stop" });
    const serverErrors = Object.values(report.errors).reduce((a, b) => a + b, 0);
    const errors = done.errorCount + serverErrors + report.handshakeFailures + report.escapeCount + done.escapeCount
      + (connected.open === count ? 0 : count - connected.open) + (echoed.echoed === count * lines ? 0 : count * lines - echoed.echoed);
    const acceptSpan = (report.lastAcceptMs - report.firstAcceptMs) / 1000;
    return {
      impl,
      connections: measured.accepted,
      errors,
      acceptRate: Math.round(report.accepted / acceptSpan),
      connectSeconds: Number(connected.connectSeconds.toFixed(2)),
      echoSeconds: Number(echoed.echoSeconds.toFixed(2)),
      linesPerSecond: Math.round(echoed.echoed / echoed.echoSeconds),
      retainedPerConnection: {
        heap: Math.round((measured.connected.heapUsed - report.base.heapUsed) / count),
        rss: Math.round((measured.connected.rss - report.base.rss) / count),
      },
      peakPerConnection: {
        rss: Math.round((report.peak.rss - report.base.rss) / count),
        heap: Math.round((report.peak.heapUsed - report.base.heapUsed) / count),
      },
      server: report,
      cpu: {
        connect: { server: report.cpuConnect, clients: connected.cpu, wall: Number(connected.connectSeconds.toFixed(2)) },
        echo: { server: report.cpuEchoAndClose, clients: echoed.cpu, wall: Number(echoed.echoSeconds.toFixed(2)) },
      },
      clientProblems: [...done.problems, ...done.escapes, ...report.escapes],
    };
  } finally {
    cli?.kill();
    srv.kill();
    await cli?.exited(5_000);
    await srv.exited(5_000);
  }
}

if (role() === "tls-server") {
  await runRole(server);
} else if (role() === "tls-clients") {
  await runRole(clients);
} else {
  describe("load: concurrent TLS connections", () => {
    it("5,000 concurrent TLS connections each echo 100 lines with zero errors (sockurl beside node:tls)", { timeout: 420_000 }, async (t) => {
      const wanted = Number(process.env.LOAD_TLS_CONNECTIONS ?? 5_000);
      const lines = Number(process.env.LOAD_TLS_LINES ?? 100);
      const { limit, why } = maxChildNofile();
      // Each child holds one descriptor per connection plus its own (~30) and headroom.
      const count = Math.min(wanted, limit - 512);
      const limitedBy = count < wanted ? `${wanted} wanted, ${count} possible: ${why}` : null;
      if (limitedBy) t.diagnostic(`descriptor limit: ${limitedBy}`);
      const pki = await makePki();
      const runs: RunFigures[] = [];
      for (const impl of ["sockurl", "raw"] as const) runs.push(await runOnce(impl, count, lines, pki));
      const [mine, raw] = runs as [RunFigures, RunFigures];
      const row = (r: RunFigures) => ({
        impl: r.impl, connections: r.connections, errors: r.errors,
        acceptRate: `${r.acceptRate}/s`, allConnectedIn: `${r.connectSeconds} s`,
        echo: `${r.linesPerSecond} lines/s (${r.echoSeconds} s)`,
        retainedPerConnection: `heap ${bytes(r.retainedPerConnection.heap)}, rss ${bytes(r.retainedPerConnection.rss)}`,
        peakPerConnection: `rss ${bytes(r.peakPerConnection.rss)}, heap ${bytes(r.peakPerConnection.heap)}`,
        serverFds: r.server.connected.fds,
        serverErrors: r.server.errors, handshakeFailures: r.server.handshakeFailures,
        cpuSeconds: r.cpu,
      });
      const figures = {
        count, lines, limitedBy, clients: "raw node:tls in both runs", handshakesInFlight: HANDSHAKES_IN_FLIGHT,
        sockurl: row(mine), raw: row(raw),
        ratio: { acceptRate: Number((mine.acceptRate / raw.acceptRate).toFixed(2)), linesPerSecond: Number((mine.linesPerSecond / raw.linesPerSecond).toFixed(2)) },
        problems: [...mine.clientProblems, ...raw.clientProblems].slice(0, 10),
        memoryBytes: {
          sockurl: { base: mine.server.base, connected: mine.server.connected, peak: mine.server.peak },
          raw: { base: raw.server.base, connected: raw.server.connected, peak: raw.server.peak },
        },
      };
      t.diagnostic(JSON.stringify(figures));
      keepFigures("load-tls-concurrent", figures);
      assert.equal(mine.connections, count, "every connection was open at once on the sockurl server");
      assert.equal(mine.errors, 0, `sockurl run: ${JSON.stringify(row(mine))}; ${mine.clientProblems.join("; ")}`);
      assert.equal(raw.errors, 0, `node:tls run: ${JSON.stringify(row(raw))}; ${raw.clientProblems.join("; ")}`);
    });
  });
}

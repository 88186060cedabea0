/**
 * Load 1: 10,000 mixed successful and failed connections (plain, TLS, STARTTLS; refused,
 * certificate errors, STARTTLS stripped, handshake/STARTTLS/read/connect deadlines) with bounded
 * concurrency, then the open descriptors and the collected heap are back where they started.
 *
 * Runs in a child process (`node --expose-gc`) holding both ends, so /proc/self/fd counts the
 * servers' descriptors as well as the clients'. The baseline is taken after a warm-up round of
 * every kind (JIT, lazily loaded modules and TLS contexts are not leaks).
 *
 * Reproduce: npm run build && node --test dist/test/stress/load.test.js
 * (LOAD_MIXED_TOTAL=2000 for a quicker run.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { connect, listen, SocketError, type Server, type Socket } from "../../src/index.js";
import { makePki } from "../fixtures/pki.js";
import { closedPort, stalledListener } from "../helpers.js";
import {
  HOST, MiB, bytes, collect, escapeCount, escapes, keepFigures, memory, openFds, pool, procNet, recordEscapes, role,
  roleConfig, runRole, sleep, spawnRole, tell, type Memory,
} from "./util-load.js";

const FILE = fileURLToPath(import.meta.url);
const TCP_STATES: Record<number, string> = { 1: "ESTABLISHED", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 11: "CLOSING" };

/** Margins the descriptor count and the collected heap must return within. */
export const FD_MARGIN = 2;
export const HEAP_MARGIN = 4 * MiB;

/** The kinds of connection, their share of the total and the outcome each must have. */
const KINDS = {
  "tcp-ok": { share: 1250, expect: "ok" },
  "tls-ok": { share: 1500, expect: "ok" },
  "starttls-ok": { share: 1000, expect: "ok" },
  "refused": { share: 1000, expect: "ECONNREFUSED/connect" },
  "tls-expired": { share: 750, expect: "ERR_TLS_CERT/tls" },
  "tls-wrong-host": { share: 750, expect: "ERR_TLS_CERT/tls" },
  "tls-untrusted": { share: 750, expect: "ERR_TLS_CERT/tls" },
  "starttls-stripped": { share: 1000, expect: "ERR_STARTTLS_UNSUPPORTED/starttls" },
  "tls-handshake-timeout": { share: 500, expect: "ETIMEDOUT/tls" },
  "starttls-timeout": { share: 500, expect: "ETIMEDOUT/starttls" },
  "read-timeout": { share: 500, expect: "ETIMEDOUT/read" },
  "connect-timeout": { share: 500, expect: "ETIMEDOUT/connect" },
} as const;
type Kind = keyof typeof KINDS;

interface MixedConfig {
  total: number;
  concurrency: number;
  warmup: number;
}

interface MixedResult {
  total: number;
  seconds: number;
  outcomes: Record<string, Record<string, number>>;
  before: { fds: number; memory: Memory };
  after: { fds: number; memory: Memory; fdsImmediately: number };
  peakFds: number;
  leftovers: Record<string, number>;
  serverHandshakeFailures: number;
  escapes: string[];
  escapeCount: number;
  serverErrors: Record<string, number>;
}

// ---------------------------------------------------------------- the child

async function mixed(): Promise<void> {
  recordEscapes();
  const config = roleConfig<MixedConfig>();
  const pki = await makePki();
  const ca = pki.caBundle;
  const serverErrors: Record<string, number> = {};
  const noteServerError = (err: unknown) => {
    const key = err instanceof SocketError ? `${err.code}/${err.phase}` : `not a SocketError: ${String(err)}`;
    serverErrors[key] = (serverErrors[key] ?? 0) + 1;
  };
  const servers: Server[] = [];
  const serve = async (url: string, options: Parameters<typeof listen>[1], handle: (s: Socket) => Promise<void>) => {
    const server = await listen(url, options);
    servers.push(server);
    void (async () => {
      for await (const s of server) {
        void handle(s).catch(noteServerError).finally(() => s.close());
      }
    })().catch(noteServerError);
    return server;
  };
  const echo = async (s: Socket) => {
    for (let line; (line = await s.readLine()) !== null; ) await s.write(line + "\n");
  };
  /** Waits for the client to go away, never saying anything. */
  const silent = async (s: Socket) => {
    while ((await s.read()) !== null);
  };
  const smtp = (offer: boolean, mute = false) => async (s: Socket) => {
    await s.write("220 localhost ESMTP\r\n");
    if (mute) return silent(s);
    const hello = await s.readLine();
    if (hello === null) return;
    await s.write(offer ? "250-localhost\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n" : "250-localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    const command = await s.readLine();
    if (command === null) return;
    if (command !== "STARTTLS") throw new Error(`unexpected ${command}`);
    await s.write("220 2.0.0 go ahead\r\n");
    await s.startTls({ server: true, cert: pki.valid.chain, key: pki.valid.key });
    await echo(s);
  };
  const serverOptions = { readTimeout: 30_000 };
  const tcp = await serve(`tcp://${HOST}:0`, serverOptions, echo);
  const tlsOk = await serve(`tls://${HOST}:0`, { ...serverOptions, tls: { cert: pki.valid.chain, key: pki.valid.key } }, echo);
  const expired = await serve(`tls://${HOST}:0`, { ...serverOptions, tls: { cert: pki.expired.chain, key: pki.expired.key } }, echo);
  const wrongHost = await serve(`tls://${HOST}:0`, { ...serverOptions, tls: { cert: pki.wrongHost.chain, key: pki.wrongHost.key } }, echo);
  const untrusted = await serve(`tls://${HOST}:0`, { ...serverOptions, tls: { cert: pki.untrusted.chain, key: pki.untrusted.key } }, echo);
  const starttls = await serve(`tcp://${HOST}:0`, serverOptions, smtp(true));
  const stripped = await serve(`tcp://${HOST}:0`, serverOptions, smtp(false));
  const mute = await serve(`tcp://${HOST}:0`, serverOptions, smtp(true, true));
  const quiet = await serve(`tcp://${HOST}:0`, { readTimeout: 0 }, silent);
  const refusedPort = await closedPort();
  const stalled = await stalledListener(HOST, 300);

  const ok = (s: Socket, i: number) => async () => {
    try {
      await s.write(`hello ${i}\n`);
      const line = await s.readLine();
      if (line !== `hello ${i}`) throw new Error(`echo: expected "hello ${i}", got ${JSON.stringify(line)}`);
    } finally {
      await s.close();
    }
  };
  const portOf = (server: Server) => ("port" in server.address ? server.address.port : 0);
  const run: Record<Kind, (i: number) => Promise<void>> = {
    "tcp-ok": async (i) => ok(await connect(tcp.url, { timeout: 10_000 }), i)(),
    "tls-ok": async (i) => ok(await connect(tlsOk.url, { timeout: 10_000, tls: { ca } }), i)(),
    "starttls-ok": async (i) => ok(await connect(starttls.url, { timeout: 10_000, startTls: "smtp", tls: { ca } }), i)(),
    "refused": async () => void (await connect(`tcp://${HOST}:${refusedPort}`, { timeout: 10_000 })).destroy(),
    "tls-expired": async () => void (await connect(expired.url, { timeout: 10_000, tls: { ca } })).destroy(),
    "tls-wrong-host": async () => void (await connect(wrongHost.url, { timeout: 10_000, tls: { ca } })).destroy(),
    "tls-untrusted": async () => void (await connect(untrusted.url, { timeout: 10_000, tls: { ca } })).destroy(),
    "starttls-stripped": async () => void (await connect(stripped.url, { timeout: 10_000, startTls: "smtp", tls: { ca } })).destroy(),
    "tls-handshake-timeout": async () => void (await connect(`tls://${HOST}:${portOf(quiet)}`, { timeout: 200, tls: { ca } })).destroy(),
    "starttls-timeout": async () => void (await connect(mute.url, { timeout: 200, startTls: "smtp", tls: { ca } })).destroy(),
    "read-timeout": async () => {
      const s = await connect(quiet.url, { timeout: 10_000, readTimeout: 100 });
      try {
        await s.readLine();
      } finally {
        await s.close();
      }
    },
    "connect-timeout": async () => void (await connect(`tcp://${HOST}:${stalled.port}`, { timeout: 100 })).destroy(),
  };

  // A shuffled schedule (fixed seed) in which every kind has its share of `total`.
  const schedule = (total: number): Kind[] => {
    const kinds = Object.keys(KINDS) as Kind[];
    const sum = kinds.reduce((n, k) => n + KINDS[k].share, 0);
    const list: Kind[] = [];
    for (const k of kinds) for (let i = 0; i < Math.round((KINDS[k].share * total) / sum); i++) list.push(k);
    let seed = 0x2545f491;
    for (let i = list.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const j = seed % (i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list;
  };

  let peakFds = 0;
  const outcomes: Record<string, Record<string, number>> = {};
  const go = async (total: number, tally: boolean) => {
    const list = schedule(total);
    await pool(list.length, config.concurrency, async (i) => {
      const kind = list[i]!;
      let outcome: string;
      try {
        await run[kind](i);
        outcome = "ok";
      } catch (err) {
        outcome = err instanceof SocketError ? `${err.code}/${err.phase}` : `not a SocketError: ${String((err as Error)?.stack ?? err)}`;
      }
      if (i % 97 === 0) peakFds = Math.max(peakFds, openFds());
      if (tally) {
        const bucket = (outcomes[kind] ??= {});
        bucket[outcome] = (bucket[outcome] ?? 0) + 1;
      }
    });
    return list.length;
  };

  // Warm-up, then the baseline.
  await go(config.warmup, false);
  await sleep(300);
  await collect(4);
  const before = { fds: openFds(), memory: memory() };

  const started = performance.now();
  const total = await go(config.total, true);
  const seconds = (performance.now() - started) / 1000;
  const fdsImmediately = openFds();

  // Server sides close once they read the clients' end of stream: give them a moment.
  const until = Date.now() + 5_000;
  while (openFds() > before.fds + FD_MARGIN && Date.now() < until) await sleep(50);
  await sleep(200);
  await collect(4);
  const after = { fds: openFds(), memory: memory(), fdsImmediately };

  // When descriptors stayed open: which servers' connections, in which TCP state.
  const leftovers: Record<string, number> = {};
  if (after.fds > before.fds + FD_MARGIN) {
    const named: Array<[string, Server]> = [["tcp", tcp], ["tls-ok", tlsOk], ["tls-expired", expired], ["tls-wrong-host", wrongHost],
      ["tls-untrusted", untrusted], ["starttls", starttls], ["stripped", stripped], ["mute-smtp", mute], ["quiet", quiet]];
    for (const [name, server] of named) {
      for (const e of procNet("tcp", portOf(server))) {
        if (e.state === 10 || e.state === 6) continue; // the listener itself; TIME_WAIT holds no descriptor
        const key = `${name} server side: ${TCP_STATES[e.state] ?? e.state}`;
        leftovers[key] = (leftovers[key] ?? 0) + 1;
      }
    }
  }

  const result: MixedResult = {
    total, seconds, outcomes, before, after, peakFds, leftovers,
    serverHandshakeFailures: [tlsOk, expired, wrongHost, untrusted].reduce((n, s) => n + s.handshakeFailures, 0),
    escapes: escapes(), escapeCount: escapeCount(), serverErrors,
  };
  stalled.close();
  await tell({ type: "result", result });
  for (const s of servers) await s.close();
}


// ---------------------------------------------------------------- the test

if (role() === "mixed") {
  await runRole(mixed);
} else {
  describe("load: 10,000 mixed connections", () => {
    it("give back every descriptor and the heap", { timeout: 240_000 }, async (t) => {
      const total = Number(process.env.LOAD_MIXED_TOTAL ?? 10_000);
      const child = spawnRole(FILE, "mixed", { total, concurrency: 64, warmup: 600 } satisfies MixedConfig, { exposeGc: true, nofile: 4096 });
      try {
        const { result } = (await child.next("result", 220_000)) as unknown as { result: MixedResult };
        const heapDelta = result.after.memory.heapUsed - result.before.memory.heapUsed;
        const rssDelta = result.after.memory.rss - result.before.memory.rss;
        const figures = {
          total: result.total,
          seconds: Number(result.seconds.toFixed(1)),
          connectionsPerSecond: Math.round(result.total / result.seconds),
          fds: { before: result.before.fds, after: result.after.fds, rightAfterLastClose: result.after.fdsImmediately, peakSampled: result.peakFds },
          heapUsed: { before: bytes(result.before.memory.heapUsed), after: bytes(result.after.memory.heapUsed), delta: bytes(heapDelta, true) },
          rss: { before: bytes(result.before.memory.rss), after: bytes(result.after.memory.rss), delta: bytes(rssDelta, true) },
          outcomes: result.outcomes,
          serverHandshakeFailures: result.serverHandshakeFailures,
          serverErrors: result.serverErrors,
          escapes: result.escapeCount,
          ...(Object.keys(result.leftovers).length > 0 ? { leftovers: result.leftovers } : {}),
        };
        t.diagnostic(JSON.stringify(figures));
        keepFigures("load-mixed", figures);

        assert.equal(result.escapeCount, 0, `unhandled rejections / uncaught exceptions:\n${result.escapes.join("\n")}`);
        for (const [kind, spec] of Object.entries(KINDS)) {
          const got = result.outcomes[kind] ?? {};
          assert.deepEqual(Object.keys(got), [spec.expect], `${kind}: expected only ${spec.expect}, got ${JSON.stringify(got)}`);
        }
        assert.ok(Math.abs(result.after.fds - result.before.fds) <= FD_MARGIN,
          `descriptors: ${result.before.fds} before, ${result.after.fds} after (margin ±${FD_MARGIN}); still open: ${JSON.stringify(result.leftovers)}`);
        assert.ok(Math.abs(heapDelta) <= HEAP_MARGIN,
          `heap after gc: ${bytes(result.before.memory.heapUsed)} before, ${bytes(result.after.memory.heapUsed)} after (margin ±${bytes(HEAP_MARGIN)})`);
        assert.equal(await child.exited(), 0);
      } finally {
        child.kill();
      }
    });
  });
}

/**
 * Development runner for the differential suite (not a test file):
 *
 *   node dist/test/php/cli.js [--php-only | --bridge] [--record FILE] [--quiet] [FILTER…]
 *   node dist/test/php/cli.js --serve FILE      (start the servers, write their Env as JSON to FILE,
 *                                                and stay up: DIFF_ENV="$(cat FILE)" php -n x.php)
 *
 * Starts the servers, runs the scenarios whose "group/name" contains any FILTER (all without one),
 * prints PHP's log and, unless --php-only, the diff against the twin. --bridge runs the twins
 * against PHP itself (test/php/bridge.ts) instead of sockurl/php: the self-check of the twins.
 * --record writes PHP's canonical logs (the suite's record of what PHP 8.2 does): JSON for a
 * .json file name, else text.
 */
import { writeFileSync } from "node:fs";
import { canonical, diffLogs, findPhp, pool, render, runPhp, runTwin, sameLog, type Log } from "./harness.js";
import { hooksFor, loadLayer } from "./layer.js";
import { openBridge } from "./bridge.js";
import { groups } from "./scenarios/index.js";
import { startServers } from "./servers.js";

const args = process.argv.slice(2);
const phpOnly = args.includes("--php-only");
const viaBridge = args.includes("--bridge");
const quiet = args.includes("--quiet");
const recordAt = args.includes("--record") ? args[args.indexOf("--record") + 1] : undefined;
const filters = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--record" && args[i - 1] !== "--serve");

if (args.includes("--serve")) {
  const servers = await startServers();
  writeFileSync(args[args.indexOf("--serve") + 1]!, JSON.stringify(servers.env));
  console.log("serving; Ctrl-C to stop");
  await new Promise(() => {});
}

// An exception the layer lets escape must not end the run: report it and go on.
process.on("uncaughtException", (err) => console.log(`!! uncaught exception (a bug in the layer or the servers): ${err.stack ?? err}`));
process.on("unhandledRejection", (err) => console.log(`!! unhandled rejection: ${(err as Error)?.stack ?? err}`));

const php = findPhp();
if (!php) throw new Error("no php binary");
const servers = await startServers();
const env = servers.env;
const layer = phpOnly || viaBridge ? null : await loadLayer();
if (layer?.error) console.log(layer.error);
const selected = groups.flatMap((g) =>
  g.scenarios.filter((s) => filters.length === 0 || filters.some((f) => `${g.name}/${s.name}`.includes(f))).map((s) => ({ group: g.name, s })),
);
const runs = pool(selected.map(({ s }) => () => runPhp(php, s.php, env, s.timeoutMs)), 8);
const record: Record<string, unknown> = {};
let failures = 0;
for (const [i, { group, s }] of selected.entries()) {
  const skip = s.requires?.(env);
  if (skip) {
    console.log(`## ${group}/${s.name}: skipped (${skip})`);
    continue;
  }
  const p = await runs[i]!;
  const phpLog = canonical(p.log, env, s);
  record[`${group}/${s.name}`] = phpLog;
  if (p.failure || p.stderr.trim()) console.log(`## ${group}/${s.name}: ${p.failure ?? ""}\n${p.stderr}`);
  if (viaBridge) {
    const bridge = openBridge(php);
    const t = await runTwin(s, bridge.php, hooksFor(bridge.php), env, s.timeoutMs);
    bridge.close();
    const mask = (log: Log): Log => (s.bridgeMask ? log.map(s.bridgeMask) : log);
    const tsLog = mask(canonical(t.log, env, s));
    const ok = !t.failure && sameLog(mask(phpLog), tsLog);
    if (!ok) failures++;
    console.log(`## ${group}/${s.name}: ${ok ? "same" : "DIFFERENT"} (php ${p.ms} ms, twin via bridge ${t.ms} ms)${t.failure ? " " + t.failure : ""}`);
    if (!ok || !quiet) console.log(diffLogs(mask(phpLog), tsLog, { expected: "php", actual: "twin through bridge.php" }));
  } else if (layer?.php) {
    const t = await runTwin(s, layer.php, layer.hooks, env, s.timeoutMs);
    const tsLog = canonical(t.log, env, s);
    const expected = s.differs ? s.differs.expect(phpLog) : phpLog;
    const ok = !t.failure && sameLog(expected, tsLog);
    if (!ok) failures++;
    console.log(`## ${group}/${s.name}: ${ok ? "same" : "DIFFERENT"} (php ${p.ms} ms, ts ${t.ms} ms)${t.failure ? " " + t.failure : ""}`);
    if (!ok || !quiet) console.log(diffLogs(expected, tsLog, { expected: s.differs ? "php, as sockurl differs" : "php", actual: "ts" }));
  } else {
    console.log(`## ${group}/${s.name} (php ${p.ms} ms)`);
    if (!quiet) console.log(phpLog.map((e) => "  " + render(e)).join("\n"));
  }
}
if (recordAt) {
  const text = recordAt.endsWith(".json")
    ? JSON.stringify(record, null, 1) + "\n"
    : `# What ${php.version} did in each scenario (node dist/test/php/cli.js --php-only --quiet --record FILE).\n` +
      `# {name} is a server's port or the scratch directory (test/php/servers.ts); {ephemeral} a port the kernel chose.\n` +
      Object.entries(record)
        .map(([name, log]) => `\n## ${name}\n${(log as Log).map((e) => "  " + render(e)).join("\n")}`)
        .join("\n") +
      "\n";
  writeFileSync(recordAt, text);
}
console.log(`${selected.length} scenarios${layer?.php || viaBridge ? `, ${failures} different` : ""}`);
await servers.close();
process.exit(0);

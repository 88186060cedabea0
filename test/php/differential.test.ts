/**
 * Differential tests: every scenario of test/php/scenarios runs twice — as a PHP script under the
 * real `php` binary (Debian's php-cli, PHP 8.2) and as its TypeScript twin through sockurl/php —
 * against the same loopback servers (test/php/servers.ts), and the two logs must be equal: return
 * values, errno, errstr, warnings with their exact text and order, bytes read and metadata. A
 * scenario marked `differs` states why sockurl/php departs from PHP and what it does instead.
 *
 * `npm run test:php` builds and runs this file. Without a php binary the suite FAILS (`.ci/run`
 * installs php-cli); it never skips. The PHP scripts are started in the background as soon as the
 * servers are up (8 at a time), while the twins run one after another in this process.
 *
 * The last block is the suite's self-check: every twin is run once more against PHP itself through
 * test/php/bridge.ts (the layer's shapes, each call executed by a PHP process) and must reproduce
 * PHP's log. A failure there is a bug in a twin or in the harness, not in sockurl/php.
 *
 * SOCKURL_PHP_RECORD=FILE writes PHP's logs (symbolic ports/paths) as JSON: the record of what PHP
 * 8.2 did, for whoever changes the layer.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { DEFAULT_TIMEOUT_MS, canonical, diffLogs, findPhp, pool, render, runPhp, runTwin, sameLog, type Log, type PhpRun, type Scenario } from "./harness.js";
import { hooksFor, loadLayer, type LoadedLayer } from "./layer.js";
import { openBridge } from "./bridge.js";
import { groups } from "./scenarios/index.js";
import { startServers, type Servers } from "./servers.js";

const PHP = findPhp();
const PHP_CONCURRENCY = 8;

describe(`sockurl/php against ${PHP ? PHP.version : "PHP (missing)"}`, () => {
  let servers: Servers;
  let layer: LoadedLayer;
  const runs = new Map<Scenario, Promise<PhpRun>>();
  const record: Record<string, Log> = {};

  before(async () => {
    if (!PHP) {
      throw new Error("the php binary is missing (PHP_BIN or php on PATH): .ci/run installs Debian's php-cli; this suite fails rather than skips without it");
    }
    servers = await startServers();
    layer = await loadLayer();
    const all = groups.flatMap((g) => g.scenarios).filter((s) => !s.requires?.(servers.env));
    const started = pool(
      all.map((s) => () => runPhp(PHP, s.php, servers.env, s.timeoutMs)),
      PHP_CONCURRENCY,
    );
    all.forEach((s, i) => runs.set(s, started[i]!));
  });

  after(async () => {
    await Promise.allSettled(runs.values());
    const file = process.env.SOCKURL_PHP_RECORD;
    if (file) writeFileSync(file, JSON.stringify(record, null, 1) + "\n");
    await servers?.close();
  });

  test("the layer loads", () => {
    assert.equal(layer.error, null, layer.error ?? "");
    if (layer.via !== "sockurl/php") console.log(`# sockurl/php loaded via ${layer.via}`);
  });

  for (const group of groups) {
    describe(group.name, () => {
      for (const scenario of group.scenarios) {
        test(scenario.name, { timeout: (scenario.timeoutMs ?? DEFAULT_TIMEOUT_MS) * 2 + 5000 }, async (t) => {
          const missing = scenario.requires?.(servers.env);
          // A prerequisite this machine lacks (IPv6 loopback) fails the scenario: CI must provide it.
          if (missing) assert.fail(`${scenario.name}: this machine lacks a prerequisite: ${missing}`);
          const env = servers.env;
          const php = await runs.get(scenario)!;
          const phpLog = canonical(php.log, env, scenario);
          record[`${group.name}/${scenario.name}`] = phpLog;
          const phpText = phpLog.map((e) => "  " + render(e)).join("\n");
          // The PHP side must run cleanly: anything else is a bug in the scenario, not in the layer.
          assert.equal(php.failure, null, `PHP: ${php.failure}\n${php.stderr}\n${phpText}`);
          assert.equal(php.stderr.trim(), "", `PHP wrote to stderr:\n${php.stderr}`);
          assert.ok(!phpLog.some((e) => "step" in e && e.step === "#uncaught"), `PHP threw:\n${phpText}`);

          assert.ok(layer.php, `${layer.error}\nPHP's log, for reference:\n${phpText}`);
          const twin = await runTwin(scenario, layer.php, layer.hooks, env, scenario.timeoutMs ?? DEFAULT_TIMEOUT_MS);
          const tsLog = canonical(twin.log, env, scenario);
          const expected = scenario.differs ? scenario.differs.expect(phpLog) : phpLog;
          // A `differs` that changes nothing in this run (e.g. SNI when the connection failed) stays silent.
          const differs = scenario.differs && !sameLog(expected, phpLog) ? scenario.differs : null;
          if (differs) t.diagnostic(`differs from PHP on purpose: ${differs.reason}`);
          const header = differs ? `sockurl/php differs from PHP on purpose: ${differs.reason}\n` : "";
          if (twin.failure || !sameLog(expected, tsLog)) {
            assert.fail(
              `${header}${twin.failure ? twin.failure + "\n" : ""}` +
                diffLogs(expected, tsLog, { expected: differs ? "php (as sockurl/php is meant to differ)" : "php", actual: "sockurl/php" }),
            );
          }
        });
      }
    });
  }

  describe("self-check: the twins through PHP itself (bridge.php)", () => {
    for (const group of groups) {
      test(group.name, { timeout: 120_000 }, async () => {
        const env = servers.env;
        const failures: string[] = [];
        for (const scenario of group.scenarios) {
          if (scenario.requires?.(env)) continue;
          const php = await runs.get(scenario)!;
          if (php.failure) continue; // reported by the scenario's own test
          const mask = (log: Log): Log => (scenario.bridgeMask ? log.map(scenario.bridgeMask) : log);
          const bridge = openBridge(PHP!);
          let twin;
          try {
            twin = await runTwin(scenario, bridge.php, hooksFor(bridge.php), env, scenario.timeoutMs ?? DEFAULT_TIMEOUT_MS);
          } finally {
            bridge.close();
          }
          const expected = mask(canonical(php.log, env, scenario));
          const actual = mask(canonical(twin.log, env, scenario));
          if (twin.failure || !sameLog(expected, actual)) {
            failures.push(`## ${scenario.name}${twin.failure ? ": " + twin.failure : ""}\n${diffLogs(expected, actual, { expected: "php", actual: "twin through bridge.php" })}`);
          }
        }
        assert.equal(failures.length, 0, `twins that do not reproduce PHP through the bridge:\n${failures.join("\n")}`);
      });
    }
  });
});

/**
 * stream_socket_enable_crypto() on the client side: STARTTLS against the SMTP-like server (methods,
 * the context's crypto_method, ValueError, a second enable, disable, verification failure, a silent
 * server, non-blocking, injection), and on streams that cannot do TLS.
 */
import type { Entry, Group, Log, Twin } from "../harness.js";
import { ask, client, sleep } from "./common.js";

/** Reads an SMTP reply (lines until "NNN "), records it as one string. */
const PHP_SMTP = `
function reply($fp, string $step) { $all = ''; while (($l = fgets($fp)) !== false) { $all .= $l; if (strlen($l) < 4 || $l[3] !== '-') break; } rec($step, $all); return $all; }
function smtp(array $ssl = null, $timeout = 2) {
    global $E;
    $ctx = stream_context_create(['ssl' => ($ssl ?? []) + ['cafile' => $E['pki']['ca'], 'peer_name' => 'localhost']]);
    $fp = client("tcp://127.0.0.1:{$E['smtp']}", $timeout, $ctx);
    reply($fp, 'greeting');
    fwrite($fp, "EHLO php\\r\\n");
    reply($fp, 'ehlo');
    return $fp;
}
`;

async function reply(t: Twin, fp: unknown, step: string): Promise<string> {
  let all = "";
  for (;;) {
    const l = await t.php.fgets(fp);
    if (l === false) break;
    all += l;
    if (l.length < 4 || l[3] !== "-") break;
  }
  t.rec(step, all);
  return all;
}

async function smtp(t: Twin, ssl: Record<string, unknown> | null = null, timeout = 2): Promise<unknown> {
  // PHP's + keeps the left operand's keys: the scenario's options win over these defaults.
  const ctx = t.php.stream_context_create({ ssl: { cafile: t.env.pki.ca, peer_name: "localhost", ...(ssl ?? {}) } });
  const fp = await client(t, `tcp://127.0.0.1:${t.env.smtp}`, timeout, ctx);
  await reply(t, fp, "greeting");
  await t.php.fwrite(fp, "EHLO php\r\n");
  await reply(t, fp, "ehlo");
  return fp;
}

/** After a successful upgrade: EHLO over TLS, the server's view, the metadata. */
const PHP_AFTER = `
function after_upgrade($fp) {
    fwrite($fp, "EHLO again\\r\\n");
    reply($fp, 'ehlo over tls');
    ask($fp, 'INFO', 'info');
    rec('crypto', stream_get_meta_data($fp)['crypto'] ?? null);
}
`;

async function afterUpgrade(t: Twin, fp: unknown): Promise<void> {
  await t.php.fwrite(fp, "EHLO again\r\n");
  await reply(t, fp, "ehlo over tls");
  await ask(t, fp, "INFO", "info");
  t.rec("crypto", (t.php.stream_get_meta_data(fp) as Record<string, unknown>).crypto ?? null);
}

export const startTls: Group = {
  name: "enable-crypto-client",
  scenarios: [
    {
      name: "STARTTLS with an explicit method",
      php: PHP_SMTP + PHP_AFTER + `
        $fp = smtp();
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('meta before', stream_get_meta_data($fp));
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        after_upgrade($fp);`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("meta before", t.php.stream_get_meta_data(fp));
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        await afterUpgrade(t, fp);
      },
    },
    {
      name: "STARTTLS pinned to TLS 1.2 by the method",
      php: PHP_SMTP + PHP_AFTER + `
        $fp = smtp();
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT));
        after_upgrade($fp);`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT));
        await afterUpgrade(t, fp);
      },
    },
    {
      name: "the method from the context's crypto_method",
      php: PHP_SMTP + PHP_AFTER + `
        $fp = smtp(['crypto_method' => STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT]);
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('enable', stream_socket_enable_crypto($fp, true));
        after_upgrade($fp);`,
      async ts(t) {
        const fp = await smtp(t, { crypto_method: t.php.STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT });
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true));
        await afterUpgrade(t, fp);
      },
    },
    {
      name: "no method and no crypto_method: ValueError",
      php: PHP_SMTP + `
        $fp = smtp();
        attempt('enable', fn () => stream_socket_enable_crypto($fp, true));
        attempt('enable null', fn () => stream_socket_enable_crypto($fp, true, null));
        fwrite($fp, "NOOP\\r\\n");
        reply($fp, 'still plaintext');`,
      async ts(t) {
        const fp = await smtp(t);
        await t.attempt("enable", () => t.php.stream_socket_enable_crypto(fp, true));
        await t.attempt("enable null", () => t.php.stream_socket_enable_crypto(fp, true, null));
        await t.php.fwrite(fp, "NOOP\r\n");
        await reply(t, fp, "still plaintext");
      },
    },
    {
      name: "a second enable: already set up",
      php: PHP_SMTP + `
        $fp = smtp();
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        rec('again', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        fwrite($fp, "NOOP\\r\\n");
        reply($fp, 'noop over tls');`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        t.rec("again", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        await t.php.fwrite(fp, "NOOP\r\n");
        await reply(t, fp, "noop over tls");
      },
    },
    {
      name: "disable after enable returns false (PHP bug #78051)",
      php: PHP_SMTP + `
        $fp = smtp();
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        rec('crypto before', stream_get_meta_data($fp)['crypto'] ?? null);
        rec('disable', stream_socket_enable_crypto($fp, false));
        rec('crypto after', stream_get_meta_data($fp)['crypto'] ?? null);`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        t.rec("crypto before", (t.php.stream_get_meta_data(fp) as Record<string, unknown>).crypto ?? null);
        t.rec("disable", await t.php.stream_socket_enable_crypto(fp, false));
        t.rec("crypto after", (t.php.stream_get_meta_data(fp) as Record<string, unknown>).crypto ?? null);
      },
      differs: {
        reason:
          "PHP sends close_notify and goes back to plaintext (and returns false, bug #78051); sockurl/php cannot take " +
          "TLS off a connection, so disabling returns false and leaves the stream encrypted (its crypto metadata stays)",
        expect: (php: Log): Log => {
          const before = php.find((e) => "step" in e && e.step === "crypto before") as { value: unknown } | undefined;
          return php.map((e) => ("step" in e && e.step === "crypto after" ? { step: "crypto after", value: before?.value ?? null } : e));
        },
      },
    },
    {
      name: "disable on a plaintext stream",
      php: PHP_SMTP + `$fp = smtp(); rec('disable', stream_socket_enable_crypto($fp, false));`,
      async ts(t) {
        const fp = await smtp(t);
        t.rec("disable", await t.php.stream_socket_enable_crypto(fp, false));
      },
    },
    {
      name: "the server's certificate fails verification during STARTTLS",
      php: PHP_SMTP + `
        $fp = smtp(['peer_name' => 'nope.example']);
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        rec('meta', stream_get_meta_data($fp));
        rec('fclose', fclose($fp));`,
      async ts(t) {
        const fp = await smtp(t, { peer_name: "nope.example" });
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        t.rec("meta", t.php.stream_get_meta_data(fp));
        t.rec("fclose", await t.php.fclose(fp));
      },
      differs: {
        reason:
          "after a failed handshake PHP leaves the connection open in plaintext (with TLS state half set up); " +
          "sockurl/php closes the connection instead (eof true), the resource staying valid until fclose",
        expect: (php: Log): Log => php.map((e) => ("step" in e && e.step === "meta" ? { step: "meta", value: setKey(e.value, "eof", true) } : e)),
      },
    },
    {
      name: "enable against a server that does not speak TLS",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['echo']}", 2, stream_context_create(['ssl' => ['cafile' => $E['pki']['ca']]]));
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.echo}`, 2, t.php.stream_context_create({ ssl: { cafile: t.env.pki.ca } }));
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
      },
    },
    {
      name: "the server goes quiet after 220: handshake timeout",
      timeoutMs: 8000,
      php: PHP_SMTP + `
        $fp = smtp(null, 0.5);
        stream_set_timeout($fp, 0, 500000);
        fwrite($fp, "STARTTLS-MUTE\\r\\n");
        reply($fp, 'starttls');
        $t0 = microtime(true);
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.4 && $dt < 15);`,
      async ts(t) {
        const fp = await smtp(t, null, 0.5);
        t.php.stream_set_timeout(fp, 0, 500000);
        await t.php.fwrite(fp, "STARTTLS-MUTE\r\n");
        await reply(t, fp, "starttls");
        const t0 = performance.now();
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.4 && dt < 15);
      },
    },
    {
      name: "non-blocking enable returns 0 while the handshake is pending",
      php: PHP_SMTP + `
        $fp = smtp();
        fwrite($fp, "STARTTLS-MUTE\\r\\n");
        reply($fp, 'starttls');
        rec('set_blocking', stream_set_blocking($fp, false));
        rec('first', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        usleep(100000);
        rec('second', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS-MUTE\r\n");
        await reply(t, fp, "starttls");
        t.rec("set_blocking", t.php.stream_set_blocking(fp, false));
        t.rec("first", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        await sleep(100);
        t.rec("second", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "non-blocking enable: call again until it is no longer 0",
      php: PHP_SMTP + `
        $fp = smtp();
        fwrite($fp, "STARTTLS\\r\\n");
        reply($fp, 'starttls');
        stream_set_blocking($fp, false);
        $r = stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT);
        // Whether the first call already finishes depends on how fast the server answers: 0 or true.
        rec('first is 0 or true', $r === 0 || $r === true);
        $n = 0;
        while ($r === 0 && $n++ < 200) { $rd = [$fp]; $wr = null; $ex = null; stream_select($rd, $wr, $ex, 0, 20000); $r = stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT); }
        rec('final', $r);
        stream_set_blocking($fp, true);
        fwrite($fp, "NOOP\\r\\n");
        reply($fp, 'noop over tls');`,
      async ts(t) {
        const fp = await smtp(t);
        await t.php.fwrite(fp, "STARTTLS\r\n");
        await reply(t, fp, "starttls");
        t.php.stream_set_blocking(fp, false);
        let r = await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT);
        t.rec("first is 0 or true", r === 0 || r === true);
        let n = 0;
        while (r === 0 && n++ < 200) {
          await t.php.stream_select(t.php.ref([fp]), t.php.ref(null), t.php.ref(null), 0, 20000);
          r = await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT);
        }
        t.rec("final", r);
        t.php.stream_set_blocking(fp, true);
        await t.php.fwrite(fp, "NOOP\r\n");
        await reply(t, fp, "noop over tls");
      },
    },
    {
      name: "enable on a unix socket",
      php: `
        $fp = client('unix://' . $E['unixPath']);
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));`,
      async ts(t) {
        const fp = await client(t, `unix://${t.env.unixPath}`);
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
      },
    },
    {
      name: "enable on a udp socket",
      php: `
        $fp = client("udp://127.0.0.1:{$E['udp']}");
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));`,
      async ts(t) {
        const fp = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
      },
    },
    {
      name: "plaintext pipelined after 220 (STARTTLS injection)",
      php: PHP_SMTP + `
        $fp = smtp();
        stream_set_timeout($fp, 1);
        fwrite($fp, "STARTTLS-INJECT\\r\\n");
        rec('starttls', fgets($fp));
        rec('unread', stream_get_meta_data($fp)['unread_bytes']);
        rec('enable', stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT));
        rec('next line', fgets($fp));`,
      async ts(t) {
        const fp = await smtp(t);
        t.php.stream_set_timeout(fp, 1);
        await t.php.fwrite(fp, "STARTTLS-INJECT\r\n");
        t.rec("starttls", await t.php.fgets(fp));
        t.rec("unread", t.php.stream_get_meta_data(fp).unread_bytes);
        t.rec("enable", await t.php.stream_socket_enable_crypto(fp, true, t.php.STREAM_CRYPTO_METHOD_TLS_CLIENT));
        t.rec("next line", await t.php.fgets(fp));
      },
      differs: {
        reason:
          "PHP starts the handshake with the injected plaintext still in its read buffer and later hands it out as if it " +
          "had come over TLS (the STARTTLS command-injection class, CVE-2011-0411); sockurl/php refuses the upgrade " +
          "with a warning and returns false, leaving the stream in plaintext",
        expect: (php: Log): Log => {
          const out: Entry[] = [];
          for (const e of php) {
            if ("step" in e && e.step === "enable") {
              out.push({ warning: INJECTION_WARNING, level: "E_WARNING" });
              out.push({ step: "enable", value: false });
            } else if ("step" in e && e.step === "next line") {
              out.push({ step: "next line", value: "250 injected\r\n" });
            } else out.push(e);
          }
          return out;
        },
      },
    },
  ],
};

/**
 * sockurl/php's warning when plaintext is buffered at an upgrade (the text is sockurl's own; PHP has
 * none). Kept here so that the expectation above names it once.
 */
/** A copy of a normalised keyed array (`{#map}`) with `key` set to `value`. */
function setKey(map: unknown, key: string, value: unknown): unknown {
  const pairs = (map as { "#map": [string, unknown][] })["#map"];
  return { "#map": pairs.map(([k, v]) => [k, k === key ? value : v]) };
}

export const INJECTION_WARNING =
  "stream_socket_enable_crypto(): Refusing to enable crypto: unread plaintext is buffered on this stream and would be taken as part of the TLS session (STARTTLS command injection, CVE-2011-0411)";

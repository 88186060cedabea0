/**
 * stream_socket_enable_crypto() on the server side (an accepted socket upgraded by the scenario)
 * and tls:// listeners, with the test process's dialer as the client.
 */
import type { Env } from "../servers.js";
import type { Group, Scenario, Twin } from "../harness.js";
import { maskEphemeral } from "./common.js";

const PHP_SERVER_TLS = `
function tls_server(string $url, array $ssl, $flags = STREAM_SERVER_BIND | STREAM_SERVER_LISTEN) {
    global $E;
    $ctx = stream_context_create(['ssl' => $ssl]);
    $errno = -1; $errstr = 'untouched';
    $s = stream_socket_server($url, $errno, $errstr, $flags, $ctx);
    rec('server', $s); rec('errno', $errno); rec('errstr', $errstr);
    return $s;
}
`;

async function tlsServer(t: Twin, url: string, ssl: Record<string, unknown>, flags = 12): Promise<unknown> {
  const ctx = t.php.stream_context_create({ ssl });
  const errno = t.php.ref(-1);
  const errstr = t.php.ref("untouched");
  const s = await t.php.stream_socket_server(url, errno, errstr, flags, ctx);
  t.rec("server", s);
  t.rec("errno", errno.value);
  t.rec("errstr", errstr.value);
  return s;
}

/** A server-side upgrade: accept the dialer's STARTTLS client, answer GO, enable as a server. */
function serverUpgrade(name: string, phpSsl: string, tsSsl: (e: Env) => Record<string, unknown>, phpMethod = "STREAM_CRYPTO_METHOD_TLS_SERVER", tsMethod = "STREAM_CRYPTO_METHOD_TLS_SERVER"): Scenario {
  return {
    name,
    normalize: maskEphemeral,
    php: PHP_SERVER_TLS + `
      $s = tls_server('tcp://127.0.0.1:0', ${phpSsl});
      $ctl = dialer('DIAL starttls ' . stream_socket_get_name($s, false) . ' secret');
      $a = stream_socket_accept($s, 5);
      stream_set_timeout($a, 2);
      rec('plain line', fgets($a));
      fwrite($a, "GO\\n");
      rec('enable', stream_socket_enable_crypto($a, true, ${phpMethod}));
      rec('crypto', stream_get_meta_data($a)['crypto'] ?? null);
      if (stream_get_meta_data($a)['crypto'] ?? false) {
          rec('tls line', fgets($a));
          fwrite($a, "pong\\n");
      }
      rec('dialer', fgets($ctl));`,
    async ts(t) {
      const s = await tlsServer(t, "tcp://127.0.0.1:0", tsSsl(t.env));
      const ctl = await t.dialer(`DIAL starttls ${t.php.stream_socket_get_name(s, false)} secret`);
      const a = await t.php.stream_socket_accept(s, 5);
      t.php.stream_set_timeout(a, 2);
      t.rec("plain line", await t.php.fgets(a));
      await t.php.fwrite(a, "GO\n");
      t.rec("enable", await t.php.stream_socket_enable_crypto(a, true, t.php[tsMethod]));
      t.rec("crypto", (t.php.stream_get_meta_data(a) as Record<string, unknown>).crypto ?? null);
      if ((t.php.stream_get_meta_data(a) as Record<string, unknown>).crypto) {
        t.rec("tls line", await t.php.fgets(a));
        await t.php.fwrite(a, "pong\n");
      }
      t.rec("dialer", await t.php.fgets(ctl));
    },
  };
}

/** A TLS listener (tls:// or ssl://) accepting the dialer. */
function listener(name: string, kind: "tls" | "tls-cert" | "hold", phpSsl: string, tsSsl: (e: Env) => Record<string, unknown>, listenerTimeout = false): Scenario {
  return {
    name,
    normalize: maskEphemeral,
    php: PHP_SERVER_TLS + `
      $s = tls_server('tls://127.0.0.1:0', ${phpSsl});
      ${listenerTimeout ? "rec('set_timeout', stream_set_timeout($s, 0, 300000));" : ""}
      $ctl = dialer('DIAL ${kind} ' . stream_socket_get_name($s, false) . ' over tls');
      $t0 = microtime(true);
      $peer = 'untouched';
      $a = stream_socket_accept($s, 3, $peer);
      rec('accept', $a);
      rec('accept took < 2.5 s', microtime(true) - $t0 < 2.5);
      if ($a !== false) {
          rec('peer', $peer);
          rec('crypto', stream_get_meta_data($a)['crypto'] ?? null);
          $o = stream_context_get_options($a)['ssl'] ?? [];
          rec('peer certificate captured', isset($o['peer_certificate']));
          stream_set_timeout($a, 2);
          $line = fgets($a);
          rec('line', $line);
          if ($line !== false) fwrite($a, "echo: $line");
      }
      if ('${kind}' !== 'hold') rec('dialer', fgets($ctl));`,
    async ts(t) {
      const s = await tlsServer(t, "tls://127.0.0.1:0", tsSsl(t.env));
      if (listenerTimeout) t.rec("set_timeout", t.php.stream_set_timeout(s, 0, 300000));
      const ctl = await t.dialer(`DIAL ${kind} ${t.php.stream_socket_get_name(s, false)} over tls`);
      const t0 = performance.now();
      const peer = t.php.ref("untouched");
      const a = await t.php.stream_socket_accept(s, 3, peer);
      t.rec("accept", a);
      t.rec("accept took < 2.5 s", performance.now() - t0 < 2500);
      if (a !== false) {
        t.rec("peer", peer.value);
        t.rec("crypto", (t.php.stream_get_meta_data(a) as Record<string, unknown>).crypto ?? null);
        const o = ((t.php.stream_context_get_options(a) as Record<string, Record<string, unknown>>).ssl ?? {}) as Record<string, unknown>;
        t.rec("peer certificate captured", o.peer_certificate !== undefined && o.peer_certificate !== null);
        t.php.stream_set_timeout(a, 2);
        const line = await t.php.fgets(a);
        t.rec("line", line);
        if (line !== false) await t.php.fwrite(a, `echo: ${line}`);
      }
      if (kind !== "hold") t.rec("dialer", await t.php.fgets(ctl));
    },
  };
}

export const serverCrypto: Group = {
  name: "enable-crypto-server",
  scenarios: [
    serverUpgrade("server-side upgrade of an accepted socket", `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey']]`, (e) => ({
      local_cert: e.pki.validChain,
      local_pk: e.pki.validKey,
    })),
    serverUpgrade(
      "server-side upgrade pinned to TLS 1.2",
      `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey']]`,
      (e) => ({ local_cert: e.pki.validChain, local_pk: e.pki.validKey }),
      "STREAM_CRYPTO_METHOD_TLSv1_2_SERVER",
      "STREAM_CRYPTO_METHOD_TLSv1_2_SERVER",
    ),
    serverUpgrade("server-side upgrade without a certificate", `[]`, () => ({})),
    serverUpgrade(
      "server-side upgrade with a client method",
      `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey']]`,
      (e) => ({ local_cert: e.pki.validChain, local_pk: e.pki.validKey }),
      "STREAM_CRYPTO_METHOD_TLS_CLIENT",
      "STREAM_CRYPTO_METHOD_TLS_CLIENT",
    ),
    listener("tls:// listener accepts a TLS client", "tls", `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey']]`, (e) => ({
      local_cert: e.pki.validChain,
      local_pk: e.pki.validKey,
    })),
    listener("tls:// listener requiring a client certificate, client has none", "tls", `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey'], 'verify_peer' => true, 'cafile' => $E['pki']['ca']]`, (e) => ({
      local_cert: e.pki.validChain,
      local_pk: e.pki.validKey,
      verify_peer: true,
      cafile: e.pki.ca,
    })),
    listener("tls:// listener requiring a client certificate, client sends one", "tls-cert", `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey'], 'verify_peer' => true, 'cafile' => $E['pki']['ca'], 'capture_peer_cert' => true]`, (e) => ({
      local_cert: e.pki.validChain,
      local_pk: e.pki.validKey,
      verify_peer: true,
      cafile: e.pki.ca,
      capture_peer_cert: true,
    })),
    listener(
      "tls:// listener: the handshake deadline is the listener's stream_set_timeout",
      "hold",
      `['local_cert' => $E['pki']['validChain'], 'local_pk' => $E['pki']['validKey']]`,
      (e) => ({ local_cert: e.pki.validChain, local_pk: e.pki.validKey }),
      true,
    ),
    {
      name: "tls:// listener without local_cert",
      normalize: maskEphemeral,
      php: PHP_SERVER_TLS + `$s = tls_server('tls://127.0.0.1:0', []); rec('name', $s ? stream_socket_get_name($s, false) : false);`,
      async ts(t) {
        const s = await tlsServer(t, "tls://127.0.0.1:0", {});
        t.rec("name", s ? t.php.stream_socket_get_name(s, false) : false);
      },
    },
  ],
};

/**
 * fsockopen() and pfsockopen(): host + port, port -1 with "host:port", schemes in the host (udp,
 * ssl, unix), IPv6, errors and timeouts.
 */
import type { Group, Twin } from "../harness.js";
import { ask } from "./common.js";

/** fsockopen() with sentinels; records the three results (the PHP bodies do the same inline). */
async function open(t: Twin, host: string, port?: number, timeout?: number, fn = "fsockopen"): Promise<unknown> {
  const errno = t.php.ref(-1);
  const errstr = t.php.ref("untouched");
  const fp =
    timeout === undefined
      ? await t.php[fn](host, port ?? -1, errno, errstr)
      : await t.php[fn](host, port ?? -1, errno, errstr, timeout);
  t.rec("fp", fp);
  t.rec("errno", errno.value);
  t.rec("errstr", errstr.value);
  return fp;
}

const PHP_OPEN = `
function open_($host, $port = -1, $timeout = null, $fn = 'fsockopen') {
    $errno = -1; $errstr = 'untouched';
    $fp = $timeout === null ? $fn($host, $port, $errno, $errstr) : $fn($host, $port, $errno, $errstr, $timeout);
    rec('fp', $fp); rec('errno', $errno); rec('errstr', $errstr);
    return $fp;
}
`;

export const fsockopen: Group = {
  name: "fsockopen",
  scenarios: [
    {
      name: "host and port",
      php: PHP_OPEN + `$fp = open_('127.0.0.1', $E['line'], 2); ask($fp, 'ECHO fsock'); rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await open(t, "127.0.0.1", t.env.line, 2);
        await ask(t, fp, "ECHO fsock");
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "host:port in the host, port left out",
      php: PHP_OPEN + `$fp = open_("127.0.0.1:{$E['line']}"); ask($fp, 'ECHO noport');`,
      async ts(t) {
        const fp = await open(t, `127.0.0.1:${t.env.line}`);
        await ask(t, fp, "ECHO noport");
      },
    },
    {
      name: "port -1 and no port in the host",
      php: PHP_OPEN + `open_('127.0.0.1', -1, 1);`,
      async ts(t) {
        await open(t, "127.0.0.1", -1, 1);
      },
    },
    {
      name: "port 0 is not appended",
      php: PHP_OPEN + `open_('127.0.0.1', 0, 1);`,
      async ts(t) {
        await open(t, "127.0.0.1", 0, 1);
      },
    },
    {
      name: "tcp:// scheme in the host",
      php: PHP_OPEN + `$fp = open_('tcp://127.0.0.1', $E['line'], 2); ask($fp, 'ECHO scheme');`,
      async ts(t) {
        const fp = await open(t, "tcp://127.0.0.1", t.env.line, 2);
        await ask(t, fp, "ECHO scheme");
      },
    },
    {
      name: "refused",
      php: PHP_OPEN + `open_('127.0.0.1', $E['refused'], 1);`,
      async ts(t) {
        await open(t, "127.0.0.1", t.env.refused, 1);
      },
    },
    {
      name: "connect timeout against a full accept queue",
      php: PHP_OPEN + `$t0 = microtime(true); open_('127.0.0.1', $E['stalled'], 0.3); $dt = microtime(true) - $t0; rec('waited', $dt > 0.25 && $dt < 10);`,
      async ts(t) {
        const t0 = performance.now();
        await open(t, "127.0.0.1", t.env.stalled, 0.3);
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt > 0.25 && dt < 10);
      },
    },
    {
      name: "udp: write and read a datagram",
      php: PHP_OPEN + `$fp = open_('udp://127.0.0.1', $E['udp'], 2); rec('fwrite', fwrite($fp, "datagram")); rec('fread', fread($fp, 100)); rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await open(t, "udp://127.0.0.1", t.env.udp, 2);
        t.rec("fwrite", await t.php.fwrite(fp, "datagram"));
        t.rec("fread", await t.php.fread(fp, 100));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "udp to a closed port: the write succeeds, the read fails",
      php: PHP_OPEN + `$fp = open_('udp://127.0.0.1', $E['refused'], 1); stream_set_timeout($fp, 1); rec('fwrite', fwrite($fp, "x")); rec('fread', fread($fp, 100)); rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await open(t, "udp://127.0.0.1", t.env.refused, 1);
        t.php.stream_set_timeout(fp, 1);
        t.rec("fwrite", await t.php.fwrite(fp, "x"));
        t.rec("fread", await t.php.fread(fp, 100));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "ssl:// without a context: the test CA is unknown",
      php: PHP_OPEN + `open_('ssl://127.0.0.1', $E['tls']['valid'], 2);`,
      async ts(t) {
        await open(t, "ssl://127.0.0.1", t.env.tls.valid, 2);
      },
    },
    {
      name: "tls:// host name, default context",
      php: PHP_OPEN + `open_('tls://localhost', $E['tls']['valid'], 2);`,
      async ts(t) {
        await open(t, "tls://localhost", t.env.tls.valid, 2);
      },
    },
    {
      name: "unix:// path",
      php: PHP_OPEN + `$fp = open_('unix://' . $E['unixPath']); ask($fp, 'ECHO unix'); rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await open(t, `unix://${t.env.unixPath}`);
        await ask(t, fp, "ECHO unix");
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "unix:// missing file",
      php: PHP_OPEN + `open_('unix:///nonexistent/sockurl-php-diff.sock');`,
      async ts(t) {
        await open(t, "unix:///nonexistent/sockurl-php-diff.sock");
      },
    },
    {
      name: "unix:// with a port",
      php: PHP_OPEN + `$fp = open_('unix://' . $E['unixPath'], 80); if ($fp) ask($fp, 'ECHO port');`,
      async ts(t) {
        const fp = await open(t, `unix://${t.env.unixPath}`, 80);
        if (fp) await ask(t, fp, "ECHO port");
      },
    },
    {
      name: "bracketed IPv6 host",
      requires: (env) => (env.ipv6 ? null : "no IPv6 loopback"),
      php: PHP_OPEN + `$fp = open_('[::1]', $E['echo6'], 2); fwrite($fp, "v6\\n"); rec('read', fgets($fp));`,
      async ts(t) {
        const fp = await open(t, "[::1]", t.env.echo6, 2);
        await t.php.fwrite(fp, "v6\n");
        t.rec("read", await t.php.fgets(fp));
      },
    },
    {
      name: "unbracketed IPv6 host",
      php: PHP_OPEN + `open_('::1', $E['echo6'] ?: 80, 2);`,
      async ts(t) {
        await open(t, "::1", t.env.echo6 || 80, 2);
      },
    },
    {
      name: "pfsockopen",
      // PHP calls the resource "persistent stream"; persistence across requests is not observable here.
      normalize: (e) => JSON.parse(JSON.stringify(e).replace(/"persistent stream"/g, '"stream"')),
      php: PHP_OPEN + `$fp = open_('127.0.0.1', $E['line'], 2, 'pfsockopen'); ask($fp, 'ECHO persistent');`,
      async ts(t) {
        const fp = await open(t, "127.0.0.1", t.env.line, 2, "pfsockopen");
        await ask(t, fp, "ECHO persistent");
      },
    },
  ],
};

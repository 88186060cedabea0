/**
 * stream_socket_client() flags and deadlines: ASYNC_CONNECT (to a listener and to a closed port),
 * no CONNECT flag, PERSISTENT, timeout 0, and the TCP and TLS phases of the connect timeout.
 */
import type { Entry, Group } from "../harness.js";
import { client } from "./common.js";

/** PHP names a persistent stream's resource type "persistent stream"; persistence is not observable here. */
const samePersistence = (e: Entry): Entry => JSON.parse(JSON.stringify(e).replace(/"persistent stream"/g, '"stream"')) as Entry;

export const clientFlags: Group = {
  name: "client",
  scenarios: [
    {
      name: "ASYNC_CONNECT: the stream comes back at once, writable when connected",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}", 2, null, STREAM_CLIENT_ASYNC_CONNECT | STREAM_CLIENT_CONNECT);
        $r = null; $w = [$fp]; $e = null;
        rec('select', stream_select($r, $w, $e, 1));
        rec('fwrite', fwrite($fp, "ECHO async\\n"));
        rec('fgets', fgets($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, null, t.php.STREAM_CLIENT_ASYNC_CONNECT | t.php.STREAM_CLIENT_CONNECT);
        t.rec("select", await t.php.stream_select(t.php.ref(null), t.php.ref([fp]), t.php.ref(null), 1));
        t.rec("fwrite", await t.php.fwrite(fp, "ECHO async\n"));
        t.rec("fgets", await t.php.fgets(fp));
      },
    },
    {
      name: "ASYNC_CONNECT to a closed port: success now, the error on first use",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['refused']}", 2, null, STREAM_CLIENT_ASYNC_CONNECT | STREAM_CLIENT_CONNECT);
        $r = null; $w = [$fp]; $e = null;
        rec('select', stream_select($r, $w, $e, 1));
        rec('fwrite', fwrite($fp, "x"));
        rec('fread', fread($fp, 10));
        rec('feof', feof($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.refused}`, 2, null, t.php.STREAM_CLIENT_ASYNC_CONNECT | t.php.STREAM_CLIENT_CONNECT);
        t.rec("select", await t.php.stream_select(t.php.ref(null), t.php.ref([fp]), t.php.ref(null), 1));
        t.rec("fwrite", await t.php.fwrite(fp, "x"));
        t.rec("fread", await t.php.fread(fp, 10));
        t.rec("feof", t.php.feof(fp));
      },
    },
    {
      name: "flags 0: a socket that never connects",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}", 2, null, 0);
        rec('remote', stream_socket_get_name($fp, true));
        rec('fwrite', fwrite($fp, "ECHO x\\n"));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, null, 0);
        t.rec("remote", t.php.stream_socket_get_name(fp, true));
        t.rec("fwrite", await t.php.fwrite(fp, "ECHO x\n"));
      },
    },
    {
      name: "PERSISTENT",
      normalize: samePersistence,
      php: `$fp = client("tcp://127.0.0.1:{$E['line']}", 2, null, STREAM_CLIENT_PERSISTENT | STREAM_CLIENT_CONNECT); ask($fp, 'ECHO persistent');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, null, t.php.STREAM_CLIENT_PERSISTENT | t.php.STREAM_CLIENT_CONNECT);
        await t.php.fwrite(fp, "ECHO persistent\n");
        t.rec("reply", await t.php.fgets(fp));
      },
    },
    {
      name: "timeout 0 on loopback still connects",
      php: `$fp = client("tcp://127.0.0.1:{$E['line']}", 0); ask($fp, 'ECHO zero');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 0);
        await t.php.fwrite(fp, "ECHO zero\n");
        t.rec("reply", await t.php.fgets(fp));
      },
    },
    {
      name: "timeout 0 against a full accept queue",
      php: `client("tcp://127.0.0.1:{$E['stalled']}", 0);`,
      async ts(t) {
        await client(t, `tcp://127.0.0.1:${t.env.stalled}`, 0);
      },
    },
    {
      name: "ssl:// connect timeout in the TCP phase",
      php: `
        $t0 = microtime(true);
        client("ssl://127.0.0.1:{$E['stalled']}", 0.3);
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.25 && $dt < 10);`,
      async ts(t) {
        const t0 = performance.now();
        await client(t, `ssl://127.0.0.1:${t.env.stalled}`, 0.3);
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.25 && dt < 10);
      },
    },
    {
      name: "ssl:// connect timeout in the handshake (a server that never answers)",
      php: `
        $t0 = microtime(true);
        client("ssl://127.0.0.1:{$E['mute']}", 0.3, stream_context_create(['ssl' => ['cafile' => $E['pki']['ca']]]));
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.25 && $dt < 10);`,
      async ts(t) {
        const t0 = performance.now();
        await client(t, `ssl://127.0.0.1:${t.env.mute}`, 0.3, t.php.stream_context_create({ ssl: { cafile: t.env.pki.ca } }));
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.25 && dt < 10);
      },
    },
    {
      name: "fsockopen ssl:// handshake timeout leaves errstr unwritten",
      php: `
        $errno = -1; $errstr = 'untouched';
        rec('fp', fsockopen('ssl://127.0.0.1', $E['mute'], $errno, $errstr, 0.3));
        rec('errno', $errno);
        rec('errstr', $errstr);`,
      async ts(t) {
        const errno = t.php.ref(-1);
        const errstr = t.php.ref("untouched");
        t.rec("fp", await t.php.fsockopen("ssl://127.0.0.1", t.env.mute, errno, errstr, 0.3));
        t.rec("errno", errno.value);
        t.rec("errstr", errstr.value);
      },
    },
  ],
};

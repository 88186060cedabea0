/**
 * The data path on a TCP connection: stream_socket_shutdown() (RD, WR, RDWR, bad modes, the peer's
 * FIN), stream_set_timeout() and `timed_out`, blocking mode, fgets/fgetc/fread/stream_get_line/
 * stream_get_contents, feof and the metadata.
 */
import type { Group } from "../harness.js";
import { ask, client, sleep } from "./common.js";

export const stream: Group = {
  name: "stream",
  scenarios: [
    {
      name: "SHUT_WR: the server sees EOF, answers and closes",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($fp, "COUNT\\nabc");
        rec('shutdown', stream_socket_shutdown($fp, STREAM_SHUT_WR));
        rec('fgets', fgets($fp));
        rec('fgets at eof', fgets($fp));
        rec('feof', feof($fp));
        rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(fp, "COUNT\nabc");
        t.rec("shutdown", await t.php.stream_socket_shutdown(fp, t.php.STREAM_SHUT_WR));
        t.rec("fgets", await t.php.fgets(fp));
        t.rec("fgets at eof", await t.php.fgets(fp));
        t.rec("feof", t.php.feof(fp));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "SHUT_RD: reads end, writes go on",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        rec('shutdown', stream_socket_shutdown($fp, STREAM_SHUT_RD));
        rec('fread', fread($fp, 10));
        rec('feof', feof($fp));
        rec('fwrite', fwrite($fp, "ECHO still\\n"));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("shutdown", await t.php.stream_socket_shutdown(fp, t.php.STREAM_SHUT_RD));
        t.rec("fread", await t.php.fread(fp, 10));
        t.rec("feof", t.php.feof(fp));
        t.rec("fwrite", await t.php.fwrite(fp, "ECHO still\n"));
      },
    },
    {
      name: "SHUT_RDWR: a later write fails with EPIPE",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        rec('shutdown', stream_socket_shutdown($fp, STREAM_SHUT_RDWR));
        rec('fwrite', fwrite($fp, "ECHO x\\n"));
        rec('fgets', fgets($fp));
        rec('feof', feof($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("shutdown", await t.php.stream_socket_shutdown(fp, t.php.STREAM_SHUT_RDWR));
        t.rec("fwrite", await t.php.fwrite(fp, "ECHO x\n"));
        t.rec("fgets", await t.php.fgets(fp));
        t.rec("feof", t.php.feof(fp));
      },
    },
    {
      name: "shutdown with a bad mode: ValueError",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        attempt('mode 3', fn () => stream_socket_shutdown($fp, 3));
        attempt('mode -1', fn () => stream_socket_shutdown($fp, -1));
        ask($fp, 'ECHO still usable');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.attempt("mode 3", () => t.php.stream_socket_shutdown(fp, 3));
        await t.attempt("mode -1", () => t.php.stream_socket_shutdown(fp, -1));
        await ask(t, fp, "ECHO still usable");
      },
    },
    {
      name: "shutdown on a listening socket",
      php: `$s = stream_socket_server('tcp://127.0.0.1:0'); rec('shutdown', stream_socket_shutdown($s, STREAM_SHUT_RDWR));`,
      async ts(t) {
        const s = await t.php.stream_socket_server("tcp://127.0.0.1:0", t.php.ref(0), t.php.ref(""));
        t.rec("shutdown", await t.php.stream_socket_shutdown(s, t.php.STREAM_SHUT_RDWR));
      },
    },
    {
      name: "the peer's FIN: data, then empty reads and eof; writing still works",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($fp, "SHUTWR bye\\n");
        rec('fgets', fgets($fp));
        rec('fgets at eof', fgets($fp));
        rec('fread at eof', fread($fp, 10));
        rec('feof', feof($fp));
        rec('meta', stream_get_meta_data($fp));
        rec('fwrite', fwrite($fp, "ECHO after\\n"));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(fp, "SHUTWR bye\n");
        t.rec("fgets", await t.php.fgets(fp));
        t.rec("fgets at eof", await t.php.fgets(fp));
        t.rec("fread at eof", await t.php.fread(fp, 10));
        t.rec("feof", t.php.feof(fp));
        t.rec("meta", t.php.stream_get_meta_data(fp));
        t.rec("fwrite", await t.php.fwrite(fp, "ECHO after\n"));
      },
    },
    {
      name: "stream_set_timeout: fgets times out, timed_out set, then cleared by the next read",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        rec('set_timeout', stream_set_timeout($fp, 0, 200000));
        $t0 = microtime(true);
        rec('fgets', fgets($fp));
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.19 && $dt < 10);
        rec('meta', stream_get_meta_data($fp));
        ask($fp, 'ECHO again');
        rec('meta after', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("set_timeout", t.php.stream_set_timeout(fp, 0, 200000));
        const t0 = performance.now();
        t.rec("fgets", await t.php.fgets(fp));
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.19 && dt < 10);
        t.rec("meta", t.php.stream_get_meta_data(fp));
        await ask(t, fp, "ECHO again");
        t.rec("meta after", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "fread times out",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        stream_set_timeout($fp, 0, 150000);
        rec('fread', fread($fp, 10));
        rec('fgetc', fgetc($fp));
        rec('stream_get_line', stream_get_line($fp, 10, "\\n"));
        rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.php.stream_set_timeout(fp, 0, 150000);
        t.rec("fread", await t.php.fread(fp, 10));
        t.rec("fgetc", await t.php.fgetc(fp));
        t.rec("stream_get_line", await t.php.stream_get_line(fp, 10, "\n"));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "fread with part of the request buffered waits for more (until the timeout)",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        stream_set_timeout($fp, 2);
        fwrite($fp, "TWO\\n");
        rec('fgets', fgets($fp));
        rec('unread', stream_get_meta_data($fp)['unread_bytes']);
        rec('fread', fread($fp, 100));
        rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        // 2 s: the reply must arrive within it even on a busy machine; the fread after it waits it out.
        t.php.stream_set_timeout(fp, 2);
        await t.php.fwrite(fp, "TWO\n");
        t.rec("fgets", await t.php.fgets(fp));
        t.rec("unread", t.php.stream_get_meta_data(fp).unread_bytes);
        t.rec("fread", await t.php.fread(fp, 100));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "non-blocking reads return at once",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        rec('set_blocking', stream_set_blocking($fp, false));
        rec('fread', fread($fp, 10));
        rec('fgets', fgets($fp));
        rec('meta', stream_get_meta_data($fp));
        stream_set_blocking($fp, true);
        ask($fp, 'ECHO blocking again');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("set_blocking", t.php.stream_set_blocking(fp, false));
        t.rec("fread", await t.php.fread(fp, 10));
        t.rec("fgets", await t.php.fgets(fp));
        t.rec("meta", t.php.stream_get_meta_data(fp));
        t.php.stream_set_blocking(fp, true);
        await ask(t, fp, "ECHO blocking again");
      },
    },
    {
      name: "fgets with a length, fgetc, fread from the buffer",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($fp, "ECHO abcdefgh\\n");
        rec('fgets 4', fgets($fp, 4));
        rec('fgetc', fgetc($fp));
        rec('fread 2', fread($fp, 2));
        rec('fgets', fgets($fp));
        attempt('fgets 0', fn () => fgets($fp, 0));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(fp, "ECHO abcdefgh\n");
        t.rec("fgets 4", await t.php.fgets(fp, 4));
        t.rec("fgetc", await t.php.fgetc(fp));
        t.rec("fread 2", await t.php.fread(fp, 2));
        t.rec("fgets", await t.php.fgets(fp));
        await t.attempt("fgets 0", () => t.php.fgets(fp, 0));
      },
    },
    {
      name: "stream_get_line: delimiter, length limit, delimiter not found at EOF",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($fp, "ECHO one--two--three\\nSHUTWR tail\\n");
        rec('first', stream_get_line($fp, 100, "--"));
        rec('limited', stream_get_line($fp, 2, "--"));
        rec('rest', stream_get_line($fp, 100, "--"));
        rec('to newline', stream_get_line($fp, 100, "\\n"));
        rec('no delimiter', stream_get_line($fp, 100, "--"));
        rec('at eof', stream_get_line($fp, 100, "--"));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(fp, "ECHO one--two--three\nSHUTWR tail\n");
        t.rec("first", await t.php.stream_get_line(fp, 100, "--"));
        t.rec("limited", await t.php.stream_get_line(fp, 2, "--"));
        t.rec("rest", await t.php.stream_get_line(fp, 100, "--"));
        t.rec("to newline", await t.php.stream_get_line(fp, 100, "\n"));
        t.rec("no delimiter", await t.php.stream_get_line(fp, 100, "--"));
        t.rec("at eof", await t.php.stream_get_line(fp, 100, "--"));
      },
    },
    {
      name: "stream_get_contents: a length, then everything up to EOF",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($fp, "BYTES 20000\\nSHUTWR end\\n");
        rec('first 5', stream_get_contents($fp, 5));
        $rest = stream_get_contents($fp);
        rec('rest length', strlen($rest));
        rec('rest tail', substr($rest, -8));
        rec('again', stream_get_contents($fp));
        rec('feof', feof($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(fp, "BYTES 20000\nSHUTWR end\n");
        t.rec("first 5", await t.php.stream_get_contents(fp, 5));
        const rest = (await t.php.stream_get_contents(fp)) as string;
        t.rec("rest length", rest.length);
        t.rec("rest tail", rest.slice(-8));
        t.rec("again", await t.php.stream_get_contents(fp));
        t.rec("feof", t.php.feof(fp));
      },
    },
    {
      name: "fwrite with a length, and an empty write",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['echo']}");
        rec('fwrite 3', fwrite($fp, "abcdef", 3));
        rec('fwrite empty', fwrite($fp, ""));
        rec('fputs', fputs($fp, "xyz\\n"));
        rec('fgets', fgets($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.echo}`);
        t.rec("fwrite 3", await t.php.fwrite(fp, "abcdef", 3));
        t.rec("fwrite empty", await t.php.fwrite(fp, ""));
        t.rec("fputs", await t.php.fputs(fp, "xyz\n"));
        t.rec("fgets", await t.php.fgets(fp));
      },
    },
    {
      name: "feof after the peer closed, without reading",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['line']}");
        rec('feof before', feof($fp));
        fwrite($fp, "CLOSE\\n");
        usleep(200000);
        rec('feof after', feof($fp));
        rec('fread', fread($fp, 10));
        rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("feof before", t.php.feof(fp));
        await t.php.fwrite(fp, "CLOSE\n");
        await sleep(200);
        t.rec("feof after", t.php.feof(fp));
        t.rec("fread", await t.php.fread(fp, 10));
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "binary bytes round trip",
      php: `
        $fp = client("tcp://127.0.0.1:{$E['echo']}");
        $all = ''; for ($i = 0; $i < 256; $i++) $all .= chr($i);
        rec('fwrite', fwrite($fp, $all));
        $got = ''; while (strlen($got) < 256 && ($chunk = fread($fp, 256 - strlen($got))) !== false && $chunk !== '') $got .= $chunk;
        rec('same', $got === $all);
        rec('sample', substr($got, 250));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.echo}`);
        let all = "";
        for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
        t.rec("fwrite", await t.php.fwrite(fp, all));
        let got = "";
        for (;;) {
          if (got.length >= 256) break;
          const chunk = await t.php.fread(fp, 256 - got.length);
          if (chunk === false || chunk === "") break;
          got += chunk;
        }
        t.rec("same", got === all);
        t.rec("sample", got.slice(250));
      },
    },
  ],
};

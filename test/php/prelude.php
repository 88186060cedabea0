<?php
// Prepended to every scenario's PHP body by test/php/harness.ts (see there). It gives the body:
//   $E                 the servers' ports and paths (test/php/servers.ts, Env), from DIFF_ENV
//   rec($step, $v)     append [step, value] to the log
//   attempt($step, f)  call f(), record its return value, or the Throwable it threw
//   dialer($cmd)       open a control connection to the dialer and send one DIAL line
// Warnings, notices and deprecations go into the log where they happen. Each entry is printed on
// stdout as it is made (a marker, then JSON); a last marker says the script finished.
$E = json_decode(getenv('DIFF_ENV'), true);

function __norm($v) {
    if (is_resource($v)) return ['#resource' => get_resource_type($v)];
    if (is_object($v)) return ['#object' => get_class($v)];
    if (is_string($v)) return preg_match('//u', $v) ? $v : ['#hex' => bin2hex($v)];
    if (is_float($v) && (is_nan($v) || is_infinite($v))) return ['#float' => (string)$v];
    if (is_array($v)) {
        $out = [];
        foreach ($v as $k => $x) $out[$k] = __norm($x);
        if (array_is_list($v)) return $out;
        $pairs = [];
        foreach ($out as $k => $x) $pairs[] = [(string)$k, $x];
        return ['#map' => $pairs];
    }
    return $v;
}

function __emit(array $entry): void {
    // One line per entry as it happens, so that a scenario killed for overrunning still shows its log.
    fwrite(STDOUT, "\n@@DIFF-ENTRY@@" . json_encode($entry, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
}

function rec(string $step, $value): void {
    __emit(['step' => $step, 'value' => __norm($value)]);
}

function attempt(string $step, callable $f) {
    try {
        $r = $f();
        rec($step, $r);
        return $r;
    } catch (\Throwable $e) {
        __emit(['step' => $step, 'value' => ['#throws' => get_class($e), 'message' => $e->getMessage()]]);
        return null;
    }
}

function dialer(string $command) {
    global $E;
    $c = stream_socket_client('tcp://127.0.0.1:' . $E['dialer'], $no, $str, 5);
    fwrite($c, $command . "\n");
    return $c;
}

set_error_handler(function (int $level, string $message) {
    // Scenarios do not use @: sockurl/php cannot see it. A suppressed warning would still be logged.
    static $names = [E_WARNING => 'E_WARNING', E_NOTICE => 'E_NOTICE', E_DEPRECATED => 'E_DEPRECATED',
        E_USER_WARNING => 'E_USER_WARNING', E_USER_NOTICE => 'E_USER_NOTICE'];
    __emit(['warning' => $message, 'level' => $names[$level] ?? (string)$level]);
    return true;
});

set_exception_handler(function (\Throwable $e) {
    __emit(['step' => '#uncaught', 'value' => ['#throws' => get_class($e), 'message' => $e->getMessage()]]);
});

register_shutdown_function(function () {
    fwrite(STDOUT, "\n@@DIFF-END@@\n");
});

// Shared steps (their TypeScript twins are in test/php/scenarios/common.ts).

/** stream_socket_client() with sentinels in $errno/$errstr; records the three results. */
function client(string $target, $timeout = 2, $ctx = null, int $flags = STREAM_CLIENT_CONNECT) {
    $errno = -1;
    $errstr = 'untouched';
    $fp = stream_socket_client($target, $errno, $errstr, $timeout, $flags, $ctx);
    rec('client', $fp);
    rec('errno', $errno);
    rec('errstr', $errstr);
    return $fp;
}

/** Writes "$command\n" and records the first line of the answer. */
function ask($fp, string $command, string $step = 'reply') {
    fwrite($fp, $command . "\n");
    $line = fgets($fp);
    rec($step, $line);
    return $line;
}

<?php
// The PHP half of test/php/bridge.ts: executes one PHP function call per request line and answers
// with one line, so that the TypeScript twins can be run against PHP itself (a self-check of the
// twins and the harness). Usage: php -n bridge.php REQUEST_FIFO RESPONSE_FIFO
//
// Request:  {"fn": name, "args": [value…], "refs": [index…]}      (or {"fn": "#constants"} / {"fn": "#exit"})
// Response: {"ret": value, "refs": {index: value}, "warnings": [[level, message]…], "throw": [class, message] | null}
// Values: null/bool/int as JSON; {"f": float}; {"b": base64 bytes}; {"r": id} a resource;
// {"o": class, "id": id} an object; {"a": [[key, value]…], "list": bool} an array.

[, $requestPath, $responsePath] = $argv;
$in = fopen($requestPath, 'r');
$out = fopen($responsePath, 'w');
$handles = [];
$nextId = 1;
$warnings = [];

set_error_handler(function (int $level, string $message) use (&$warnings) {
    $warnings[] = [$level, $message];
    return true;
});

function enc($v) {
    global $handles, $nextId;
    if (is_object($v) || str_starts_with(gettype($v), 'resource')) {
        $id = array_search($v, $handles, true);
        if ($id === false) {
            $id = $nextId++;
            $handles[$id] = $v;
        }
        return is_object($v) ? ['o' => get_class($v), 'id' => $id] : ['r' => $id];
    }
    if (is_string($v)) return ['b' => base64_encode($v)];
    if (is_float($v)) return ['f' => $v];
    if (is_array($v)) {
        $pairs = [];
        foreach ($v as $k => $x) $pairs[] = [$k, enc($x)];
        return ['a' => $pairs, 'list' => array_is_list($v)];
    }
    return $v;
}

function dec($v) {
    global $handles;
    if (!is_array($v)) return $v;
    if (array_key_exists('b', $v)) return base64_decode($v['b']);
    if (array_key_exists('r', $v)) return $handles[$v['r']];
    if (array_key_exists('o', $v)) return $handles[$v['id']];
    if (array_key_exists('f', $v)) return (float)$v['f'];
    if (array_key_exists('a', $v)) {
        $o = [];
        foreach ($v['a'] as [$k, $x]) $o[$k] = dec($x);
        return $o;
    }
    return $v;
}

while (($line = fgets($in)) !== false) {
    $req = json_decode($line, true);
    $fn = $req['fn'];
    if ($fn === '#exit') {
        fwrite($out, "{\"ret\":null,\"refs\":{},\"warnings\":[],\"throw\":null}\n");
        break;
    }
    $warnings = [];
    $thrown = null;
    $ret = null;
    $args = [];
    if ($fn === '#constants') {
        $ret = [];
        foreach (get_defined_constants(true)['standard'] + get_defined_constants(true)['Core'] as $name => $value) {
            if (str_starts_with($name, 'STREAM_') || str_starts_with($name, 'E_')) $ret[$name] = $value;
        }
    } else {
        $args = array_map('dec', $req['args']);
        try {
            $ret = $fn(...$args);
        } catch (\Throwable $e) {
            $thrown = [get_class($e), $e->getMessage()];
        }
    }
    $refs = new stdClass();
    foreach ($req['refs'] ?? [] as $i) $refs->{$i} = enc($args[$i]);
    fwrite($out, json_encode(['ret' => enc($ret), 'refs' => $refs, 'warnings' => $warnings, 'throw' => $thrown], JSON_UNESCAPED_SLASHES) . "\n");
    fflush($out);
}

#!/usr/bin/env python3
"""KV write load for bench/raft.sh: C clients, each on its own keep-alive HTTP/1.1
connection, write as fast as their answers come back for D seconds, then the
throughput and the latency percentiles are printed on one line:

    ops_per_s p50_ms p99_ms errors

One generator for both sides, so both are driven the same way:
  conclave  PUT /v1/kv/bench/<client>-<n>   body: the value      (answer "true")
  etcd      POST /v3/kv/put (the v3 gRPC gateway of etcd 3.4)
            {"key": base64("bench/<client>-<n>"), "value": base64(value)}
Keys cycle through --keys names per client, values are --size bytes.

Standard library only. Run it where the server's address is reachable (bench/raft.sh
runs it inside the leader's namespace with `harness exec`):

    python3 bench/kvload.py --kind conclave --addr 51.6.196.10:8500 --clients 8 --duration 5
"""
import argparse
import base64
import http.client
import json
import math
import threading
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("conclave", "etcd"), required=True)
    ap.add_argument("--addr", required=True, help="host:port of the server's HTTP API")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds")
    ap.add_argument("--size", type=int, default=128, help="value size in bytes")
    ap.add_argument("--keys", type=int, default=1000, help="distinct keys per client")
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    value = (b"0123456789abcdef" * (a.size // 16 + 1))[: a.size]

    def request(c, i):
        key = "bench/%d-%d" % (c, i % a.keys)
        if a.kind == "conclave":
            return "PUT", "/v1/kv/" + key, value, {}
        body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                           "value": base64.b64encode(value).decode()}).encode()
        return "POST", "/v3/kv/put", body, {"Content-Type": "application/json"}

    def ok(status, body):
        if status != 200:
            return False
        return body.strip() == b"true" if a.kind == "conclave" else b'"header"' in body

    lat = [[] for _ in range(a.clients)]
    errs = [0] * a.clients
    start = threading.Barrier(a.clients + 1)
    window = {}

    def client(c):
        conn = http.client.HTTPConnection(host, int(port), timeout=a.timeout)
        mine, i = lat[c], 0
        start.wait()
        t_end = window["end"]
        while True:
            t = time.perf_counter()
            if t >= t_end:
                break
            m, path, body, hdrs = request(c, i)
            i += 1
            try:
                conn.request(m, path, body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                good = ok(r.status, data)
            except (OSError, http.client.HTTPException):
                good = False
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=a.timeout)
                time.sleep(0.01)
            if good:
                mine.append(time.perf_counter() - t)
            else:
                errs[c] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(a.clients)]
    for t in threads:
        t.start()
    window["start"] = time.perf_counter()
    window["end"] = window["start"] + a.duration
    start.wait()
    for t in threads:
        t.join(a.duration + a.timeout + 5)
    elapsed = max(time.perf_counter(), window["end"]) - window["start"]
    all_lat = sorted(x for l in lat for x in l)
    print("%.1f %.2f %.2f %d" % (len(all_lat) / elapsed, percentile(all_lat, 50) * 1000,
                                 percentile(all_lat, 99) * 1000, sum(errs)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How soon a reader parked on a follower hears of a write made through the
leader: a Conclave blocking query (GET /v1/kv/KEY?index=N&wait=, Consul's
long poll) or an etcd 3.4 watch (POST /v3/watch through its HTTP/JSON gateway,
one JSON object per line). Run inside a node's namespace by bench/wake.sh.

    wake.py conclave|etcd WATCH_IP PUT_IP SAMPLES

Each sample parks a fresh reader, waits 200 ms, then writes and times from
sending the write to the reader's answer. Prints one line:
"WAKE median_ms p90_ms max_ms samples"."""
import base64
import http.client
import json
import statistics
import sys
import threading
import time

kind, watch_ip, put_ip, samples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
KEY = "bench/wake"
PORT = 8500 if kind == "conclave" else 2379
B64KEY = base64.b64encode(KEY.encode()).decode()


def put(value):
    c = http.client.HTTPConnection(put_ip, PORT, timeout=10)
    if kind == "conclave":
        c.request("PUT", "/v1/kv/" + KEY, body=value)
    else:
        body = json.dumps({"key": B64KEY, "value": base64.b64encode(value).decode()})
        c.request("POST", "/v3/kv/put", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("wake.py: %s: the write answered %d" % (kind, r.status))


def park(ready, done):
    """Parks one reader; sets ready once it waits, done[0] once it woke."""
    c = http.client.HTTPConnection(watch_ip, PORT, timeout=30)
    if kind == "conclave":
        c.request("GET", "/v1/kv/" + KEY)
        r = c.getresponse()
        r.read()
        index = r.getheader("X-Consul-Index")
        c.request("GET", "/v1/kv/%s?index=%s&wait=20s" % (KEY, index))
        ready.set()
        r = c.getresponse()
        r.read()
    else:
        body = json.dumps({"create_request": {"key": B64KEY}})
        c.request("POST", "/v3/watch", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        first = json.loads(r.readline())
        if not first.get("result", {}).get("created"):
            sys.exit("wake.py: etcd: the watch was not created: %r" % first)
        ready.set()
        while True:
            ev = json.loads(r.readline())
            if ev.get("result", {}).get("events"):
                break
    done[0] = time.monotonic()
    c.close()


put(b"0")
lat = []
for i in range(samples):
    ready, done = threading.Event(), [None]
    t = threading.Thread(target=park, args=(ready, done), daemon=True)
    t.start()
    if not ready.wait(10):
        sys.exit("wake.py: %s: the reader could not park" % kind)
    time.sleep(0.2)
    t0 = time.monotonic()
    put(b"%d" % (i + 1))
    t.join(25)
    if done[0] is None:
        sys.exit("wake.py: %s: the reader did not wake within 25 s" % kind)
    lat.append((done[0] - t0) * 1000)
lat.sort()
print("WAKE %.2f %.2f %.2f %d" % (statistics.median(lat), lat[max(0, int(len(lat) * 0.9) - 1)],
                                  lat[-1], len(lat)))

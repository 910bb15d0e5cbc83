/*
 * workload — the chaos run's clients: Jepsen-style register operations on the
 * Consul KV HTTP API of real daemons, recorded into a history (history.h).
 *
 * Each client is a thread: it enters its target's network namespace (setns on
 * its own thread only; the caller's thread never changes namespace), keeps one
 * libcurl handle (keep-alive for reads; writes on a fresh connection, below)
 * and runs one operation at a time:
 *
 *   write(k, v)   PUT /v1/kv/<prefix>k<i> body "<v>"          "true" -> ok
 *   read(k)       GET /v1/kv/<prefix>k<i>?raw[&consistent|&stale]
 *                 200 -> ok with the value, 404 -> ok with nil (HIST_NIL)
 *   cas(k,o,n)    invoked first; then GET ?consistent (JSON: ModifyIndex and
 *                 base64 Value) gives o and the index (missing key: o = nil,
 *                 index 0 = create only if absent); then PUT ?cas=<index>
 *                 body "<n>": "true" -> ok cas(o, n), "false" -> fail.
 *                 The op's cas_old is filled in (under h->mu) once known.
 *
 * Values are unique: one process-wide atomic counter starting at 1.
 *
 * How completions are classified (what makes a linearizability check honest):
 *   read: anything but 200/404 with a decimal body -> fail (a read changes
 *         nothing, so failing it is always safe);
 *   write/cas: could not connect (CURLE_COULDNT_CONNECT) -> fail: every PUT
 *         goes on a fresh connection that is not kept (libcurl silently
 *         resends a request whose reused connection died, and would then
 *         report a refused reconnect although the first copy may have been
 *         applied), so a refused connect means nothing was sent; HTTP 4xx
 *         (rejected by the request parser before it reaches Raft) -> fail; HTTP 500 whose body is exactly "No cluster leader"
 *         -> fail (the server code answers that only for requests that no
 *         server proposed to Raft: see the report of issue 6); the GET of a
 *         cas failing -> fail; a cas answered "false" -> fail; everything else
 *         (timeouts, resets, empty replies, "leadership lost while committing
 *         log", "rpc error ...", other 5xx, a write answered "false") -> info.
 *   The op's error holds the curl error or "HTTP <status>: <first body line>".
 *
 * History times are CLOCK_MONOTONIC nanoseconds minus cfg.t0_ns; an invoke is
 * recorded immediately before the request, a completion immediately after the
 * answer. Client i is history process i and talks to targets[i % ntargets].
 *
 * Rate: each client gets rate/clients operations per second; the gap before
 * each of its operations is drawn uniformly from [0, 2 * clients/rate) by the
 * client's generator (seeded with seed + client index, which also picks the
 * op and the key), measured from the previous scheduled start, so slow
 * answers do not lower the rate unless they take longer than the gap (then
 * the next op starts at once and the backlog is dropped). rate 0: back to back.
 *
 * libcurl: workload_start and workload_final_check call curl_global_init and
 * the matching cleanup; call them from one thread at a time.
 */
#ifndef CC_WORKLOAD_H
#define CC_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

struct workload_target {
	char node[16];    /* recorded as the op's node */
	int nsfd;         /* network namespace to run in; -1: the caller's */
	char url[64];     /* "http://51.6.196.221:8500" */
};

enum workload_read_mode { WL_READ_CONSISTENT, WL_READ_DEFAULT, WL_READ_STALE };

struct workload_cfg {
	unsigned clients;            /* client threads, each one op at a time (>= 1) */
	unsigned keys;               /* registers <prefix>k0 .. k{keys-1} (>= 1) */
	char prefix[32];             /* KV prefix, e.g. "chaos/" */
	double rate;                 /* total operations per second (0: as fast as they complete) */
	unsigned read_pct, write_pct, cas_pct;   /* sum 100 */
	enum workload_read_mode read_mode;
	unsigned timeout_ms;         /* per request (connect included); 0: 5000 */
	const struct workload_target *targets;   /* copied by workload_start */
	size_t ntargets;
	uint64_t seed;
	int64_t t0_ns;               /* CLOCK_MONOTONIC ns of the run's start */
};

struct workload;

/* Checks cfg, starts the clients (each has entered its namespace before this
 * returns) and returns 0 with *out (free with workload_stop). On failure
 * returns -errno (-EINVAL for a bad cfg, or what setns/pthread/curl said)
 * with err set, and nothing is left running. h must outlive the workload. */
int workload_start(struct workload **out, const struct workload_cfg *cfg, struct history *h,
                   char *err, size_t errlen);

/* Completed operations so far, by result (live; for progress lines). */
void workload_counts(struct workload *w, size_t *ok, size_t *fail, size_t *info);

/* Stops the clients, joins them and frees w. A client that is waiting for
 * its next turn stops at once; one with a request in flight lets it finish
 * (at most timeout_ms, after which a write/cas is info as always), so every
 * op of the workload is complete when this returns and none is made info
 * just because the run ended. */
void workload_stop(struct workload *w);

/* After the faults are healed and the workload stopped: reads every key with
 * GET ?raw&consistent, retrying each (every 200 ms, over the targets in turn)
 * until deadline_ms has passed since the call, and records every attempt in h
 * as a read of a new process (1 + the largest process in h; ok or fail).
 * Then checks, per key, that no acknowledged write was lost: let w* be the ok
 * write or ok cas with the latest invocation; the final value must be the
 * value of a write or cas, ok or info, that does not strictly precede w*
 * (its completion >= w*'s invocation; info completes at infinity). Otherwise
 * w* was lost. A key with no acknowledged write may read nil or any value a
 * write/cas (ok or info) wrote; a value that no such op wrote counts as lost
 * too. out->first describes the first loss (key, value, when it was
 * acknowledged, the final value). Keys not read before the deadline count in
 * keys_unread and are not checked. Returns 0 (losses are in *out), or -errno
 * with err when the check could not run (thread, curl, namespace). */
struct workload_lost {
	size_t keys_read, keys_unread, lost;
	char first[256];
};
int workload_final_check(const struct workload_cfg *cfg, struct history *h, unsigned deadline_ms,
                         struct workload_lost *out, char *err, size_t errlen);

#endif

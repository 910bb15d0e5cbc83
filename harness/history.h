/*
 * history — the client operations of a chaos run, as Jepsen records them.
 *
 * Each operation is invoked by a client process (a logically single-threaded
 * client: at most one operation outstanding per process) and completes as
 * ok (it happened), fail (it certainly did not happen) or info (unknown: it
 * may have taken effect at any time after its invocation, or never).
 *
 * The model is a register per key (the KV store under test):
 *   write(k, v)          sets k to v
 *   read(k) -> v | nil   nil when k does not exist
 *   cas(k, old, new)     sets k to new if it holds old; ok only when it did
 * Values are integers (a workload writes each value once, which keeps the
 * linearizability search small); HIST_NIL stands for "no value".
 *
 * On disk (history.json) the history is Jepsen's JSON form: an array of
 * events ordered by time, each
 *   {"index": 0, "type": "invoke", "f": "write", "process": 3,
 *    "time": 1234567, "value": ["k1", 5], "node": "node2"}
 * with type invoke|ok|fail|info, f read|write|cas, time in nanoseconds since
 * the run started, value [key, v] for read (v null on invoke and for a
 * missing key) and write, [key, [old, new]] for cas; fail and info events may
 * carry "error". A completion is the next event of the same process.
 *
 * Thread safety: hist_invoke and hist_complete may be called from several
 * threads at once (a mutex inside); operations are named by index, so the
 * array may move while other threads hold indexes.
 */
#ifndef CC_HISTORY_H
#define CC_HISTORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_NIL INT64_MIN
#define HIST_KEY_MAX 64
#define HIST_NODE_MAX 16
#define HIST_ERR_MAX 96

enum hist_f { HIST_READ, HIST_WRITE, HIST_CAS };
enum hist_result { HIST_PENDING, HIST_OK, HIST_FAIL, HIST_INFO };

struct hist_op {
	int process;
	enum hist_f f;
	char key[HIST_KEY_MAX];
	/* write: the value written; read: the value read (HIST_NIL: none), set
	 * when it completes ok; cas: old and new */
	int64_t value, cas_old, cas_new;
	enum hist_result result;
	int64_t invoke_ns, complete_ns;   /* complete_ns -1 while pending */
	char node[HIST_NODE_MAX];         /* the node the client asked */
	char error[HIST_ERR_MAX];         /* why it failed or is unknown */
};

struct history {
	struct hist_op *ops;
	size_t n, cap;
	pthread_mutex_t mu;
};

void hist_init(struct history *h);
void hist_free(struct history *h);

/* Records an invocation; returns its index, or -ENOMEM. */
long hist_invoke(struct history *h, int process, enum hist_f f, const char *key, int64_t value,
                 int64_t cas_old, int64_t cas_new, const char *node, int64_t now_ns);

/* Records the completion of operation id. value: what a read returned. */
void hist_complete(struct history *h, long id, enum hist_result result, int64_t value,
                   const char *error, int64_t now_ns);

/* Completes every pending operation as info (the run ended before they did). */
void hist_finish(struct history *h, int64_t now_ns);

/* Counts by result. */
void hist_counts(const struct history *h, size_t *ok, size_t *fail, size_t *info);

/* Writes/reads the JSON form. Return 0, or -errno with err naming the file
 * and, for reading, the event index and field that is wrong. Reading appends
 * to h (initialised by the caller); a process that invokes twice without a
 * completion, a completion without an invocation or a completion whose f or
 * key differs from its invocation is an error. Operations still open at the
 * end are kept as info. */
int hist_write_json(struct history *h, const char *path, char *err, size_t errlen);
int hist_read_json(struct history *h, const char *path, char *err, size_t errlen);

/* Parses the JSON text (same rules as hist_read_json; name labels errors). */
int hist_parse_json(struct history *h, const char *text, const char *name, char *err,
                    size_t errlen);

const char *hist_f_name(enum hist_f f);
const char *hist_result_name(enum hist_result r);

#endif

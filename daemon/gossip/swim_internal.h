/* Private to the swim core: shared by swim.c (memberlist) and swim_serf.c (Serf). */
#ifndef CC_GOSSIP_SWIM_INTERNAL_H
#define CC_GOSSIP_SWIM_INTERNAL_H

#include "gossip/swim.h"

/* memberlist node states (also the pushNodeState numbers) */
enum ml_state { ML_ALIVE = 0, ML_SUSPECT = 1, ML_DEAD = 2, ML_LEFT = 3 };

#define SWIM_CONFIRM_MAX 8

struct member {
	char name[GW_NAME_MAX];
	struct gw_ip addr;
	uint16_t port;
	uint32_t incarnation;
	enum ml_state state;
	uint64_t state_change;
	uint8_t meta[GW_META_MAX];
	size_t meta_len;
	uint8_t vsn[6];
	/* suspicion (Lifeguard) */
	bool suspect;
	uint64_t suspect_start;
	uint64_t suspect_min, suspect_max;
	unsigned suspect_k, suspect_n;
	uint32_t confirmers[SWIM_CONFIRM_MAX]; /* hashes of From names */
	/* Serf */
	enum swim_status status;
	uint64_t status_ltime;
	uint64_t status_change;
};

struct bcast {
	char key[GW_NAME_MAX];  /* memberlist: node name (newer replaces older); Serf: "" */
	uint8_t *data;
	size_t len;
	unsigned transmits;
	bool leave;             /* part of our own leave: tracked by swim_leave_broadcast_done */
};

struct outq_item {
	struct swim_out hdr;    /* data[] unused here; payload below */
	uint8_t *data;
};

struct relay {
	uint32_t seq;           /* ours, sent to the target */
	uint32_t their_seq;     /* the requester's */
	struct gw_ip ip;
	uint16_t port;
	bool nack;
	uint64_t deadline;
};

struct probe {
	bool active;
	char target[GW_NAME_MAX];
	uint32_t seq;
	uint64_t sent, timeout_at, deadline;
	bool indirect_sent, acked;
	unsigned nacks_expected, nacks;
};

struct recent_intent {
	char node[GW_NAME_MAX];
	uint64_t ltime;
	bool leave;
};

/* What was seen at one Lamport time (user events by a hash, queries by id):
 * serf's event and query buffers, a ring of these indexed by time. */
struct swim_seen {
	uint64_t ltime;
	uint64_t key[8];
	unsigned n;
};

struct swim {
	struct swim_config cfg;
	char merge_error[GW_NAME_MAX * 2 + 96];   /* why the last merge was refused */
	uint64_t rng;
	struct member **m;      /* m[0] is the local node */
	size_t nm, capm;
	size_t *order;          /* probe order (indexes into m) */
	size_t norder, probe_pos;
	struct bcast *bq;
	size_t nbq, capbq;
	struct outq_item *oq;
	size_t noq, capoq, oq_head;
	struct relay *relays;
	size_t nrelays, caprelays;
	struct recent_intent *intents;
	size_t nintents, capintents;
	struct probe probe;
	uint32_t seq;
	uint32_t next_request;
	int awareness;
	uint64_t next_probe, next_gossip, next_push_pull, next_reap, next_reconnect;
	uint64_t clock, event_clock, query_clock; /* Serf Lamport clocks */
	struct swim_seen seen_events[SWIM_EVENT_BUFFER];   /* serf's eventBuffer */
	struct swim_seen seen_queries[SWIM_QUERY_BUFFER];  /* serf's queryBuffer */
	struct {                  /* our own open queries (swim_query) */
		uint64_t ltime, deadline;
		uint32_t id;
		bool open;
	} asked[SWIM_QUERIES_MAX];
	bool leaving;            /* memberlist: our dead-about-self is out */
	int leave_phase;         /* 0 no, 1 Serf leave intent gossiped, 2 dead gossiped */
	uint64_t leave_started;
	bool joined_once;
};

/* swim.c services used by swim_serf.c */
struct member *swim__find(const struct swim *s, const char *name);
void swim__log(struct swim *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void swim__event(struct swim *s, enum swim_event ev, const struct member *m);
/* A SWIM_OUT_USER_EVENT or SWIM_OUT_QUERY with a copy of payload; NULL when
 * out of memory. */
struct swim_out *swim__app_out(struct swim *s, enum swim_out_kind kind, const char *name,
                               const uint8_t *payload, size_t len, uint64_t ltime);
void swim__queue_bcast(struct swim *s, const char *key, const uint8_t *data, size_t len,
                       bool leave);
uint64_t swim__rand(struct swim *s);
/* True (and remembered) the first time key comes at ltime, in a ring of n
 * slots for a clock now at clock; false when seen or too old to tell. */
bool swim__seen_first(struct swim_seen *ring, unsigned n, uint64_t clock, uint64_t ltime,
                      uint64_t key);
/* Drops a member (not the local one) from every table and frees it. */
void swim__remove(struct swim *s, struct member *m);

/* swim.c services used by swim_probe.c */
void swim__send_packet(struct swim *s, const struct member *to, const struct gw_ip *ip,
                       uint16_t port, const uint8_t *data, size_t len, bool crc);
size_t swim__build_packet(struct swim *s, const uint8_t *lead, size_t lead_len, uint8_t *buf,
                          size_t cap);
void swim__on_alive(struct swim *s, uint64_t now, const struct gw_alive *a, bool bootstrap);
void swim__on_suspect(struct swim *s, uint64_t now, const struct gw_suspect *sm);
void swim__on_dead(struct swim *s, uint64_t now, const struct gw_suspect *dm);

/* swim_probe.c: the timers swim_tick runs */
void swim__run_relays(struct swim *s, uint64_t now);
void swim__run_probe(struct swim *s, uint64_t now);
void swim__run_gossip(struct swim *s, uint64_t now);

/* swim_serf.c: Serf's reaction to memberlist events and its own messages */
void serf__on_ml_join(struct swim *s, uint64_t now, struct member *m);
void serf__on_ml_leave(struct swim *s, uint64_t now, struct member *m);
void serf__on_ml_update(struct swim *s, uint64_t now, struct member *m);
void serf__on_user(struct swim *s, uint64_t now, const uint8_t *body, size_t len);
int serf__local_state(struct swim *s, uint8_t *buf, size_t cap);
void serf__merge_state(struct swim *s, uint64_t now, const uint8_t *buf, size_t len);
void serf__broadcast_join(struct swim *s);
void serf__broadcast_leave(struct swim *s);
void serf__reap(struct swim *s, uint64_t now);
void serf__reconnect(struct swim *s, uint64_t now);
void serf__witness(uint64_t *clock, uint64_t v);
void serf__rebroadcast(struct swim *s, const uint8_t *serf_msg, size_t len);

/* swim_query.c: Serf queries and relayed responses */
void serf__on_query(struct swim *s, uint64_t now, const uint8_t *raw, size_t len);
void serf__on_relay(struct swim *s, const uint8_t *raw, size_t len);
void serf__on_query_response(struct swim *s, uint64_t now, const uint8_t *raw, size_t len);

/* swim.c: asks the glue for a push/pull to a member */
void swim__request_push_pull(struct swim *s, const struct member *to, bool join);

#endif

/*
 * harness-delayer — holds a node's outgoing packets in userspace to delay,
 * jitter and reorder them (this kernel has no netem).
 *
 *   harness-delayer CONFIG READY
 *
 * Runs inside one node's network namespace (the harness starts it there and
 * journals its PID). The node's nftables output chain sends packets to NFQUEUE
 * queues with the bypass flag, so packets flow untouched whenever this program
 * is not running. CONFIG (written by harness/fault.c) lists the queues:
 *
 *   gen 7
 *   queue Q DELAY_MS JITTER_MS REORDER_PCT
 *
 * Each packet of queue Q is released (NF_ACCEPT) after DELAY_MS plus a uniform
 * sample of [-JITTER_MS, +JITTER_MS] (never before it arrived); REORDER_PCT of
 * the packets are released at once, overtaking the held ones (with no delay
 * set, the others are then held 10 ms so that reordering happens). Packets
 * wait in a min-heap by release time; one timerfd is armed for the earliest.
 * Only packet metadata is copied to userspace (NFQNL_COPY_META).
 *
 * SIGHUP re-reads CONFIG (queues no longer listed release their packets at
 * once), then READY gets "GEN\n" so the harness knows the config is in force.
 * SIGTERM/SIGINT release every held packet and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif

#define MAX_QUEUES 4096
#define QUEUE_MAXLEN 8192
#define REORDER_BASE_MS 10

struct queue {
	struct nfq_q_handle *qh; /* NULL: not bound */
	int delay_ms, jitter_ms, reorder_pct;
	bool wanted;             /* listed in the config being loaded */
};

struct held {
	uint64_t release_ns, seq;
	uint32_t id;
	uint16_t q;
};

static struct queue queues[MAX_QUEUES];
static struct held *heap;
static size_t nheld, capheld;
static uint64_t seq_next, rng_state;
static struct nfq_handle *nfq;
static unsigned long long delayed, passed, overflow;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool before(const struct held *a, const struct held *b)
{
	return a->release_ns < b->release_ns || (a->release_ns == b->release_ns && a->seq < b->seq);
}

static int heap_push(struct held h)
{
	if (nheld == capheld) {
		size_t cap = capheld ? capheld * 2 : 1024;
		struct held *g = realloc(heap, cap * sizeof(*g));
		if (!g)
			return -1;
		heap = g;
		capheld = cap;
	}
	size_t i = nheld++;
	while (i > 0 && before(&h, &heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = h;
	return 0;
}

static struct held heap_pop(void)
{
	struct held top = heap[0], last = heap[--nheld];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= nheld)
			break;
		if (c + 1 < nheld && before(&heap[c + 1], &heap[c]))
			c++;
		if (!before(&heap[c], &last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheld)
		heap[i] = last;
	return top;
}

static void accept_packet(uint16_t q, uint32_t id)
{
	if (queues[q].qh)
		nfq_set_verdict(queues[q].qh, id, NF_ACCEPT, 0, NULL);
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
	uint16_t q = (uint16_t)(uintptr_t)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (!ph)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	const struct queue *c = &queues[q];
	int64_t ms = c->delay_ms;
	if (c->reorder_pct > 0 && ms == 0)
		ms = REORDER_BASE_MS;
	if (c->reorder_pct > 0 && (int)(rnd() % 100) < c->reorder_pct)
		ms = 0;
	else if (c->jitter_ms > 0)
		ms += (int64_t)(rnd() % (uint64_t)(2 * c->jitter_ms + 1)) - c->jitter_ms;
	if (ms <= 0) {
		passed++;
		nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
		return 0;
	}
	struct held h = { now_ns() + (uint64_t)ms * 1000000ULL, seq_next++, id, q };
	if (nheld >= QUEUE_MAXLEN * 4 || heap_push(h)) {
		overflow++;
		nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
		return 0;
	}
	delayed++;
	return 0;
}

static void arm(int tfd)
{
	struct itimerspec it = { { 0, 0 }, { 0, 0 } };
	if (nheld) {
		uint64_t t = heap[0].release_ns;
		it.it_value.tv_sec = (time_t)(t / 1000000000ULL);
		it.it_value.tv_nsec = (long)(t % 1000000000ULL);
		if (it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0)
			it.it_value.tv_nsec = 1;
	}
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

static void release_due(uint64_t until)
{
	while (nheld && heap[0].release_ns <= until) {
		struct held h = heap_pop();
		accept_packet(h.q, h.id);
	}
}

/* Releases the held packets of queue q (all queues when q < 0) at once. */
static void release_queue(int q)
{
	size_t keep = 0;
	for (size_t i = 0; i < nheld; i++) {
		if (q < 0 || heap[i].q == q)
			accept_packet(heap[i].q, heap[i].id);
		else
			heap[keep++] = heap[i];
	}
	nheld = keep;
	/* rebuild the heap order */
	struct held *old = heap;
	size_t n = nheld;
	heap = NULL;
	nheld = capheld = 0;
	for (size_t i = 0; i < n; i++)
		heap_push(old[i]);
	free(old);
}

static long load(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "delayer: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int q = 0; q < MAX_QUEUES; q++)
		queues[q].wanted = false;
	long gen = 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		int q, d, j, r;
		if (sscanf(line, "gen %ld", &gen) == 1)
			continue;
		if (sscanf(line, "queue %d %d %d %d", &q, &d, &j, &r) != 4 || q < 0 ||
		    q >= MAX_QUEUES || d < 0 || j < 0 || r < 0 || r > 100) {
			fprintf(stderr, "delayer: %s: bad line: %s", path, line);
			continue;
		}
		queues[q] = (struct queue){ queues[q].qh, d, j, r, true };
	}
	fclose(f);
	for (int q = 0; q < MAX_QUEUES; q++) {
		struct queue *c = &queues[q];
		if (!c->wanted && c->qh) {
			release_queue(q);
			nfq_destroy_queue(c->qh);
			c->qh = NULL;
		} else if (c->wanted && !c->qh) {
			c->qh = nfq_create_queue(nfq, (uint16_t)q, on_packet, (void *)(uintptr_t)q);
			if (!c->qh) {
				fprintf(stderr, "delayer: cannot bind queue %d: %s\n", q, strerror(errno));
				continue;
			}
			if (nfq_set_mode(c->qh, NFQNL_COPY_META, 0) < 0)
				nfq_set_mode(c->qh, NFQNL_COPY_PACKET, 64);
			nfq_set_queue_maxlen(c->qh, QUEUE_MAXLEN);
			/* overload: accept rather than drop (this is a delayer, not loss) */
			uint32_t fl = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
			nfq_set_queue_flags(c->qh, fl, fl);
		}
		if (c->wanted)
			fprintf(stderr, "delayer: gen %ld queue %d: delay %d ms jitter %d ms reorder %d%%\n",
			        gen, q, c->delay_ms, c->jitter_ms, c->reorder_pct);
	}
	return gen;
}

static void write_ready(const char *path, long gen)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%ld\n", gen);
	if (fclose(f) == 0)
		rename(tmp, path);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: harness-delayer CONFIG READY (started by the harness)\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	rng_state = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	nfq = nfq_open();
	if (sfd < 0 || tfd < 0 || !nfq) {
		fprintf(stderr, "delayer: cannot open netfilter queue: %s\n", strerror(errno));
		return 1;
	}
	int fd = nfq_fd(nfq);
	nfnl_rcvbufsiz(nfq_nfnlh(nfq), 8 << 20);
	int one = 1;
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	long gen = load(argv[1]);
	if (gen < 0)
		return 1;
	write_ready(argv[2], gen);
	static char buf[65536 + 4096];
	struct pollfd p[3] = { { fd, POLLIN, 0 }, { tfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			for (int k = 0; k < 256; k++) {
				ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n <= 0)
					break;
				nfq_handle_packet(nfq, buf, (int)n);
			}
			arm(tfd);
		}
		if (p[1].revents & POLLIN) {
			uint64_t ticks;
			if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				break;
			release_due(now_ns());
			arm(tfd);
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				long g = load(argv[1]);
				if (g >= 0)
					write_ready(argv[2], g);
				arm(tfd);
				continue;
			}
			break;
		}
	}
	release_queue(-1);
	for (int q = 0; q < MAX_QUEUES; q++)
		if (queues[q].qh)
			nfq_destroy_queue(queues[q].qh);
	nfq_close(nfq);
	free(heap);
	fprintf(stderr, "delayer: exit: %llu packets delayed, %llu passed at once, %llu over the "
	                "limit\n", delayed, passed, overflow);
	return 0;
}

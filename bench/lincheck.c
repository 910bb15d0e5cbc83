/*
 * lincheck_bench — how long the linearizability checker takes on generated
 * histories (bench/lincheck_gen.h: a simulated correct register store, with
 * fail and info ops), and on the same histories with one stale read.
 *
 *   lincheck_bench [SEEDS [OPS [CLIENTS [KEYS]]]]     default 5 10000 10 10
 *
 * Prints one line per seed and the medians. Exit 1 when a verdict is wrong
 * (a correct history judged bad, or a stale read missed), 2 on bad usage.
 * Bounded: every check has a 60 s limit.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lincheck.h"
#include "lincheck_gen.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long arg(int argc, char **argv, int i, long def, long max)
{
	if (argc <= i)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v < 1 || v > max) {
		fprintf(stderr, "usage: lincheck_bench [SEEDS [OPS [CLIENTS [KEYS]]]]\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	size_t seeds = (size_t)arg(argc, argv, 1, 5, 1000);
	struct gen_params p = gen_defaults(0);
	p.ops = (size_t)arg(argc, argv, 2, 10000, 10000000);
	p.clients = (int)arg(argc, argv, 3, 10, 1000);
	p.keys = (int)arg(argc, argv, 4, 10, 100000);
	double *good = calloc(seeds, sizeof(double)), *stale = calloc(seeds, sizeof(double));
	if (!good || !stale)
		return 1;
	printf("lincheck: %zu ops, %d clients, %d keys, %zu seeds\n", p.ops, p.clients, p.keys,
	       seeds);
	int wrong = 0;
	for (size_t s = 0; s < seeds; s++) {
		struct history h;
		struct lin_result r;
		char err[256];
		p.seed = s + 1;
		hist_init(&h);
		if (gen_history(&h, &p) || lin_check(&h, 60000, &r, err, sizeof(err))) {
			fprintf(stderr, "lincheck_bench: out of memory\n");
			return 1;
		}
		good[s] = r.ms;
		const char *v1 = r.ok ? "linearizable" : r.timed_out ? "UNKNOWN" : "NOT LINEARIZABLE";
		wrong += !r.ok;
		lin_result_free(&r);
		long bad = gen_stale_read(&h, p.seed);
		const char *v2 = "no stale read possible";
		stale[s] = 0;
		if (bad >= 0) {
			if (lin_check(&h, 60000, &r, err, sizeof(err))) {
				fprintf(stderr, "lincheck_bench: out of memory\n");
				return 1;
			}
			stale[s] = r.ms;
			v2 = r.bad_keys ? "caught" : r.timed_out ? "UNKNOWN" : "MISSED";
			wrong += r.bad_keys == 0;
			lin_result_free(&r);
		}
		size_t ok, fail, info;
		hist_counts(&h, &ok, &fail, &info);
		printf("seed %zu: %zu ok, %zu fail, %zu info: %s in %.2f ms; one stale read: %s in "
		       "%.2f ms\n", s + 1, ok, fail, info, v1, good[s], v2, stale[s]);
		hist_free(&h);
	}
	printf("median: %.2f ms linearizable, %.2f ms with a stale read\n", median(good, seeds),
	       median(stale, seeds));
	free(good);
	free(stale);
	return wrong ? 1 : 0;
}

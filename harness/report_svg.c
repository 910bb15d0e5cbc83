/* report: the timeline (lanes, faults, steps, client rows) and the latency
 * plot, as inline SVG with <title> tooltips. See report_internal.h. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

#define W 1320                  /* drawing width, px */
#define LBL 150                 /* label column */
#define PW (W - LBL - 20)       /* plot width */
#define STEP_ROWS 3             /* step labels are staggered over this many rows */
#define LANE_H 34
#define LANE_GAP 6
#define PLOT_H 220              /* latency plot height */

static double X(const struct report *r, double t)
{
	t = t < 0 ? 0 : t > r->duration ? r->duration : t;
	return LBL + t / r->duration * PW;
}

/* Width of [a, b] in px, at least min so that instants stay visible. */
static double WX(const struct report *r, double a, double b, double min)
{
	double w = X(r, b) - X(r, a);
	return w < min ? min : w;
}

static double tick_step(double duration)
{
	static const double steps[] = { 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000,
	                                60000, 120000, 300000, 600000, 900000, 1800000, 3600000 };
	size_t i = 0;
	while (i + 1 < sizeof(steps) / sizeof(steps[0]) && duration / steps[i] > 14)
		i++;
	return steps[i];
}

/* Seconds ticks: grid lines from y0 to y1, labels at ylab. */
static void time_axis(FILE *f, const struct report *r, double y0, double y1, double ylab)
{
	double step = tick_step(r->duration);
	fputs("<g class=\"axis\">", f);
	for (double t = 0; t <= r->duration + 1e-9; t += step) {
		double x = X(r, t);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e3e7\"/>"
		        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#5f6368\">%g s</text>\n",
		        x, y0, x, y1, x, ylab, t / 1000.0);
	}
	fputs("</g>\n", f);
}

static void span_title(FILE *f, const struct report *r, const char *what, size_t lane, double a, double b)
{
	fputs("<title>", f);
	if (lane != (size_t)-1) {
		rep_esc(f, r->nodes[lane].name, 0);
		fputc(' ', f);
	}
	rep_esc(f, what, 0);
	fputs(", ", f);
	rep_secs(f, a);
	fputs(" \xE2\x80\x93 ", f);
	rep_secs(f, b);
	fputs("</title>", f);
}

static void lanes(FILE *f, const struct report *r, double top)
{
	static const char *const state_name[3] = { "up", "down", "paused" };
	for (size_t i = 0; i < r->nnodes; i++) {
		double y = top + i * (LANE_H + LANE_GAP);
		const struct rep_node *n = &r->nodes[i];
		fprintf(f, "<g class=\"lane\" data-node=\"");
		rep_esc(f, n->name, 0);
		fprintf(f, "\"><rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f1f3f4\"/>"
		        "<text x=\"8\" y=\"%.1f\" font-weight=\"700\"><title>", LBL, y, PW, LANE_H, y + 14);
		rep_esc(f, n->name, 0);
		fprintf(f, " (%s%s", n->server ? "server" : "client", n->addr ? ", " : "");
		rep_esc(f, n->addr, 0);
		fputs(")</title>", f);
		rep_esc(f, n->name, 18);
		fprintf(f, "</text><text x=\"8\" y=\"%.1f\" fill=\"#5f6368\" font-size=\"10\">", y + 28);
		rep_esc(f, n->addr, 0);
		fprintf(f, "%s%s</text></g>\n", n->addr ? " " : "", n->server ? "server" : "client");
	}
	for (size_t i = 0; i < r->nprocess; i++) {
		const struct rep_span *s = &r->process[i];
		double y = top + s->lane * (LANE_H + LANE_GAP);
		fprintf(f, "<rect class=\"state-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
		        "fill=\"%s\">", state_name[s->state], X(r, s->from), y, WX(r, s->from, s->to, 1),
		        LANE_H, rep_state_colour[s->state]);
		span_title(f, r, state_name[s->state], s->lane, s->from, s->to);
		fputs("</rect>\n", f);
	}
}

static void faults(FILE *f, const struct report *r, double top, double bottom)
{
	for (size_t i = 0; i < r->nfaults; i++) {
		const struct rep_fault *fl = &r->faults[i];
		const char *c = rep_fault_colour(fl->kind);
		double x = X(r, fl->from), w = WX(r, fl->from, fl->to, 2);
		for (size_t k = 0; k < (fl->all ? 1 : r->nnodes); k++) {
			if (!fl->all && !fl->lanes[k])
				continue;
			double y = fl->all ? top - 3 : top + k * (LANE_H + LANE_GAP);
			double h = fl->all ? bottom - top + 6 : LANE_H;
			fprintf(f, "<g class=\"fault\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"%s\" fill-opacity=\".28\" stroke=\"%s\" stroke-dasharray=\"4 3\">",
			        x, y, w, h, c, c);
			span_title(f, r, fl->text ? fl->text : fl->kind, (size_t)-1, fl->from, fl->to);
			fputs("</rect>", f);
			if (w > 34) {
				fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#3c4043\">", x + 3,
				        y + h - 4);
				rep_esc(f, fl->kind, 12);
				fputs("</text>", f);
			}
			fputs("</g>\n", f);
		}
	}
}

static void leaders(FILE *f, const struct report *r, double top)
{
	for (size_t i = 0; i < r->nleader; i++) {
		const struct rep_span *s = &r->leader[i];
		double y = top + s->lane * (LANE_H + LANE_GAP) + LANE_H / 2.0 - 8;
		double x = X(r, s->from), w = WX(r, s->from, s->to, 2);
		char what[64];
		if (isnan(s->term))
			snprintf(what, sizeof(what), "leader");
		else
			snprintf(what, sizeof(what), "leader, term %.0f", s->term);
		fprintf(f, "<g class=\"leader\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" "
		        "rx=\"3\" fill=\"%s\">", x, y, w, REP_LEADER_COLOUR);
		span_title(f, r, what, s->lane, s->from, s->to);
		fputs("</rect>", f);
		if (!isnan(s->term) && w > 22)
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#fff\" font-weight=\"700\" "
			        "pointer-events=\"none\">%st%.0f</text>", x + 4, y + 12,
			        w > 90 ? "leader \xC2\xB7 " : "", s->term);
		fputs("</g>\n", f);
	}
	for (size_t i = 0; i < r->nterms; i++) {
		const struct rep_mark *m = &r->terms[i];
		double x = X(r, m->at), y = top + m->lane * (LANE_H + LANE_GAP);
		fprintf(f, "<path class=\"term\" d=\"M%.1f %.1fh-5l5 7l5-7z\" fill=\"#202124\"><title>", x + 2.5,
		        y + 0.5);
		rep_esc(f, r->nodes[m->lane].name, 0);
		fprintf(f, ": term %.0f at ", m->term);
		rep_secs(f, m->at);
		fputs("</title></path>\n", f);
	}
}

static void op_title(FILE *f, const struct rep_op *o)
{
	fprintf(f, "<title>p%.0f ", o->process);
	if (o->node) {
		rep_esc(f, o->node, 0);
		fputc(' ', f);
	}
	rep_esc(f, o->f ? o->f : "op", 0);
	if (o->key) {
		fputc(' ', f);
		rep_esc(f, o->key, 0);
	}
	if (o->value) {
		fputc(' ', f);
		rep_value(f, o->value);
	}
	fputs(": ", f);
	rep_esc(f, o->result ? o->result : "unknown", 0);
	if (o->done)
		fprintf(f, ", %.1f ms", o->complete - o->invoke);
	fprintf(f, " (at %.1f ms)</title>", o->invoke);
}

/* Client rows, one per process; returns the height used. */
static double op_rows(FILE *f, const struct report *r, double top, bool aggregate, double bucket)
{
	double rh = r->nrows ? 400.0 / r->nrows : 10;
	rh = rh > 10 ? 10 : rh < 2 ? 2 : rh;
	fprintf(f, "<text x=\"8\" y=\"%.1f\" font-weight=\"700\">clients</text>\n", top - 6);
	for (size_t i = 0; i < r->nrows; i++) {
		double y = top + i * rh;
		fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>", LBL, y, PW,
		        rh, i % 2 ? "#f8f9fa" : "#f1f3f4");
		if (rh >= 8 || i % (size_t)ceil(8 / rh) == 0)
			fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.0f\">p%.0f</text>",
			        LBL - 6, y + (rh >= 8 ? rh - 1 : 8), rh >= 8 ? rh : 9, r->rows[i]);
		fputc('\n', f);
	}
	if (!aggregate) {
		for (size_t i = 0; i < r->nops; i++) {
			const struct rep_op *o = &r->ops[i];
			double end = o->done ? o->complete : r->duration;
			fprintf(f, "<rect class=\"o%d%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
			        (int)o->cls, o->done ? "" : " open", X(r, o->invoke), top + o->row * rh + 1,
			        WX(r, o->invoke, end, 1.5), rh - 2 > 1 ? rh - 2 : 1);
			op_title(f, o);
			fputs("</rect>\n", f);
		}
		return r->nrows * rh;
	}
	size_t nb = (size_t)ceil(r->duration / bucket) + 1;
	unsigned *cnt = r->nrows * nb > (8u << 20) ? NULL : calloc(r->nrows * nb * 3, sizeof(unsigned));
	if (!cnt)
		return r->nrows * rh;
	for (size_t i = 0; i < r->nops; i++) {
		size_t b = (size_t)(fmax(0, fmin(r->ops[i].invoke, r->duration)) / bucket);
		cnt[(r->ops[i].row * nb + b) * 3 + r->ops[i].cls]++;
	}
	for (size_t row = 0; row < r->nrows; row++) {
		for (size_t b = 0; b < nb;) {
			unsigned *c = &cnt[(row * nb + b) * 3];
			if (!c[0] && !c[1] && !c[2]) {
				b++;
				continue;
			}
			int cls = c[REP_FAIL] ? REP_FAIL : c[REP_INFO] ? REP_INFO : REP_OK;
			unsigned sum[3] = { 0 };
			size_t e = b;
			for (; e < nb; e++) {
				unsigned *d = &cnt[(row * nb + e) * 3];
				int dc = d[REP_FAIL] ? REP_FAIL : d[REP_INFO] ? REP_INFO : REP_OK;
				if ((!d[0] && !d[1] && !d[2]) || dc != cls)
					break;
				for (int k = 0; k < 3; k++)
					sum[k] += d[k];
			}
			double a = b * bucket, z = fmin(e * bucket, r->duration);
			fprintf(f, "<rect class=\"o%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
			        "<title>p%.0f, %.1f\xE2\x80\x93%.1f s: %u ok, %u fail, %u info</title></rect>\n", cls,
			        X(r, a), top + row * rh + 1, WX(r, a, z, 1), rh - 2 > 1 ? rh - 2 : 1, r->rows[row],
			        a / 1000, z / 1000, sum[0], sum[1], sum[2]);
			b = e;
		}
	}
	free(cnt);
	return r->nrows * rh;
}

/* Step lines with labels in the first of STEP_ROWS rows where they do not
 * overlap the previous label; a step with no room keeps its line and title. */
static void steps(FILE *f, const struct report *r, double y1)
{
	double end[STEP_ROWS];
	for (int k = 0; k < STEP_ROWS; k++)
		end[k] = -1;
	for (size_t i = 0; i < r->nsteps; i++) {
		const struct rep_step *s = &r->steps[i];
		double x = X(r, s->at);
		size_t len = s->text ? strlen(s->text) : 0;
		double w = 6.5 * (len > 25 ? 25 : len) + 8;
		bool left = x > W - 160;
		int row = 0;
		while (row < STEP_ROWS && (left ? x - w : x) < end[row])
			row++;
		double ty = 11 + (row % STEP_ROWS) * 14;
		fputs("<g class=\"step\"><title>", f);
		rep_secs(f, s->at);
		fputs(": ", f);
		rep_esc(f, s->text, 0);
		fprintf(f, "</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#3c4043\" "
		        "stroke-dasharray=\"3 3\"/>", x, row < STEP_ROWS ? ty + 3 : STEP_ROWS * 14.0, x, y1);
		if (row < STEP_ROWS) {
			end[row] = left ? x : x + w;
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>", left ? x - 3 : x + 3, ty,
			        left ? " text-anchor=\"end\"" : "");
			rep_esc(f, s->text, 24);
			fputs("</text>", f);
		}
		fputs("</g>\n", f);
	}
}

void rep_svg_timeline(FILE *f, const struct report *r, bool aggregate, double bucket)
{
	double axis = STEP_ROWS * 14 + 14, top = axis + 14;
	double bottom = top + r->nnodes * (LANE_H + LANE_GAP) - LANE_GAP;
	double rh = r->nrows ? 400.0 / r->nrows : 10;
	rh = rh > 10 ? 10 : rh < 2 ? 2 : rh;
	double ops_top = bottom + 26, end = r->nops ? ops_top + r->nrows * rh : bottom;
	double h = end + 22;
	fprintf(f, "<svg id=\"timeline-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	        "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" aria-label=\"timeline\">\n"
	        "<rect width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n", W, h, W, h, W, h);
	time_axis(f, r, axis + 4, end, axis);
	lanes(f, r, top);
	faults(f, r, top, bottom);
	leaders(f, r, top);
	if (r->nops)
		op_rows(f, r, ops_top, aggregate, bucket);
	steps(f, r, end);
	time_axis(f, r, end, end + 4, end + 16);
	fputs("</svg>\n", f);
}

struct lat {
	int cls;
	size_t bucket;
	double lat;
};

static int cmp_lat(const void *a, const void *b)
{
	const struct lat *x = a, *y = b;
	if (x->cls != y->cls)
		return x->cls - y->cls;
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return x->lat < y->lat ? -1 : x->lat > y->lat;
}

struct yscale {
	bool log;
	double lo, hi;          /* log: decades; linear: ms */
};

static double Y(const struct yscale *s, double top, double v)
{
	double p = s->log ? (log10(v < 0.001 ? 0.001 : v) - s->lo) / (s->hi - s->lo) : (v - s->lo) / (s->hi - s->lo);
	return top + PLOT_H - (p < 0 ? 0 : p > 1 ? 1 : p) * PLOT_H;
}

void rep_svg_latency(FILE *f, const struct report *r, bool aggregate, double bucket)
{
	struct lat *l = malloc((r->nops ? r->nops : 1) * sizeof(*l));
	size_t n = 0;
	double mn = INFINITY, mx = 0;
	for (size_t i = 0; l && i < r->nops; i++) {
		const struct rep_op *o = &r->ops[i];
		if (!o->done)
			continue;
		double v = o->complete - o->invoke;
		l[n++] = (struct lat){ o->cls, (size_t)(fmax(0, fmin(o->invoke, r->duration)) / bucket), v };
		mx = fmax(mx, v);
		if (v > 0)
			mn = fmin(mn, v);
	}
	if (!n) {
		fputs("<p class=\"note\">No completed operations: no latency plot.</p>\n", f);
		free(l);
		return;
	}
	struct yscale s = { .log = isfinite(mn) && mx / mn > 100 };
	if (s.log) {
		s.lo = floor(log10(mn));
		s.hi = ceil(log10(mx));
		if (s.hi <= s.lo)
			s.hi = s.lo + 1;
	} else {
		double step = pow(10, floor(log10(mx > 0 ? mx : 1)));
		s.hi = ceil((mx > 0 ? mx : 1) / step) * step;
	}
	double top = 10, h = top + PLOT_H + 34;
	fprintf(f, "<svg id=\"latency-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	        "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" aria-label=\"latency\">\n"
	        "<rect width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n"
	        "<rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"#fafbfc\" stroke=\"#dadce0\"/>\n",
	        W, h, W, h, W, h, LBL, top, PW, PLOT_H);
	time_axis(f, r, top, top + PLOT_H + 4, top + PLOT_H + 16);
	fprintf(f, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#5f6368\">time since start "
	        "(s)</text>\n<text transform=\"translate(22 %.0f) rotate(-90)\" text-anchor=\"middle\" "
	        "fill=\"#5f6368\">latency (ms%s)</text>\n", LBL + PW / 2, h - 3, top + PLOT_H / 2,
	        s.log ? ", log scale" : "");
	for (int k = 0; k <= (s.log ? (int)(s.hi - s.lo) : 5); k++) {
		double v = s.log ? pow(10, s.lo + k) : s.hi * k / 5, y = Y(&s, top, v);
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e3e7\"/>"
		        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#5f6368\">%g ms</text>\n",
		        LBL - 4, y, LBL + PW, y, LBL - 8, y + 4, v);
	}
	if (!aggregate) {
		for (size_t i = 0; i < r->nops; i++) {
			const struct rep_op *o = &r->ops[i];
			if (!o->done)
				continue;
			fprintf(f, "<circle class=\"o%d\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill-opacity=\".75\">",
			        (int)o->cls, X(r, o->invoke), Y(&s, top, o->complete - o->invoke));
			op_title(f, o);
			fputs("</circle>\n", f);
		}
	} else {
		qsort(l, n, sizeof(*l), cmp_lat);
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i; j < n && l[j].cls == l[i].cls && l[j].bucket == l[i].bucket; j++)
				;
			double med = l[i + (j - i) / 2].lat, max = l[j - 1].lat, x = X(r, (l[i].bucket + 0.5) * bucket);
			fprintf(f, "<g class=\"o%d\"><title>%.1f\xE2\x80\x93%.1f s: %zu %s, median %.1f ms, max "
			        "%.1f ms</title><path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\" stroke-opacity=\".6\"/>"
			        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\"/></g>\n", l[i].cls,
			        l[i].bucket * bucket / 1000, (l[i].bucket + 1) * bucket / 1000, j - i,
			        rep_class_name[l[i].cls], med, max, x, Y(&s, top, med), Y(&s, top, max),
			        rep_class_colour[l[i].cls], x, Y(&s, top, med));
		}
	}
	fputs("</svg>\n", f);
	free(l);
}

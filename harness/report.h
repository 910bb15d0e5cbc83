/*
 * report — the HTML page of a chaos run, made from its report.json.
 *
 * The chaos runner writes report.json in the run directory; these functions
 * turn it into report.html next to it: one self-contained file (inline CSS
 * and SVG, no JavaScript, nothing fetched) that opens offline in any browser.
 * It shows the verdict and the assertions, a timeline with one lane per node
 * (process up/down/paused, leader periods with their term, term changes,
 * faults, steps), the client operations (one row per client process, coloured
 * by result) with a latency plot, and the run's statistics. Above
 * REPORT_OPS_DETAIL_MAX operations the operation rows and the latency plot are
 * aggregated into time buckets of 100 ms or more (and the page says so): the
 * page stays under about 1.5 MB (5000 operations drawn one by one) and is a
 * few hundred kilobytes for tens of thousands of aggregated ones.
 *
 * report.json (times in milliseconds since the run started):
 *   required: scenario, topology (strings), seed (number or string),
 *             started (string), duration_ms (number), verdict (bool),
 *             nodes [{name (string), addr?, server?}]
 *   optional: file, process [{node, state up|down|paused, from_ms, to_ms?}],
 *             leader [{node, term, from_ms, to_ms?}], terms [{node, term, at_ms}],
 *             faults [{kind, target?, from_ms, to_ms? (null/absent: until the end), text?}],
 *             steps [{at_ms, text}],
 *             operations [{process, node?, f?, key?, value?, result? ok|fail|info,
 *                          invoke_ms, complete_ms? (null/absent: never completed)}],
 *             assertions [{name, arg?, ok, detail?}], stats {name: number|string|bool}
 * An entry of an optional array that lacks one of its own required fields is
 * an error naming it ("faults[2].from_ms"); entries naming an unknown node
 * are left out of the lanes. Every string is escaped in the page.
 */
#ifndef CC_REPORT_H
#define CC_REPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Operations drawn one by one; above this they are aggregated. */
#define REPORT_OPS_DETAIL_MAX 5000

/* Writes a self-contained HTML report for the run described by report (the
 * parsed report.json) to path (through a temporary file renamed over it).
 * Returns 0, or -EINVAL when a required field is missing or has the wrong
 * type (err names the field), or -errno when the file cannot be written (err
 * names the file). The caller keeps ownership of report. */
int report_write_html(const cJSON *report, const char *path, char *err, size_t errlen);

/* Reads and parses json_path, then report_write_html(html_path). Returns 0 or
 * -errno (-EINVAL for a file that is not valid JSON, err giving the line). */
int report_html_from_file(const char *json_path, const char *html_path, char *err, size_t errlen);

/* `harness report RUNDIR_OR_JSON [-o OUT.html]`: argv holds the arguments
 * after "report". A directory means DIR/report.json; the page goes to OUT, or
 * next to the JSON file (DIR/report.html, or X.json -> X.html). Prints the
 * path written. Returns the process exit code: 0, 1 (failed), 2 (usage). */
int cmd_report(int argc, char **argv);

#endif

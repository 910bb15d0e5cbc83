/*
 * fsm/autopilot — the autopilot configuration as replicated state (Consul
 * keeps it in Raft: PUT /v1/operator/autopilot/configuration writes a log
 * command, every server applies it, snapshots carry it). Pure, no I/O.
 *
 * A configuration that was never written reads as Consul's defaults with
 * create_index = modify_index = 0; once written, create_index is the index of
 * the first write and modify_index that of the last.
 *
 * Command bytes: AUTOPILOT_CMD_TAG, version 1, a flags byte (bit 0 CAS,
 * bit 1 cleanup_dead_servers, bit 2 disable_upgrade_migration, others 0),
 * u64 LE cas index, last_contact_threshold_ns, max_trailing_logs,
 * min_quorum, server_stabilization_time_ns, then the two tags as u16 LE
 * length and bytes. Exactly that many bytes; durations are >= 0.
 */
#ifndef CC_FSM_AUTOPILOT_H
#define CC_FSM_AUTOPILOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First byte of an autopilot command in the Raft log ('A'; KV commands start
 * with their version byte 1, catalog commands with 0x43). */
#define AUTOPILOT_CMD_TAG 0x41
#define AUTOPILOT_TAG_MAX 256          /* a tag's bytes, NUL included */

struct autopilot_config {
	bool cleanup_dead_servers;              /* default true */
	int64_t last_contact_threshold_ns;      /* default 200 ms */
	uint64_t max_trailing_logs;             /* default 250 */
	uint64_t min_quorum;                    /* default 0 */
	int64_t server_stabilization_time_ns;   /* default 10 s */
	char redundancy_zone_tag[AUTOPILOT_TAG_MAX];
	bool disable_upgrade_migration;
	char upgrade_version_tag[AUTOPILOT_TAG_MAX];
	uint64_t create_index, modify_index;
};

/* Consul's defaults (agent/config/default.go), indexes 0. */
void autopilot_config_default(struct autopilot_config *c);

/* A write: the new configuration (its indexes are ignored), unconditional or
 * only if the stored modify_index equals cas_index (0 matches a
 * configuration never written, as the CLI's read-modify-write needs). */
struct autopilot_cmd {
	bool cas;
	uint64_t cas_index;
	struct autopilot_config config;
};

/* Encodes cmd; returns the length written, or the length needed when it is
 * larger than cap (buf may be NULL with cap 0). 0 when cmd is invalid (a
 * negative duration, a tag without its NUL or holding none). */
size_t autopilot_cmd_encode(const struct autopilot_cmd *cmd, uint8_t *buf, size_t cap);

/* -EINVAL for anything malformed (tag, version, unknown flag bits, wrong
 * length, negative durations, NULs in tags); out is zeroed then. */
int autopilot_cmd_decode(const uint8_t *buf, size_t len, struct autopilot_cmd *out);

/* True when buf starts like an autopilot command (its first byte). */
bool autopilot_cmd_is(const uint8_t *buf, size_t len);

/* Applies a decoded command at index: *result is false for a CAS whose index
 * did not match (nothing changes then), true otherwise. */
void autopilot_apply(struct autopilot_config *cur, uint64_t index, const struct autopilot_cmd *cmd,
                     bool *result);

/* The configuration as bytes (malloc'd; "CCAP", version 1, the command's
 * field encoding, both indexes, u32 LE CRC-32) and back: -EINVAL for bad
 * bytes (out untouched), -ENOMEM. */
int autopilot_snapshot(const struct autopilot_config *c, uint8_t **data, size_t *len);
int autopilot_restore(struct autopilot_config *out, const uint8_t *data, size_t len);

#endif

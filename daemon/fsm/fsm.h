/*
 * fsm — the replicated state machine of a server: the KV store and the
 * catalog, fed by one Raft log, saved in one snapshot. Pure, no I/O.
 *
 * Log multiplexing: a command's first byte says whose it is. Catalog
 * commands start with CATALOG_CMD_TAG (0x43), autopilot configuration writes
 * with AUTOPILOT_CMD_TAG (0x41); everything else goes to the KV store, whose
 * commands start with their version byte (1) exactly as before the catalog
 * existed, so the log of an existing cluster applies unchanged.
 *
 * Snapshots: "CCSM", version 3, then the KV snapshot, the catalog snapshot
 * and the autopilot configuration, each as u64 LE length and bytes (each
 * versioned and checksummed by its own module). Older snapshots still
 * restore: version 2 (KV and catalog) with the default autopilot
 * configuration, and version 1, a bare KV snapshot ("CCKV"), with an empty
 * catalog as well.
 */
#ifndef CC_FSM_H
#define CC_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "fsm/autopilot.h"
#include "kv/kv.h"

#define FSM_SNAP_VERSION 3

struct fsm {
	struct kv *kv;
	struct catalog *catalog;
	struct autopilot_config autopilot;   /* the defaults until written */
};

/* NULL when out of memory; free with fsm_free. */
struct fsm *fsm_new(void);
void fsm_free(struct fsm *f);

/* Applies a committed command at index. *result: the API's answer (a KV
 * or autopilot CAS's true/false; true for an applied catalog command). err
 * gets the state store's refusal of a catalog command (err[0] != 0 only then).
 * Returns what kv_apply / catalog_apply return (-EINVAL: undecodable,
 * skipped; -ERANGE; -ENOMEM: nothing changed). */
int fsm_apply(struct fsm *f, uint64_t index, const uint8_t *cmd, size_t len, bool *result,
              char *err, size_t errlen);

/* Whether cmd decodes (as a KV, catalog or autopilot command): 0 or
 * -EINVAL/-ENOMEM. */
int fsm_cmd_check(const uint8_t *cmd, size_t len);

/* The whole state as bytes (malloc'd), and back: restore replaces all of it
 * or nothing (-EINVAL for bad bytes, -ENOMEM). */
int fsm_snapshot(const struct fsm *f, uint8_t **data, size_t *len);
int fsm_restore(struct fsm *f, const uint8_t *data, size_t len);

#endif

/*
 * gossip/keyring — the gossip encryption keyring as Serf manages it: the
 * keyring file Consul keeps in data_dir (serf/local.keyring for the LAN pool,
 * serf/remote.keyring for the WAN pool: a JSON array of base64 keys, the
 * primary first), and the answers to Serf's keyring queries (_serf_list-keys,
 * _serf_install-key, _serf_use-key, _serf_remove-key), which is what
 * `consul keyring` and `serf keys` send to every member.
 *
 * Pure: no sockets, no clock. The gossip glue loads the file at start, asks
 * keyring_query for each keyring query the swim core hands it, answers with
 * the bytes it gets, and saves the file when the keyring changed.
 */
#ifndef CC_GOSSIP_KEYRING_H
#define CC_GOSSIP_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/wire.h"

/* Loads path into kr (replacing what kr held). -ENOENT when there is no such
 * file; another negative errno with err set ("...: not a JSON array of base64
 * keys") when it cannot be used. */
int keyring_load(struct gw_keyring *kr, const char *path, char *err, size_t errlen);

/* Writes kr to path (mode 0600, written to a temporary file, fsynced and
 * renamed into place). 0 or a negative errno with err set. */
int keyring_save(const struct gw_keyring *kr, const char *path, char *err, size_t errlen);

/* The keyring a pool starts with, as Consul sets it up: the file at path
 * when there is one (then *ignored_encrypt tells that encrypt was given too
 * and is not used), else encrypt (when set), written to path for the next
 * start. path NULL: encrypt alone. kr stays empty when neither gives a key.
 * 0 or a negative errno with err set. */
int keyring_init(struct gw_keyring *kr, const char *path, const char *encrypt,
                 bool *ignored_encrypt, char *err, size_t errlen);

/* The base64 form of key i. */
void keyring_key_base64(const struct gw_keyring *kr, size_t i, char out[64]);

/* Answers the keyring query called name with payload (its [7][keyRequest]
 * for the three that carry a key): writes the response payload
 * ([8][nodeKeyResponse]) to resp and returns its length; *changed says the
 * keyring was modified (save it). -ENOENT when name is not a keyring query.
 * Serf's rules and messages: nothing changes without encryption ("Keyring is
 * empty (encryption not enabled)"), use-key wants a key already installed,
 * the primary key cannot be removed. */
int keyring_query(struct gw_keyring *kr, const char *name, const uint8_t *payload, size_t len,
                  uint8_t *resp, size_t cap, bool *changed);

#endif

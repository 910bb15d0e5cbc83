// KV through the npm `consul` client: set/get/keys/del, flags, cas with the
// ModifyIndex, recurse, raw values, Consul's errors, and a blocking
// consul.watch that fires after a write (reference §5.5).
"use strict";

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const { clientFor, local, servers, uniq, sleep, eventually, rejectsWithStatus, withResponse } = require("./lib");

const consul = clientFor(local.url);
const P = `clients/${uniq}/kv`;
after(() => consul.destroy());

test("set, get, and a missing key", async () => {
  assert.equal(await consul.kv.set(`${P}/a`, "hello"), true);
  const e = await consul.kv.get(`${P}/a`);
  assert.equal(e.Key, `${P}/a`);
  assert.equal(e.Value, "hello");
  assert.equal(e.Flags, 0);
  assert.equal(e.LockIndex, 0);
  assert.ok(e.CreateIndex > 0 && e.ModifyIndex === e.CreateIndex, JSON.stringify(e));
  assert.equal(await consul.kv.get(`${P}/missing`), undefined, "a missing key reads as undefined (404)");
});

test("an update moves ModifyIndex and keeps CreateIndex; flags are stored", async () => {
  await consul.kv.set(`${P}/u`, "one");
  const first = await consul.kv.get(`${P}/u`);
  assert.equal(await consul.kv.set(`${P}/u`, "two", { flags: 42 }), true);
  const second = await consul.kv.get(`${P}/u`);
  assert.equal(second.Value, "two");
  assert.equal(second.Flags, 42);
  assert.equal(second.CreateIndex, first.CreateIndex);
  assert.ok(second.ModifyIndex > first.ModifyIndex, `${second.ModifyIndex} > ${first.ModifyIndex}`);
});

test("an empty value reads back as null; raw returns the bytes", async () => {
  await consul.kv.set(`${P}/empty`, "");
  const e = await consul.kv.get(`${P}/empty`);
  assert.equal(e.Value, null);
  const bytes = Buffer.from([0, 1, 2, 0xff, 0x80, 10]);
  await consul.kv.set(`${P}/bin`, bytes);
  const raw = await consul.kv.get({ key: `${P}/bin`, raw: true });
  assert.ok(Buffer.isBuffer(raw));
  assert.deepEqual([...raw], [...bytes]);
});

test("keys, with and without a separator", async () => {
  for (const k of ["web/foo", "web/bar", "web/sub/x", "web/sub/y"]) await consul.kv.set(`${P}/${k}`, "v");
  assert.deepEqual(await consul.kv.keys(`${P}/web/`), [
    `${P}/web/bar`, `${P}/web/foo`, `${P}/web/sub/x`, `${P}/web/sub/y`,
  ]);
  assert.deepEqual(await consul.kv.keys({ key: `${P}/web/`, separator: "/" }), [
    `${P}/web/bar`, `${P}/web/foo`, `${P}/web/sub/`,
  ]);
  await rejectsWithStatus(consul.kv.keys(`${P}/nothing-here/`), 404);
});

test("recurse get returns every entry under the prefix, in key order", async () => {
  for (const [k, v] of [["r/b", "2"], ["r/a", "1"], ["r/c/d", "3"]]) await consul.kv.set(`${P}/${k}`, v);
  const all = await consul.kv.get({ key: `${P}/r/`, recurse: true });
  assert.deepEqual(all.map((e) => [e.Key, e.Value]), [
    [`${P}/r/a`, "1"], [`${P}/r/b`, "2"], [`${P}/r/c/d`, "3"],
  ]);
  assert.equal(await consul.kv.get({ key: `${P}/none/`, recurse: true }), undefined);
});

// The body of a refused cas is JSON `false`, which the client resolves to
// undefined; the response shows what the agent said.
async function refused(promise) {
  const [res] = await promise;
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, false);
}

test("cas: 0 creates only if absent; otherwise the current ModifyIndex wins", async () => {
  const k = `${P}/cas`;
  assert.equal(await consul.kv.set(k, "v1", { cas: 0 }), true, "cas=0 on a new key");
  await refused(consul.kv.set(k, "v1b", { cas: 0, ctx: withResponse() }));
  const e = await consul.kv.get(k);
  assert.equal(e.Value, "v1");
  assert.equal(await consul.kv.set(k, "v2", { cas: e.ModifyIndex }), true, "cas with the current index");
  await refused(consul.kv.set(k, "v3", { cas: e.ModifyIndex, ctx: withResponse() }));
  const now = await consul.kv.get(k);
  assert.equal(now.Value, "v2");
  await refused(consul.kv.del({ key: k, cas: e.ModifyIndex, ctx: withResponse() }));
  assert.equal((await consul.kv.get(k)).Value, "v2");
  assert.equal(await consul.kv.del({ key: k, cas: now.ModifyIndex }), true, "delete with the current index");
  assert.equal(await consul.kv.get(k), undefined);
});

test("del, and del recurse", async () => {
  await consul.kv.set(`${P}/d/1`, "x");
  await consul.kv.set(`${P}/d/2`, "y");
  await consul.kv.set(`${P}/dd`, "z");
  assert.equal(await consul.kv.del(`${P}/d/1`), true);
  assert.equal(await consul.kv.get(`${P}/d/1`), undefined);
  assert.equal(await consul.kv.del(`${P}/d/1`), true, "deleting a missing key is not an error");
  assert.equal(await consul.kv.del({ key: `${P}/d/`, recurse: true }), true);
  assert.equal(await consul.kv.get({ key: `${P}/d/`, recurse: true }), undefined);
  assert.equal((await consul.kv.get(`${P}/dd`)).Value, "z", "a sibling outside the prefix stays");
});

test("a write through a server is read back through this agent", async () => {
  const other = clientFor(servers[servers.length - 1].url);
  try {
    assert.equal(await other.kv.set(`${P}/via-server`, "s"), true);
    assert.equal((await consul.kv.get(`${P}/via-server`)).Value, "s");
  } finally {
    other.destroy();
  }
});

test("Consul's errors reach the client with their status", async () => {
  const big = Buffer.alloc(512 * 1024 + 1, 0x61);
  const err = await rejectsWithStatus(consul.kv.set(`${P}/big`, big), 413);
  assert.match(String(err.response.body), /too large.*524288 bytes/);
  await rejectsWithStatus(consul.kv.set(`${P}/conflict`, "v", { cas: 0, acquire: "abc" }), 400);
  await rejectsWithStatus(consul.kv.get({ key: `${P}/a`, index: "nope" }), 400);
  assert.equal(await consul.kv.get(`${P}/big`), undefined, "a refused write stores nothing");
});

test("consul.watch on a key fires after a write", async () => {
  const k = `${P}/watched`;
  await consul.kv.set(k, "before");
  const watch = consul.watch({ method: consul.kv.get, options: { key: k, wait: "10s" } });
  const seen = [];
  const errors = [];
  let wrote = 0;
  let woke = 0;
  watch.on("change", (data) => {
    seen.push(data && data.Value);
    if (wrote && !woke) woke = Date.now();
  });
  watch.on("error", (err) => errors.push(err));
  try {
    await eventually(() => assert.deepEqual(seen, ["before"]), 3000);
    // the watch is now parked on X-Consul-Index; a write must wake it
    await sleep(200);
    wrote = Date.now();
    await consul.kv.set(k, "after");
    await eventually(() => assert.deepEqual(seen, ["before", "after"]), 3000);
    assert.ok(woke - wrote < 1000, `the watch woke ${woke - wrote} ms after the write`);
    await consul.kv.set(`${P}/unrelated`, "x");
    await sleep(300);
    assert.deepEqual(seen, ["before", "after"], "a write to another key does not report a change");
    await consul.kv.del(k);
    // (once the key is gone its index is the KV store's, which other writes move)
    await eventually(() => assert.deepEqual(seen.slice(0, 3), ["before", "after", undefined]), 3000);
    assert.deepEqual(errors.map(String), []);
  } finally {
    watch.end();
  }
});

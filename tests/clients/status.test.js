// status.leader and status.peers through the npm `consul` client (reference
// §5.1): every agent, servers and client agents alike, names the same leader,
// one of the two Raft peers.
"use strict";

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const { clientFor, local, servers, eventually } = require("./lib");

const consul = clientFor(local.url);
const each = servers.map((s) => ({ ...s, consul: clientFor(s.url) }));
after(() => {
  consul.destroy();
  for (const s of each) s.consul.destroy();
});

const wantPeers = servers.map((s) => `${s.ip}:8300`).sort();

test("every server reports both Raft peers", async () => {
  for (const s of each) assert.deepEqual((await s.consul.status.peers()).sort(), wantPeers, s.name);
});

test("every server names the same leader, one of the peers", async () => {
  const leaders = await eventually(async () => {
    const ls = await Promise.all(each.map((s) => s.consul.status.leader()));
    assert.ok(ls.every((l) => l === ls[0]), `leaders disagree: ${ls}`);
    return ls;
  });
  assert.ok(wantPeers.includes(leaders[0]), `${leaders[0]} is not one of ${wantPeers}`);
});

test(`the agent the application talks to (${local.node}) reports the same leader and peers`, async () => {
  const leader = await each[0].consul.status.leader();
  assert.equal(await consul.status.leader(), leader);
  assert.deepEqual((await consul.status.peers()).sort(), wantPeers);
});

// The health API through the npm `consul` client (reference §5.4): node
// checks (serfHealth), service checks, health.service with and without
// passing, health.state, and the service-discovery pattern applications use:
// a watch on health.service?passing that fires when an instance turns healthy.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { clientFor, local, servers, nodes, uniq, sleep, eventually } = require("./lib");

const consul = clientFor(local.url);
const SVC = `${uniq}-api`;
const A = `${uniq}-h1`; // passing
const B = `${uniq}-h2`; // critical, then passing

function reg(node, address, status) {
  return consul.catalog.register({
    node, address,
    service: { service: SVC, id: SVC, tags: ["http"], port: 9000 },
    check: { checkid: `${SVC}-http`, name: "api http", status, serviceid: SVC },
  });
}

before(async () => {
  await reg(A, "10.2.0.1", "passing");
  await reg(B, "10.2.0.2", "critical");
});
after(async () => {
  try {
    for (const n of [A, B]) await consul.catalog.deregister(n);
  } finally {
    consul.destroy();
  }
});

test("health.node: every agent has a passing serfHealth check", async () => {
  for (const n of nodes) {
    const checks = await eventually(async () => {
      const cs = await consul.health.node(n);
      assert.ok(cs.some((c) => c.CheckID === "serfHealth" && c.Status === "passing"), `${n}: ${JSON.stringify(cs)}`);
      return cs;
    });
    const serf = checks.find((c) => c.CheckID === "serfHealth");
    assert.equal(serf.Node, n);
    assert.equal(serf.Name, "Serf Health Status");
    assert.equal(serf.Output, "Agent alive and reachable");
    assert.equal(serf.ServiceID, "");
  }
  assert.deepEqual(await consul.health.node(`${uniq}-nope`), [], "an unknown node has no checks");
});

test("health.checks: the service's checks on every node", async () => {
  const checks = await consul.health.checks(SVC);
  assert.deepEqual(checks.map((c) => [c.Node, c.CheckID, c.Status, c.ServiceID, c.ServiceName]).sort(), [
    [A, `${SVC}-http`, "passing", SVC, SVC],
    [B, `${SVC}-http`, "critical", SVC, SVC],
  ]);
  assert.deepEqual(await consul.health.checks(`${uniq}-nothing`), []);
});

test("health.service: every instance with its node, service and checks", async () => {
  const all = await consul.health.service(SVC);
  assert.deepEqual(all.map((e) => e.Node.Node).sort(), [A, B]);
  for (const e of all) {
    assert.equal(e.Service.ID, SVC);
    assert.equal(e.Service.Service, SVC);
    assert.deepEqual(e.Service.Tags, ["http"]);
    assert.equal(e.Service.Port, 9000);
    assert.deepEqual(e.Checks.map((c) => c.CheckID), [`${SVC}-http`]);
  }
  assert.equal(all.find((e) => e.Node.Node === A).Node.Address, "10.2.0.1");
});

test("health.service with passing drops the critical instance", async () => {
  const ok = await consul.health.service({ service: SVC, passing: true });
  assert.deepEqual(ok.map((e) => e.Node.Node), [A]);
  const tagged = await consul.health.service({ service: SVC, tag: "http", passing: true });
  assert.deepEqual(tagged.map((e) => e.Node.Node), [A]);
  assert.deepEqual(await consul.health.service({ service: SVC, tag: "grpc" }), []);
});

test("health.state: passing, critical, any", async () => {
  const mine = (list) => list.filter((c) => c.ServiceName === SVC).map((c) => c.Node).sort();
  assert.deepEqual(mine(await consul.health.state("passing")), [A]);
  assert.deepEqual(mine(await consul.health.state("critical")), [B]);
  assert.deepEqual(mine(await consul.health.state("warning")), []);
  const any = await consul.health.state("any");
  assert.deepEqual(mine(any), [A, B]);
  for (const s of servers) assert.ok(any.some((c) => c.Node === s.name && c.CheckID === "serfHealth"), s.name);
});

test("a watch on health.service?passing fires when an instance turns healthy", async () => {
  const watch = consul.watch({ method: consul.health.service, options: { service: SVC, passing: true, wait: "10s" } });
  const seen = [];
  // A wake-up is not a promise of change (reference §5.0): record each distinct answer once.
  watch.on("change", (data) => {
    const v = data.map((e) => e.Node.Node).sort().join(",");
    if (seen.at(-1) !== v) seen.push(v);
  });
  watch.on("error", (err) => seen.push(`error: ${err}`));
  try {
    await eventually(() => assert.deepEqual(seen, [A]), 3000);
    await sleep(200);
    const t0 = Date.now();
    await reg(B, "10.2.0.2", "passing");
    await eventually(() => assert.deepEqual(seen, [A, [A, B].sort().join(",")]), 3000);
    assert.ok(Date.now() - t0 < 1000, `woke after ${Date.now() - t0} ms`);
  } finally {
    watch.end();
  }
});

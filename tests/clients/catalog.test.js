// The catalog through the npm `consul` client (reference §5.3): the agents'
// nodes and the servers' `consul` service, external nodes registered and
// deregistered piece by piece, tag filters, and a watch on the service list.
"use strict";

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const { clientFor, local, servers, nodes, uniq, sleep, eventually, withResponse } = require("./lib");

const consul = clientFor(local.url);
after(() => consul.destroy());

const EXT = `${uniq}-ext1`;
const SVC = `${uniq}-db`;

test("catalog.nodes lists every agent with its address", async () => {
  const list = await eventually(async () => {
    const l = await consul.catalog.nodes();
    // (the other scripts' external nodes, named t<pid>-..., may be there too)
    assert.deepEqual(l.map((n) => n.Node).filter((n) => !/^t\d+-/.test(n)).sort(), [...nodes].sort());
    return l;
  });
  for (const s of servers) {
    const n = list.find((x) => x.Node === s.name);
    assert.equal(n.Address, s.ip);
    assert.equal(n.Datacenter, "dc1");
    assert.equal(n.TaggedAddresses.lan, s.ip);
    assert.match(n.ID, /^[0-9a-f-]{36}$/);
  }
});

test("catalog.services and catalog.service.nodes: the servers' consul service", async () => {
  const svcs = await consul.catalog.services();
  assert.deepEqual(svcs.consul, []);
  const sn = await consul.catalog.service.nodes("consul");
  assert.deepEqual(sn.map((s) => s.Node).sort(), servers.map((s) => s.name).sort());
  for (const s of sn) {
    assert.equal(s.ServiceID, "consul");
    assert.equal(s.ServiceName, "consul");
    assert.equal(s.ServicePort, 8300);
    assert.equal(s.Address, servers.find((x) => x.name === s.Node).ip);
  }
  assert.deepEqual(await consul.catalog.service.nodes(`${uniq}-nothing`), [], "an unknown service has no nodes");
});

test("catalog.node.services: a server's node and services", async () => {
  const s = servers[0];
  const r = await consul.catalog.node.services(s.name);
  assert.equal(r.Node.Node, s.name);
  assert.equal(r.Node.Address, s.ip);
  assert.equal(r.Services.consul.Service, "consul");
  assert.equal(r.Services.consul.Port, 8300);
  const [res, missing] = await consul.catalog.node.services({ node: `${uniq}-nope`, ctx: withResponse() });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, null, "an unknown node is null");
  assert.equal(missing, null);
});

test("catalog.register an external node with a service and a check", async () => {
  await consul.catalog.register({
    node: EXT, address: "10.1.2.3",
    service: { service: SVC, id: `${SVC}-1`, tags: ["primary", "v2"], port: 5432, meta: { engine: "pg" } },
    check: { checkid: `${SVC}-alive`, name: "db alive", status: "passing", serviceid: `${SVC}-1` },
  });
  const n = (await consul.catalog.nodes()).find((x) => x.Node === EXT);
  assert.ok(n, `${EXT} not in catalog.nodes`);
  assert.equal(n.Address, "10.1.2.3");
  assert.deepEqual([...(await consul.catalog.services())[SVC]].sort(), ["primary", "v2"]);
  const [sn] = await consul.catalog.service.nodes(SVC);
  assert.equal(sn.Node, EXT);
  assert.equal(sn.Address, "10.1.2.3");
  assert.equal(sn.ServiceID, `${SVC}-1`);
  assert.equal(sn.ServiceName, SVC);
  assert.deepEqual(sn.ServiceTags, ["primary", "v2"]);
  assert.equal(sn.ServicePort, 5432);
  assert.deepEqual(sn.ServiceMeta, { engine: "pg" });
  const r = await consul.catalog.node.services(EXT);
  assert.deepEqual(Object.keys(r.Services), [`${SVC}-1`]);
  assert.equal(r.Services[`${SVC}-1`].Port, 5432);
});

test("catalog.service.nodes with a tag filters", async () => {
  await consul.catalog.register({
    node: `${uniq}-ext2`, address: "10.1.2.4",
    service: { service: SVC, id: `${SVC}-2`, tags: ["replica"], port: 5432 },
  });
  const byTag = async (tag) => (await consul.catalog.service.nodes({ service: SVC, tag })).map((s) => s.Node);
  assert.deepEqual(await byTag("primary"), [EXT]);
  assert.deepEqual(await byTag("replica"), [`${uniq}-ext2`]);
  assert.deepEqual(await byTag("nope"), []);
  assert.deepEqual((await consul.catalog.service.nodes(SVC)).map((s) => s.Node).sort(), [EXT, `${uniq}-ext2`]);
  assert.deepEqual((await consul.catalog.services())[SVC].sort(), ["primary", "replica", "v2"]);
});

test("catalog.deregister a service, then a whole node", async () => {
  await consul.catalog.deregister({ node: `${uniq}-ext2`, serviceid: `${SVC}-2` });
  assert.deepEqual((await consul.catalog.service.nodes(SVC)).map((s) => s.Node), [EXT]);
  assert.ok((await consul.catalog.nodes()).some((n) => n.Node === `${uniq}-ext2`), "the node stays");
  await consul.catalog.deregister(`${uniq}-ext2`);
  assert.ok(!(await consul.catalog.nodes()).some((n) => n.Node === `${uniq}-ext2`), "the node is gone");
  await consul.catalog.deregister(EXT);
  assert.deepEqual(await consul.catalog.service.nodes(SVC), []);
  assert.equal((await consul.catalog.services())[SVC], undefined);
  const health = await consul.health.node(EXT);
  assert.deepEqual(health, [], "its check went with it");
});

test("a registration Consul cannot decode is refused with 400", async () => {
  let err;
  const bad = { node: `${uniq}-bad`, address: "10.1.2.5", service: { service: "x", port: "eighty" } };
  await assert.rejects(consul.catalog.register(bad), (e) => ((err = e), true));
  assert.equal(err.statusCode, 400, err.message);
  assert.match(String(err.response.body), /decode|port/i);
  assert.ok(!(await consul.catalog.nodes()).some((n) => n.Node === `${uniq}-bad`), "nothing was registered");
});

test("consul.watch on catalog.services fires when a service appears", async () => {
  const name = `${uniq}-watched`;
  const watch = consul.watch({ method: consul.catalog.service.list, options: { wait: "10s" } });
  const seen = [];
  watch.on("change", (data) => seen.push(Object.keys(data).includes(name)));
  watch.on("error", (err) => seen.push(String(err)));
  try {
    // (the other scripts' registrations may add more `false`s)
    await eventually(() => assert.equal(seen[0], false), 3000);
    await sleep(200);
    const t0 = Date.now();
    await consul.catalog.register({ node: `${uniq}-w`, address: "10.1.2.9", service: { service: name, port: 1 } });
    await eventually(() => assert.equal(seen.at(-1), true), 3000);
    assert.ok(Date.now() - t0 < 1000, `woke after ${Date.now() - t0} ms`);
    assert.ok(seen.every((s) => typeof s === "boolean"), `errors: ${seen}`);
  } finally {
    watch.end();
    await consul.catalog.deregister(`${uniq}-w`);
  }
});

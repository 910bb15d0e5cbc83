// The agent API through the npm `consul` client (reference §5.2, §7):
// members and self; services registered on this agent, listed, synced into
// the catalog and deregistered; a TTL check moved by agent.check.pass, warn
// and fail, seen through agent.check.list and through the health API;
// standalone checks; bad registrations refused.
"use strict";

const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const { clientFor, local, servers, nodes, uniq, eventually, rejectsWithStatus } = require("./lib");

const consul = clientFor(local.url);
after(() => consul.destroy());

const localIp = new URL(local.url).hostname;
const isServer = servers.some((s) => s.name === local.node);

test("agent.members lists every agent alive, servers with role consul", async () => {
  const members = await eventually(async () => {
    const ms = await consul.agent.members();
    assert.deepEqual(ms.map((m) => m.Name).sort(), [...nodes].sort());
    assert.ok(ms.every((m) => m.Status === 1), JSON.stringify(ms.map((m) => [m.Name, m.Status])));
    return ms;
  });
  for (const m of members) {
    const server = servers.find((s) => s.name === m.Name);
    assert.equal(m.Tags.role, server ? "consul" : "node", m.Name);
    assert.equal(m.Tags.dc, "dc1");
    assert.equal(m.Port, 8301);
    if (server) {
      assert.equal(m.Addr, server.ip);
      assert.equal(m.Tags.port, "8300");
    }
  }
});

test("agent.self describes this agent", async () => {
  const self = await consul.agent.self();
  assert.equal(self.Config.NodeName, local.node);
  assert.equal(self.Config.Datacenter, "dc1");
  assert.equal(self.Config.Server, isServer);
  assert.match(self.Config.NodeID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(self.Member.Name, local.node);
  assert.equal(self.Member.Addr, localIp);
  assert.equal(self.Member.Status, 1);
  assert.equal(typeof self.Stats, "object");
});

// ---- services and TTL checks on this agent ----

const NAME = `${uniq}-web`;
const ID = `${uniq}-web1`;
const CHECK = `service:${ID}`;
// The tests below build on the registration; when it failed they fail at once
// instead of each waiting out its time limit.
let registered = false;
const needRegistered = () => assert.ok(registered, "the service registration above failed");

async function localCheck() {
  const checks = await consul.agent.check.list();
  assert.ok(checks[CHECK], `${CHECK} not in agent.check.list: ${Object.keys(checks)}`);
  return checks[CHECK];
}

// The instance as the health API shows it (all of its checks), or undefined.
async function healthEntry(opts = {}) {
  const entries = await consul.health.service({ service: NAME, ...opts });
  assert.ok(Array.isArray(entries));
  return entries.find((e) => e.Service.ID === ID);
}

test("agent.service.register, then agent.service.list shows it", async () => {
  await consul.agent.service.register({
    name: NAME, id: ID, tags: ["v1", "blue"], address: "10.0.0.5", port: 8080,
    meta: { version: "1.2" }, check: { ttl: "30s", notes: "pushed by the app" },
  });
  const svc = (await consul.agent.service.list())[ID];
  assert.ok(svc, `${ID} not in agent.service.list`);
  assert.equal(svc.ID, ID);
  assert.equal(svc.Service, NAME);
  assert.deepEqual(svc.Tags, ["v1", "blue"]);
  assert.deepEqual(svc.Meta, { version: "1.2" });
  assert.equal(svc.Address, "10.0.0.5");
  assert.equal(svc.Port, 8080);
  assert.deepEqual(svc.Weights, { Passing: 1, Warning: 1 });
  assert.equal(svc.EnableTagOverride, false);
  registered = true;
});

test("the service's TTL check starts critical, named as Consul names it", async () => {
  needRegistered();
  const c = await localCheck();
  assert.equal(c.Node, local.node);
  assert.equal(c.CheckID, CHECK);
  assert.equal(c.Name, `Service '${NAME}' check`);
  assert.equal(c.Status, "critical");
  assert.equal(c.Notes, "pushed by the app");
  assert.equal(c.ServiceID, ID);
  assert.equal(c.ServiceName, NAME);
  assert.deepEqual(c.ServiceTags, ["v1", "blue"]);
  assert.equal(c.Type, "ttl");
});

test("anti-entropy puts the service into the catalog", async () => {
  needRegistered();
  const sn = await eventually(async () => {
    const list = await consul.catalog.service.nodes(NAME);
    assert.equal(list.length, 1, JSON.stringify(list));
    return list[0];
  });
  assert.equal(sn.Node, local.node);
  assert.equal(sn.Address, localIp);
  assert.equal(sn.ServiceID, ID);
  assert.equal(sn.ServiceName, NAME);
  assert.deepEqual(sn.ServiceTags, ["v1", "blue"]);
  assert.equal(sn.ServiceAddress, "10.0.0.5");
  assert.equal(sn.ServicePort, 8080);
  assert.deepEqual(sn.ServiceMeta, { version: "1.2" });
  // (Consul gathers catalog.services' tags through a Go map: their order is unspecified)
  assert.deepEqual([...(await consul.catalog.service.list())[NAME]].sort(), ["blue", "v1"]);
  const critical = await eventually(async () => {
    const e = await healthEntry();
    assert.ok(e, "not in health.service yet");
    return e;
  });
  assert.equal(critical.Checks.find((c) => c.CheckID === CHECK).Status, "critical");
  assert.equal(await healthEntry({ passing: true }), undefined, "a critical instance is not passing");
});

test("agent.check.pass makes it passing, here and in health.service?passing", async () => {
  needRegistered();
  await consul.agent.check.pass({ id: CHECK, note: "all good" });
  const c = await localCheck();
  assert.equal(c.Status, "passing");
  assert.equal(c.Output, "all good");
  const e = await eventually(async () => {
    const e = await healthEntry({ passing: true });
    assert.ok(e, "not in health.service?passing");
    return e;
  });
  assert.equal(e.Node.Node, local.node);
  assert.equal(e.Service.Port, 8080);
  const check = e.Checks.find((k) => k.CheckID === CHECK);
  assert.equal(check.Status, "passing");
  assert.equal(check.Output, "all good");
  assert.ok(e.Checks.some((k) => k.CheckID === "serfHealth"), "the node's serfHealth is in Checks");
});

test("agent.check.warn: warning, and no longer in ?passing", async () => {
  needRegistered();
  await consul.agent.check.warn({ id: CHECK, note: "slow" });
  assert.equal((await localCheck()).Status, "warning");
  await eventually(async () => {
    assert.equal(await healthEntry({ passing: true }), undefined);
    const checks = await consul.health.checks(NAME);
    assert.deepEqual(checks.map((k) => [k.CheckID, k.Status, k.Output]), [[CHECK, "warning", "slow"]]);
  });
  const warning = await consul.health.state("warning");
  assert.ok(warning.some((k) => k.CheckID === CHECK && k.Node === local.node), "in health.state('warning')");
});

test("agent.check.fail: critical, in health.state('critical')", async () => {
  needRegistered();
  await consul.agent.check.fail({ id: CHECK, note: "down" });
  assert.equal((await localCheck()).Status, "critical");
  await eventually(async () => {
    const critical = await consul.health.state("critical");
    assert.ok(critical.some((k) => k.CheckID === CHECK && k.Output === "down"), "in health.state('critical')");
  });
  assert.equal(await healthEntry({ passing: true }), undefined);
});

test("a standalone TTL check: register, pass, deregister", async () => {
  const id = `${uniq}-disk`;
  await consul.agent.check.register({ name: "disk space", id, ttl: "30s" });
  let c = (await consul.agent.check.list())[id];
  assert.ok(c, `${id} not in agent.check.list`);
  assert.equal(c.Name, "disk space");
  assert.equal(c.Status, "critical");
  assert.equal(c.ServiceID, "");
  await consul.agent.check.pass(id);
  c = (await consul.agent.check.list())[id];
  assert.equal(c.Status, "passing");
  await eventually(async () => {
    const onNode = await consul.health.node(local.node);
    assert.ok(onNode.some((k) => k.CheckID === id && k.Status === "passing"), "in health.node as passing");
  });
  await consul.agent.check.deregister(id);
  assert.equal((await consul.agent.check.list())[id], undefined);
  await eventually(async () => {
    const onNode = await consul.health.node(local.node);
    assert.ok(!onNode.some((k) => k.CheckID === id), "still in health.node");
  });
});

test("bad registrations and unknown checks are refused", async () => {
  const err = await rejectsWithStatus(consul.agent.service.register({ name: `${uniq}-bad`, port: "eighty" }), 400);
  assert.match(String(err.response.body), /decode|Port|port/);
  assert.equal((await consul.agent.service.list())[`${uniq}-bad`], undefined);
  await assert.rejects(consul.agent.check.pass(`${uniq}-no-such-check`), (e) => e.statusCode >= 400 && e.statusCode < 600);
});

test("agent.service.deregister removes it here, its check, and from the catalog", async () => {
  needRegistered();
  await consul.agent.service.deregister(ID);
  assert.equal((await consul.agent.service.list())[ID], undefined);
  assert.equal((await consul.agent.check.list())[CHECK], undefined);
  await eventually(async () => {
    assert.deepEqual(await consul.catalog.service.nodes(NAME), []);
    assert.equal((await consul.catalog.service.list())[NAME], undefined);
  });
});

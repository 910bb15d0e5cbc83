// What every conformance script shares: a `consul` client (the npm package,
// v2) pointed at one agent of the cluster that tests/integration/test_clients.sh
// brought up, the cluster's layout, and bounded polling.
//
// Environment (set by the runner; the scripts run inside a node's namespace):
//   CONCLAVE_HTTP_ADDR  http://IP:PORT of the agent the client talks to (harness exec sets it)
//   CL_NODE             that agent's node name
//   CL_SERVERS          the servers, "name=http://IP:PORT,name=http://IP:PORT"
//   CL_NODES            every agent's node name, comma-separated
"use strict";

const assert = require("node:assert/strict");
const { EventEmitter } = require("node:events");
const Consul = require("consul");

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these scripts through tests/integration/test_clients.sh`);
  return v;
}

function parseUrl(u) {
  const url = new URL(u);
  return { host: url.hostname, port: Number(url.port || 80) };
}

// A client for the agent at an http://IP:PORT URL, as an application makes one.
function clientFor(url) {
  return new Consul(parseUrl(url));
}

const local = {
  url: need("CONCLAVE_HTTP_ADDR"),
  node: need("CL_NODE"),
};
const servers = need("CL_SERVERS").split(",").map((s) => {
  const [name, url] = s.split("=");
  return { name, url, ip: parseUrl(url).host };
});
const nodes = need("CL_NODES").split(",");

// A prefix unique to this process, so scripts and reruns never see each
// other's keys, services or nodes.
const uniq = `t${process.pid}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn() every 50 ms until it resolves without throwing (an assertion
// inside it failing counts as "not yet"), for at most ms; then rethrows the
// last failure, so the test reports what it last saw.
async function eventually(fn, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await sleep(50);
  }
}

// Asserts that a promise rejects with an HTTP error of the given status and
// returns the error (for checks on its text).
async function rejectsWithStatus(promise, status) {
  let err;
  await assert.rejects(promise, (e) => {
    err = e;
    return true;
  });
  assert.equal(err.statusCode, status, `expected HTTP ${status}, got ${err.statusCode}: ${err.message}`);
  return err;
}

// Passed as a call's `ctx`, makes the client resolve to [response, result]
// instead of the result alone. Needed to see a `false` answer: the client
// resolves a JSON `false` body (a failed cas) to undefined.
function withResponse() {
  return Object.assign(new EventEmitter(), { includeResponse: true });
}

module.exports = { clientFor, local, servers, nodes, uniq, sleep, eventually, rejectsWithStatus, withResponse };

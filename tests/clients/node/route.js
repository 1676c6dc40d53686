#!/usr/bin/env node
// Asks a NameServer for a topic's route with ali-ons' own client code and prints the
// TopicRouteData exactly as ali-ons parsed it (JSON2, then sorted) as one JSON line.
//
// usage: node route.js <host:port> <topic> [timeoutMillis]
//
// Uses ali-ons' internal MQClientAPI#getTopicRouteInfoFromNameServer (lib/mq_client_api.js),
// the call its MQClient makes every 30 s to refresh routes: a GET_ROUTEINTO_BY_TOPIC (105)
// request with a JSON header (language JAVA, version 121), parsed with the JSON2 package.
//
// stdout: one line, the route, e.g. {"queueDatas":[...],"brokerDatas":[...],...}
// exit 0 on success;
// exit 1 when the server answered with an error code: stderr gets one JSON line
//   {"error":"MQClientException","code":17,"message":"No topic route info in name server ..."}
//   (17 = TOPIC_NOT_EXIST);
// exit 2 on any other failure (connection refused, timeout, malformed answer, bad usage),
//   with {"error":..., "message":...} on stderr.
'use strict';

const path = require('path');

function fail(exitCode, err) {
  const out = {
    error: (err && err.name) || 'Error',
    code: err && typeof err.code === 'number' ? err.code : (err && err.code) || null,
    message: (err && err.message) || String(err),
  };
  process.stderr.write(JSON.stringify(out) + '\n');
  process.exit(exitCode);
}

function loadMQClientAPI() {
  try {
    return require(path.join('ali-ons', 'lib', 'mq_client_api'));
  } catch (e) {
    fail(2, new Error(`cannot load ali-ons (run scripts/setup-test-deps.sh): ${e.message}`));
  }
  return null;
}

async function main() {
  const [addr, topic, timeoutArg] = process.argv.slice(2);
  if (!addr || !topic || !/^[^:]+:\d+$/.test(addr)) {
    fail(2, new Error('usage: node route.js <host:port> <topic> [timeoutMillis]'));
  }
  const timeout = parseInt(timeoutArg || '5000', 10);
  const MQClientAPI = loadMQClientAPI();

  const warnings = [];
  const logger = {
    info() {},
    debug() {},
    warn(...args) { warnings.push(args.map(String).join(' ')); },
    error(...args) { warnings.push(args.map(String).join(' ')); },
  };
  // ali-ons asserts an httpclient even in plain nameSrv mode; it is never called then.
  const httpclient = { async request() { throw new Error('no http (plain nameSrv mode)'); } };

  const api = new MQClientAPI({ nameSrv: addr, httpclient, logger, responseTimeout: timeout });
  // Socket-level errors are emitted as events; the pending invoke rejects as well.
  api.on('error', err => warnings.push(`channel error: ${err && err.message}`));
  await api.ready();

  let route;
  try {
    route = await api.getTopicRouteInfoFromNameServer(topic, timeout);
  } catch (err) {
    if (err && err.name === 'MQClientException') {
      fail(1, err);
    }
    fail(2, err);
  }
  if (route === undefined || route === null) {
    // SUCCESS without a body: ali-ons returns undefined.
    fail(2, new Error('SUCCESS response without a route body'));
  }
  process.stdout.write(JSON.stringify(route) + '\n');
  // Close the socket; do not wait forever on a server that keeps it open.
  await Promise.race([api.close(), new Promise(resolve => setTimeout(resolve, 1000))]);
  process.exit(0);
}

main().catch(err => fail(2, err));

#!/usr/bin/env node
// Drives ali-ons 3.12.0 (the pure-JavaScript RocketMQ client, npm) from the command line, for
// ferromq's end-to-end tests. Same CLI and JSON-lines output as tests/clients/rust (rmq-driver)
// and tests/clients/python/cpp_driver.py.
//
//   node tests/clients/node/driver.js produce --namesrv H:P --topic T --count N
//        [--mode sync|async|orderly] [--tag TagA[,TagB...]] [--keys-prefix k] [--prop name=value]...
//        [--body-size 500] [--group G] [--inflight K] [--order-keys M] [--delay-level L]
//        [--send-timeout-ms 3000] [--timeout-secs 60]
//   node tests/clients/node/driver.js consume --namesrv H:P --topic T --group G
//        [--expression 'TagA || TagB'|'*'] [--model clustering|broadcasting] [--from first|last|timestamp:yyyyMMddHHmmss]
//        [--expect N] [--idle-exit-secs S] [--linger-secs S] [--reconsume-later K] [--parallel N]
//        [--timeout-secs 60]
//
// stdout: one JSON object per line, each with an "event" field, the last one the single
// {"event":"summary",...,"ok":true|false}; ali-ons' logs go to stderr (warn/error only;
// DEBUG_ALI_ONS=1 for all); its asynchronous errors are {"event":"client_error"} lines (not fatal).
// Exit status: 0 ok, 1 failure or timeout, 2 bad usage. SIGTERM/SIGINT end a consume run with
// reason "signal" after consumer.close() (offsets persisted, client unregistered).
//
// What ali-ons has (and this driver exposes): only a request/response send (`producer.send`,
// a Promise): --mode sync awaits each send, --mode async keeps --inflight sends (default all)
// in flight, --mode orderly sets Message#shardingKey = "k<i % order-keys>" (ali-ons picks the
// queue by md5 of the key). No oneway and no batch send: those modes are refused. The push
// consumer is concurrent only (no orderly listener), clustering or broadcasting, tag or SQL92
// subscriptions ("--expression sql:a > 1"). ali-ons does not auto-create topics (it asks the
// NameServer for the topic's own route; create the topic on the broker first) and does not set
// the UNIQ_KEY property: its msgId is the broker's offset message id, on both sides.
'use strict';

const util = require('util');
const zlib = require('zlib');

let summaryEmitted = false;
function emit(obj) {
  if (obj.event === 'summary') {
    if (summaryEmitted) return; // exactly one summary line
    summaryEmitted = true;
  }
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Write everything, then exit (process.stdout to a pipe is asynchronous in Node). A run
// without a summary line yet prints one (ok = code 0).
function finish(code, reason = 'error') {
  if (!summaryEmitted) emit(code === 0 ? { event: 'summary', ok: true } : { event: 'summary', ok: false, reason });
  process.stdout.write('', () => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
}

const USAGE = 'usage: driver.js <produce|consume> --namesrv H:P --topic T [options] (see the header of driver.js)';

function usageError(msg) {
  emit({ event: 'error', stage: 'usage', error: msg });
  finish(2, 'usage');
  throw new UsageExit();
}
class UsageExit extends Error {}

function parseArgs(argv) {
  if (!argv.length || [ '-h', '--help', 'help' ].includes(argv[0])) usageError(USAGE);
  const cmd = argv[0];
  const opts = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) usageError(`unexpected argument ${JSON.stringify(a)}; ${USAGE}`);
    const name = a.slice(2);
    const eq = name.indexOf('=');
    if (eq >= 0) {
      opts.push([ name.slice(0, eq), name.slice(eq + 1) ]);
    } else {
      if (i + 1 >= argv.length) usageError(`--${name} needs a value`);
      opts.push([ name, argv[++i] ]);
    }
  }
  const get = (k, d) => {
    for (let i = opts.length - 1; i >= 0; i--) if (opts[i][0] === k) return opts[i][1];
    return d;
  };
  return {
    cmd,
    get,
    all: k => opts.filter(o => o[0] === k).map(o => o[1]),
    req(k) {
      const v = get(k);
      if (v === undefined) usageError(`missing --${k}; ${USAGE}`);
      return v;
    },
    num(k, d) {
      const v = get(k);
      if (v === undefined) return d;
      const n = Number(v);
      if (!Number.isFinite(n)) usageError(`--${k}: bad number ${JSON.stringify(v)}`);
      return n;
    },
  };
}

// The same deterministic body as the other drivers: "msg-<i>-" then a letter chosen by i.
function makeBody(i, size) {
  const prefix = Buffer.from(`msg-${i}-`);
  const b = Buffer.alloc(Math.max(size, prefix.length), 97 + (i % 26));
  prefix.copy(b);
  return b.subarray(0, size);
}

function crc32(buf) {
  if (zlib.crc32) return zlib.crc32(buf) >>> 0;
  let c = 0xffffffff;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function loadOns() {
  try {
    return require('ali-ons');
  } catch (e) {
    emit({ event: 'error', stage: 'load', error: `cannot load ali-ons (run scripts/setup-test-deps.sh): ${e.message}` });
    finish(1);
    throw new UsageExit();
  }
}

// ali-ons asserts an httpclient even when nameSrv is given; it is never called then.
const httpclient = { async request() { throw new Error('no http (plain nameSrv mode)'); } };
const verbose = !!process.env.DEBUG_ALI_ONS;
const fmt = args => util.format(...args);
const logger = {
  debug(...a) { if (verbose) process.stderr.write(`[ali-ons debug] ${fmt(a)}\n`); },
  info(...a) { if (verbose) process.stderr.write(`[ali-ons info] ${fmt(a)}\n`); },
  warn(...a) { process.stderr.write(`[ali-ons warn] ${fmt(a)}\n`); },
  error(...a) { process.stderr.write(`[ali-ons error] ${fmt(a)}\n`); },
};

function errText(e) {
  if (!e) return String(e);
  const code = typeof e.code === 'number' || typeof e.code === 'string' ? ` (code ${e.code})` : '';
  return `${e.name || 'Error'}: ${e.message}${code}`;
}

// ----------------------------------------------------------------------------------- produce

async function produce(args, timeoutMs) {
  const { Producer, Message } = loadOns();
  const namesrv = args.req('namesrv');
  const topic = args.req('topic');
  const count = args.num('count', 1);
  const mode = args.get('mode', 'sync');
  if (mode === 'oneway' || mode === 'batch') {
    usageError(`--mode ${mode}: ali-ons 3.12.0 has no ${mode} send (only producer.send, request/response); use sync, async or orderly`);
  }
  if (![ 'sync', 'async', 'orderly' ].includes(mode)) usageError(`--mode: expected sync|async|orderly, got ${JSON.stringify(mode)}`);
  const tags = (args.get('tag', '') || '').split(',').filter(Boolean);
  const keysPrefix = args.get('keys-prefix');
  const props = args.all('prop').map(p => {
    const eq = p.indexOf('=');
    if (eq < 0) usageError(`--prop expects name=value, got ${JSON.stringify(p)}`);
    return [ p.slice(0, eq), p.slice(eq + 1) ];
  });
  const bodySize = args.num('body-size', 500);
  const inflight = Math.max(1, args.num('inflight', mode === 'async' ? Math.max(1, count) : 1));
  const orderKeys = Math.max(1, args.num('order-keys', 1));
  const delayLevel = args.get('delay-level');
  const sendTimeout = args.num('send-timeout-ms', 3000);
  const group = args.get('group') || `node_driver_pg_${process.pid}`;

  let ok = 0;
  let failed = 0;
  const t0 = Date.now();
  const summary = timedOut => emit({
    event: 'summary', mode, count, succeeded: ok, failed, timed_out: timedOut,
    ok: ok === count && !timedOut, elapsed_ms: Date.now() - t0,
  });
  const timer = setTimeout(() => {
    emit({ event: 'error', stage: 'send', error: 'timed out (--timeout-secs)' });
    summary(true);
    finish(1);
  }, timeoutMs);

  const producer = new Producer({ producerGroup: group, nameSrv: namesrv, httpclient, logger, sendMsgTimeout: sendTimeout });
  producer.on('error', e => emit({ event: 'client_error', error: errText(e) }));
  try {
    await producer.ready();
  } catch (e) {
    emit({ event: 'error', stage: 'start', error: errText(e) });
    return finish(1);
  }

  const build = i => {
    const body = makeBody(i, bodySize);
    const tag = tags.length ? tags[i % tags.length] : null;
    const msg = new Message(topic, tag, body);
    // Without a tag ali-ons would send the property TAGS="null".
    if (!tag) delete msg.properties.TAGS;
    const key = keysPrefix !== undefined ? `${keysPrefix}${i}` : null;
    if (key !== null) msg.keys = [ key ];
    for (const [ k, v ] of props) msg.properties[k] = v;
    if (delayLevel !== undefined) msg.delayTimeLevel = Number(delayLevel);
    if (mode === 'orderly') msg.shardingKey = `k${i % orderKeys}`;
    // ali-ons compresses bodies over 4 KiB in place: record the original first.
    return { msg, info: { i, tags: tag, keys: key, body_len: body.length, body_crc32: crc32(body) } };
  };

  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const { msg, info } = build(i);
      try {
        const r = await producer.send(msg);
        ok++;
        emit(Object.assign({ event: 'sent' }, info, {
          msgId: r.msgId, offsetMsgId: r.msgId,
          queueId: r.messageQueue ? Number(r.messageQueue.queueId) : null,
          brokerName: r.messageQueue ? r.messageQueue.brokerName : null,
          queueOffset: r.queueOffset, status: r.sendStatus,
        }));
      } catch (e) {
        failed++;
        emit({ event: 'send_error', i, error: errText(e) });
      }
    }
  }
  await Promise.all(Array.from({ length: inflight }, worker));
  clearTimeout(timer);
  summary(false);
  await Promise.race([ producer.close().catch(() => {}), new Promise(r => setTimeout(r, 2000)) ]);
  finish(ok === count ? 0 : 1);
}

// ----------------------------------------------------------------------------------- consume

async function consume(args, timeoutMs) {
  const { Consumer } = loadOns();
  const namesrv = args.req('namesrv');
  const topic = args.req('topic');
  const group = args.req('group');
  let expression = args.get('expression', '*');
  if (expression.startsWith('sql:')) expression = { expressionType: 'SQL92', subString: expression.slice(4) };
  const model = args.get('model', 'clustering');
  if (![ 'clustering', 'broadcasting' ].includes(model)) usageError(`--model: expected clustering|broadcasting, got ${JSON.stringify(model)}`);
  const from = args.get('from', 'last');
  let consumeFromWhere;
  let consumeTimestamp;
  if (from === 'first') consumeFromWhere = 'CONSUME_FROM_FIRST_OFFSET';
  else if (from === 'last') consumeFromWhere = 'CONSUME_FROM_LAST_OFFSET';
  else if (from.startsWith('timestamp:')) {
    consumeFromWhere = 'CONSUME_FROM_TIMESTAMP';
    consumeTimestamp = from.slice('timestamp:'.length);
  } else usageError(`--from: expected first|last|timestamp:yyyyMMddHHmmss, got ${JSON.stringify(from)}`);
  const expect = args.get('expect') === undefined ? null : args.num('expect');
  const idleMs = args.get('idle-exit-secs') === undefined ? null : args.num('idle-exit-secs') * 1000;
  const lingerMs = args.num('linger-secs', 0) * 1000;
  const reconsumeLater = args.num('reconsume-later', 0);
  const parallel = args.num('parallel', 1);

  let received = 0;
  const unique = new Set();
  const t0 = Date.now();
  let last = Date.now();
  let lingerTimer = null;
  let ending = false;
  let consumer = null;

  const end = async reason => {
    if (ending) return;
    ending = true;
    let clean = false;
    if (consumer) {
      // close() persists the offsets and unregisters the client.
      clean = await Promise.race([ consumer.close().then(() => true, () => false), new Promise(r => setTimeout(() => r(false), 5000)) ]);
    }
    const n = unique.size;
    let ok;
    if (reason === 'expected' || reason === 'signal') ok = true;
    else if (reason === 'idle') ok = expect === null || n >= expect;
    else ok = expect !== null && n >= expect;
    emit({ event: 'summary', received, unique: n, expected: expect, reason, ok, elapsed_ms: Date.now() - t0, shutdown_clean: clean });
    finish(ok ? 0 : 1);
  };

  setTimeout(() => end('timeout'), timeoutMs);
  if (idleMs !== null) {
    const tick = () => {
      if (ending) return;
      const due = last + idleMs;
      if (Date.now() >= due) return end('idle');
      setTimeout(tick, Math.min(200, due - Date.now()));
    };
    setTimeout(tick, idleMs);
  }
  process.on('SIGTERM', () => end('signal'));
  process.on('SIGINT', () => end('signal'));

  const options = {
    consumerGroup: group, nameSrv: namesrv, httpclient, logger,
    isBroadcast: model === 'broadcasting', consumeFromWhere,
    parallelConsumeLimit: parallel,
  };
  if (consumeTimestamp) options.consumeTimestamp = consumeTimestamp;
  consumer = new Consumer(options);
  consumer.on('error', e => { if (!ending) emit({ event: 'client_error', error: errText(e) }); });
  consumer.subscribe(topic, expression, async msg => {
    if (ending) return Consumer.ACTION_RETRY;
    const body = msg.body || Buffer.alloc(0);
    const retry = msg.reconsumeTimes < reconsumeLater;
    // ali-ons' property parser leaves an empty key for the trailing separator.
    const props = {};
    for (const [ k, v ] of Object.entries(msg.properties || {})) if (k !== '' && v !== null && v !== undefined) props[k] = v;
    const line = {
      // ali-ons sets no UNIQ_KEY: its ids are offset ids, and a redelivered retry has a new one;
      // its ORIGIN_MESSAGE_ID names the first.
      event: 'msg', msgId: props.UNIQ_KEY || props.ORIGIN_MESSAGE_ID || msg.msgId, uniqKey: props.UNIQ_KEY || null, offsetMsgId: msg.msgId,
      topic: msg.topic, tags: msg.tags || null, keys: props.KEYS || null, props,
      body_len: body.length, body_crc32: crc32(body), body_head: body.subarray(0, 32).toString('utf8'),
      queueId: msg.queueId, queueOffset: Number(msg.queueOffset), brokerName: null,
      reconsumeTimes: msg.reconsumeTimes, bornTimestamp: Number(msg.bornTimestamp), storeTimestamp: Number(msg.storeTimestamp),
      status: retry ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS',
    };
    received++;
    last = Date.now();
    if (!retry) unique.add(line.msgId);
    emit(line);
    if (retry) return Consumer.ACTION_RETRY;
    if (expect !== null && unique.size >= expect && !lingerTimer) {
      if (lingerMs <= 0) setImmediate(() => end('expected'));
      else lingerTimer = setTimeout(() => end('expected'), lingerMs);
    }
    return undefined;
  });
  try {
    await consumer.ready();
  } catch (e) {
    emit({ event: 'error', stage: 'start', error: errText(e) });
    ending = true;
    return finish(1);
  }
  emit({ event: 'started', group, topic, pid: process.pid });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const timeoutSecs = args.num('timeout-secs', 60);
  if (!(timeoutSecs > 0)) usageError('--timeout-secs must be positive');
  // A hard backstop, whatever the client is doing.
  setTimeout(() => {
    emit({ event: 'error', stage: 'watchdog', error: 'still running 15 s after --timeout-secs; exiting' });
    finish(1, 'watchdog');
  }, timeoutSecs * 1000 + 15000).unref();
  if (args.cmd === 'produce') return produce(args, timeoutSecs * 1000);
  if (args.cmd === 'consume') return consume(args, timeoutSecs * 1000);
  return usageError(`unknown subcommand ${JSON.stringify(args.cmd)}; ${USAGE}`);
}

main().catch(e => {
  if (e instanceof UsageExit) return;
  emit({ event: 'error', stage: 'internal', error: errText(e) });
  finish(1);
});

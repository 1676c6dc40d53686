"""Drives Apache rocketmq-client-cpp 2.1.0 (the librocketmq.so bundled by the PyPI package
`rocketmq-python-cvs`) from the command line, for ferromq's end-to-end tests. Same CLI and
JSON-lines output as tests/clients/rust (rmq-driver) and tests/clients/node/driver.js.
Run it with the project venv: .venv/bin/python tests/clients/python/cpp_driver.py ...

  produce --namesrv H:P --topic T --count N [--mode sync|async|oneway|batch|orderly]
          [--tag TagA[,TagB...]] [--keys-prefix k] [--prop name=value]... [--body-size 500]
          [--group G] [--batch-size B] [--order-keys M] [--queue-id Q] [--delay-level L]
          [--send-timeout-ms 3000] [--timeout-secs 60] [--log-dir DIR]
  consume --namesrv H:P --topic T --group G [--expression 'TagA || TagB'|'*']
          [--model clustering|broadcasting] [--from last] [--expect N] [--idle-exit-secs S]
          [--linger-secs S] [--orderly] [--reconsume-later K] [--batch-max 1]
          [--props name1,name2] [--threads N] [--timeout-secs 60] [--log-dir DIR]

stdout carries only JSON lines (each with an "event" field; the last one is the single
{"event":"summary",...,"ok":true|false}); whatever the native library prints goes to stderr
(fd 1 is redirected at start); the library's own log goes to --log-dir (default
$TMPDIR/ferromq-cpp-client-logs). Exit status: 0 ok, 1 failure or timeout, 2 bad usage. The
process always ends with os._exit: PushConsumer.shutdown() segfaults in this library, and a
blocked native call cannot be interrupted (a watchdog ends a produce run at --timeout-secs).
SIGTERM/SIGINT end a consume run with reason "signal" (no client shutdown, so no unregister:
the broker sees the connection close).

Client limits (rocketmq-client-cpp 2.1.0 C API): a send result has status, msgId and queue
offset but no queue id (for --mode orderly/--queue-id the driver reports the queue index its
selector chose); the C API cannot set consumeFromWhere (always CONSUME_FROM_LAST_OFFSET, so
`--from first` is refused; a broadcasting consumer therefore only gets messages sent after it
started); a received message exposes properties by name only (the driver reports the system
ones plus those named by --props) and its body through a C string (cut at the first NUL byte:
the drivers' bodies have none); consumer offsets are committed every 5 s (UPDATE_CONSUMER_OFFSET)
and never at exit, so linger or idle a few seconds after the last message when the offsets
matter; --mode batch sends SEND_MESSAGE_V2 with the batch field m="1" (Apache's broker reads it
with Boolean.parseBoolean, i.e. false).
"""
import ctypes
import json
import os
import queue
import sys
import tempfile
import threading
import time
import zlib

# Keep the real stdout for JSON; send everything else written to fd 1 (the native library's
# banners and logs, Python prints) to stderr.
_JSON_OUT = os.fdopen(os.dup(1), 'w', buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

_LOCK = threading.Lock()
_SUMMARY = [False]


def emit(obj):
    line = json.dumps(obj, separators=(',', ':'), ensure_ascii=False)
    with _LOCK:
        if obj.get('event') == 'summary':
            if _SUMMARY[0]:
                return  # exactly one summary (the watchdog and the main flow may race)
            _SUMMARY[0] = True
        _JSON_OUT.write(line + '\n')
        _JSON_OUT.flush()


def finish(code, reason='error'):
    """Ends the process; a run without a summary line yet prints one (ok = code 0)."""
    try:
        if not _SUMMARY[0]:
            emit({'event': 'summary', 'ok': True} if code == 0 else {'event': 'summary', 'ok': False, 'reason': reason})
        _JSON_OUT.flush()
    finally:
        os._exit(code)


def usage_error(msg):
    emit({'event': 'error', 'stage': 'usage', 'error': msg})
    finish(2, 'usage')


USAGE = 'usage: cpp_driver.py <produce|consume> --namesrv H:P --topic T [options] (see the module docstring)'
BOOL_FLAGS = {'orderly'}


class Args(object):
    def __init__(self, argv):
        if not argv or argv[0] in ('-h', '--help', 'help'):
            usage_error(USAGE)
        self.cmd = argv[0]
        self.opts = []
        self.flags = set()
        it = iter(argv[1:])
        for a in it:
            if not a.startswith('--'):
                usage_error('unexpected argument %r; %s' % (a, USAGE))
            name = a[2:]
            if '=' in name:
                k, v = name.split('=', 1)
                self.opts.append((k, v))
            elif name in BOOL_FLAGS:
                self.flags.add(name)
            else:
                try:
                    self.opts.append((name, next(it)))
                except StopIteration:
                    usage_error('--%s needs a value' % name)

    def get(self, k, default=None):
        for n, v in reversed(self.opts):
            if n == k:
                return v
        return default

    def all(self, k):
        return [v for n, v in self.opts if n == k]

    def req(self, k):
        v = self.get(k)
        if v is None:
            usage_error('missing --%s; %s' % (k, USAGE))
        return v

    def num(self, k, default, typ=int):
        v = self.get(k)
        if v is None:
            return default
        try:
            return typ(v)
        except ValueError:
            usage_error('--%s: bad number %r' % (k, v))

    def flag(self, k):
        return k in self.flags


def make_body(i, size):
    """The same deterministic body as the other drivers: b"msg-<i>-" then a letter chosen by i."""
    b = ('msg-%d-' % i).encode()
    b = b + bytes([ord('a') + i % 26]) * max(0, size - len(b))
    return b[:size]


def crc32(b):
    return zlib.crc32(b) & 0xffffffff


# Deferred: importing rocketmq loads the native library.
def load_client():
    try:
        from rocketmq import client, ffi
        return client, ffi
    except Exception as e:  # noqa: BLE001
        emit({'event': 'error', 'stage': 'load',
              'error': 'cannot load rocketmq (run scripts/setup-test-deps.sh): %s' % e})
        finish(1)


def log_dir(args):
    d = args.get('log-dir') or os.path.join(tempfile.gettempdir(), 'ferromq-cpp-client-logs')
    os.makedirs(d, exist_ok=True)
    return d


def start_watchdog(timeout, on_timeout):
    def fire():
        on_timeout()
        finish(1, 'timeout')
    t = threading.Timer(timeout, fire)
    t.daemon = True
    t.start()
    return t


# ----------------------------------------------------------------------------------- produce

def produce(args, timeout):
    client, ffi = load_client()
    dll = ffi.dll
    ffi_check = sys.modules['rocketmq.exceptions'].ffi_check
    namesrv = args.req('namesrv')
    topic = args.req('topic')
    count = args.num('count', 1)
    mode = args.get('mode', 'sync')
    if mode not in ('sync', 'async', 'oneway', 'batch', 'orderly'):
        usage_error('--mode: expected sync|async|oneway|batch|orderly, got %r' % mode)
    tags = [t for t in args.get('tag', '').split(',') if t]
    keys_prefix = args.get('keys-prefix')
    props = []
    for p in args.all('prop'):
        if '=' not in p:
            usage_error('--prop expects name=value, got %r' % p)
        props.append(tuple(p.split('=', 1)))
    body_size = args.num('body-size', 500)
    batch_size = max(1, args.num('batch-size', max(1, count)))
    order_keys = max(1, args.num('order-keys', 1))
    queue_id = args.num('queue-id', None)
    delay_level = args.num('delay-level', None)
    send_timeout = args.num('send-timeout-ms', 3000)
    group = args.get('group') or 'cpp_driver_pg_%d' % os.getpid()

    state = {'ok': 0, 'failed': 0}
    t0 = time.time()

    def summary(timed_out):
        emit({'event': 'summary', 'mode': mode, 'count': count, 'succeeded': state['ok'],
              'failed': state['failed'], 'timed_out': timed_out,
              'ok': state['ok'] == count and not timed_out,
              'elapsed_ms': int((time.time() - t0) * 1000)})

    def on_timeout():
        emit({'event': 'error', 'stage': 'send', 'error': 'timed out (--timeout-secs)'})
        summary(True)
    start_watchdog(timeout, on_timeout)

    p = client.Producer(group)
    p.set_namesrv_addr(namesrv)
    p.set_timeout(send_timeout)
    p.set_log_root_path(log_dir(args))
    dll.SetProducerLogLevel.argtypes = [ctypes.c_void_p, ctypes.c_int]
    dll.SetProducerLogLevel(p._handle, 3)  # WARN
    try:
        p.start()
    except Exception as e:  # noqa: BLE001
        emit({'event': 'error', 'stage': 'start', 'error': '%s: %s' % (type(e).__name__, e)})
        finish(1)

    def build(i):
        body = make_body(i, body_size)
        m = client.Message(topic)
        tag = tags[i % len(tags)] if tags else None
        key = '%s%d' % (keys_prefix, i) if keys_prefix is not None else None
        if tag is not None:
            m.set_tags(tag)
        if key is not None:
            m.set_keys(key)
        for k, v in props:
            m.set_property(k, v)
        if delay_level is not None:
            m.set_delay_time_level(delay_level)
        # Message.set_body passes a C string (it would stop at a NUL byte): set the bytes.
        ffi_check(dll.SetByteMessageBody(m._handle, body, len(body)))
        info = {'i': i, 'tags': tag, 'keys': key, 'body_len': len(body), 'body_crc32': crc32(body)}
        return m, info

    def sent(info, res, queue_idx=None, status=None):
        line = {'event': 'sent'}
        line.update(info)
        if res is not None:
            line.update({'msgId': res.msg_id, 'queueId': queue_idx, 'queueOffset': res.offset,
                         'status': 'SEND_OK' if int(res.status) == 0 else res.status.name})
        else:
            line.update({'msgId': None, 'queueId': queue_idx, 'queueOffset': None, 'status': status})
        emit(line)

    def failed(i, e, n=1):
        state['failed'] += n
        line = {'event': 'send_error', 'i': i, 'error': '%s: %s' % (type(e).__name__, e)}
        if n != 1:
            line['count'] = n
        emit(line)

    if mode in ('sync', 'orderly') or (mode == 'oneway' and queue_id is not None):
        for i in range(count):
            m, info = build(i)
            chosen = {}

            def selector(mq_size, msg, arg, _chosen=chosen):
                if queue_id is not None:
                    idx = queue_id if queue_id < mq_size else 0
                else:
                    idx = ctypes.cast(arg, ctypes.POINTER(ctypes.c_int))[0] % mq_size
                _chosen['q'] = idx
                return idx
            try:
                if mode == 'oneway':
                    p.send_oneway_orderly(m, i % order_keys, queue_selector=selector)
                    state['ok'] += 1
                    sent(info, None, chosen.get('q'), 'ONEWAY')
                    continue
                if mode == 'orderly' or queue_id is not None:
                    r = p.send_orderly(m, i % order_keys, retry_times=2, queue_selector=selector)
                else:
                    r = p.send_sync(m)
                state['ok'] += 1
                sent(info, r, chosen.get('q'))
            except Exception as e:  # noqa: BLE001
                failed(i, e)
    elif mode == 'oneway':
        for i in range(count):
            m, info = build(i)
            try:
                p.send_oneway(m)
                state['ok'] += 1
                sent(info, None, None, 'ONEWAY')
            except Exception as e:  # noqa: BLE001
                failed(i, e)
    elif mode == 'async':
        results = queue.Queue()
        keep = []
        pending = 0
        for i in range(count):
            m, info = build(i)
            keep.append(m)  # the native send may read the message after send_async returns

            def ok_cb(res, _i=i, _info=info):
                results.put((_i, _info, res, None))

            def err_cb(exc, _i=i, _info=info):
                results.put((_i, _info, None, exc))
            try:
                p.send_async(m, ok_cb, err_cb)
                pending += 1
            except Exception as e:  # noqa: BLE001
                failed(i, e)
        deadline = t0 + timeout
        while pending > 0:
            try:
                i, info, res, exc = results.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break  # the watchdog reports the timeout
            pending -= 1
            if exc is None:
                state['ok'] += 1
                sent(info, res)
            else:
                failed(i, exc)
    elif mode == 'batch':
        first = 0
        while first < count:
            n = min(batch_size, count - first)
            built = [build(i) for i in range(first, first + n)]
            try:
                r = p.send_batch([m for m, _ in built])
                state['ok'] += n
                ids = r.msg_id.split(',') if r.msg_id else []
                emit({'event': 'batch_sent', 'first_i': first, 'count': n, 'msgId': r.msg_id,
                      'queueId': None, 'queueOffset': r.offset,
                      'status': 'SEND_OK' if int(r.status) == 0 else r.status.name})
                for k, (_, info) in enumerate(built):
                    line = {'event': 'sent'}
                    line.update(info)
                    line.update({'msgId': ids[k] if k < len(ids) else None, 'queueId': None,
                                 'queueOffset': r.offset + k,
                                 'status': 'SEND_OK' if int(r.status) == 0 else r.status.name})
                    emit(line)
            except Exception as e:  # noqa: BLE001
                failed(first, e, n)
            first += n

    summary(False)
    # Shut the producer down before os._exit: a oneway send only queues the request in the
    # library's I/O thread, and exiting at once lost most of them (0 to 14 of 15 reached the
    # broker). Producer.shutdown() writes them out first (it takes a few ms).
    try:
        p.shutdown()
    except Exception as e:  # noqa: BLE001
        emit({'event': 'error', 'stage': 'shutdown', 'error': '%s: %s' % (type(e).__name__, e)})
    finish(0 if state['ok'] == count else 1)


# ----------------------------------------------------------------------------------- consume

SYSTEM_PROPS = ['UNIQ_KEY', 'KEYS', 'TAGS', 'WAIT', 'DELAY', 'RETRY_TOPIC', 'REAL_TOPIC', 'REAL_QID',
                'TRAN_MSG', 'PGROUP', 'MIN_OFFSET', 'MAX_OFFSET', 'ORIGIN_MESSAGE_ID',
                'RECONSUME_TIME', 'MAX_RECONSUME_TIMES', 'CONSUME_START_TIME', 'SHARDING_KEY']


def consume(args, timeout):
    client, ffi = load_client()
    dll = ffi.dll
    namesrv = args.req('namesrv')
    topic = args.req('topic')
    group = args.req('group')
    expression = args.get('expression', '*')
    model_name = args.get('model', 'clustering')
    if model_name not in ('clustering', 'broadcasting'):
        usage_error('--model: expected clustering|broadcasting, got %r' % model_name)
    frm = args.get('from', 'last')
    if frm != 'last':
        usage_error('--from %s: the C API of rocketmq-client-cpp 2.1.0 cannot set consumeFromWhere '
                    '(it always uses CONSUME_FROM_LAST_OFFSET); only --from last is accepted' % frm)
    expect = args.num('expect', None)
    idle = args.num('idle-exit-secs', None, float)
    linger = args.num('linger-secs', 0.0, float)
    reconsume_later = args.num('reconsume-later', 0)
    batch_max = args.num('batch-max', 1)
    threads = args.num('threads', None)
    prop_names = SYSTEM_PROPS + [n for n in args.get('props', '').split(',') if n]

    events = queue.Queue()
    st = {'received': 0, 'unique': set()}
    t0 = time.time()

    def summary(reason):
        n = len(st['unique'])
        if reason in ('expected', 'signal'):
            ok = True
        elif reason == 'idle':
            ok = expect is None or n >= expect
        else:
            ok = expect is not None and n >= expect
        emit({'event': 'summary', 'received': st['received'], 'unique': n, 'expected': expect,
              'reason': reason, 'ok': ok, 'elapsed_ms': int((time.time() - t0) * 1000),
              'shutdown_clean': False})
        return 0 if ok else 1

    def on_timeout():
        drain()
        finish(summary('timeout'))

    def drain():
        while True:
            try:
                ev = events.get_nowait()
            except queue.Empty:
                return
            handle(ev)

    def handle(ev):
        line, uid = ev
        st['received'] += 1
        if uid:
            st['unique'].add(uid)
        emit(line)

    # A backstop only: the loop below ends the run at the deadline itself.
    watchdog = start_watchdog(timeout + 5, on_timeout)

    model = ffi.MessageModel.BROADCASTING if model_name == 'broadcasting' else ffi.MessageModel.CLUSTERING
    c = client.PushConsumer(group, orderly=args.flag('orderly'), message_model=model)
    c.set_namesrv_addr(namesrv)
    c.set_log_root_path(log_dir(args))
    dll.SetPushConsumerLogLevel.argtypes = [ctypes.c_void_p, ctypes.c_int]
    dll.SetPushConsumerLogLevel(c._handle, 3)  # WARN
    if threads:
        c.set_thread_count(threads)
    if batch_max != 1:
        c.set_message_batch_max_size(batch_max)

    def on_message(_consumer, msg_handle):
        # Raw callback (the wrapper's subscribe() re-raises listener exceptions inside a ctypes
        # callback, which loses the RECONSUME_LATER status).
        try:
            m = client.RecvMessage(msg_handle)
            body = m.body or b''
            props = {}
            for name in prop_names:
                v = m.get_property(name)
                if v:
                    props[name] = v.decode('utf-8', 'replace')
            cid = client.maybe_decode(m.id)
            uniq = props.get('UNIQ_KEY')
            retry = m.reconsume_times < reconsume_later
            line = {
                'event': 'msg', 'msgId': uniq or cid, 'uniqKey': uniq, 'clientMsgId': cid,
                'topic': client.maybe_decode(m.topic), 'tags': client.maybe_decode(m.tags) or None,
                'keys': client.maybe_decode(m.keys) or None, 'props': props,
                'body_len': len(body), 'body_crc32': crc32(body),
                'body_head': body[:32].decode('utf-8', 'replace'),
                'queueId': m.queue_id, 'queueOffset': m.queue_offset, 'brokerName': None,
                'reconsumeTimes': m.reconsume_times, 'bornTimestamp': m.born_timestamp,
                'storeTimestamp': m.store_timestamp,
                'status': 'RECONSUME_LATER' if retry else 'CONSUME_SUCCESS',
            }
            events.put((line, None if retry else (uniq or cid)))
            return 1 if retry else 0
        except Exception as e:  # noqa: BLE001
            emit({'event': 'error', 'stage': 'listener', 'error': '%s: %s' % (type(e).__name__, e)})
            return 1

    try:
        ffi_check = sys.modules['rocketmq.exceptions'].ffi_check
        ffi_check(dll.Subscribe(c._handle, expression_bytes(topic), expression_bytes(expression)))
        c._register_callback(on_message)
        c.start()
    except Exception as e:  # noqa: BLE001
        emit({'event': 'error', 'stage': 'start', 'error': '%s: %s' % (type(e).__name__, e)})
        finish(1)
    emit({'event': 'started', 'group': group, 'topic': topic, 'pid': os.getpid()})

    import signal
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    deadline = t0 + timeout
    last = time.time()
    linger_until = None
    reason = 'timeout'
    while True:
        now = time.time()
        if stop.is_set():
            reason = 'signal'
            break
        if linger_until is not None and now >= linger_until:
            reason = 'expected'
            break
        if now >= deadline:
            reason = 'timeout'
            break
        if idle is not None and now >= last + idle:
            reason = 'idle'
            break
        wake = min([t for t in (deadline, last + idle if idle is not None else None, linger_until) if t is not None])
        try:
            ev = events.get(timeout=max(0.01, min(0.2, wake - now)))
        except queue.Empty:
            continue
        last = time.time()
        handle(ev)
        if expect is not None and len(st['unique']) >= expect and linger_until is None:
            if linger <= 0:
                reason = 'expected'
                break
            linger_until = time.time() + linger
    watchdog.cancel()
    drain()
    # No shutdown: PushConsumer.shutdown() segfaults in this library. Offsets are committed by
    # the client every 5 s (and not at exit), so a test that needs committed offsets should
    # linger a few seconds after the last message (--linger-secs 6).
    finish(summary(reason))


def expression_bytes(s):
    return s.encode('utf-8') if isinstance(s, str) else s


def main():
    args = Args(sys.argv[1:])
    timeout = args.num('timeout-secs', 60.0, float)
    if timeout <= 0:
        usage_error('--timeout-secs must be positive')
    if args.cmd == 'produce':
        produce(args, timeout)
    elif args.cmd == 'consume':
        consume(args, timeout)
    else:
        usage_error('unknown subcommand %r; %s' % (args.cmd, USAGE))


if __name__ == '__main__':
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001
        emit({'event': 'error', 'stage': 'internal', 'error': '%s: %s' % (type(e).__name__, e)})
        finish(1)

#!/usr/bin/env bash
# Broker load benchmark, side by side with the peers in one run (not part of the tests).
#
#   bash scripts/bench-broker.sh                 # ferromq, then NATS JetStream 2.15 (+ any peers named)
#   SECS=5 bash scripts/bench-broker.sh nats215 redis
#   FLUSH=SYNC_FLUSH bash scripts/bench-broker.sh nats215-fsync redis-always
#
# Workload for every system: 500-byte messages, one producer connection on 127.0.0.1, the
# load generator on the same 2-core machine.
#   ferromq: target/release/mqbench (RocketMQ protocol, SEND_MESSAGE_V2, ROCKETMQ binary
#            headers), ASYNC_FLUSH broker (FLUSH=SYNC_FLUSH for the other), 1 / 256 / 16 in flight
#   peers:   ../shared/peer-bench/run_all.sh (its own load generator: sync = 1 in flight,
#            pipe = 256 in flight)
# Prints one RESULT line per phase with msgs/s and latency percentiles, and a CPU line (cores
# used by broker, client and everything else during the phase).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER_BENCH="${PEER_BENCH:-$ROOT/../shared/peer-bench}"
SECS=${SECS:-15}
FLUSH=${FLUSH:-ASYNC_FLUSH}   # FLUSH=SYNC_FLUSH: compare with nats215-fsync, redis-always, rabbit-*
PEERS=${*:-nats215}
cd "$ROOT"

cargo build --release -q -p ferromq --bin mqnamesrv --bin mqbroker --bin mqbench
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NS_PORT=$(free_port); BROKER_PORT=$(free_port)
target/release/mqnamesrv --listenPort "$NS_PORT" --bindAddress 127.0.0.1 --kvConfigPath "$WORK/kv.json" \
    >"$WORK/ns.log" 2>&1 & echo $! >"$WORK/ns.pid"
sleep 0.5
target/release/mqbroker -n "127.0.0.1:$NS_PORT" --listenPort "$BROKER_PORT" --bindAddress 127.0.0.1 \
    --storePathRootDir "$WORK/store" --metricsPromExporterPort 0 --flushDiskType "$FLUSH" \
    >"$WORK/broker.log" 2>&1 & echo $! >"$WORK/broker.pid"
sleep 1
echo "# host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -Is); ferromq flushDiskType=$FLUSH"
# Same order as the peers' rounds (sync, then pipe at 256 in flight); 16 in flight, which the
# peers do not run, comes last so that it does not grow the store before the 256 phase.
for inflight in 1 256 16; do
    python3 "$PEER_BENCH/cpuwrap.py" "$WORK/broker.pid" -- \
        target/release/mqbench produce -n "127.0.0.1:$NS_PORT" -t Bench --size 500 --inflight "$inflight" --secs "$SECS" \
        | sed "s/^RESULT produce /RESULT ferromq /"
done
kill "$(cat "$WORK/broker.pid")" "$(cat "$WORK/ns.pid")" 2>/dev/null || true
sleep 1

echo "# peers: $PEERS (../shared/peer-bench/run_all.sh)"
SECS=$SECS ROUNDS=1 IDLE_WAIT=${IDLE_WAIT:-20} bash "$PEER_BENCH/run_all.sh" $PEERS

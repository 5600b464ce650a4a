#!/usr/bin/env bash
# Status latency and server memory under hostile clients (slow, idle,
# pipelining without reading, login flood), on the demo data.
# Usage: bench/hostile.sh
source "$(dirname "$0")/lib.sh"
PORT=18185 DIR=/tmp/broker-bench-hostile
build
rm -rf "$DIR"
RUST_LOG=warn python3 "$ROOT/bench/hostile.py" "$BIN" "$DIR" "$PORT"

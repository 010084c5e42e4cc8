#!/bin/sh
# Load test of `ongko serve` on this machine: starts the server on a free 127.0.0.1 port with CKPT, sends
# REQUESTS POST /api/predict (a synthetic digit PNG) CONCURRENCY at a time (bench/serve), prints requests/s,
# p50/p90/p99 latency and errors (must be 0), and stops the server with SIGTERM (a background job of a script ignores SIGINT).
#   bench/serve-load.sh CKPT [REQUESTS=5000] [CONCURRENCY=32] [MODELS=cores]
set -e
cd "$(dirname "$0")/.."
checkpoint=${1:?usage: bench/serve-load.sh CKPT [REQUESTS] [CONCURRENCY] [MODELS]}
requests=${2:-5000}; concurrency=${3:-32}; models=${4:-$(nproc)}
dotnet build -c Release src/Ongko.Cli -v quiet -nologo > /dev/null
dotnet build -c Release bench/serve -v quiet -nologo > /dev/null
work=$(mktemp -d); trap 'kill -TERM $server 2>/dev/null || true; rm -rf "$work"' EXIT
ongko="dotnet src/Ongko.Cli/bin/Release/net10.0/Ongko.Cli.dll"
$ongko synth --out "$work/digits" --count 10 --seed 3 > /dev/null
image=$(ls "$work"/digits/*/*.png | head -n 4 | tail -n 1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$ongko serve --checkpoint "$checkpoint" --urls "http://127.0.0.1:$port" --models "$models" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/api/health" > /dev/null 2>&1 && break
  sleep 0.5
done
echo "server: $(head -n 1 "$work/server.log"), $models model copies; load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
dotnet bench/serve/bin/Release/net10.0/ServeLoad.dll --url "http://127.0.0.1:$port" --image "$image" --requests "$requests" --concurrency "$concurrency" || status=$?
kill -TERM $server; wait $server || true
echo "server log: $(grep -c ' POST /api/predict 200 ' "$work/server.log") lines with status 200, $(grep -vc ' 200 \|^Serving\|^Stopped' "$work/server.log") other lines; $(tail -n 1 "$work/server.log")"
exit $status

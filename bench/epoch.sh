#!/bin/sh
# Issue 5's last row: does the data loader keep up? Trains CONFIG for EPOCHS real epochs on the shared
# NumtaDB copy (augmentation as the config says; epoch 1 also fills the image cache) and then times the same
# model's pure compute (`ongko bench`, random batches of the same size), and prints each epoch's training
# images/s (logs.csv, validation excluded) as a fraction of the pure-compute figure. Target: >= 85%.
#   bench/epoch.sh [CONFIG] [EPOCHS]        default configs/numta28.yaml, 2 epochs
set -e
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/numta28.yaml}
EPOCHS=${2:-2}
dotnet build -c Release src/Ongko.Cli -v quiet -nologo > /dev/null
ONGKO=src/Ongko.Cli/bin/Release/net10.0/Ongko.Cli
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
BATCH=$(sed -n 's/^train_batch: *\([0-9]*\).*/\1/p' "$CONFIG")
echo "config $CONFIG, batch ${BATCH:-128}, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ONGKO" train -c "$CONFIG" --data-dir "${DATA_DIR:-../shared/data/numtadb28}" --epochs "$EPOCHS" -o "$OUT/run" > "$OUT/train.log"
"$ONGKO" bench -c "$CONFIG" --batch "${BATCH:-128}" --no-gemm --seconds 5 --json > "$OUT/bench.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$OUT/run/logs.csv" "$OUT/bench.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
compute = json.load(open(sys.argv[2]))["TrainImagesPerSecond"]
print(f"pure compute (ongko bench, random batches): {compute:,.0f} images/s")
print("| epoch | train images/s | of pure compute | target |")
print("|---:|---:|---:|---|")
for r in rows:
    ips = float(r["images_per_second"])
    print(f"| {r['epoch']} | {ips:,.0f} | {ips / compute:.0%} | >= 85% {'met' if ips / compute >= 0.85 else 'NOT met'} |")
PY

#!/usr/bin/env python3
"""Stratified CMATERdb subsets for the fine-tuning measurement (README, "Fine-tuning").

Picks PER_CLASS images of each digit from CMATERdb's training.csv (seeded), and writes into OUT:
  train.csv   the picked images (filename,digit)      -> the run's training source
  rest.csv    every other training image              -> the run's validation source (the judge)
  training    a link to CMATERdb's image folder, so configs/finetune-cmaterdb.yaml reads both with --data-dir OUT
Only the standard library; the same seed gives the same subsets on every machine.
"""
import argparse, csv, os, random

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--cmaterdb", required=True, help="folder holding training/ and training.csv")
parser.add_argument("--per-class", type=int, required=True, help="training images per digit")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--out", required=True, help="folder to write train.csv, rest.csv and the training link into")
args = parser.parse_args()

with open(os.path.join(args.cmaterdb, "training.csv"), newline="") as f:
    rows = [(r["filename"], int(r["digit"])) for r in csv.DictReader(f)]
rng = random.Random(args.seed)
picked = set()
for digit in range(10):
    names = sorted(name for name, d in rows if d == digit)
    if len(names) < args.per_class:
        raise SystemExit(f"digit {digit} has only {len(names)} images, fewer than --per-class {args.per_class}")
    picked.update(rng.sample(names, args.per_class))

os.makedirs(args.out, exist_ok=True)
for name, keep in (("train.csv", True), ("rest.csv", False)):
    with open(os.path.join(args.out, name), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["filename", "digit"])
        writer.writerows(r for r in rows if (r[0] in picked) == keep)
link = os.path.join(args.out, "training")
if not os.path.lexists(link):
    os.symlink(os.path.abspath(os.path.join(args.cmaterdb, "training")), link)
print(f"{args.out}: train.csv {len(picked)} images ({args.per_class} per digit), rest.csv {len(rows) - len(picked)}")

#!/usr/bin/env python3
"""Post-hoc analysis of gdpo runs (never part of training): reads each run's metrics.h5 and
summary.json and prints, or writes as CSV, the evaluation history side by side.

usage: analysis/metrics.py RUN_DIR [RUN_DIR ...] [--table eval|train] [--csv OUT.csv]
       [--columns loss,belief.js_distance,...]

metrics.h5 holds one group per table ("train", "eval") with an int64 `step` dataset and one float64
dataset per metric ("loss", "loss.calibration", "belief.js_distance", ...), all of equal length, so
a table is `{name: ds[:] for name, ds in f[table].items()}`. Needs h5py (Debian: python3-h5py).
"""
import argparse
import csv
import json
import math
import os
import sys


def read_table(run_dir, table):
    import h5py  # imported here so that --help works without it

    path = os.path.join(run_dir, "metrics.h5")
    # SWMR lets this read a file that a running trainer is still appending to.
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        if table not in f:
            raise SystemExit(f"{path}: no table '{table}'")
        group = f[table]
        columns = {name: group[name][:] for name in group}
    rows = min(len(v) for v in columns.values())
    return {name: list(values[:rows]) for name, values in columns.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories written by `gdpo train`")
    ap.add_argument("--table", default="eval", choices=["eval", "train"])
    ap.add_argument("--columns", default="loss,belief.js_distance,belief.prob_sum,rewards.accuracy")
    ap.add_argument("--csv", help="write every row of every run here instead of printing")
    args = ap.parse_args()
    wanted = args.columns.split(",")

    records = []
    for run in args.runs:
        table = read_table(run, args.table)
        for i, step in enumerate(table["step"]):
            row = {"run": os.path.basename(os.path.normpath(run)), "step": int(step)}
            for c in wanted:
                row[c] = float(table[c][i]) if c in table else math.nan
            records.append(row)

    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["run", "step"] + wanted)
            writer.writeheader()
            writer.writerows(records)
        print(f"wrote {len(records)} rows to {args.csv}")
        return
    print("\t".join(["run", "step"] + wanted))
    for r in records:
        print("\t".join([r["run"], str(r["step"])] + [f"{r[c]:.4f}" for c in wanted]))
    for run in args.runs:
        summary = os.path.join(run, "summary.json")
        if os.path.exists(summary):
            with open(summary) as f:
                s = json.load(f)
            js = s.get("eval", {}).get("belief.js_distance")
            print(f"# {run}: {s.get('loss_type')} exported {s.get('exported')} "
                  f"(step {s.get('step')}), eval JS distance {js}")


if __name__ == "__main__":
    sys.exit(main())

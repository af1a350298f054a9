#!/usr/bin/env python3
"""Training curves of gdpo runs (the paper's alignment-gap figure): the evaluation's JS distance
between the model's belief distribution and p* (belief.js_distance) against training examples
seen, one line per run labelled by its loss type (SFT, DPO, GDPO, ...); and a second panel with
the reward margins of pairs whose chosen belief is p*'s majority vs a minority belief
(rewards.margin_majority, rewards.margin_minority; runs without them, e.g. SFT, are left out with a
note).

Reads each run directory's metrics.h5 (also while the run is still training: gdpo writes it in
HDF5 SWMR mode; only rows complete in every column are used) and config.ini. Prints what it
plotted, one tab-separated line per run. Post-hoc analysis, never part of training.
"""
import argparse
import os
import sys

from gdpo_files import InputFileError, save_figure, main_guard

JS = "belief.js_distance"
MARGINS = ("rewards.margin_majority", "rewards.margin_minority")


def load_run(run):
    """{"run", "loss", "rows", "examples", "js", "margins" (or None), "note"} of a run
    directory."""
    from gdpo_files import metrics_path, read_metrics, read_run_config, read_summary
    if not os.path.isdir(run):
        raise InputFileError(f"{run}: no such run directory")
    eval_table = read_metrics(run, "eval")
    config = read_run_config(run)
    loss = read_summary(run).get("loss_type") or config.get("loss.type", "?")
    out = {"run": run, "loss": loss, "rows": 0, "examples": [], "js": [], "margins": None,
           "note": None}
    if eval_table is None:
        out["note"] = f"{metrics_path(run)}: no eval table yet"
        return out
    if JS not in eval_table:
        raise InputFileError(f"{metrics_path(run)}: eval table without a '{JS}' column")
    steps = eval_table["step"]
    if "examples" in eval_table:
        examples = eval_table["examples"]
    else:
        # metrics.h5 has no examples-seen column: derive it as step x --train.batch-size (the
        # pairs per optimizer step over all ranks and accumulation micro-batches, config.ini).
        # Exact except after a short final batch of an epoch (the last step of a run).
        try:
            batch = int(config["train.batch-size"])
        except (KeyError, ValueError):
            raise InputFileError(f"{os.path.join(run, 'config.ini')}: no [train] batch-size")
        examples = steps * batch
    out.update(rows=len(steps), examples=[float(x) for x in examples],
               js=[float(x) for x in eval_table[JS]])
    if all(m in eval_table for m in MARGINS):
        out["margins"] = {m: [float(x) for x in eval_table[m]] for m in MARGINS}
    return out


def labels_of(runs):
    """The loss type in capitals, with the directory's name where two runs share it."""
    names = [r["loss"].upper() for r in runs]
    return [n if names.count(n) == 1 else f"{n} ({os.path.basename(os.path.normpath(r['run']))})"
            for n, r in zip(names, runs)]


def plot(runs, labels, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_js, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (run, label) in enumerate(zip(runs, labels)):
        color = f"C{i}"
        if run["rows"]:
            ax_js.plot(run["examples"], run["js"], marker="o", ms=3, color=color, label=label)
        if run["margins"] and run["rows"]:
            ax_m.plot(run["examples"], run["margins"][MARGINS[0]], color=color,
                      label=f"{label} majority")
            ax_m.plot(run["examples"], run["margins"][MARGINS[1]], color=color, ls="--",
                      label=f"{label} minority")
    ax_js.set(xlabel="training examples seen", ylabel="JS distance to p* (eval)",
              title="belief calibration")
    ax_m.set(xlabel="training examples seen", ylabel="reward margin (eval)",
             title="reward margin: majority vs minority beliefs")
    ax_m.axhline(0, color="0.7", lw=0.8)
    for ax in (ax_js, ax_m):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    save_figure(fig, out, title)


def fmt(values, spec):
    return format(values[-1], spec) if values else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories of gdpo train")
    ap.add_argument("--out", default="curves.png", help="image to write (default: %(default)s)")
    ap.add_argument("--title", default="", help="figure title")
    args = ap.parse_args()

    runs = [load_run(r) for r in args.runs]
    labels = labels_of(runs)
    plot(runs, labels, args.out, args.title)
    print("run\tlabel\trows\tlast_examples\tlast_js\tlast_margin_majority\tlast_margin_minority")
    for run, label in zip(runs, labels):
        m = run["margins"] or {}
        print("\t".join([run["run"], label, str(run["rows"]), fmt(run["examples"], ".0f"),
                         fmt(run["js"], ".6f"), fmt(m.get(MARGINS[0], []), ".6g"),
                         fmt(m.get(MARGINS[1], []), ".6g")]))
    for run, label in zip(runs, labels):
        if run["note"]:
            print(f"note: {label}: {run['note']}")
        elif run["margins"] is None:
            print(f"note: {label}: {run['run']} has no {' / '.join(MARGINS)} in its eval table; "
                  f"left out of the margin panel")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))

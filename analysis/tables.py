#!/usr/bin/env python3
"""The results table of a set of gdpo evaluations: methods as rows (each eval.h5's `label`),
datasets x metrics as columns, then the reference rows (uniform, majority, reversed, noise +-0.05,
noise +-0.1: the mean JS distance of that distribution to p*, in the prob_js columns).

Each argument is an eval.h5 written by `gdpo evaluate`, or a directory holding eval.h5 and/or
eval/*.h5 (a run directory). Numbers have 3 decimals (rows: an integer); a missing or NaN value prints as an en dash
(-- in LaTeX). The LaTeX table uses booktabs' rules. Post-hoc analysis, never part of training.
"""
import argparse
import csv
import math
import os
import sys

from gdpo_files import REFERENCES, SUMMARY_METRICS, InputFileError, find_eval_files, main_guard

DEFAULT_METRICS = ["prob_js", "sampling_js", "majority_bias", "class_belief_consistency",
                   "belief_preference_consistency", "rouge_l"]
REFERENCE_NAMES = {"uniform": "uniform", "majority": "majority", "reversed": "reversed",
                   "noise_0.05": "noise ±0.05", "noise_0.1": "noise ±0.1"}


def build_table(evals, metrics, subset="summary"):
    """(datasets, rows): rows are (name, is_reference, {(dataset, metric): value})."""
    datasets, methods, seen, refs = [], {}, {}, {}
    for ev in evals:
        label, dataset = ev["attrs"].get("label", "?"), ev["attrs"].get("dataset", "?")
        if (label, dataset) in seen:
            raise InputFileError(f"{ev['path']}: a second evaluation of '{label}' on '{dataset}'"
                                 f" (the first: {seen[(label, dataset)]}); give each a "
                                 f"distinct label")
        seen[(label, dataset)] = ev["path"]
        if dataset not in datasets:
            datasets.append(dataset)
        values = methods.setdefault(label, {})
        for m in metrics:
            values[(dataset, m)] = ev[subset][m]
        first = refs.setdefault(dataset, ev["reference"])
        if any(abs(first[r] - ev["reference"][r]) > 1e-9 for r in REFERENCES
               if not (math.isnan(first[r]) or math.isnan(ev["reference"][r]))):
            print(f"warning: {ev['path']}: reference values differ from another evaluation on "
                  f"'{dataset}' (another p* or split?); the first file's are shown",
                  file=sys.stderr)
    rows = [(label, False, values) for label, values in methods.items()]
    if "prob_js" in metrics:
        for r in REFERENCES:
            rows.append((r, True, {(d, "prob_js"): refs[d][r] for d in datasets}))
    return datasets, rows


def fmt(value, nan, metric=None):
    """3 decimals; `rows` (a count, stored as a float like every /summary attribute) as an
    integer."""
    if value is None or math.isnan(value):
        return nan
    return f"{value:.0f}" if metric == "rows" else f"{value:.3f}"


def markdown(datasets, metrics, rows):
    header = ["method"] + [f"{d} {m}" if len(datasets) > 1 else m
                           for d in datasets for m in metrics]
    lines = ["| " + " | ".join(header) + " |",
             "| --- |" + " ---: |" * (len(header) - 1)]
    for name, is_ref, values in rows:
        shown = REFERENCE_NAMES[name] if is_ref else name
        cells = [fmt(values.get((d, m)), "–", m) for d in datasets for m in metrics]
        lines.append("| " + " | ".join([shown] + cells) + " |")
    return "\n".join(lines)


def latex_escape(s):
    out = s
    for ch in "\\&%$#_{}":
        out = out.replace(ch, "\\textbackslash{}" if ch == "\\" else "\\" + ch)
    return out.replace("±", "$\\pm$")


def latex(datasets, metrics, rows):
    n = len(metrics)
    lines = ["\\begin{tabular}{l" + "r" * (n * len(datasets)) + "}", "\\toprule"]
    if len(datasets) > 1:
        lines.append(" & " + " & ".join(f"\\multicolumn{{{n}}}{{c}}{{{latex_escape(d)}}}"
                                        for d in datasets) + " \\\\")
    lines.append(" & ".join(["method"] + [latex_escape(m) for _ in datasets for m in metrics])
                 + " \\\\")
    lines.append("\\midrule")
    first_ref = True
    for name, is_ref, values in rows:
        if is_ref and first_ref:
            lines.append("\\midrule")
            first_ref = False
        shown = latex_escape(REFERENCE_NAMES[name] if is_ref else name)
        cells = [fmt(values.get((d, m)), "--", m) for d in datasets for m in metrics]
        lines.append(" & ".join([shown] + cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)


def write_csv(path, datasets, metrics, rows):
    """The flat table: one line per row, one column per dataset.metric, full precision, NaN
    empty."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["method", "reference"] + [f"{d}.{m}" for d in datasets for m in metrics])
        for name, is_ref, values in rows:
            cells = [values.get((d, m)) for d in datasets for m in metrics]
            w.writerow([name, int(is_ref)] + ["" if v is None or math.isnan(v) else repr(v)
                                              for v in cells])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", metavar="RUN_OR_EVAL",
                    help="eval.h5 files, or directories with eval.h5 / eval/*.h5")
    ap.add_argument("--format", choices=["markdown", "latex"], default="markdown")
    ap.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                    help=f"comma-separated columns, of: {', '.join(SUMMARY_METRICS)} "
                         f"(default: %(default)s)")
    ap.add_argument("--subset", choices=["all", "majority", "minority"], default="all",
                    help="rows averaged: all, or those whose reference belief is (not) p*'s "
                         "majority (/summary, /summary_majority, /summary_minority)")
    ap.add_argument("--csv", metavar="OUT", help="also write the flat table to this CSV file")
    args = ap.parse_args()
    metrics = [m for m in args.metrics.split(",") if m]
    unknown = [m for m in metrics if m not in SUMMARY_METRICS]
    if unknown or not metrics:
        ap.error(f"--metrics: unknown {', '.join(unknown) or '(none given)'}; "
                 f"known: {', '.join(SUMMARY_METRICS)}")

    from gdpo_files import read_eval
    # A file named twice (itself and through its run directory) is one evaluation.
    paths, seen = [], set()
    for p in (p for arg in args.inputs for p in find_eval_files(arg)):
        if os.path.realpath(p) not in seen:
            seen.add(os.path.realpath(p))
            paths.append(p)
    evals = [read_eval(p) for p in paths]
    subset = {"all": "summary", "majority": "summary_majority",
              "minority": "summary_minority"}[args.subset]
    datasets, rows = build_table(evals, metrics, subset)
    print(latex(datasets, metrics, rows) if args.format == "latex"
          else markdown(datasets, metrics, rows))
    if "belief_preference_consistency" in metrics and args.format == "markdown":
        # The judge's own error, beside the scores it gave (gdpo evaluate --evaluate.judge-data).
        judged = [(ev["attrs"].get("label"), float(ev["attrs"].get("judge_accuracy", "nan")))
                  for ev in evals]
        judged = [(label, acc) for label, acc in judged if math.isfinite(acc)]
        if judged:
            print("\nbelief_preference_consistency: judged by a model of held-out accuracy " +
                  ", ".join(f"{acc:.3f} ({label})" for label, acc in judged))
    if "prob_js" not in metrics:
        print("note: no reference rows (they are prob_js values; add prob_js to --metrics)",
              file=sys.stderr)
    if args.csv:
        write_csv(args.csv, datasets, metrics, rows)
        print(f"wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))

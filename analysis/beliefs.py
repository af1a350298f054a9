#!/usr/bin/env python3
"""Belief distributions of chosen questions: grouped bars of the group's distribution p* and of
each evaluation's model belief distribution (labelled by the eval.h5's `label`: SFT, DPO, GDPO, ...).

Each argument is an eval.h5 written by `gdpo evaluate` (or a directory holding eval.h5 and/or
eval/*.h5). A question with several rows (several prompts or pairs) shows the mean of their model
distributions. Prints the plotted values as a tab-separated table (question, belief, p*, one
column per evaluation, 3 decimals; nan where an evaluation lacks the question, then the option
text). Post-hoc analysis, never part of training.
"""
import argparse
import os
import sys

from gdpo_files import InputFileError, save_figure, find_eval_files, main_guard


def parse_questions(spec):
    """'N' -> ("first", N); 'i,j,k' (a comma anywhere) -> ("ids", [i, j, k])."""
    try:
        if "," in spec:
            return "ids", [int(x) for x in spec.split(",") if x.strip()]
        n = int(spec)
        if n < 1:
            raise ValueError
        return "first", n
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{spec}': expected a count N or ids i,j,k")


def question_beliefs(rows, question):
    """(p*, mean model distribution, option texts) of one question, or None if it has no rows."""
    import numpy as np
    index = np.flatnonzero(rows["question"] == question)
    if index.size == 0:
        return None
    first = index[0]
    k = int(rows["k"][first])
    options = rows["options"][first] if "options" in rows else [str(b) for b in range(k)]
    return (rows["pstar"][first, :k], rows["model_probs"][index, :k].mean(axis=0), options)


def labels_of(evals):
    labels = [str(ev["attrs"].get("label", "?")) for ev in evals]
    return [l if labels.count(l) == 1 else f"{l} ({os.path.basename(ev['path'])})"
            for l, ev in zip(labels, evals)]


def collect(evals, questions):
    """[(question, p*, options, [model probs per eval or None])] in the order asked."""
    import numpy as np
    first_rows = evals[0]["rows"]
    kind, value = questions
    if kind == "first":
        ids = list(dict.fromkeys(int(q) for q in first_rows["question"]))[:value]
    else:
        ids = value
    out = []
    for q in ids:
        base = question_beliefs(first_rows, q)
        if base is None:
            raise InputFileError(f"{evals[0]['path']}: no rows of question {q}")
        pstar, _, options = base
        probs = []
        for ev in evals:
            got = question_beliefs(ev["rows"], q)
            if got is None:
                print(f"warning: {ev['path']}: no rows of question {q}", file=sys.stderr)
            elif len(got[0]) != len(pstar) or not np.allclose(got[0], pstar, atol=1e-6):
                print(f"warning: {ev['path']}: question {q} has another p* than in "
                      f"{evals[0]['path']} (not the same data?)", file=sys.stderr)
            probs.append(None if got is None or len(got[1]) != len(pstar) else got[1])
        out.append((q, pstar, options, probs))
    return out


def plot(data, labels, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = min(len(data), 3)
    nrows = (len(data) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.6 * nrows), squeeze=False)
    series = ["p*"] + labels
    width = 0.8 / len(series)
    for ax, (q, pstar, options, probs) in zip(axes.flat, data):
        x = np.arange(len(pstar))
        for i, values in enumerate([pstar] + probs):
            if values is not None:
                ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width,
                       color="0.35" if i == 0 else f"C{i - 1}", label=series[i])
        ax.set_xticks(x, [o if len(o) <= 14 else o[:13] + "…" for o in map(str, options)],
                      rotation=20, fontsize=8)
        ax.set(title=f"question {q}", ylabel="probability", ylim=(0, 1))
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(data):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    save_figure(fig, out, title)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", metavar="EVAL_H5", help="eval.h5 files (or directories)")
    ap.add_argument("--questions", type=parse_questions, default="4", metavar="N|i,j,k",
                    help="the first N questions of the first file, or these question ids "
                         "(a single id: 'i,'; default: 4)")
    ap.add_argument("--out", default="beliefs.png", help="image to write (default: %(default)s)")
    ap.add_argument("--title", default="", help="figure title")
    args = ap.parse_args()

    from gdpo_files import read_eval
    evals = [read_eval(p, rows=True) for arg in args.inputs for p in find_eval_files(arg)]
    labels = labels_of(evals)
    data = collect(evals, args.questions)
    if not data:
        raise InputFileError(f"{evals[0]['path']}: no questions to plot")
    plot(data, labels, args.out, args.title)
    print("\t".join(["question", "belief", "p*"] + labels + ["option"]))
    for q, pstar, options, probs in data:
        for b in range(len(pstar)):
            cells = ["nan" if p is None else f"{p[b]:.3f}" for p in probs]
            print("\t".join([str(q), str(b), f"{pstar[b]:.3f}"] + cells + [str(options[b])]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))

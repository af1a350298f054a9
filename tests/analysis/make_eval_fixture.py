#!/usr/bin/env python3
"""Writes eval.h5 files in the layout of `gdpo evaluate` (format "gdpo-eval", version 1) with
hand-chosen numbers, for the analysis/ tests.

usage: make_eval_fixture.py OUT_DIR   -> OUT_DIR/<dataset>/<label>.h5 for the methods in METHODS

The numbers are the test's expectations: test_analysis.py states the strings the scripts must
print for them. Strings are written both as variable-length str and as fixed-length bytes (the
'dpo' files) to check that the readers take either.
"""
import json
import math
import os
import sys

import h5py
import numpy as np

NAN = math.nan
DATASETS = ["synthetic", "mmoqa_usa"]
# (label, dataset) -> /summary attributes
SUMMARY = {
    ("sft", "synthetic"): dict(prob_js=0.04791, sampling_js=0.06212, majority_bias=0.2,
                               class_belief_consistency=0.91, belief_preference_consistency=0.5,
                               rouge_l=NAN),
    ("dpo", "synthetic"): dict(prob_js=0.39034, sampling_js=0.41149, majority_bias=0.87654,
                               class_belief_consistency=0.95, belief_preference_consistency=0.61,
                               rouge_l=NAN),
    ("gdpo", "synthetic"): dict(prob_js=0.01294, sampling_js=0.02871, majority_bias=0.0346,
                                class_belief_consistency=0.9876, belief_preference_consistency=0.7,
                                rouge_l=NAN),
    ("sft", "mmoqa_usa"): dict(prob_js=0.2104, sampling_js=0.2256, majority_bias=0.1111,
                               class_belief_consistency=0.8, belief_preference_consistency=0.55,
                               rouge_l=0.3141),
    ("dpo", "mmoqa_usa"): dict(prob_js=0.3333, sampling_js=0.34449, majority_bias=0.6,
                               class_belief_consistency=0.82, belief_preference_consistency=0.64,
                               rouge_l=0.2718),
    ("gdpo", "mmoqa_usa"): dict(prob_js=0.1618, sampling_js=0.17, majority_bias=0.05,
                                class_belief_consistency=0.9, belief_preference_consistency=0.72,
                                rouge_l=0.3001),
}
METHODS = ["sft", "dpo", "gdpo"]
REFERENCE = {
    "synthetic": {"uniform": 0.2093, "majority": 0.4821, "reversed": 0.3916,
                  "noise_0.05": 0.0312, "noise_0.1": 0.0598},
    "mmoqa_usa": {"uniform": 0.1746, "majority": 0.4402, "reversed": 0.3507,
                  "noise_0.05": 0.0289, "noise_0.1": 0.0561},
}
# Per-row data (the same for both datasets): questions 0, 1, 2; question 1 has 3 beliefs (the
# fourth column is padding), question 2 two rows whose model_probs the beliefs plot averages.
QUESTION = [0, 1, 2, 2]
K = [4, 3, 4, 4]
PSTAR = [[0.55, 0.25, 0.15, 0.05], [0.5, 0.3, 0.2, 0.0], [0.4, 0.3, 0.2, 0.1],
         [0.4, 0.3, 0.2, 0.1]]
MODEL_PROBS = {
    "sft": [[0.5, 0.3, 0.15, 0.05], [0.45, 0.35, 0.2, 0.0], [0.3, 0.3, 0.3, 0.1],
            [0.5, 0.2, 0.2, 0.1]],
    "dpo": [[0.9, 0.05, 0.03, 0.02], [0.8, 0.15, 0.05, 0.0], [0.7, 0.1, 0.1, 0.1],
            [0.8, 0.1, 0.05, 0.05]],
    "gdpo": [[0.56, 0.24, 0.15, 0.05], [0.52, 0.28, 0.2, 0.0], [0.42, 0.3, 0.18, 0.1],
             [0.38, 0.3, 0.22, 0.1]],
}
OPTIONS = [["Strongly agree", "Agree", "Disagree", "Strongly disagree"],
           ["Yes", "No", "Not sure"],
           ["Très bien", "Bien", "Mal", "Très mal"],
           ["Très bien", "Bien", "Mal", "Très mal"]]
LABELS = {"sft": "SFT", "dpo": "DPO", "gdpo": "GDPO"}


def write_eval(path, label, dataset, summary, reference, model_probs, as_bytes=False):
    """One eval.h5 in the gdpo-eval version 1 layout."""
    def s(value):  # a string attribute: vlen str, or fixed-length bytes
        return np.bytes_(value.encode("utf-8")) if as_bytes else value

    rows = len(QUESTION)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = s("gdpo-eval")
        f.attrs["version"] = np.int64(1)
        f.attrs["label"] = s(label)
        f.attrs["dataset"] = s(dataset)
        f.attrs["model"] = s("runs/" + label + "/model")
        f.attrs["split"] = s("test")
        f.attrs["n_samples"] = np.int64(8)
        f.attrs["seed"] = np.int64(0)
        f.attrs["judge_accuracy"] = NAN
        f.attrs["generations"] = s("runs/" + label + "/generations.h5")
        for group, scale in (("summary", 1.0), ("summary_majority", 0.5),
                             ("summary_minority", 1.5)):
            g = f.create_group(group)
            for name, value in summary.items():
                g.attrs[name] = float(value) * scale
            g.attrs["prob_majority_bias"] = 0.0
            g.attrs["rows"] = float(rows)
        g = f.create_group("reference")
        for name, value in reference.items():
            g.attrs[name] = float(value)
        r = f.create_group("rows")
        r["question"] = np.array(QUESTION, dtype=np.int64)
        r["k"] = np.array(K, dtype=np.int64)
        r["pstar"] = np.array(PSTAR, dtype=np.float64)
        r["model_probs"] = np.array(model_probs, dtype=np.float64)
        r["sampled_probs"] = np.array(model_probs, dtype=np.float64)
        for name in ("prob_js", "sampling_js", "majority_bias", "class_belief_consistency",
                     "belief_preference_consistency", "rouge_l"):
            r[name] = np.full(rows, float(summary[name]))
        r["prob_majority_bias"] = np.zeros(rows)
        r["reference_belief"] = np.zeros(rows, dtype=np.int64)
        prompts = [f"Question {q}: what do you think? ({dataset})" for q in QUESTION]
        options = [json.dumps(o, ensure_ascii=False) for o in OPTIONS]
        if as_bytes:
            r.create_dataset("prompt", data=[p.encode() for p in prompts],
                             dtype=h5py.string_dtype("utf-8"))
            r.create_dataset("options", data=[o.encode() for o in options],
                             dtype=h5py.string_dtype("utf-8"))
        else:
            r.create_dataset("prompt", data=prompts, dtype=h5py.string_dtype("utf-8"))
            r.create_dataset("options", data=options, dtype=h5py.string_dtype("utf-8"))


def write_all(out_dir):
    """OUT_DIR/<dataset>/<method>.h5 for every dataset and method; returns the paths."""
    paths = []
    for dataset in DATASETS:
        os.makedirs(os.path.join(out_dir, dataset), exist_ok=True)
        for method in METHODS:
            path = os.path.join(out_dir, dataset, method + ".h5")
            write_eval(path, LABELS[method], dataset, SUMMARY[(method, dataset)],
                       REFERENCE[dataset], MODEL_PROBS[method], as_bytes=(method == "dpo"))
            paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    for p in write_all(sys.argv[1]):
        print(p)

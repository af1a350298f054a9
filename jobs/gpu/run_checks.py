#!/usr/bin/env python3
"""Checks of the GPU suite on a run directory of `gdpo train` and on `gdpo bench` JSON files.

  export RUN_DIR --gdpo BIN   transformers loads RUN_DIR/model unchanged: config.json names
                              torch_dtype, AutoModelForCausalLM.from_pretrained loads it with no
                              missing/unexpected keys, AutoTokenizer.from_pretrained loads the same
                              folder, and its logits equal `gdpo inspect`'s (fp32, 1e-4).
  ranks ONE TWO               the train/loss and train/grad_norm of two runs (metrics.h5): step 1
                              within 1e-5 relative (same weights, same global batch), later steps
                              within 1e-3 (the reduction order differs).
  compare CPU.json CUDA.json  `gdpo bench step --bench.check` on two devices: every objective's
                              step-1 loss and grad norm within --tol relative (default 1e-4).
Each prints PASS/FAIL lines; the exit status is 1 when one failed. Needs torch (+ transformers,
safetensors and h5py for export/ranks).
"""
import json
import os
import subprocess
import sys


def line(ok, what):
    print("%s %s" % ("PASS" if ok else "FAIL", what), flush=True)
    return ok


def rel(a, b):
    return abs(a - b) / max(1.0, abs(b))


def check_export(run_dir, gdpo):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from hf_crosscheck import gdpo_logits, hf_logits, max_diff
    folder = os.path.join(run_dir, "model")
    ok = True
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    ok &= line("torch_dtype" in config or "dtype" in config,
               "export: config.json names torch_dtype (%s)" % config.get(
                   "torch_dtype", config.get("dtype", "absent: gdpo's hf_config_json does not write it")))
    try:
        model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)
        keys_ok = not info["missing_keys"] and not info["unexpected_keys"]
        ok &= line(keys_ok, "export: AutoModelForCausalLM.from_pretrained(%s) %s" % (
            folder, "no missing/unexpected keys" if keys_ok else info))
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return line(False, "export: AutoModelForCausalLM.from_pretrained failed: %r" % e)
    files = sorted(os.listdir(folder))
    try:
        tok = AutoTokenizer.from_pretrained(folder)
        ids = tok("0<agree>I think so")["input_ids"]
        ok &= line(len(ids) > 0, "export: AutoTokenizer.from_pretrained loads the folder (%s; %d ids)"
                   % (type(tok).__name__, len(ids)))
    except Exception as e:  # noqa: BLE001
        ok &= line(False, "export: AutoTokenizer.from_pretrained failed (folder holds %s): %r"
                   % (files, e))
    import tempfile
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (2, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    with tempfile.TemporaryDirectory() as tmp:
        d = max_diff(gdpo_logits(gdpo, folder, ids, mask, tmp), hf_logits(model.float().eval(), ids,
                                                                          mask), mask)
    ok &= line(d <= 1e-4, "export: logits of the trained model, gdpo vs transformers: max |diff| "
               "%.2e (tolerance 1e-4)" % d)
    return ok


def check_ranks(one, two):
    import h5py
    rows = []
    for run in (one, two):
        with h5py.File(os.path.join(run, "metrics.h5"), "r") as f:
            t = f["train"]
            rows.append({int(s): (float(l), float(g)) for s, l, g in
                         zip(t["step"][:], t["loss"][:], t["grad_norm"][:])})
    common = sorted(set(rows[0]) & set(rows[1]))
    if not common:
        return line(False, "ranks: no common training step in %s and %s" % (one, two))
    ok = True
    for i, s in enumerate(common):
        tol = 1e-5 if i == 0 else 1e-3
        (l1, g1), (l2, g2) = rows[0][s], rows[1][s]
        ok &= line(rel(l2, l1) <= tol and rel(g2, g1) <= tol,
                   "ranks: step %d loss %.8g vs %.8g, grad norm %.8g vs %.8g (1 vs 2 ranks, tol %g)"
                   % (s, l1, l2, g1, g2, tol))
    return ok


def check_compare(a_path, b_path, tol):
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    by_loss = {r["loss"]: r["check"] for r in b["results"]}
    ok = True
    for r in a["results"]:
        x, y = r["check"], by_loss.get(r["loss"])
        if y is None:
            ok &= line(False, "compare: %s missing in %s" % (r["loss"], b_path))
            continue
        for k in ("loss", "grad_norm"):
            ok &= line(rel(y[k], x[k]) <= tol, "%s vs %s: %s %s %.9e vs %.9e (rel %.1e, tol %g)" % (
                a["device_type"], b["device_type"], r["loss"], k, x[k], y[k], rel(y[k], x[k]), tol))
    return ok


def main(argv):
    if len(argv) >= 2 and argv[0] == "export":
        gdpo = argv[argv.index("--gdpo") + 1] if "--gdpo" in argv else "build-gpu/gdpo"
        return 0 if check_export(argv[1], gdpo) else 1
    if len(argv) == 3 and argv[0] == "ranks":
        return 0 if check_ranks(argv[1], argv[2]) else 1
    if len(argv) >= 3 and argv[0] == "compare":
        tol = float(argv[argv.index("--tol") + 1]) if "--tol" in argv else 1e-4
        return 0 if check_compare(argv[1], argv[2], tol) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

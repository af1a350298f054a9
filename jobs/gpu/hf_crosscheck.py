#!/usr/bin/env python3
"""Cross-checks gdpo's GPT-2 and GPT-NeoX against Hugging Face transformers (analysis only).

Needs torch, transformers and safetensors (the GPU machine has them; no download happens: models are
built from configs with random weights). Two directions per case:
  hf -> gdpo   transformers builds a random model and saves it (safetensors); `gdpo inspect FOLDER
               --inspect.inputs IN --inspect.logits OUT` runs it; the logits must match.
  gdpo -> hf   `gdpo inspect CONFIG.ini --inspect.export DIR` writes a random model; transformers
               must load it with no missing/unexpected keys and give the same logits.
Inputs are a fixed batch with one left-padded row; only real tokens are compared, HF getting
position_ids = cumsum(mask) - 1 (clamped at 0) as gdpo derives them.

usage: hf_crosscheck.py --gdpo build/gdpo [--out DIR] [--tol 1e-4]
Exit status 0 when every case matches; a JSON summary is written to DIR/hf_crosscheck.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, GPTNeoXConfig,
                          GPTNeoXForCausalLM)

VOCAB, HIDDEN, LAYERS, HEADS, POSITIONS = 211, 64, 2, 4, 64

CASES = {
    "gpt2": (GPT2LMHeadModel, GPT2Config(
        vocab_size=VOCAB, n_positions=POSITIONS, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
        n_inner=None, activation_function="gelu_new", bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)),
    "gpt_neox": (GPTNeoXForCausalLM, GPTNeoXConfig(
        vocab_size=VOCAB, max_position_embeddings=POSITIONS, hidden_size=HIDDEN,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=4 * HIDDEN,
        hidden_act="gelu", rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)),
    "gpt_neox_sequential": (GPTNeoXForCausalLM, GPTNeoXConfig(
        vocab_size=VOCAB, max_position_embeddings=POSITIONS, hidden_size=HIDDEN,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=3 * HIDDEN,
        hidden_act="gelu", rotary_pct=0.5, rotary_emb_base=500, use_parallel_residual=False,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)),
}

INI = {  # the same shapes as gdpo INI files (gdpo -> hf direction)
    "gpt2": "family = gpt2\nactivation = gelu_new\n",
    "gpt_neox": "family = gpt_neox\nintermediate-size = %d\nrotary-pct = 0.25\nrotary-base = 10000\n"
                "parallel-residual = true\nactivation = gelu\n" % (4 * HIDDEN),
    "gpt_neox_sequential": "family = gpt_neox\nintermediate-size = %d\nrotary-pct = 0.5\n"
                           "rotary-base = 500\nparallel-residual = false\nactivation = gelu\n"
                           % (3 * HIDDEN),
}


def inputs():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (3, 13), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :4] = 0   # left-padded row
    mask[2, 9:] = 0   # right-padded row
    return ids, mask


def hf_logits(model, ids, mask):
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()


def gdpo_logits(gdpo, target, ids, mask, tmp, extra=()):
    src, dst = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    save_file({"input_ids": ids.contiguous(), "attention_mask": mask.contiguous()}, src)
    cmd = [gdpo, "inspect", target, "--inspect.inputs", src, "--inspect.logits", dst, *extra]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), run.returncode, run.stdout,
                                                      run.stderr))
    return load_file(dst)["logits"]


def max_diff(a, b, mask):
    real = mask.bool()
    return (a[real] - b[real]).abs().max().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gdpo", required=True, help="path to the gdpo binary")
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="where the summary goes")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |logit difference| (fp32)")
    args = ap.parse_args()
    ids, mask = inputs()
    results, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (cls, config) in CASES.items():
            # hf -> gdpo: non-trivial weights (HF's init zeroes biases and sets norms to 1).
            torch.manual_seed(1)
            model = cls(config).eval()
            with torch.no_grad():
                for pname, p in model.named_parameters():
                    p.normal_(1.0 if "ln" in pname or "layernorm" in pname or "layer_norm" in pname
                              else 0.0, 0.2)
            folder = os.path.join(tmp, name + "-hf")
            model.save_pretrained(folder, safe_serialization=True)
            d1 = max_diff(gdpo_logits(args.gdpo, folder, ids, mask, tmp), hf_logits(model, ids, mask),
                          mask)

            # gdpo -> hf
            ini = os.path.join(tmp, name + ".ini")
            with open(ini, "w") as f:
                f.write("[model]\nvocab-size = %d\nmax-positions = %d\nhidden-size = %d\nlayers = %d\n"
                        "heads = %d\n%s" % (VOCAB, POSITIONS, HIDDEN, LAYERS, HEADS, INI[name]))
            export = os.path.join(tmp, name + "-gdpo")
            ours = gdpo_logits(args.gdpo, ini, ids, mask, tmp,
                               ["--inspect.seed", "7", "--inspect.export", export])
            loaded, info = AutoModelForCausalLM.from_pretrained(export, output_loading_info=True)
            keys_ok = not info["missing_keys"] and not info["unexpected_keys"]
            d2 = max_diff(ours, hf_logits(loaded.float().eval(), ids, mask), mask)

            passed = d1 <= args.tol and d2 <= args.tol and keys_ok
            ok &= passed
            results.append({"case": name, "hf_to_gdpo_max_diff": d1, "gdpo_to_hf_max_diff": d2,
                            "hf_loading_info": {k: list(v) for k, v in info.items()},
                            "passed": passed})
            print("%-22s hf->gdpo %.2e  gdpo->hf %.2e  keys %s  %s" % (
                name, d1, d2, "ok" if keys_ok else info, "PASS" if passed else "FAIL"))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "hf_crosscheck.json"), "w") as f:
        json.dump({"tolerance": args.tol, "cases": results}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

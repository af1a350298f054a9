#!/usr/bin/env python3
"""The Python reference of `gdpo bench step`: the same training step in transformers + PyTorch eager.

For the GPU suite (jobs/gpu-suite.sh): examples/s, tokens/s, MFU and peak memory of one SFT, DPO and
GDPO step as the GDPO authors' trainers.py runs it, on the batch shape of gdpo's presets, so the two
can be compared on the same GPU in the same run. Nothing is downloaded: the model is built from a
config with random weights.

The step (per objective, one micro-batch, as gdpo's bench): the policy's forward on the chosen and
rejected rows concatenated (2B rows, under bf16 autocast with fp32 master weights, or fp32),
`.logits.to(float32)`, log_softmax + gather of the labels (the authors' _get_batch_logps), the loss,
backward, clip_grad_norm_(10), RMSprop step (lr 5e-7). Reference log-probs are random numbers made
before timing (as gdpo's bench uses the cache: no reference forward). Losses:
  sft   -mean over the chosen rows of the mean response-token log-prob (all 2B rows are forwarded,
        as in gdpo's bench, so that the three objectives share one shape);
  dpo   -logsigmoid(beta * h), h from sums over the whole responses;
  gdpo  the authors' `mpo`: KL(p* || q) (q = full-vocabulary softmax at the chosen row's last prompt
        token, restricted to the K belief tokens, batchmean) + DPO on the response after the belief
        span - mean log-prob of the chosen row's belief span.
Attention: `--attn eager` (default; the authors pinned transformers 4.29, which only has eager
attention) or `--attn sdpa`.

MFU = (6 N + 12 L d T) * tokens / seconds / peak (N: parameters in matrix products, i.e. without
GPT-2's position table and without an untied input embedding; T: sequence length), as gdpo prints.

usage: python_step_bench.py --model gpt2-large|pythia-2.8b|fake [--pairs 4 --prompt 256
       --response 256 --beliefs 5 --belief-tokens 2] [--losses sft,dpo,gdpo] [--precision bf16]
       [--steps 5 --warmup 1] [--peak-tflops 989] [--device cuda] [--json FILE]
`fake` is a two-layer pure-torch model (no transformers needed) to try the script on a CPU.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

MODELS = {  # the paper's two shapes (configs/models/*.ini in gdpo)
    "gpt2-large": dict(family="gpt2", vocab=50257, positions=1024, hidden=1280, layers=36, heads=20),
    "pythia-2.8b": dict(family="gpt_neox", vocab=50304, positions=2048, hidden=2560, layers=32,
                        heads=32, rotary_pct=0.25),
    "fake": dict(family="fake", vocab=97, positions=64, hidden=32, layers=2, heads=4),
}


class FakeLM(torch.nn.Module):
    """A tiny causal stand-in with HF's interface (model(input_ids, attention_mask).logits)."""

    def __init__(self, m):
        super().__init__()
        self.emb = torch.nn.Embedding(m["vocab"], m["hidden"])
        self.layers = torch.nn.ModuleList(torch.nn.Linear(m["hidden"], m["hidden"])
                                          for _ in range(m["layers"]))
        self.head = torch.nn.Linear(m["hidden"], m["vocab"], bias=False)

    def forward(self, input_ids, attention_mask=None):
        h = self.emb(input_ids)
        for layer in self.layers:
            h = h + torch.tanh(layer(h)).cumsum(1) / torch.arange(1, h.shape[1] + 1,
                                                                 device=h.device)[None, :, None]
        return type("Out", (), {"logits": self.head(h)})()


def build_model(name, attn, device):
    m = MODELS[name]
    if m["family"] == "fake":
        return FakeLM(m).to(device), m
    from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM
    if m["family"] == "gpt2":
        cls, config = GPT2LMHeadModel, GPT2Config(
            vocab_size=m["vocab"], n_positions=m["positions"], n_embd=m["hidden"],
            n_layer=m["layers"], n_head=m["heads"], activation_function="gelu_new",
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    else:
        cls, config = GPTNeoXForCausalLM, GPTNeoXConfig(
            vocab_size=m["vocab"], max_position_embeddings=m["positions"], hidden_size=m["hidden"],
            num_hidden_layers=m["layers"], num_attention_heads=m["heads"],
            intermediate_size=4 * m["hidden"], rotary_pct=m["rotary_pct"], hidden_act="gelu",
            use_parallel_residual=True, tie_word_embeddings=False)
    config._attn_implementation = attn
    config.use_cache = False
    with torch.device(device):  # random init directly on the device (fp32 master weights)
        model = cls(config)
    return model.to(device).float(), m


def matmul_parameters(model, m):
    n = sum(p.numel() for p in model.parameters())  # tied weights are counted once
    if m["family"] == "gpt2":
        n -= m["positions"] * m["hidden"]
    elif m["family"] == "gpt_neox":
        n -= m["vocab"] * m["hidden"]  # untied input embedding: a lookup
    return n


def make_batch(args, vocab, device, seed=0):
    """Chosen rows [0, B), rejected rows [B, 2B): shared prompt, responses starting with a belief
    span whose first token is one of the pair's K belief ids (chosen != rejected belief)."""
    g = torch.Generator().manual_seed(seed)
    B, P, R, K, S = args.pairs, args.prompt, args.response, args.beliefs, args.belief_tokens
    prompt = torch.randint(0, vocab, (B, P), generator=g)
    resp = torch.randint(0, vocab, (2 * B, R), generator=g)
    beliefs = torch.stack([torch.randperm(vocab, generator=g)[:K] for _ in range(B)])  # [B, K]
    chosen_k = torch.randint(0, K, (B,), generator=g)
    rejected_k = (chosen_k + 1 + torch.randint(0, K - 1, (B,), generator=g)) % K
    resp[:B, 0] = beliefs[torch.arange(B), chosen_k]
    resp[B:, 0] = beliefs[torch.arange(B), rejected_k]
    ids = torch.cat([torch.cat([prompt, prompt]), resp], 1)
    labels = ids.clone()
    labels[:, :P] = -100
    p_star = torch.rand(B, K, generator=g)
    p_star = p_star / p_star.sum(1, keepdim=True)
    ref = -torch.rand(2 * B, generator=g) * R * 5  # summed reference log-probs (cache stand-in)
    ref_after = ref * (R - S) / R
    to = lambda t: t.to(device)
    return dict(ids=to(ids), mask=to(torch.ones_like(ids)), labels=to(labels), beliefs=to(beliefs),
                p_star=to(p_star), ref=to(ref), ref_after=to(ref_after), P=P, S=S, B=B)


def token_logps(logits, labels):
    """The authors' _get_batch_logps before the sum: per-token log-probs and the label mask."""
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    mask = labels != -100
    labels[~mask] = 0
    lp = torch.gather(logits.log_softmax(-1), 2, labels.unsqueeze(2)).squeeze(2)
    return lp, mask


def loss_of(kind, logits, b, beta=0.1):
    B, P, S = b["B"], b["P"], b["S"]
    lp, mask = token_logps(logits, b["labels"])
    if kind == "sft":
        per_row = (lp * mask).sum(-1) / mask.sum(-1)
        return -per_row[:B].mean()
    if kind == "dpo":
        s = (lp * mask).sum(-1)
        h = (s[:B] - s[B:]) - (b["ref"][:B] - b["ref"][B:])
        return -F.logsigmoid(beta * h).mean()
    # gdpo: calibration at the chosen row's last prompt token (logits position P - 1)
    log_q = logits[:B, P - 1, :].log_softmax(-1).gather(1, b["beliefs"])  # [B, K], not renormalised
    kl = F.kl_div(log_q, b["p_star"], reduction="batchmean")
    belief = torch.zeros_like(mask)
    belief[:, P - 1:P - 1 + S] = True  # label positions of the belief span (shifted by one)
    belief_logps = (lp[:B] * belief[:B]).sum(-1) / belief[:B].sum(-1)
    after = mask & ~belief
    s = (lp * after).sum(-1)
    h = (s[:B] - s[B:]) - (b["ref_after"][:B] - b["ref_after"][B:])
    return kl + (-F.logsigmoid(beta * h)).mean() - belief_logps.mean()


def run(args):
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:  # fp32 means fp32 (bf16 runs autocast anyway)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model, m = build_model(args.model, args.attn, device)
    model.train()
    n_matmul = matmul_parameters(model, m)
    b = make_batch(args, m["vocab"], device)
    tokens = b["ids"].numel()
    T = b["ids"].shape[1]
    flops = 6.0 * n_matmul * tokens + 12.0 * m["layers"] * m["hidden"] * T * tokens
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    results = []
    for kind in args.losses.split(","):
        opt = torch.optim.RMSprop(model.parameters(), lr=5e-7)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        times, last = [], None
        for i in range(args.warmup + args.steps):
            sync()
            t0 = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=args.precision == "bf16"):
                logits = model(input_ids=b["ids"], attention_mask=b["mask"]).logits
            logits = logits.to(torch.float32)
            loss = loss_of(kind, logits, b)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            last = (loss.item(), grad_norm.item())  # the authors read both every step
            sync()
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
            del logits, loss
        best = min(times)
        peak = torch.cuda.max_memory_allocated(device) if cuda else -1
        row = dict(loss=kind, seconds_per_step=best,
                   median_seconds_per_step=sorted(times)[len(times) // 2],
                   examples_per_second=args.pairs / best, tokens_per_second=tokens / best,
                   mfu=flops / best / (args.peak_tflops * 1e12), peak_device_bytes=peak,
                   last_loss=last[0], last_grad_norm=last[1])
        results.append(row)
        print("%-5s %10.2f examples/s %10.0f tokens/s %8.3f s/step  MFU %5.1f%%  peak %s MiB  "
              "(loss %.4g, grad norm %.4g)" % (
                  kind, row["examples_per_second"], row["tokens_per_second"], best,
                  100 * row["mfu"], "n/a" if peak < 0 else "%.0f" % (peak / 2**20), *last),
              flush=True)
        del opt
        for p in model.parameters():
            p.grad = None
    return dict(tool="python_step_bench", model=args.model, attn=args.attn,
                torch=torch.__version__, device=str(device),
                device_name=torch.cuda.get_device_name(device) if cuda else "cpu",
                precision=args.precision, pairs=args.pairs, rows_per_step=2 * args.pairs,
                seq_len=T, tokens_per_step=tokens, matmul_parameters=n_matmul,
                flops_per_step=flops, peak_tflops=args.peak_tflops, steps=args.steps,
                warmup=args.warmup, results=results)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="gpt2-large")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--response", type=int, default=256)
    ap.add_argument("--beliefs", type=int, default=5)
    ap.add_argument("--belief-tokens", type=int, default=2)
    ap.add_argument("--losses", default="sft,dpo,gdpo")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.steps < 1 or args.beliefs < 2 or not 0 < args.belief_tokens < args.response:
        ap.error("need --steps >= 1, --beliefs >= 2, 0 < --belief-tokens < --response")
    torch.manual_seed(0)
    out = run(args)
    print("python reference: %s, %s, %s attention, %d pairs x 2 rows x %d tokens, best of %d steps" % (
        args.model, args.precision, args.attn, args.pairs, out["seq_len"], args.steps))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

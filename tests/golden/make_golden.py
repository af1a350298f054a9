#!/usr/bin/env python3
"""Golden values for gdpo, computed with the GDPO authors' formulas.

Authors' code: github.com/BigBinnie/GDPO at commit 91917a8e923002d600d6499134dd03843b5a7ae4
(trainers.py, preference_datasets.py, utils.py). The functions below marked "port of" follow the
authors' code line by line (same masking quirks, same in-place label edits); see README.md.

Writes, next to this file:
  tokenizer/vocab.json, tokenizer/merges.txt   a small GPT-2-style byte-level BPE
  tiny-gpt2/{config.json,model.safetensors}    the reference model (and step-1 policy)
  tiny-gpt2-policy/{config.json,...}           the same weights plus seeded noise
  golden.json                                  texts, token ids, spans and every expected value

Needs only python3, PyTorch (1.13 is enough) with numpy, and the `regex` module
(Debian: python3-torch python3-numpy python3-regex). No transformers, no safetensors package.

  python3 tests/golden/make_golden.py [--gpt2-dir /work/shared/data/tokenizers/gpt2] [--check]

--check regenerates everything in memory and compares it with the files on disk (exit 1 on a
difference) instead of writing.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
from collections import Counter, OrderedDict

import regex
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHORS_REPO = "BigBinnie/GDPO"
AUTHORS_COMMIT = "91917a8e923002d600d6499134dd03843b5a7ae4"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOS = "<|endoftext|>"
BETA = 0.1
LABEL_SMOOTHING = 0.0
MAX_LENGTH = 512          # authors' config/config.yaml max_length
MAX_PROMPT_LENGTH = 256   # authors' config/config.yaml max_prompt_length
N_MERGES = 200            # learned merges (plus the forced ones below)
FORCED_MERGES = [(">", '"')]   # GPT-2 has it too: token 24618 '>"'
K = 6                     # belief ids "0".."5", as the authors' option_map numbers

# ------------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2's encoder.py algorithm)


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
          list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return OrderedDict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()          # byte -> unicode char
BYTE_ORDER = list(BYTE_ENCODER.values())   # GPT-2's ids 0..255 are the bytes in this order
PRETOKENIZER = regex.compile(GPT2_PATTERN)


def byte_level(piece):
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


class Gpt2Bpe:
    """GPT-2's encoder: regex pre-tokenizer, bytes_to_unicode, lowest-rank merge first (all
    occurrences, left to right), vocabulary lookup. Special tokens are never parsed from text."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for piece in PRETOKENIZER.findall(text):
            ids.extend(self.vocab[t] for t in self.bpe(byte_level(piece)))
        return ids

    def token_id(self, token):  # tokenizer.convert_tokens_to_ids for a byte-level token string
        return self.vocab[token]


def read_bpe(directory):
    with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    merges = []
    with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
        for i, line in enumerate(f.read().split("\n")):
            if (i == 0 and line.startswith("#version")) or not line:
                continue
            a, b = line.split(" ")
            merges.append((a, b))
    return Gpt2Bpe(vocab, merges)


def train_bpe(texts, n_merges, forced):
    """Plain BPE training on GPT-2 pre-tokens: repeatedly merge the most frequent adjacent pair
    (ties: the smallest pair in Python string order), while it occurs at least twice."""
    words = Counter()
    for text in texts:
        for piece in PRETOKENIZER.findall(text):
            words[tuple(byte_level(piece))] += 1
    merges = []
    while len(merges) < n_merges:
        pairs = Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        new_words = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] += c
        words = new_words
    for m in forced:
        if m not in merges:
            merges.append(m)
    return merges


def build_vocab(merges):
    vocab = OrderedDict((t, i) for i, t in enumerate(BYTE_ORDER))
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab[EOS] = len(vocab)
    return vocab


# ------------------------------------------------------------------------------------------------
# Fixture texts (authors' formats: preference_datasets.py get_mmoqa / get_movie_reviews)

OPINION_RECORDS = [
    # pair 0: empty context; plain "...>Text" on both sides
    dict(context="",
         prompt="How is the economy in our country today?",
         options={0: "DK/Refused", 1: "Very bad", 2: "Somewhat bad", 4: "Somewhat good", 5: "Very good"},
         probabilities=[0.02, 0.18, 0.41, 0.0, 0.32, 0.07],
         accept_choice_id=2, accept_choice="Somewhat bad",
         accept_response="Prices keep going up, so I would say things are somewhat bad.",
         reject_choice_id=4, reject_choice="Somewhat good",
         reject_response="Most people I know are doing fine, so it is somewhat good."),
    # pair 1: the chosen text starts with '"' so '>"' is one token (no lone '>' in the response)
    dict(context="We talked about trade.",
         prompt="Does trade with other countries help our economy?",
         options={0: "DK/Refused", 1: "Completely disagree", 2: "Mostly disagree", 4: "Mostly agree",
                  5: "Completely agree"},
         probabilities=[0.0333333, 0.0833333, 0.1666666, 0.0, 0.4166666, 0.3000001],
         accept_choice_id=4, accept_choice="Mostly agree",
         accept_response="\"Sure,\" I said, \"trade mostly helps our economy.\"",
         reject_choice_id=1, reject_choice="Completely disagree",
         reject_response="No way, trade with other countries only hurts our workers."),
    # pair 2: same prompt as pair 1; the rejected text starts with '"'
    dict(context="We talked about trade.",
         prompt="Does trade with other countries help our economy?",
         options={0: "DK/Refused", 1: "Completely disagree", 2: "Mostly disagree", 4: "Mostly agree",
                  5: "Completely agree"},
         probabilities=[0.0333333, 0.0833333, 0.1666666, 0.0, 0.4166666, 0.3000001],
         accept_choice_id=2, accept_choice="Mostly disagree",
         accept_response=" I mostly disagree; trade helps some people but hurts our workers.",
         reject_choice_id=5, reject_choice="Completely agree",
         reject_response="\"Of course,\" trade helps everyone in the economy."),
    # pair 3: context; text starts with a space
    dict(context="We talked about the hot summer.",
         prompt="How much of a threat is climate change to our country?",
         options={0: "DK/Refused", 2: "Not a threat", 4: "Minor threat", 5: "Major threat"},
         probabilities=[0.05, 0.0, 0.15, 0.0, 0.3, 0.5],
         accept_choice_id=5, accept_choice="Major threat",
         accept_response=" It is a major threat, summers keep getting hotter.",
         reject_choice_id=2, reject_choice="Not a threat",
         reject_response=" It is not a threat, the weather always changes."),
    # pair 4: empty context; four-word option text
    dict(context="",
         prompt="Is it morally acceptable to use animals in medical research?",
         options={0: "Not a moral issue", 2: "Morally unacceptable", 3: "Depends on the situation",
                  4: "Morally acceptable"},
         probabilities=[0.1, 0.0, 0.35, 0.15, 0.4, 0.0],
         accept_choice_id=3, accept_choice="Depends on the situation",
         accept_response="It depends on the situation and on the research.",
         reject_choice_id=4, reject_choice="Morally acceptable",
         reject_response="It is morally acceptable if the research helps people."),
]

REVIEW_RECORDS = [
    # movie_reviews format: "{rating}{text}", no "<option>" and so no '>' in the response
    dict(prompt="Review the movie Heat for a fan of crime films.",
         probabilities=[0.05, 0.05, 0.1, 0.2, 0.35, 0.25],
         accept_choice_id=4, accept_response=" A tense crime film with great acting.",
         reject_choice_id=1, reject_response=" The film is too long and the story is dull."),
    dict(prompt="Review the movie Cats for a fan of musicals.",
         probabilities=[0.3, 0.3, 0.2, 0.1, 0.05, 0.05],
         accept_choice_id=1, accept_response=" The songs are fine but the film looks strange.",
         reject_choice_id=5, reject_response=" A great musical film, the songs are perfect."),
]


def opinion_strings(ex, dpo_mode):
    """Port of preference_datasets.py get_mmoqa.split_prompt_and_responses (lines 245-256)."""
    if "context" in ex:
        prompt = f"{ex['context']}<Q>{ex['prompt']}<A>"
    else:
        prompt = f"<Q>{ex['prompt']}<A>"
    chosen = f"{ex['accept_choice_id']}<{ex['accept_choice']}>{ex['accept_response']}"
    if dpo_mode:
        rejected = f"{ex['reject_choice_id']}<{ex['reject_choice']}>{ex['reject_response']}"
    else:
        rejected = f"{ex['accept_choice_id']}<{ex['accept_choice']}>{ex['reject_response']}"
    return prompt, chosen, rejected, ex["probabilities"]


def review_strings(ex, dpo_mode):
    """Port of preference_datasets.py get_movie_reviews.split_prompt_and_responses (205-214)."""
    prompt = f"<Q>{ex['prompt']}<A>"
    chosen = f"{ex['accept_choice_id']}{ex['accept_response']}"
    if dpo_mode:
        rejected = f"{ex['reject_choice_id']}{ex['reject_response']}"
    else:
        rejected = f"{ex['accept_choice_id']}{ex['reject_response']}"
    return prompt, chosen, rejected, ex["probabilities"]


def all_texts():
    texts = []
    for ex in OPINION_RECORDS:
        for mode in (False, True):
            p, c, r, _ = opinion_strings(ex, mode)
            texts += [p, c, r]
        texts += list(ex["options"].values())
    for ex in REVIEW_RECORDS:
        for mode in (False, True):
            p, c, r, _ = review_strings(ex, mode)
            texts += [p, c, r]
    return texts


# ------------------------------------------------------------------------------------------------
# Tokenizing and batching (ports of preference_datasets.py)


def tokenize_batch_element(prompt, chosen, rejected, tok, eos_id, max_length=MAX_LENGTH,
                           max_prompt_length=MAX_PROMPT_LENGTH, truncation_mode="keep_start"):
    """Port of preference_datasets.py tokenize_batch_element (lines 319-382)."""
    chosen_tokens = tok.encode(chosen)        # tokenizer(chosen, add_special_tokens=False)
    rejected_tokens = tok.encode(rejected)
    prompt_tokens = tok.encode(prompt)
    assert eos_id not in prompt_tokens and eos_id not in chosen_tokens and eos_id not in rejected_tokens
    chosen_tokens = chosen_tokens + [eos_id]
    rejected_tokens = rejected_tokens + [eos_id]
    longer = max(len(chosen_tokens), len(rejected_tokens))
    if len(prompt_tokens) + longer > max_length:
        prompt_tokens = (prompt_tokens[:max_prompt_length] if truncation_mode == "keep_start"
                         else prompt_tokens[-max_prompt_length:])
    if len(prompt_tokens) + longer > max_length:
        chosen_tokens = chosen_tokens[:max_length - max_prompt_length]
        rejected_tokens = rejected_tokens[:max_length - max_prompt_length]
    el = {"prompt": prompt, "chosen": prompt + chosen, "rejected": prompt + rejected,
          "chosen_response_only": chosen, "rejected_response_only": rejected}
    for k, toks in (("chosen", chosen_tokens), ("rejected", rejected_tokens)):
        ids = prompt_tokens + toks
        el[f"{k}_input_ids"] = ids
        el[f"{k}_attention_mask"] = [1] * len(ids)
        el[f"{k}_labels"] = [-100] * len(prompt_tokens) + toks
    el["prompt_input_ids"] = prompt_tokens
    el["prompt_attention_mask"] = [1] * len(prompt_tokens)
    return el


def collate(elements, pad_id):
    """Port of preference_datasets.py get_collate_fn (lines 286-316): right padding, prompts left."""
    out = {}
    for k in elements[0]:
        if k.endswith("_input_ids") or k.endswith("_attention_mask") or k.endswith("_labels"):
            pad = pad_id if k.endswith("_input_ids") else (-100 if k.endswith("_labels") else 0)
            n = max(len(e[k]) for e in elements)
            rows = []
            for e in elements:
                v = e[k]
                rows.append(([pad] * (n - len(v)) + v) if "prompt" in k else (v + [pad] * (n - len(v))))
            out[k] = torch.tensor(rows, dtype=torch.long)
        else:
            out[k] = [e[k] for e in elements]
    return out


def group_by_prompt(records, strings, dpo_mode):
    """Port of get_mmoqa's grouping (lines 258-268): one entry per distinct prompt, all its pairs,
    sft_target and probabilities of the LAST record with that prompt."""
    data = OrderedDict()
    for ex in records:
        prompt, chosen, rejected, probs = strings(ex, dpo_mode)
        d = data.setdefault(prompt, {"responses": [], "pairs": []})
        n = len(d["responses"])
        d["pairs"].append((n, n + 1))
        d["responses"].extend([chosen, rejected])
        d["sft_target"] = chosen
        d["probabilities"] = probs
    return data


def pair_batch(records, strings, dpo_mode, tok, eos_id, grouped=True):
    """Batch elements in the authors' order (get_batch_iterator, non-SFT branch, no shuffle)."""
    els = []
    if grouped:
        for prompt, d in group_by_prompt(records, strings, dpo_mode).items():
            for p in d["pairs"]:
                el = tokenize_batch_element(prompt, d["responses"][p[0]], d["responses"][p[1]], tok, eos_id)
                el["probabilities"] = torch.tensor(d["probabilities"], dtype=torch.float64)
                els.append(el)
    else:  # get_movie_reviews returns a list: one element per record
        for ex in records:
            prompt, chosen, rejected, probs = strings(ex, dpo_mode)
            el = tokenize_batch_element(prompt, chosen, rejected, tok, eos_id)
            el["probabilities"] = torch.tensor(probs, dtype=torch.float64)
            els.append(el)
    return els


def sft_batch(records, strings, tok, eos_id, grouped=True):
    """get_batch_iterator's sft_mode branch (lines 600-616): tokenize_batch_element(prompt,
    sft_target, sft_target) and drop the rejected keys; one element per distinct prompt."""
    els = []
    if grouped:
        items = [(p, d["sft_target"], d["probabilities"])
                 for p, d in group_by_prompt(records, strings, False).items()]
    else:
        items = [(strings(ex, False)[0], strings(ex, False)[1], ex["probabilities"]) for ex in records]
    for prompt, target, probs in items:
        el = tokenize_batch_element(prompt, target, target, tok, eos_id)
        el = {k: v for k, v in el.items() if "rejected" not in k}
        el["probabilities"] = torch.tensor(probs, dtype=torch.float64)
        els.append(el)
    return els


# ------------------------------------------------------------------------------------------------
# The tiny GPT-2: Hugging Face GPT2LMHeadModel's computation in plain PyTorch


def param_specs(cfg):
    E, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    specs = [("transformer.wte.weight", [V, E]), ("transformer.wpe.weight", [P, E])]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        specs += [(p + "ln_1.weight", [E]), (p + "ln_1.bias", [E]),
                  (p + "attn.c_attn.weight", [E, 3 * E]), (p + "attn.c_attn.bias", [3 * E]),
                  (p + "attn.c_proj.weight", [E, E]), (p + "attn.c_proj.bias", [E]),
                  (p + "ln_2.weight", [E]), (p + "ln_2.bias", [E]),
                  (p + "mlp.c_fc.weight", [E, 4 * E]), (p + "mlp.c_fc.bias", [4 * E]),
                  (p + "mlp.c_proj.weight", [4 * E, E]), (p + "mlp.c_proj.bias", [E])]
    specs += [("transformer.ln_f.weight", [E]), ("transformer.ln_f.bias", [E])]
    return specs


def init_reference(cfg):
    """torch.manual_seed(0), then in param_specs order: LayerNorm weight 1 + 0.1 N(0,1), LayerNorm
    bias 0.05 N, wte 0.3 N, wpe 0.1 N, Conv1D weights 0.2 N, biases 0.05 N (all float32)."""
    torch.manual_seed(0)
    params = OrderedDict()
    for name, shape in param_specs(cfg):
        z = torch.randn(shape, dtype=torch.float32)
        if ".ln_" in name and name.endswith(".weight"):
            t = 1.0 + 0.1 * z
        elif name.endswith("wte.weight"):
            t = 0.3 * z
        elif name.endswith("wpe.weight"):
            t = 0.1 * z
        elif name.endswith(".weight"):
            t = 0.2 * z
        else:
            t = 0.05 * z
        params[name] = t.contiguous()
    return params


def perturb(params, seed=1, std=0.02):
    g = torch.Generator().manual_seed(seed)
    return OrderedDict((n, (t + std * torch.randn(t.shape, generator=g, dtype=torch.float32)).contiguous())
                       for n, t in params.items())


def gpt2_logits(P, cfg, input_ids, attention_mask):
    """GPT2LMHeadModel.forward (transformers 4.29, eager attention, no dropout): position_ids =
    arange(T); additive mask (1 - mask) * finfo.min; causal torch.where(.., finfo.min); scores /
    sqrt(head_dim); gelu_new; tied lm_head = wte."""
    dtype = P["transformer.wte.weight"].dtype
    B, T = input_ids.shape
    E, H = cfg["n_embd"], cfg["n_head"]
    D = E // H
    eps = cfg["layer_norm_epsilon"]
    minv = torch.finfo(dtype).min
    h = P["transformer.wte.weight"][input_ids] + P["transformer.wpe.weight"][torch.arange(T)][None]
    ext = (1.0 - attention_mask[:, None, None, :].to(dtype)) * minv
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None]

    def conv1d(x, w, b):
        return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(*x.shape[:-1], w.shape[1])

    def heads(x):
        return x.view(B, T, H, D).permute(0, 2, 1, 3)

    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        x = F.layer_norm(h, (E,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        q, k, v = conv1d(x, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"]).split(E, dim=2)
        q, k, v = heads(q), heads(k), heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], D ** 0.5, dtype=dtype)
        w = torch.where(causal, w, torch.full([], minv, dtype=dtype))
        w = torch.softmax(w + ext, dim=-1)
        a = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(B, T, E)
        h = h + conv1d(a, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])
        x = F.layer_norm(h, (E,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        m = conv1d(x, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"])
        m = 0.5 * m * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (m + 0.044715 * torch.pow(m, 3.0))))
        h = h + conv1d(m, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])
    h = F.layer_norm(h, (E,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
    return F.linear(h, P["transformer.wte.weight"])


# ------------------------------------------------------------------------------------------------
# safetensors by hand


def safetensors_bytes(params):
    header, blobs, offset = OrderedDict(), [], 0
    header["__metadata__"] = {"format": "pt"}
    for name, t in params.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def parse_safetensors(raw):
    """A minimal reader (F32 only), to read back what safetensors_bytes wrote."""
    import numpy as np
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = OrderedDict()
    for name, e in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                          key=lambda kv: kv[1]["data_offsets"][0]):
        b, en = e["data_offsets"]
        assert e["dtype"] == "F32"
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + en], dtype="<f4").copy()).view(e["shape"])
    return out


def hf_config(cfg):
    return OrderedDict([
        ("architectures", ["GPT2LMHeadModel"]), ("model_type", "gpt2"),
        ("vocab_size", cfg["vocab_size"]), ("n_positions", cfg["n_positions"]),
        ("n_embd", cfg["n_embd"]), ("n_layer", cfg["n_layer"]), ("n_head", cfg["n_head"]),
        ("n_inner", None), ("activation_function", "gelu_new"),
        ("layer_norm_epsilon", cfg["layer_norm_epsilon"]), ("tie_word_embeddings", True),
        ("scale_attn_weights", True), ("resid_pdrop", 0.0), ("embd_pdrop", 0.0), ("attn_pdrop", 0.0),
        ("initializer_range", 0.02),
        ("bos_token_id", cfg["bos_token_id"]), ("eos_token_id", cfg["eos_token_id"])])


# ------------------------------------------------------------------------------------------------
# Ports of the authors' trainers.py


def pad_to_length(tensor, length, pad_value, dim=-1):  # utils.py lines 74-80
    if tensor.size(dim) >= length:
        return tensor
    pad_size = list(tensor.shape)
    pad_size[dim] = length - tensor.size(dim)
    return torch.cat([tensor, pad_value * torch.ones(*pad_size, dtype=tensor.dtype)], dim=dim)


def preference_loss(pc, pr, rc, rr, beta, label_smoothing=0.0, ipo=False, reference_free=False):
    """Port of trainers.py preference_loss (lines 123-165)."""
    pi_logratios = pc - pr
    ref_logratios = rc - rr
    if reference_free:
        ref_logratios = 0
    logits = pi_logratios - ref_logratios
    if ipo:
        losses = (logits - 1 / (2 * beta)) ** 2
    else:
        losses = (-F.logsigmoid(beta * logits) * (1 - label_smoothing)
                  - F.logsigmoid(-beta * logits) * label_smoothing)
    chosen_rewards = beta * (pc - rc).detach()
    rejected_rewards = beta * (pr - rr).detach()
    return losses, chosen_rewards, rejected_rewards, logits


def _get_batch_logps(logits, labels, average_log_prob=False):
    """Port of trainers.py _get_batch_logps (lines 167-191). Also returns the per-token log-probs
    and the mask (shifted coordinates: index j scores input token j+1)."""
    assert logits.shape[:-1] == labels.shape
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    loss_mask = labels != -100
    labels[labels == -100] = 0
    per_token_logps = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    if average_log_prob:
        v = (per_token_logps * loss_mask).sum(-1) / loss_mask.sum(-1)
    else:
        v = (per_token_logps * loss_mask).sum(-1)
    return v, per_token_logps, loss_mask


def _belief_loss_mask(labels, gt_id):
    """The mask of trainers.py _get_batch_logps_belief (lines 205-234), in shifted coordinates,
    and whether the fallback was taken: with no '>' token among the (shifted) labels, argmax over an
    all-true mask gives 0, the candidate mask is empty, and the loss mask is left as it was (the whole
    response, EOS included). Also returns the labels with -100 replaced by 0."""
    labels = labels[:, 1:].clone()
    loss_mask = labels != -100
    labels[labels == -100] = 0
    end_position, fallback = [], []
    for i, sequence in enumerate(labels):
        last_position = (sequence == gt_id).nonzero(as_tuple=True)[0]
        fallback.append(last_position.shape[0] == 0)
        if last_position.shape[0] == 0:
            mask_position = torch.argmax((sequence != -100).double(), dim=0)
            last_position = torch.tensor([mask_position])
        end_position.append(last_position.max().item())
    for i in range(labels.shape[0]):
        new_loss_mask = loss_mask[i].clone()
        new_loss_mask[end_position[i]:] = False
        if new_loss_mask.sum().item() > 0:
            loss_mask[i, end_position[i]:] = False
    return loss_mask, fallback, labels


def _get_batch_logps_belief(logits, labels, gt_id, average_log_prob=False):
    """Port of trainers.py _get_batch_logps_belief (lines 193-241)."""
    assert logits.shape[:-1] == labels.shape
    loss_mask, fallback, labels = _belief_loss_mask(labels, gt_id)
    logits = logits[:, :-1, :]
    per_token_logps = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    if average_log_prob:
        v = (per_token_logps * loss_mask).sum(-1) / loss_mask.sum(-1)
    else:
        v = (per_token_logps * loss_mask).sum(-1)
    return v, loss_mask, fallback


def js_distance(p, q):
    """scipy.spatial.distance.jensenshannon(p, q) (base e): both renormalised, sqrt(JS / 2 ...)."""
    p = [float(x) for x in p]
    q = [float(x) for x in q]
    sp, sq = sum(p), sum(q)
    p = [x / sp for x in p]
    q = [x / sq for x in q]
    m = [(a + b) / 2.0 for a, b in zip(p, q)]

    def rel_entr(x, y):
        if x > 0 and y > 0:
            return x * math.log(x / y)
        if x == 0 and y >= 0:
            return 0.0
        return math.inf

    js = sum(rel_entr(a, c) for a, c in zip(p, m)) + sum(rel_entr(b, c) for b, c in zip(q, m))
    return math.sqrt(js / 2.0)


def _CE_loss(batch, logits, digit_ids):
    """Port of trainers.py _CE_loss (lines 301-347): full-vocabulary log_softmax at the last prompt
    token (first non -100 chosen label minus 1), gathered at the tokens "0".."K-1";
    F.kl_div(.., p*, batchmean) with p* as given; JS via scipy (which renormalises)."""
    labels = batch["chosen_labels"] if "chosen_labels" in batch else batch["target_labels"]
    mask_position = torch.argmax((labels != -100).double(), dim=1) - 1
    option_logits = logits[torch.arange(logits.shape[0]), mask_position].unsqueeze(1)
    softmax_option_logits = F.softmax(option_logits, dim=-1)
    log_softmax_option_logits = F.log_softmax(option_logits, dim=-1)
    Kp = len(batch["probabilities"][0])
    cols_log = [log_softmax_option_logits[:, 0, digit_ids[i]] for i in range(Kp)]
    cols_p = [softmax_option_logits[:, 0, digit_ids[i]] for i in range(Kp)]
    option_logits_6 = torch.stack(cols_log, dim=1)
    softmax_option_logits_6 = torch.stack(cols_p, dim=1)
    sum_option_logits_6 = torch.sum(softmax_option_logits_6, dim=1)
    probs = batch["probabilities"]
    probs = torch.stack(list(probs)) if isinstance(probs, list) else probs
    probs = probs.to(logits.dtype)
    CE_losses = F.kl_div(option_logits_6, probs, reduction="batchmean")
    kl_rows = F.kl_div(option_logits_6, probs, reduction="none").sum(1)
    js = [js_distance(softmax_option_logits_6[i].detach().tolist(), probs[i].tolist())
          for i in range(probs.shape[0])]
    return CE_losses, js, sum_option_logits_6, option_logits_6, kl_rows, mask_position


def concatenated_inputs(batch):
    """Port of trainers.py concatenated_inputs (lines 387-411): pads with 0 (ids, mask), -100."""
    max_length = max(batch["chosen_input_ids"].shape[1], batch["rejected_input_ids"].shape[1])
    out = {}
    for k in batch:
        if k.startswith("chosen") and isinstance(batch[k], torch.Tensor):
            pad_value = -100 if "labels" in k else 0
            out[k.replace("chosen", "concatenated")] = pad_to_length(batch[k], max_length, pad_value)
    for k in batch:
        if k.startswith("rejected") and isinstance(batch[k], torch.Tensor):
            pad_value = -100 if "labels" in k else 0
            ck = k.replace("rejected", "concatenated")
            out[ck] = torch.cat((out[ck], pad_to_length(batch[k], max_length, pad_value)), dim=0)
    return out


def concatenated_inputs_exclude_belief(batch, gt_id):
    """Port of trainers.py concatenated_inputs_exclude_belief (lines 455-507). End position = the
    last '>' token in chosen_input_ids (prompt included); labels before it become -100 for the chosen
    AND the rejected rows (the rejected rows use the chosen rows' positions); the '>' itself is kept.
    Mutates batch[...labels] in place, as the authors' code does."""
    max_length = max(batch["chosen_input_ids"].shape[1], batch["rejected_input_ids"].shape[1])
    out = {}
    for side in ("chosen", "rejected"):
        for k in list(batch):
            if k.startswith(side) and isinstance(batch[k], torch.Tensor):
                if "labels" in k:
                    end_position = [(seq == gt_id).nonzero(as_tuple=True)[0].max().item()
                                    for seq in batch["chosen_input_ids"]]
                    for i in range(batch[k].shape[0]):
                        tmp = batch[k][i].clone()
                        tmp[:end_position[i]] = -100
                        if torch.sum(tmp == -100) != tmp.shape[0]:
                            batch[k][i] = tmp
                pad_value = -100 if "labels" in k else 0
                ck = k.replace(side, "concatenated")
                padded = pad_to_length(batch[k], max_length, pad_value)
                out[ck] = padded if side == "chosen" else torch.cat((out[ck], padded), dim=0)
    return out


class Model:
    def __init__(self, params, cfg, dtype, requires_grad):
        self.cfg = cfg
        self.params = OrderedDict((n, t.to(dtype).clone().requires_grad_(requires_grad))
                                  for n, t in params.items())

    def __call__(self, ids, attention_mask):
        return gpt2_logits(self.params, self.cfg, ids, attention_mask)


def concatenated_forward(model, batch, gt_id, dtype, exclude_belief=False):
    """Port of BasicTrainer.concatenated_forward (lines 648-661): sum of label log-probs."""
    cb = concatenated_inputs_exclude_belief(batch, gt_id) if exclude_belief else concatenated_inputs(batch)
    logits = model(cb["concatenated_input_ids"], cb["concatenated_attention_mask"]).to(dtype)
    logps, per_token, mask = _get_batch_logps(logits, cb["concatenated_labels"], average_log_prob=False)
    n = batch["chosen_input_ids"].shape[0]
    return logps[:n], logps[n:], per_token, mask


def clone_batch(batch):
    return {k: (v.clone() if isinstance(v, torch.Tensor) else list(v)) for k, v in batch.items()}


def get_batch_metrics(name, batch, policy, reference, gt_id, digit_ids, dtype, beta=BETA):
    """Port of BasicTrainer.get_batch_metrics (lines 739-890) for sft, dpo, ipo, cdpo, mpo (GDPO).
    Returns (losses.mean(), metrics, internals)."""
    batch = clone_batch(batch)
    m, x = OrderedDict(), OrderedDict()
    if name in ("dpo", "ipo", "cdpo"):
        with torch.no_grad():
            logits = policy(batch["chosen_input_ids"], batch["chosen_attention_mask"]).to(dtype)
            CE, js, cls_sum, opt_logp, kl_rows, _ = _CE_loss(batch, logits, digit_ids)
        pc, pr, _, _ = concatenated_forward(policy, batch, gt_id, dtype, exclude_belief=(name == "cdpo"))
        with torch.no_grad():
            rc, rr, _, _ = concatenated_forward(reference, batch, gt_id, dtype, exclude_belief=(name == "cdpo"))
        losses, cr, rj, lg = preference_loss(pc, pr, rc, rr, beta, LABEL_SMOOTHING, ipo=(name == "ipo"))
        x.update(policy_chosen_logps=pc, policy_rejected_logps=pr, reference_chosen_logps=rc,
                 reference_rejected_logps=rr, logits=lg, pair_losses=losses)
        m["rewards/chosen"] = cr
        m["rewards/rejected"] = rj
        m["rewards/accuracies"] = (cr > rj).to(dtype)
        m["rewards/margins"] = cr - rj
        m["logps/rejected"] = pr.detach()
    elif name == "sft":
        logits = policy(batch["chosen_input_ids"], batch["chosen_attention_mask"]).to(dtype)
        logps, _, _ = _get_batch_logps(logits, batch["chosen_labels"], average_log_prob=True)
        CE, js, cls_sum, opt_logp, kl_rows, _ = _CE_loss(batch, logits, digit_ids)
        losses = -logps
        x.update(policy_chosen_logps_mean=logps)
    elif name == "mpo":
        logits = policy(batch["chosen_input_ids"], batch["chosen_attention_mask"]).to(dtype)
        CE, js, cls_sum, opt_logp, kl_rows, _ = _CE_loss(batch, logits, digit_ids)
        belief, _, _ = _get_batch_logps_belief(logits, batch["chosen_labels"], gt_id, average_log_prob=True)
        pc, pr, _, _ = concatenated_forward(policy, batch, gt_id, dtype, exclude_belief=True)
        with torch.no_grad():
            rc, rr, _, _ = concatenated_forward(reference, batch, gt_id, dtype, exclude_belief=True)
        dpo_losses, cr, rj, lg = preference_loss(pc, pr, rc, rr, beta, LABEL_SMOOTHING, ipo=False)
        m["rewards/chosen"] = cr
        m["rewards/rejected"] = rj
        m["rewards/accuracies"] = (cr > rj).to(dtype)
        m["rewards/margins"] = cr - rj
        m["logps/rejected"] = pr.detach()
        losses = CE + dpo_losses - belief
        m["logps/chosen-belief"] = belief.detach()
        x.update(policy_chosen_logps=pc, policy_rejected_logps=pr, reference_chosen_logps=rc,
                 reference_rejected_logps=rr, logits=lg, pair_losses=dpo_losses, belief_logps=belief,
                 kl=CE)
    else:
        raise ValueError(name)
    m["KL_losses"] = CE.detach()
    m["JS_divergence"] = sum(js) / len(js)
    m["CLS_Sum"] = cls_sum.detach()
    m["loss"] = losses.detach()
    x.update(belief_token_logprobs=opt_logp.detach(), kl_per_example=kl_rows.detach(), js=js)
    return losses.mean(), m, x


def grad_norm(loss, model):
    """torch.nn.utils.clip_grad_norm_'s total norm (norm_type 2) before clipping, over the unique
    parameters (wte once: it is both the embedding and the tied output layer)."""
    params = list(model.params.values())
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    norms = [torch.norm(g.detach(), 2.0) for g in grads if g is not None]
    return torch.norm(torch.stack(norms), 2.0)


# ------------------------------------------------------------------------------------------------
# Spans in response coordinates


def response_masks(batch_els, tok, gt_id, conditioned):
    """The authors' spans, as 0/1 strings over each row's response tokens (EOS included)."""
    b = collate(batch_els, tok.vocab[EOS])
    rows = {"chosen": [], "rejected": []}
    for side in ("chosen", "rejected"):
        if f"{side}_labels" not in b:
            continue
        bmask, fb, _ = _belief_loss_mask(b[f"{side}_labels"], gt_id)
        for i, el in enumerate(batch_els):
            n_prompt = len(el["prompt_input_ids"])
            resp = el[f"{side}_input_ids"][n_prompt:]
            belief = "".join("1" if bmask[i, n_prompt + r - 1] else "0" for r in range(len(resp)))
            rows[side].append({"belief_mask": belief, "belief_fallback": bool(fb[i])})
    if conditioned and "rejected_labels" in b:
        bb = clone_batch(b)
        cb = concatenated_inputs_exclude_belief(bb, gt_id)
        n = len(batch_els)
        for si, side in enumerate(("chosen", "rejected")):
            for i, el in enumerate(batch_els):
                n_prompt = len(el["prompt_input_ids"])
                lab = cb["concatenated_labels"][si * n + i]
                resp_len = len(el[f"{side}_input_ids"]) - n_prompt
                rows[side][i]["dpo_mask"] = "".join("1" if lab[n_prompt + r] != -100 else "0"
                                                    for r in range(resp_len))
    return rows


# ------------------------------------------------------------------------------------------------
# Output helpers


def num(x):
    x = float(x)
    assert math.isfinite(x), x
    return float("%.13g" % x)


def nums(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().tolist()
    if isinstance(t, list):
        return [nums(v) for v in t]
    return num(t)


def dumps(obj, indent=0):
    """JSON with dicts indented by one space and scalar lists on one line (small, still diffable)."""
    sp = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        inner = ",\n".join(f"{sp} {json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items())
        return "{\n" + inner + "\n" + sp + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return "[" + ",".join(dumps(v) for v in obj) + "]"
        inner = ",\n".join(sp + " " + dumps(v, indent + 1) for v in obj)
        return "[\n" + inner + "\n" + sp + "]"
    if isinstance(obj, float):
        return repr(obj)
    return json.dumps(obj, ensure_ascii=False)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------------


def gpt2_checks(gpt2_dir):
    """Proves the encoder on GPT-2's own files."""
    if not gpt2_dir or not os.path.isfile(os.path.join(gpt2_dir, "vocab.json")):
        return None
    tok = read_bpe(gpt2_dir)
    assert all(tok.vocab[BYTE_ORDER[i]] == i for i in range(256))  # our byte tokens keep GPT-2's ids
    known = [("Hello world", [15496, 995]), (" the", [262]), ('>"', [24618])]
    out = []
    for text, expected in known:
        ids = tok.encode(text)
        assert ids == expected, (text, ids, expected)
        out.append({"text": text, "ids": ids, "expected": expected})
    for text in ['4<Mostly agree>"Sure,"', "2<Somewhat bad>Prices", "<Q>How are you?<A>",
                 "It's 2024 -- we'll see!\n\n  ok"]:
        out.append({"text": text, "ids": tok.encode(text)})
    return out


def build(gpt2_dir):
    files = OrderedDict()
    gchecks = gpt2_checks(gpt2_dir)

    # Tokenizer
    merges = train_bpe(all_texts(), N_MERGES, FORCED_MERGES)
    vocab = build_vocab(merges)
    tok = Gpt2Bpe(vocab, merges)
    eos_id = vocab[EOS]
    files["tokenizer/vocab.json"] = (json.dumps(vocab, ensure_ascii=False) + "\n").encode("utf-8")
    files["tokenizer/merges.txt"] = ("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)).encode("utf-8")
    gt_id = tok.token_id(">")                            # convert_tokens_to_ids(">")
    digit_ids = [tok.token_id(str(i)) for i in range(K)]  # convert_tokens_to_ids(str(i))

    # Models
    cfg = OrderedDict(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=2, n_head=4,
                      layer_norm_epsilon=1e-5, bos_token_id=eos_id, eos_token_id=eos_id)
    ref_params = init_reference(cfg)
    pol_params = perturb(ref_params)
    for d, params in (("tiny-gpt2", ref_params), ("tiny-gpt2-policy", pol_params)):
        files[f"{d}/config.json"] = (json.dumps(hf_config(cfg), indent=2) + "\n").encode("utf-8")
        files[f"{d}/model.safetensors"] = safetensors_bytes(params)

    golden = OrderedDict()
    golden["format"] = "gdpo-golden/1"
    golden["generator"] = "tests/golden/make_golden.py"
    golden["authors"] = OrderedDict(repo=AUTHORS_REPO, commit=AUTHORS_COMMIT)
    golden["beta"] = BETA
    golden["label_smoothing"] = LABEL_SMOOTHING
    golden["max_length"] = MAX_LENGTH
    golden["max_prompt_length"] = MAX_PROMPT_LENGTH
    golden["tokenizer"] = OrderedDict(
        path="tokenizer", vocab_size=len(vocab), merges=len(merges), eos_id=eos_id, pad_id=eos_id,
        gt_token_id=gt_id, gt_quote_token_id=tok.token_id('>"'), belief_token_ids=digit_ids,
        gpt2_checks=gchecks)
    golden["models"] = OrderedDict(
        reference=OrderedDict(path="tiny-gpt2", sha256=sha256(files["tiny-gpt2/model.safetensors"])),
        policy=OrderedDict(path="tiny-gpt2-policy", sha256=sha256(files["tiny-gpt2-policy/model.safetensors"])),
        config=OrderedDict((k, v) for k, v in cfg.items()),
        parameters=sum(t.numel() for t in ref_params.values()))

    golden["batches"] = OrderedDict()
    for bname, records, strings, grouped in (("opinion", OPINION_RECORDS, opinion_strings, True),
                                             ("review", REVIEW_RECORDS, review_strings, False)):
        golden["batches"][bname] = batch_golden(records, strings, grouped, tok, eos_id, gt_id, digit_ids,
                                                cfg, ref_params, pol_params)
    files["golden.json"] = (dumps(golden) + "\n").encode("utf-8")
    return files


def row_info(el, side, tok, eos_id, masks, split_from):
    n_prompt = len(el["prompt_input_ids"])
    ids = el[f"{side}_input_ids"]
    r = OrderedDict()
    r["response"] = el[f"{side}_response_only"]
    r["response_ids"] = ids[n_prompt:]
    r["response_len"] = len(ids) - n_prompt
    r["belief_len"] = masks["belief_mask"].count("1")
    r["belief_fallback"] = masks["belief_fallback"]
    r["belief_mask"] = masks["belief_mask"]
    if "dpo_mask" in masks:
        r["dpo_start"] = masks["dpo_mask"].index("1")
        r["dpo_mask"] = masks["dpo_mask"]
    head, text = split_from
    split = tok.encode(head) + tok.encode(text) + [eos_id]
    r["split_ids"] = OrderedDict(head=tok.encode(head), text=tok.encode(text),
                                 same_as_whole=(split == r["response_ids"]))
    return r


LOSS_ROWS = (("sft", "sft"), ("dpo", "dpo"), ("cdpo", "cond"), ("ipo", "cond"), ("gdpo", "cond"))


def loss_values(loss_name, kind, els, pol, ref, gt_id, digit_ids, dtype, eos_id):
    b = collate(els[kind], eos_id)
    name = "mpo" if loss_name == "gdpo" else loss_name
    loss, m, x = get_batch_metrics(name, b, pol, ref, gt_id, digit_ids, dtype)
    gn = grad_norm(loss, pol)
    e = OrderedDict()
    e["loss"] = num(loss)
    e["losses"] = nums(m["loss"])
    for key in ("policy_chosen_logps_mean", "belief_logps", "policy_chosen_logps", "policy_rejected_logps",
                "reference_chosen_logps", "reference_rejected_logps", "logits"):
        if key in x:
            e[key] = nums(x[key])
    if name == "mpo":
        e["dpo_losses"] = nums(x["pair_losses"])
        e["kl"] = num(x["kl"])
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        if key in m:
            e[key] = nums(m[key])
    e["KL_losses"] = num(m["KL_losses"])
    e["JS_divergence"] = num(m["JS_divergence"])
    e["CLS_Sum"] = nums(m["CLS_Sum"])
    e["grad_norm"] = num(gn)
    if loss_name in ("sft", "gdpo"):
        e["calibration"] = OrderedDict(
            belief_token_logprobs=nums(x["belief_token_logprobs"]),
            kl_per_example=nums(x["kl_per_example"]),
            js_per_example=nums(x["js"]))
    if loss_name == "gdpo":
        # gradient norms of the three GDPO terms alone (same batch, same models)
        bt = collate(els[kind], eos_id)
        logits = pol(bt["chosen_input_ids"], bt["chosen_attention_mask"]).to(dtype)
        CE = _CE_loss(bt, logits, digit_ids)[0]
        bel = _get_batch_logps_belief(logits, bt["chosen_labels"], gt_id, True)[0]
        pc, pr, _, _ = concatenated_forward(pol, clone_batch(bt), gt_id, dtype, True)
        with torch.no_grad():
            rc, rr, _, _ = concatenated_forward(ref, clone_batch(bt), gt_id, dtype, True)
        dl = preference_loss(pc, pr, rc, rr, BETA)[0]
        e["grad_norm_terms"] = OrderedDict(
            calibration=num(grad_norm(CE, pol)),
            belief=num(grad_norm(-bel.mean(), pol)),
            dpo=num(grad_norm(dl.mean(), pol)))
    return e


def batch_golden(records, strings, grouped, tok, eos_id, gt_id, digit_ids, cfg, ref_params, pol_params):
    out = OrderedDict()
    is_opinion = strings is opinion_strings
    els = {"dpo": pair_batch(records, strings, True, tok, eos_id, grouped),
           "cond": pair_batch(records, strings, False, tok, eos_id, grouped),
           "sft": sft_batch(records, strings, tok, eos_id, grouped)}
    for e in els["dpo"] + els["cond"] + els["sft"]:
        for k in e:
            if k.endswith("_input_ids"):
                assert len(e[k]) <= cfg["n_positions"], (k, len(e[k]))
    masks = {kind: response_masks(els[kind], tok, gt_id, conditioned=(kind == "cond")) for kind in ("dpo", "cond")}

    def head(i, o):
        return f"{i}<{o}>" if is_opinion else f"{i}"

    prs = []
    for i, ex in enumerate(records):
        d, c = els["dpo"][i], els["cond"][i]
        # the batch order is the records' order (pairs of one prompt are adjacent)
        assert (d["chosen_response_only"], d["rejected_response_only"]) == strings(ex, True)[1:3]
        assert (c["chosen_response_only"], c["rejected_response_only"]) == strings(ex, False)[1:3]
        assert d["chosen_input_ids"] == c["chosen_input_ids"]
        p = OrderedDict()
        p["prompt"] = strings(ex, False)[0]
        if is_opinion:
            p["context"] = ex["context"]
        p["question"] = ex["prompt"]
        if is_opinion:
            p["options"] = OrderedDict((str(k), v) for k, v in sorted(ex["options"].items()))
        p["p_star"] = ex["probabilities"]
        p["p_star_sum"] = num(sum(ex["probabilities"]))
        p["chosen"] = OrderedDict(id=ex["accept_choice_id"], option=ex.get("accept_choice"), text=ex["accept_response"])
        p["rejected"] = OrderedDict(id=ex["reject_choice_id"], option=ex.get("reject_choice"), text=ex["reject_response"])
        p["prompt_ids"] = c["prompt_input_ids"]
        p["prompt_len"] = len(c["prompt_input_ids"])
        acc, rej = (ex["accept_choice_id"], ex.get("accept_choice")), (ex["reject_choice_id"], ex.get("reject_choice"))
        p["rows"] = OrderedDict(
            chosen=row_info(c, "chosen", tok, eos_id, masks["cond"]["chosen"][i], (head(*acc), ex["accept_response"])),
            rejected_own_belief=row_info(d, "rejected", tok, eos_id, masks["dpo"]["rejected"][i],
                                         (head(*rej), ex["reject_response"])),
            rejected_chosen_belief=row_info(c, "rejected", tok, eos_id, masks["cond"]["rejected"][i],
                                            (head(*acc), ex["reject_response"])))
        prs.append(p)
    out["pairs"] = prs
    prompts = [strings(ex, False)[0] for ex in records]
    sft_idx = []
    for el in els["sft"]:
        j = max(j for j, p in enumerate(prompts) if p == el["prompt"])  # the prompt's last record
        assert el["chosen_input_ids"] == els["cond"][j]["chosen_input_ids"]
        sft_idx.append(j)
    out["sft_pairs"] = sft_idx

    # Per-token log-probs of every response token (EOS included), float64
    token_logps = OrderedDict()
    for mname, params in (("reference", ref_params), ("policy", pol_params)):
        mdl = Model(params, cfg, torch.float64, requires_grad=False)
        tl = OrderedDict()
        with torch.no_grad():
            for key, kind, side in (("chosen", "cond", "chosen"), ("rejected_own_belief", "dpo", "rejected"),
                                    ("rejected_chosen_belief", "cond", "rejected")):
                b = collate(els[kind], eos_id)
                logits = mdl(b[f"{side}_input_ids"], b[f"{side}_attention_mask"])
                _, per_tok, _ = _get_batch_logps(logits, b[f"{side}_labels"])
                tl[key] = [nums(per_tok[i, len(el["prompt_input_ids"]) - 1:len(el[f"{side}_input_ids"]) - 1])
                           for i, el in enumerate(els[kind])]
        token_logps[mname] = tl
    out["token_logps_float64"] = token_logps

    values = OrderedDict()
    for dname, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        ref = Model(ref_params, cfg, dtype, requires_grad=False)
        vals = OrderedDict()
        for scen, pparams in (("same", ref_params), ("perturbed", pol_params)):
            pol = Model(pparams, cfg, dtype, requires_grad=True)
            sv = OrderedDict()
            for loss_name, kind in LOSS_ROWS:
                e = loss_values(loss_name, kind, els, pol, ref, gt_id, digit_ids, dtype, eos_id)
                if dname == "float32":
                    e = OrderedDict((k, e[k]) for k in ("loss", "KL_losses", "grad_norm"))
                sv[loss_name] = e
            vals[scen] = sv
        values[dname if dname == "float64" else "float32_summary"] = vals
    out["values"] = values
    return out


def independent_check(files):
    """Recomputes the float64 values from the written files alone, with one unpadded forward per row
    and the spans as stored in golden.json (not the ported batch code), and compares."""
    g = json.loads(files["golden.json"])
    cfg = json.loads(files["tiny-gpt2/config.json"])
    tok = Gpt2Bpe(json.loads(files["tokenizer/vocab.json"]),
                  [tuple(l.split(" ")) for l in files["tokenizer/merges.txt"].decode().split("\n")[1:] if l])
    ref0 = OrderedDict((k, v.double()) for k, v in parse_safetensors(files["tiny-gpt2/model.safetensors"]).items())
    pol0 = OrderedDict((k, v.double()) for k, v in parse_safetensors(files["tiny-gpt2-policy/model.safetensors"]).items())
    assert list(ref0) == [n for n, _ in param_specs(cfg)]
    beta, digits, eos = g["beta"], g["tokenizer"]["belief_token_ids"], g["tokenizer"]["eos_id"]
    worst = 0.0

    def close(a, b, what):
        nonlocal worst
        e = abs(float(a) - b) / max(1.0, abs(b))
        worst = max(worst, e)
        assert e < 1e-9, (what, float(a), b)

    def rows_logps(W, prompt, resp):
        t = torch.tensor([prompt + resp])
        lg = gpt2_logits(W, cfg, t, torch.ones_like(t))[0].log_softmax(-1)
        n = len(prompt)
        return torch.stack([lg[n - 1 + r, resp[r]] for r in range(len(resp))]), lg[n - 1]

    def msum(v, m):
        return sum(v[j] for j, c in enumerate(m) if c == "1")

    def gnorm(loss, P):
        gs = torch.autograd.grad(loss, list(P.values()), allow_unused=True, retain_graph=True)
        return math.sqrt(sum(float((x ** 2).sum()) for x in gs if x is not None))

    for bname, B in g["batches"].items():
        pairs = B["pairs"]
        for i, p in enumerate(pairs):
            assert tok.encode(p["prompt"]) == p["prompt_ids"]
            for k, r in p["rows"].items():
                assert tok.encode(r["response"]) + [eos] == r["response_ids"]
        for scen, P0 in (("same", ref0), ("perturbed", pol0)):
            V = B["values"]["float64"][scen]
            P = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in P0.items())
            T = {}
            for who, W in (("pol", P), ("ref", ref0)):
                for i, p in enumerate(pairs):
                    for k, r in p["rows"].items():
                        T[who, i, k] = rows_logps(W, p["prompt_ids"], r["response_ids"])
            for i, p in enumerate(pairs):
                for k in p["rows"]:
                    for a, b in zip(T["ref", i, k][0], B["token_logps_float64"]["reference"][k][i]):
                        close(a, b, "reference token log-prob")
                    if scen == "perturbed":
                        for a, b in zip(T["pol", i, k][0], B["token_logps_float64"]["policy"][k][i]):
                            close(a, b, "policy token log-prob")
            n = len(pairs)
            kl = bel = dl = dpo = ipo = cdpo = 0
            js = []
            for i, p in enumerate(pairs):
                R = p["rows"]
                c, q = T["pol", i, "chosen"]
                ro, rc = T["pol", i, "rejected_own_belief"][0], T["pol", i, "rejected_chosen_belief"][0]
                c0, ro0, rc0 = (T["ref", i, k][0] for k in ("chosen", "rejected_own_belief", "rejected_chosen_belief"))
                ps = p["p_star"]
                qd = q[digits]
                for a, b in zip(qd, V["gdpo"]["calibration"]["belief_token_logprobs"][i]):
                    close(a, b, "belief-token log-prob")
                kl = kl + sum(ps[k] * (math.log(ps[k]) - qd[k]) for k in range(len(ps)) if ps[k] > 0) / n
                js.append(js_distance([math.exp(float(x)) for x in qd], ps))
                mb = R["chosen"]["belief_mask"]
                bel = bel + msum(c, mb) / mb.count("1") / n
                mc, mr = R["chosen"]["dpo_mask"], R["rejected_chosen_belief"]["dpo_mask"]
                h = (msum(c, mc) - msum(rc, mr)) - (msum(c0, mc) - msum(rc0, mr))
                dl = dl - F.logsigmoid(beta * h) / n
                close(h, V["cdpo"]["logits"][i], "cdpo logits")
                h2 = (c.sum() - ro.sum()) - (c0.sum() - ro0.sum())
                close(h2, V["dpo"]["logits"][i], "dpo logits")
                dpo = dpo - F.logsigmoid(beta * h2) / n
                h3 = (c.sum() - rc.sum()) - (c0.sum() - rc0.sum())
                ipo = ipo + (h3 - 1 / (2 * beta)) ** 2 / n
            cdpo = dl
            sft = 0
            for j in B["sft_pairs"]:
                c = T["pol", j, "chosen"][0]
                sft = sft - c.mean() / len(B["sft_pairs"])
            close(kl, V["gdpo"]["kl"], "calibration KL")
            close(sum(js) / len(js), V["gdpo"]["JS_divergence"], "JS")
            for name, loss in (("gdpo", kl + dl - bel), ("dpo", dpo), ("cdpo", cdpo), ("ipo", ipo), ("sft", sft)):
                close(loss, V[name]["loss"], name + " loss")
                close(gnorm(loss, P), V[name]["grad_norm"], name + " grad norm")
            for name, loss in (("calibration", kl), ("belief", -bel), ("dpo", dl)):
                close(gnorm(loss, P), V["gdpo"]["grad_norm_terms"][name], name + " term grad norm")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpt2-dir", default="/work/shared/data/tokenizers/gpt2",
                    help="GPT-2 vocab.json + merges.txt, to prove the encoder (skipped if absent)")
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = build(args.gpt2_dir)
    worst = independent_check(files)
    print(f"independent recomputation agrees (worst relative difference {worst:.1e})")
    if args.check:
        bad = 0
        for rel, data in files.items():
            path = os.path.join(HERE, rel)
            if not os.path.isfile(path) or open(path, "rb").read() != data:
                print(f"differs: {rel}")
                bad += 1
        print("golden files are up to date" if not bad else f"{bad} file(s) differ")
        return 1 if bad else 0
    for rel, data in files.items():
        path = os.path.join(HERE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    total = sum(len(v) for v in files.values())
    for rel, data in files.items():
        print(f"{len(data):8d}  tests/golden/{rel}")
    print(f"{total:8d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())

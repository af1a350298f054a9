#!/usr/bin/env python3
"""Writes whitespace_pretokens.json: GPT-2's reference pre-tokenization (and, when GPT-2's files are
at hand, its reference ids) of short texts around every Unicode whitespace-like code point.

The reference is OpenAI's GPT-2 encoder.py: the pattern below run by the `regex` package (whose \\s
is Unicode's White_Space property), then byte-level BPE exactly as encoder.py's bpe(). The C++ tests
(whitespace_pretokens_test.cpp, real_tokenizers_test.cpp) compare gdpo's pieces and ids with it.

    python3 tests/tokenizer/make_whitespace_pretokens.py \\
        [--gpt2 ../shared/data/tokenizers/gpt2] [--out tests/tokenizer/whitespace_pretokens.json]

Without GPT-2's vocab.json + merges.txt the cases carry no ids (the id test then has nothing to
check). Needs `pip install regex`; the output is deterministic for a given `regex` version.
"""
import argparse
import json
import os
import random
import sys
import unicodedata

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Unicode's White_Space property (what \s is to `regex`, tiktoken and Oniguruma).
WHITE_SPACE = [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000]
# Whitespace-like code points that are not White_Space now: U+180E MONGOLIAN VOWEL SEPARATOR (it was
# until Unicode 6.3; PCRE2's \s still takes it), U+200B ZERO WIDTH SPACE (Zs until Unicode 4.0.1),
# U+001C..U+001F (Python's str.isspace), zero-width and invisible format characters, blank-looking
# letters and symbols (Hangul fillers, braille blank), NUL.
WHITESPACE_LIKE = [0x00, *range(0x1C, 0x20), 0xAD, 0x061C, 0x115F, 0x1160, 0x180E, 0x200B, 0x200C,
                   0x200D, 0x200E, 0x2060, 0x2061, 0x2800, 0x3164, 0xFEFF, 0xFFA0]
CODE_POINTS = WHITE_SPACE + WHITESPACE_LIKE

# Where each code point goes: "{w}" is the code point.
TEMPLATES = ["a{w}b", "a{w}{w}b", "a {w}b", "a{w} b", "a {w}{w} b", "1{w}2", "{w}7", "!{w}?", "{w}.",
             "{w}", "{w}{w}{w}", "x{w}", "x {w}", "x{w} ", "x{w}\n", "{w}x", " {w}x", "x\n{w}y",
             "it's{w}", "{w}'ll", "\u00e9{w}\u4e2d"]
# Next to these others.
PARTNERS = [" ", "\n", "\u180e", "\u3000"]
PAIR_TEMPLATES = ["a{w}{d}b", "a{d}{w}b"]
# Random texts over whitespace-like code points, letters, digits, punctuation and contractions.
RANDOM_ALPHABET = [chr(c) for c in CODE_POINTS] + ["a", "Z", "\u00e9", "\u4e2d", "7", "\u0663", "!",
                                                   ".", "'", "'s", "'ll", "-", " ", "  "]
RANDOM_CASES = 200


def bytes_to_unicode():
    """encoder.py's table: each byte as one printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Gpt2Encoder:
    """encoder.py's Encoder.encode, byte for byte (no special-token handling)."""

    def __init__(self, directory):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
            bpe_data = f.read()
        merges = [tuple(line.split()) for line in bpe_data.split("\n")[1:-1]]
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, pieces):
        ids = []
        for token in pieces:
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids


def texts():
    seen = set()
    out = []

    def add(text):
        if text not in seen:
            seen.add(text)
            out.append(text)

    for cp in CODE_POINTS:
        w = chr(cp)
        for t in TEMPLATES:
            add(t.format(w=w))
        for d in PARTNERS:
            for t in PAIR_TEMPLATES:
                add(t.format(w=w, d=d))
    rng = random.Random(20240610)
    for _ in range(RANDOM_CASES):
        add("".join(rng.choice(RANDOM_ALPHABET) for _ in range(rng.randint(1, 12))))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpt2", default=os.path.join(here, "../../../shared/data/tokenizers/gpt2"),
                        help="directory with GPT-2's vocab.json and merges.txt (optional)")
    parser.add_argument("--out", default=os.path.join(here, "whitespace_pretokens.json"))
    args = parser.parse_args()

    pattern = regex.compile(GPT2_PATTERN)
    encoder = None
    if os.path.exists(os.path.join(args.gpt2, "vocab.json")):
        encoder = Gpt2Encoder(args.gpt2)
    else:
        print(f"no GPT-2 files in {args.gpt2}: writing pieces only", file=sys.stderr)

    cases = []
    for text in texts():
        # Every character must be assigned in the Unicode of Python's tables (and so of PCRE2 10.39+):
        # newer letters would test PCRE2's Unicode version, not the pattern.
        for ch in text:
            assert unicodedata.category(ch) != "Cn", f"U+{ord(ch):04X} is unassigned"
        pieces = pattern.findall(text)
        assert "".join(pieces) == text, text
        case = [text, pieces]
        if encoder:
            case.append(encoder.encode(pieces))
        cases.append(case)

    with open(args.out, "w", encoding="ascii", newline="\n") as f:
        f.write("{\n")
        f.write(f'"about": {json.dumps("GPT-2 reference pre-tokenization: " + os.path.basename(__file__))},\n')
        f.write(f'"regex_version": {json.dumps(regex.__version__)},\n')
        f.write(f'"pattern": {json.dumps(GPT2_PATTERN)},\n')
        f.write(f'"ids": {json.dumps("gpt2" if encoder else "none")},\n')
        f.write('"cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=True) for c in cases))
        f.write("\n]\n}\n")
    print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

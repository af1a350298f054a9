#!/usr/bin/env python3
"""Golden ROUGE-L values for tests/eval/rouge_l_test.cpp.

A line-by-line transcription of what `rouge.Rouge().get_scores(hyp, ref)[0]["rouge-l"]` runs in
the PyPI package `rouge` 1.0.1 (github.com/pltrdy/rouge, tag 1.0.1): rouge/rouge.py
`Rouge._get_scores` (sentence split) and rouge/rouge_score.py `rouge_l_summary_level`,
`_union_lcs`, `_recon_lcs`, `_lcs`, `_split_into_words`, with the default exclusive=True (Ngrams
are Python sets). Standard library only, so it runs without the package:

    python3 tests/eval/rouge_reference.py

prints one line per case: the case name, f, p, r (repr, i.e. round-trip exact). The C++ test pastes
these numbers. With the real package installed, `--check` also compares against it.
"""
import itertools
import sys


def _split_into_words(sentences):
    return list(itertools.chain(*[_.split(" ") for _ in sentences]))


def _lcs(x, y):
    n, m = len(x), len(y)
    table = dict()
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                table[i, j] = 0
            elif x[i - 1] == y[j - 1]:
                table[i, j] = table[i - 1, j - 1] + 1
            else:
                table[i, j] = max(table[i - 1, j], table[i, j - 1])
    return table


def _recon_lcs(x, y):
    i, j = len(x), len(y)
    table = _lcs(x, y)

    def _recon(i, j):
        if i == 0 or j == 0:
            return []
        elif x[i - 1] == y[j - 1]:
            return _recon(i - 1, j - 1) + [(x[i - 1], i)]
        elif table[i - 1, j] > table[i, j - 1]:
            return _recon(i - 1, j)
        else:
            return _recon(i, j - 1)

    return set(map(lambda x: x[0], _recon(i, j)))


def _union_lcs(evaluated_sentences, reference_sentence, prev_union):
    if len(evaluated_sentences) <= 0:
        raise ValueError("Collections must contain at least 1 sentence.")
    lcs_union = prev_union
    prev_count = len(prev_union)
    reference_words = _split_into_words([reference_sentence])
    for eval_s in evaluated_sentences:
        evaluated_words = _split_into_words([eval_s])
        lcs = _recon_lcs(reference_words, evaluated_words)
        lcs_union = lcs_union.union(lcs)
    new_lcs_count = len(lcs_union) - prev_count
    return new_lcs_count, lcs_union


def rouge_l_summary_level(evaluated_sentences, reference_sentences):
    if len(evaluated_sentences) <= 0 or len(reference_sentences) <= 0:
        raise ValueError("Collections must contain at least 1 sentence.")
    m = len(set(_split_into_words(reference_sentences)))
    n = len(set(_split_into_words(evaluated_sentences)))
    union_lcs_sum_across_all_references = 0
    union = set()
    for ref_s in reference_sentences:
        lcs_count, union = _union_lcs(evaluated_sentences, ref_s, prev_union=union)
        union_lcs_sum_across_all_references += lcs_count
    llcs = union_lcs_sum_across_all_references
    r_lcs = llcs / m
    p_lcs = llcs / n
    f_lcs = 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))
    return {"f": f_lcs, "p": p_lcs, "r": r_lcs}


def rouge_l(hyp, ref):
    """Rouge().get_scores(hyp, ref)[0]["rouge-l"] for two strings."""
    hyp = [" ".join(_.split()) for _ in hyp.split(".") if len(_) > 0]
    ref = [" ".join(_.split()) for _ in ref.split(".") if len(_) > 0]
    return rouge_l_summary_level(hyp, ref)


# (name, hypothesis, reference): the same names as in rouge_l_test.cpp.
CASES = [
    ("identical", "the cat sat", "the cat sat"),
    ("distinct_words", "the cat sat on the mat", "the cat lay on the mat"),
    ("union_lcs_docstring", "w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5"),
    ("recon_tie_break", "b a. b", "a b"),
    ("empty_sentence_word", "a. . b", "a. . c"),
    ("trailing_space_sentence", "a b. ", "a b"),
    ("case_sensitive", "The Cat", "the cat"),
    ("unicode_whitespace", "na\u00efve\u00a0approach\u3000here", "na\u00efve approach here"),
    ("authors_like", "I think the economy is doing very well right now, jobs are up.",
     "The economy is doing well. Jobs are up and wages are rising."),
    ("punctuation_kept", "yes, it is good!", "yes it is good"),
    ("whitespace_only_hyp", " ", "a b"),
]


def main():
    check = "--check" in sys.argv[1:]
    if check:
        import rouge  # the real package (pip install rouge==1.0.1)
        real = rouge.Rouge()
    for name, hyp, ref in CASES:
        s = rouge_l(hyp, ref)
        print(f"{name} f={s['f']!r} p={s['p']!r} r={s['r']!r}")
        if check:
            t = real.get_scores(hyp, ref)[0]["rouge-l"]
            assert t == s, (name, t, s)
    for hyp, ref in [("", "a"), ("...", "a"), ("a", ""), ("a", ". .")]:
        try:
            rouge_l(hyp, ref)
            print(f"{hyp!r} {ref!r}: no error")
        except ValueError as e:
            print(f"{hyp!r} {ref!r}: ValueError {e}")


if __name__ == "__main__":
    main()

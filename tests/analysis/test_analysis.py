#!/usr/bin/env python3
"""Tests of the analysis/ scripts (tables.py, curves.py, beliefs.py): the numbers they print.

    /usr/bin/python3 -m unittest discover -s tests/analysis      (or: python3 tests/analysis/test_analysis.py)

Environment: GDPO_BINARY (the gdpo binary; default build/gdpo; the curves tests on real runs skip
without it), GDPO_TEST_TMP (scratch directory; default the system's). Needs h5py, numpy and
matplotlib: without them every test is skipped (run as a script: exit status 77, for ctest's
SKIP_RETURN_CODE).

eval.h5 inputs come from make_eval_fixture.py (hand-chosen numbers, stated again here as the
strings the scripts must print). curves.py runs on real metrics.h5 files of tiny `gdpo train`
runs, and on a run "still training": the test itself holds that run's metrics.h5 open as an HDF5
SWMR writer (as gdpo does while it trains; a plain open of it then fails) and appends a row in two
halves, first to some columns only (curves.py must ignore the incomplete row), then to all.
"""
import csv
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ANALYSIS = os.path.join(REPO, "analysis")
MISSING = [m for m in ("h5py", "numpy", "matplotlib") if importlib.util.find_spec(m) is None]
SKIP_MESSAGE = f"analysis tests need the Python modules {', '.join(MISSING)} ({sys.executable})"
if MISSING and __name__ != "__main__":
    raise unittest.SkipTest(SKIP_MESSAGE)
if not MISSING:
    import h5py
    import numpy as np
    sys.path.insert(0, HERE)
    import make_eval_fixture as fx


def run_script(name, *args):
    return subprocess.run([sys.executable, os.path.join(ANALYSIS, name), *args],
                          capture_output=True, text=True, timeout=120)


def parse_tsv(stdout):
    """The tab-separated table a script prints: list of dicts (lines without tabs skipped)."""
    lines = [l for l in stdout.splitlines() if "\t" in l]
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


def scratch_dir(test):
    base = os.environ.get("GDPO_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    path = tempfile.mkdtemp(prefix="gdpo_analysis_", dir=base)
    test.addClassCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


class BadInputMixin:
    def assert_fails_naming(self, result, path):
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn(path, result.stderr)


class FixtureCase(unittest.TestCase, BadInputMixin):
    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch_dir(cls)
        fx.write_all(cls.tmp)
        cls.files = {(d, m): os.path.join(cls.tmp, d, m + ".h5")
                     for d in fx.DATASETS for m in fx.METHODS}
        cls.not_gdpo = os.path.join(cls.tmp, "other.h5")
        with h5py.File(cls.not_gdpo, "w") as f:
            f["data"] = np.arange(3.0)
        cls.missing = os.path.join(cls.tmp, "does_not_exist.h5")

    def all_files(self):
        return [self.files[(d, m)] for d in fx.DATASETS for m in fx.METHODS]


class TablesTest(FixtureCase):
    MARKDOWN = """\
| method | synthetic prob_js | synthetic sampling_js | synthetic majority_bias | synthetic class_belief_consistency | synthetic belief_preference_consistency | synthetic rouge_l | mmoqa_usa prob_js | mmoqa_usa sampling_js | mmoqa_usa majority_bias | mmoqa_usa class_belief_consistency | mmoqa_usa belief_preference_consistency | mmoqa_usa rouge_l |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| SFT | 0.048 | 0.062 | 0.200 | 0.910 | 0.500 | – | 0.210 | 0.226 | 0.111 | 0.800 | 0.550 | 0.314 |
| DPO | 0.390 | 0.411 | 0.877 | 0.950 | 0.610 | – | 0.333 | 0.344 | 0.600 | 0.820 | 0.640 | 0.272 |
| GDPO | 0.013 | 0.029 | 0.035 | 0.988 | 0.700 | – | 0.162 | 0.170 | 0.050 | 0.900 | 0.720 | 0.300 |
| uniform | 0.209 | – | – | – | – | – | 0.175 | – | – | – | – | – |
| majority | 0.482 | – | – | – | – | – | 0.440 | – | – | – | – | – |
| reversed | 0.392 | – | – | – | – | – | 0.351 | – | – | – | – | – |
| noise ±0.05 | 0.031 | – | – | – | – | – | 0.029 | – | – | – | – | – |
| noise ±0.1 | 0.060 | – | – | – | – | – | 0.056 | – | – | – | – | – |
"""
    LATEX = r"""\begin{tabular}{lrrrr}
\toprule
 & \multicolumn{2}{c}{synthetic} & \multicolumn{2}{c}{mmoqa\_usa} \\
method & prob\_js & rouge\_l & prob\_js & rouge\_l \\
\midrule
SFT & 0.048 & -- & 0.210 & 0.314 \\
DPO & 0.390 & -- & 0.333 & 0.272 \\
GDPO & 0.013 & -- & 0.162 & 0.300 \\
\midrule
uniform & 0.209 & -- & 0.175 & -- \\
majority & 0.482 & -- & 0.440 & -- \\
reversed & 0.392 & -- & 0.351 & -- \\
noise $\pm$0.05 & 0.031 & -- & 0.029 & -- \\
noise $\pm$0.1 & 0.060 & -- & 0.056 & -- \\
\bottomrule
\end{tabular}
"""

    def test_markdown(self):
        r = run_script("tables.py", *self.all_files())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.MARKDOWN)

    def test_latex(self):
        r = run_script("tables.py", "--format", "latex", "--metrics", "prob_js,rouge_l",
                       *self.all_files())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.LATEX)

    def test_csv_has_the_exact_values(self):
        out = os.path.join(self.tmp, "table.csv")
        r = run_script("tables.py", "--csv", out, *self.all_files())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, newline="", encoding="utf-8") as f:
            rows = {row["method"]: row for row in csv.DictReader(f)}
        for (method, dataset), summary in fx.SUMMARY.items():
            row = rows[fx.LABELS[method]]
            self.assertEqual(row["reference"], "0")
            for metric, value in summary.items():
                cell = row[f"{dataset}.{metric}"]
                if math.isnan(value):
                    self.assertEqual(cell, "")
                else:
                    self.assertEqual(float(cell), value)
        for dataset, refs in fx.REFERENCE.items():
            for name, value in refs.items():
                self.assertEqual(float(rows[name][f"{dataset}.prob_js"]), value)
                self.assertEqual(rows[name][f"{dataset}.rouge_l"], "")

    def test_run_directory_and_majority_subset(self):
        run = os.path.join(self.tmp, "run")
        os.makedirs(os.path.join(run, "eval"), exist_ok=True)
        shutil.copy(self.files[("synthetic", "sft")], os.path.join(run, "eval.h5"))
        shutil.copy(self.files[("synthetic", "dpo")], os.path.join(run, "eval", "dpo.h5"))
        r = run_script("tables.py", "--metrics", "prob_js,majority_bias", "--subset",
                       "majority", run)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        # /summary_majority holds 0.5 x the fixture's /summary numbers.
        self.assertEqual(lines[0], "| method | prob_js | majority_bias |")
        self.assertEqual(lines[2], "| SFT | 0.024 | 0.100 |")
        self.assertEqual(lines[3], "| DPO | 0.195 | 0.438 |")
        self.assertEqual(lines[4], "| uniform | 0.209 | – |")

    def test_bad_inputs(self):
        self.assert_fails_naming(run_script("tables.py", self.missing), self.missing)
        self.assert_fails_naming(run_script("tables.py", self.not_gdpo), self.not_gdpo)
        r = run_script("tables.py", "--metrics", "prob_js,bogus", self.files[("synthetic", "sft")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("bogus", r.stderr)


class BeliefsTest(FixtureCase):
    def test_printed_values(self):
        out = os.path.join(self.tmp, "beliefs.png")
        files = [self.files[("synthetic", m)] for m in fx.METHODS]
        r = run_script("beliefs.py", *files, "--questions", "3", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "question\tbelief\tp*\tSFT\tDPO\tGDPO\toption")
        # Hand-checked: question 1 has 3 beliefs; question 2's two rows are averaged.
        self.assertIn("1\t2\t0.200\t0.200\t0.050\t0.200\tNot sure", lines)
        self.assertIn("2\t0\t0.400\t0.400\t0.750\t0.400\tTrès bien", lines)
        self.assertIn("2\t2\t0.200\t0.250\t0.075\t0.200\tMal", lines)
        rows = parse_tsv(r.stdout)
        self.assertEqual(len(rows), 4 + 3 + 4)
        for row in rows:
            q, b = int(row["question"]), int(row["belief"])
            index = [i for i, qq in enumerate(fx.QUESTION) if qq == q]
            self.assertAlmostEqual(float(row["p*"]), fx.PSTAR[index[0]][b], places=3)
            for m in fx.METHODS:
                mean = sum(fx.MODEL_PROBS[m][i][b] for i in index) / len(index)
                self.assertEqual(row[fx.LABELS[m]], f"{mean:.3f}")
        self.assertGreater(os.path.getsize(out), 1000)

    def test_question_ids_in_the_order_given(self):
        r = run_script("beliefs.py", self.files[("mmoqa_usa", "gdpo")], "--questions", "1,0",
                       "--out", os.path.join(self.tmp, "b2.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = parse_tsv(r.stdout)
        self.assertEqual([(row["question"], row["belief"]) for row in rows],
                         [("1", "0"), ("1", "1"), ("1", "2"),
                          ("0", "0"), ("0", "1"), ("0", "2"), ("0", "3")])
        self.assertEqual([row["GDPO"] for row in rows[:3]], ["0.520", "0.280", "0.200"])

    def test_bad_inputs(self):
        png = os.path.join(self.tmp, "bad.png")
        self.assert_fails_naming(run_script("beliefs.py", self.missing, "--out", png),
                                 self.missing)
        self.assert_fails_naming(run_script("beliefs.py", self.not_gdpo, "--out", png),
                                 self.not_gdpo)
        sft = self.files[("synthetic", "sft")]
        self.assert_fails_naming(run_script("beliefs.py", sft, "--questions", "7,",
                                            "--out", png), sft)


class CurvesBadInputTest(FixtureCase):
    def test_bad_inputs(self):
        png = os.path.join(self.tmp, "c.png")
        missing_run = os.path.join(self.tmp, "no_such_run")
        self.assert_fails_naming(run_script("curves.py", missing_run, "--out", png), missing_run)
        run = os.path.join(self.tmp, "not_a_run")
        os.makedirs(run, exist_ok=True)
        self.assert_fails_naming(run_script("curves.py", run, "--out", png),
                                 os.path.join(run, "metrics.h5"))
        shutil.copy(self.not_gdpo, os.path.join(run, "metrics.h5"))
        self.assert_fails_naming(run_script("curves.py", run, "--out", png),
                                 os.path.join(run, "metrics.h5"))


def gdpo_binary():
    path = os.environ.get("GDPO_BINARY") or os.path.join(REPO, "build", "gdpo")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


@unittest.skipIf(not MISSING and gdpo_binary() is None,
                 "no gdpo binary (set GDPO_BINARY): curves.py on real runs not tested")
class CurvesTest(unittest.TestCase, BadInputMixin):
    BATCH = 4
    PAIRS = 32  # 8 questions x 4 pairs, one epoch

    @classmethod
    def gdpo(cls, *args):
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        r = subprocess.run([gdpo_binary(), *args], capture_output=True, text=True, env=env,
                           timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"gdpo {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")

    @classmethod
    def setUpClass(cls):
        cls.tmp = scratch_dir(cls)
        pairs = os.path.join(cls.tmp, "pairs.jsonl")
        cls.gdpo("data", "synthetic", "--data.output", pairs, "--data.questions", "8",
                 "--data.pairs-per-question", "4", "--data.probabilities",
                 "0.55,0.25,0.15,0.05", "--data.seed", "1")
        cls.runs = {}
        for loss in ("sft", "dpo", "gdpo"):
            cls.runs[loss] = os.path.join(cls.tmp, loss)
            cls.gdpo("train", "--config", os.path.join(REPO, "configs", "quickstart.ini"),
                     "--data.train", pairs, "--data.eval", pairs, "--model.config", "tiny-gpt2",
                     "--loss.type", loss, "--train.batch-size", str(cls.BATCH),
                     "--eval.every-examples", "8", "--eval.n-examples", "8",
                     "--train.n-epochs", "1", "--dist.threads", "1",
                     "--train.run-dir", cls.runs[loss])

    def curves(self, *runs):
        r = run_script("curves.py", *runs, "--out", os.path.join(self.tmp, "curves.png"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout, {row["run"]: row for row in parse_tsv(r.stdout)}

    @staticmethod
    def eval_table(run):
        with h5py.File(os.path.join(run, "metrics.h5"), "r", swmr=True) as f:
            return {name: ds[()] for name, ds in f["eval"].items()}

    def test_finished_runs(self):
        out, rows = self.curves(self.runs["dpo"], self.runs["gdpo"])
        for loss in ("dpo", "gdpo"):
            run = self.runs[loss]
            table = self.eval_table(run)
            row = rows[run]
            self.assertEqual(row["label"], loss.upper())
            self.assertEqual(int(row["rows"]), len(table["step"]))
            self.assertEqual(int(row["rows"]), 5)  # step 0 and every 8 pairs up to 32
            # examples seen = step x batch size (no such column in metrics.h5)
            self.assertEqual(int(row["last_examples"]), int(table["step"][-1]) * self.BATCH)
            self.assertEqual(int(row["last_examples"]), self.PAIRS)
            self.assertAlmostEqual(float(row["last_js"]), table["belief.js_distance"][-1],
                                   delta=1e-6)
            for side in ("majority", "minority"):
                self.assertAlmostEqual(float(row[f"last_margin_{side}"]),
                                       table[f"rewards.margin_{side}"][-1],
                                       delta=1e-5 * max(1.0, abs(table[f"rewards.margin_{side}"][-1])))
        self.assertGreater(os.path.getsize(os.path.join(self.tmp, "curves.png")), 1000)

    def test_run_without_margins_is_noted(self):
        out, rows = self.curves(self.runs["sft"], self.runs["gdpo"])
        sft = rows[self.runs["sft"]]
        self.assertEqual(sft["label"], "SFT")
        self.assertEqual(sft["last_margin_majority"], "-")
        self.assertIn(f"note: SFT: {self.runs['sft']} has no rewards.margin_majority", out)
        table = self.eval_table(self.runs["sft"])
        self.assertAlmostEqual(float(sft["last_js"]), table["belief.js_distance"][-1], delta=1e-6)

    def test_run_still_training(self):
        run = os.path.join(self.tmp, "live")
        shutil.copytree(self.runs["gdpo"], run)
        os.remove(os.path.join(run, "summary.json"))  # not written until the run ends
        before = self.eval_table(run)
        n = len(before["step"])
        with h5py.File(os.path.join(run, "metrics.h5"), "r+", libver="latest") as f:
            f.swmr_mode = True
            g = f["eval"]
            # Half a row: only step and the JS distance have it.
            for name, value in (("step", 10), ("belief.js_distance", 0.123456)):
                g[name].resize((n + 1,))
                g[name][n] = value
                g[name].flush()
            _, rows = self.curves(run)
            self.assertEqual(int(rows[run]["rows"]), n)
            self.assertAlmostEqual(float(rows[run]["last_js"]), before["belief.js_distance"][-1],
                                   delta=1e-6)
            self.assertEqual(rows[run]["label"], "GDPO")  # from config.ini
            # The rest of the row.
            for name, ds in g.items():
                if ds.shape[0] == n:
                    ds.resize((n + 1,))
                    ds[n] = 0.5
                    ds.flush()
            _, rows = self.curves(run)
            self.assertEqual(int(rows[run]["rows"]), n + 1)
            self.assertEqual(rows[run]["last_js"], "0.123456")
            self.assertEqual(int(rows[run]["last_examples"]), 10 * self.BATCH)
            self.assertEqual(rows[run]["last_margin_majority"], "0.5")


if __name__ == "__main__":
    if MISSING:
        print(f"SKIP: {SKIP_MESSAGE}")
        sys.exit(77)
    unittest.main()

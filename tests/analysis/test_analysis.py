#!/usr/bin/env python3
"""Tests of the analysis/ scripts (tables.py, curves.py, beliefs.py): the numbers they print.

    /usr/bin/python3 tests/analysis/test_analysis.py [tables|curves|beliefs|TestClass ...]
    /usr/bin/python3 -m unittest discover -s tests/analysis

`tables`, `curves` and `beliefs` select one script's test classes (one ctest entry each, see
tests/CMakeLists.txt). Environment: GDPO_BINARY (the gdpo binary; default build/gdpo; the tests on
gdpo's own files skip without it), GDPO_TEST_TMP (scratch directory; default the system's). Needs
h5py, numpy and matplotlib: without them every test is skipped (run as a script: a SKIP line and
exit status 77, for ctest's SKIP_RETURN_CODE).

Two kinds of inputs:
- make_eval_fixture.py's eval.h5 files (hand-chosen numbers, stated again here as the strings the
  scripts must print; two datasets, fixed-length byte strings);
- files gdpo itself writes (RealRuns, about 10 s): tiny sft/dpo/gdpo runs of `gdpo train`, each
  evaluated by `gdpo generate` + `gdpo evaluate` on four test questions of different p* and
  belief counts (and the SFT run once more without generations). tables.py's and beliefs.py's
  printed numbers are checked against what h5py reads from /summary*, /reference, rows/pstar and
  rows/model_probs (rounded to 3 decimals), and the files' layout and attribute types against
  what the scripts and the fixture assume. curves.py runs on the runs' metrics.h5, and on a run
  "still training": the test itself holds that run's metrics.h5 open as an HDF5 SWMR writer (as
  gdpo does while it trains; a plain open of it then fails) and appends a row in two halves, first
  to some columns only (curves.py must ignore the incomplete row), then to all.
"""
import csv
import importlib.util
import json
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
    sys.path.insert(0, ANALYSIS)
    import gdpo_files as gf
    import make_eval_fixture as fx
    from tables import DEFAULT_METRICS


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


NO_BINARY = "no gdpo binary (set GDPO_BINARY): the scripts are not tested on gdpo's own files"

# The test questions of the real evaluations: p* differs between questions, two have fewer
# beliefs than the widest (the [R, Kmax] arrays are padded), one has non-ASCII options.
TEST_QUESTIONS = [
    ("Q0 favorite color?", ["red", "blue", "green", "gold"], [0.55, 0.25, 0.15, 0.05]),
    ("Q9 best season?", ["spring", "summer", "autumn"], [0.2, 0.5, 0.3]),
    ("Q10 tea or coffee?", ["tea", "coffee", "neither", "both"], [0.1, 0.2, 0.3, 0.4]),
    ("Q11 café au lait ou thé?", ["café", "thé"], [0.7, 0.3]),
]


def gdpo(*args):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    r = subprocess.run([gdpo_binary(), *args], capture_output=True, text=True, env=env,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"gdpo {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


class RealRuns:
    """Tiny sft/dpo/gdpo runs of `gdpo train` on synthetic data, each then evaluated on
    TEST_QUESTIONS by `gdpo generate` + `gdpo evaluate` into RUN/eval.h5 (the SFT run also
    without generations, into RUN/eval/logits_only.h5); made once per process (a few seconds)."""
    BATCH = 4
    PAIRS = 32  # 8 questions x 4 pairs, one epoch
    _made = {}

    @classmethod
    def get(cls, evaluated=True):
        """{"tmp", "runs": {loss: run dir}, "evals": {name: eval.h5}}; without `evaluated` the
        evaluations may be missing (the curves tests need the training runs only)."""
        for step, needed in (("runs", True), ("evals", evaluated)):
            if needed and step not in cls._made:
                try:
                    cls._made[step] = getattr(cls, "_make_" + step)()
                except BaseException as e:  # not retried by every class that needs it
                    cls._made[step] = e
            if isinstance(cls._made.get(step), BaseException):
                raise cls._made[step]
        return {"tmp": cls._made["runs"]["tmp"], "runs": cls._made["runs"]["runs"],
                "evals": cls._made.get("evals", {})}

    @classmethod
    def _make_runs(cls):
        base = os.environ.get("GDPO_TEST_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="gdpo_analysis_runs_", dir=base)
        unittest.addModuleCleanup(shutil.rmtree, tmp, ignore_errors=True)
        pairs = os.path.join(tmp, "pairs.jsonl")
        gdpo("data", "synthetic", "--data.output", pairs, "--data.questions", "8",
             "--data.pairs-per-question", "4", "--data.probabilities", "0.55,0.25,0.15,0.05",
             "--data.seed", "1")
        runs = {}
        for loss in ("sft", "dpo", "gdpo"):
            run = runs[loss] = os.path.join(tmp, loss)
            gdpo("train", "--config", os.path.join(REPO, "configs", "quickstart.ini"),
                 "--data.train", pairs, "--data.eval", pairs, "--model.config", "tiny-gpt2",
                 "--loss.type", loss, "--train.batch-size", str(cls.BATCH),
                 "--eval.every-examples", "8", "--eval.n-examples", "8",
                 "--train.n-epochs", "1", "--dist.threads", "1", "--train.run-dir", run)
        return {"tmp": tmp, "runs": runs}

    @classmethod
    def _make_evals(cls):
        tmp, runs = cls._made["runs"]["tmp"], cls._made["runs"]["runs"]
        test = os.path.join(tmp, "test.jsonl")
        with open(test, "w", encoding="utf-8") as f:
            for prompt, options, pstar in TEST_QUESTIONS:
                for a, b in ((0, 1), (1, 0)):
                    f.write(json.dumps({
                        "prompt": prompt, "options": options, "probabilities": pstar,
                        "accept_choice_id": a, "accept_choice": options[a],
                        "accept_response": f"My view: {options[a]}.",
                        "reject_choice_id": b, "reject_choice": options[b],
                        "reject_response": f"My view: {options[b]}."},
                        ensure_ascii=False) + "\n")
        evals = {}
        for loss, run in runs.items():
            generations = os.path.join(run, "generations.h5")
            # Sampling (the authors' evaluation); these barely trained byte-level models draw
            # byte 0 and split characters, which the stored text shows as U+FFFD.
            gdpo("generate", "--model.path", run, "--tokenizer.path", "bytes",
                 "--data.test", test, "--generate.n-samples", "4",
                 "--generate.max-new-tokens", "24",
                 "--generate.output", generations, "--dist.threads", "1")
            evals[loss] = os.path.join(run, "eval.h5")
            label = [] if loss == "gdpo" else ["--evaluate.label", loss.upper()]  # gdpo: default
            gdpo("evaluate", "--model.path", run, "--data.test", test,
                 "--evaluate.generations", generations, "--evaluate.output", evals[loss],
                 "--dist.threads", "1", *label)
        evals["logits_only"] = os.path.join(runs["sft"], "eval", "logits_only.h5")
        os.makedirs(os.path.dirname(evals["logits_only"]))  # gdpo evaluate refuses a missing folder
        gdpo("evaluate", "--model.path", runs["sft"], "--data.test", test,
             "--evaluate.output", evals["logits_only"], "--evaluate.label", "SFT logits",
             "--dist.threads", "1")
        return evals


def read_h5_eval(path):
    """What h5py itself reads from an eval.h5 (not through gdpo_files): attrs, the summary
    groups' and /reference attributes, and /rows."""
    with h5py.File(path, "r") as f:
        out = {"attrs": dict(f.attrs)}
        for g in ("summary", "summary_majority", "summary_minority", "reference"):
            out[g] = {k: v for k, v in f[g].attrs.items()}
        out["rows"] = {k: ds[()] for k, ds in f["rows"].items()}
    return out


def expected_cell(value, nan="–"):
    """How the scripts must print a value: rounded to 3 decimals, NaN as a dash."""
    return nan if math.isnan(value) else f"{round(float(value), 3):.3f}"


def markdown_rows(stdout):
    """A Markdown table as (header cells, {first cell: cells})."""
    lines = [l for l in stdout.splitlines() if l.startswith("|")]
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines]
    return cells[0], {c[0]: c[1:] for c in cells[2:]}


@unittest.skipIf(not MISSING and gdpo_binary() is None, NO_BINARY)
class RealFilesTest(unittest.TestCase):
    """eval.h5 files written by gdpo evaluate: the layout and attribute types the scripts (and
    make_eval_fixture.py) assume."""

    @classmethod
    def setUpClass(cls):
        cls.real = RealRuns.get()
        cls.tmp = scratch_dir(cls)

    def test_js_distances_equal_scipys(self):
        """Every row's probability and sampling JS distance is scipy's jensenshannon of the stored
        distributions (natural log), and the reference rows' means are scipy's too."""
        try:
            from scipy.spatial.distance import jensenshannon
        except ImportError:
            self.skipTest("python3-scipy is not installed")
        checked = 0
        for name, path in self.real["evals"].items():
            with h5py.File(path, "r") as f:
                rows = f["rows"]
                for r, k in enumerate(rows["k"][:]):
                    pstar = rows["pstar"][r, :k]
                    self.assertAlmostEqual(jensenshannon(rows["model_probs"][r, :k], pstar),
                                           rows["prob_js"][r], places=10)
                    sampled = rows["sampled_probs"][r, :k]
                    if not np.isnan(sampled).any():
                        self.assertAlmostEqual(jensenshannon(sampled, pstar),
                                               rows["sampling_js"][r], places=10)
                        checked += 1
                uniform = np.mean([jensenshannon(np.full(k, 1.0 / k), rows["pstar"][r, :k])
                                   for r, k in enumerate(rows["k"][:])])
                self.assertAlmostEqual(uniform, f["reference"].attrs["uniform"], places=10)
        self.assertGreater(checked, 0)

    def test_layout_and_types(self):
        for name, path in self.real["evals"].items():
            with h5py.File(path, "r") as f:
                self.assertEqual(f.attrs["format"], "gdpo-eval")  # vlen str, read as str
                for key in ("format", "label", "dataset", "model", "split", "generations"):
                    self.assertIsInstance(f.attrs[key], str, key)
                    tid = f.attrs.get_id(key).get_type()
                    self.assertTrue(tid.is_variable_str(), key)
                    self.assertEqual(tid.get_cset(), h5py.h5t.CSET_UTF8, key)
                for key in ("version", "n_samples", "seed"):
                    self.assertEqual(f.attrs[key].dtype, np.int64, key)
                self.assertEqual(f.attrs["judge_accuracy"].dtype, np.float64)
                for g in ("summary", "summary_majority", "summary_minority"):
                    self.assertEqual(sorted(f[g].attrs), sorted(gf.SUMMARY_METRICS), g)
                    for key, value in f[g].attrs.items():
                        self.assertEqual(value.dtype, np.float64, f"{g}.{key}")
                self.assertEqual(sorted(f["reference"].attrs), sorted(gf.REFERENCES))
                rows = f["rows"]
                self.assertEqual(
                    sorted(rows), sorted(gf.ROW_FLOATS + ["question", "k", "reference_belief",
                                                          "pstar", "model_probs",
                                                          "sampled_probs", "prompt", "options",
                                                          "dataset"]))
                for key in ("question", "k", "reference_belief"):
                    self.assertEqual(rows[key].dtype, np.int64, key)
                for key in gf.ROW_FLOATS + ["pstar", "model_probs", "sampled_probs"]:
                    self.assertEqual(rows[key].dtype, np.float64, key)
                for key in ("prompt", "options", "dataset"):
                    self.assertEqual(h5py.check_string_dtype(rows[key].dtype).encoding, "utf-8")
                self.assertEqual(rows["pstar"].shape, (len(TEST_QUESTIONS), 4))
                self.assertEqual(list(rows["k"]), [len(q[1]) for q in TEST_QUESTIONS])
                if name == "logits_only":
                    self.assertEqual(f.attrs["seed"], -1)
                    self.assertEqual(f.attrs["generations"], "")
                    self.assertTrue(math.isnan(f["summary"].attrs["sampling_js"]))
                else:
                    self.assertEqual(f.attrs["n_samples"], 4)
                    self.assertEqual(f.attrs["generations"],
                                     os.path.join(os.path.dirname(path), "generations.h5"))
        self.assertEqual(h5py.File(self.real["evals"]["gdpo"], "r").attrs["label"], "gdpo")

    def test_read_eval(self):
        for path in self.real["evals"].values():
            ev, raw = gf.read_eval(path, rows=True), read_h5_eval(path)
            for g in ("summary", "summary_majority", "summary_minority", "reference"):
                for key, value in raw[g].items():
                    got = ev[g][key]
                    self.assertTrue(got == value or (math.isnan(got) and math.isnan(value)))
            self.assertEqual(ev["rows"]["options"], [q[1] for q in TEST_QUESTIONS])
            self.assertEqual([p for p in ev["rows"]["prompt"]],
                             [f"<Q>{q[0]}<A>" for q in TEST_QUESTIONS])


@unittest.skipIf(not MISSING and gdpo_binary() is None, NO_BINARY)
class RealTablesTest(unittest.TestCase):
    """tables.py on the eval.h5 files of real runs: every printed number is the file's."""
    METHODS = [("SFT", "sft"), ("SFT logits", "logits_only"), ("DPO", "dpo"), ("gdpo", "gdpo")]

    @classmethod
    def setUpClass(cls):
        cls.real = RealRuns.get()
        cls.tmp = scratch_dir(cls)
        cls.raw = {name: read_h5_eval(path) for name, path in cls.real["evals"].items()}
        # A run directory (eval.h5 and eval/*.h5) and files; eval.h5 of SFT named twice.
        cls.inputs = [cls.real["runs"]["sft"], cls.real["evals"]["sft"],
                      cls.real["evals"]["dpo"], cls.real["evals"]["gdpo"]]

    def check_table(self, header, rows, metrics, group):
        self.assertEqual(header, ["method"] + metrics)
        self.assertEqual(list(rows), [m for m, _ in self.METHODS] +
                         (["uniform", "majority", "reversed", "noise ±0.05", "noise ±0.1"]
                          if "prob_js" in metrics else []))
        for label, name in self.METHODS:
            attrs = self.raw[name][group]
            want = [f"{attrs[m]:.0f}" if m == "rows" else expected_cell(attrs[m])
                    for m in metrics]
            self.assertEqual(rows[label], want, label)
        if "prob_js" in metrics:
            for ref, shown in zip(gf.REFERENCES, list(rows)[len(self.METHODS):]):
                values = {self.raw[name]["reference"][ref] for name in self.raw}
                self.assertEqual(len(values), 1, ref)  # the same p*: the same reference rows
                self.assertEqual(rows[shown],
                                 [expected_cell(values.pop())] + ["–"] * (len(metrics) - 1))

    def test_markdown(self):
        r = run_script("tables.py", *self.inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        header, rows = markdown_rows(r.stdout)
        self.check_table(header, rows, DEFAULT_METRICS, "summary")
        # Sanity of the numbers themselves: a summary is the NaN-skipping mean of its rows.
        for name, raw in self.raw.items():
            for m in gf.ROW_FLOATS:
                column = raw["rows"][m]
                mean = np.nan if np.isnan(column).all() else float(np.nanmean(column))
                self.assertTrue(math.isclose(raw["summary"][m], mean, rel_tol=1e-9,
                                             abs_tol=1e-12) or
                                (math.isnan(mean) and math.isnan(raw["summary"][m])),
                                f"{name}: {m}")
        self.assertTrue(all(math.isnan(self.raw["logits_only"]["summary"][m]) for m in
                            ("sampling_js", "majority_bias", "class_belief_consistency",
                             "rouge_l")))

    def test_subsets_and_rows(self):
        metrics = ["prob_js", "sampling_js", "prob_majority_bias", "rows"]
        counts = {}
        for subset, group in (("all", "summary"), ("majority", "summary_majority"),
                              ("minority", "summary_minority")):
            r = run_script("tables.py", "--subset", subset, "--metrics", ",".join(metrics),
                           *self.inputs)
            self.assertEqual(r.returncode, 0, r.stderr)
            header, rows = markdown_rows(r.stdout)
            self.check_table(header, rows, metrics, group)
            counts[subset] = int(rows["DPO"][-1])
        self.assertEqual(counts["all"], len(TEST_QUESTIONS))
        self.assertEqual(counts["majority"] + counts["minority"], counts["all"])

    def test_latex(self):
        r = run_script("tables.py", "--format", "latex", *self.inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        body = [l[:-len(" \\\\")].split(" & ") for l in r.stdout.splitlines()
                if l.endswith("\\\\")]
        rows = {c[0]: c[1:] for c in body[1:]}
        for label, name in self.METHODS:
            self.assertEqual(rows[label], [expected_cell(self.raw[name]["summary"][m], "--")
                                           for m in DEFAULT_METRICS])
        self.assertEqual(rows["noise $\\pm$0.1"][0],
                         expected_cell(self.raw["gdpo"]["reference"]["noise_0.1"]))

    def test_csv_has_the_exact_values(self):
        out = os.path.join(self.tmp, "real.csv")
        r = run_script("tables.py", "--csv", out, "--metrics", ",".join(gf.SUMMARY_METRICS),
                       *self.inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, newline="", encoding="utf-8") as f:
            rows = {row["method"]: row for row in csv.DictReader(f)}
        dataset = self.raw["sft"]["attrs"]["dataset"]
        self.assertEqual(dataset, "test")  # the --data.test file's name
        for label, name in self.METHODS:
            for m, value in self.raw[name]["summary"].items():
                cell = rows[label][f"{dataset}.{m}"]
                self.assertEqual(cell, "" if math.isnan(value) else repr(float(value)), m)
        for ref in gf.REFERENCES:
            self.assertEqual(float(rows[ref][f"{dataset}.prob_js"]),
                             self.raw["dpo"]["reference"][ref])


@unittest.skipIf(not MISSING and gdpo_binary() is None, NO_BINARY)
class RealBeliefsTest(unittest.TestCase):
    """beliefs.py on the eval.h5 files of real runs: printed p* and model probabilities are the
    files' rows/pstar and rows/model_probs."""

    @classmethod
    def setUpClass(cls):
        cls.real = RealRuns.get()
        cls.tmp = scratch_dir(cls)
        cls.names = ["sft", "dpo", "gdpo"]
        cls.raw = {name: read_h5_eval(cls.real["evals"][name]) for name in cls.names}

    def beliefs(self, questions):
        out = os.path.join(self.tmp, "beliefs.png")
        r = run_script("beliefs.py", *[self.real["evals"][n] for n in self.names],
                       "--questions", questions, "--out", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.splitlines()[0], "question\tbelief\tp*\tSFT\tDPO\tgdpo\toption")
        self.assertEqual(r.stdout.splitlines()[-1], f"wrote {out}")
        self.assertGreater(os.path.getsize(out), 1000)
        return parse_tsv(r.stdout)

    def check(self, printed, questions):
        want = []
        for q in questions:
            for b in range(len(TEST_QUESTIONS[q][1])):
                want.append((str(q), str(b)))
        self.assertEqual([(row["question"], row["belief"]) for row in printed], want)
        for row in printed:
            q, b = int(row["question"]), int(row["belief"])
            for name, label in zip(self.names, ["SFT", "DPO", "gdpo"]):
                rows = self.raw[name]["rows"]
                index = np.flatnonzero(rows["question"] == q)
                self.assertEqual(len(index), 1)  # one test row per question
                self.assertEqual(row["p*"], expected_cell(rows["pstar"][index[0], b]))
                self.assertEqual(row[label], expected_cell(rows["model_probs"][index[0], b]))
                self.assertEqual(row["option"],
                                 json.loads(rows["options"][index[0]].decode())[b])
            self.assertEqual(float(row["p*"]), TEST_QUESTIONS[q][2][b])

    def test_first_questions_as_in_quickstart(self):
        self.check(self.beliefs("2"), [0, 1])

    def test_question_ids(self):
        printed = self.beliefs("3,1,2")
        self.check(printed, [3, 1, 2])
        self.assertEqual([row["option"] for row in printed[:2]], ["café", "thé"])


@unittest.skipIf(not MISSING and gdpo_binary() is None, NO_BINARY)
class CurvesTest(unittest.TestCase, BadInputMixin):
    BATCH = RealRuns.BATCH
    PAIRS = RealRuns.PAIRS

    @classmethod
    def setUpClass(cls):
        cls.runs = RealRuns.get(evaluated=False)["runs"]
        cls.tmp = scratch_dir(cls)

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


# One ctest entry per script (tests/CMakeLists.txt): `test_analysis.py tables` runs its classes.
SUITES = {
    "tables": ["TablesTest", "RealFilesTest", "RealTablesTest"],
    "beliefs": ["BeliefsTest", "RealBeliefsTest"],
    "curves": ["CurvesBadInputTest", "CurvesTest"],
}

if __name__ == "__main__":
    if MISSING:
        print(f"SKIP: {SKIP_MESSAGE}")
        sys.exit(77)
    argv = sys.argv[:1]
    for arg in sys.argv[1:]:
        argv += SUITES.get(arg, [arg])
    unittest.main(argv=argv)

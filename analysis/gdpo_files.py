"""Readers for the files gdpo writes, shared by the analysis/ scripts (never part of training).

- a run directory (`gdpo train --train.run-dir`): metrics.h5, config.ini, summary.json (at the end)
- an evaluation (`gdpo evaluate`): eval.h5, format "gdpo-eval" version 1

Every failure to find or understand a file raises InputFileError, whose message names the file;
`main_guard` turns it into that message on stderr and exit status 2. Needs h5py and numpy (Debian:
python3-h5py), imported lazily so that the scripts' --help works without them.
"""
import configparser
import glob
import json
import math
import os
import sys
import time

EVAL_FORMAT = "gdpo-eval"
EVAL_VERSION = 1
# /summary attributes, in the order of the tables' columns.
SUMMARY_METRICS = ["prob_js", "sampling_js", "majority_bias", "prob_majority_bias",
                   "class_belief_consistency", "belief_preference_consistency", "rouge_l", "rows"]
# /reference attributes: the mean JS distance to p* of simple reference distributions.
REFERENCES = ["uniform", "majority", "reversed", "noise_0.05", "noise_0.1"]
# /rows float64 [R] columns (NaN where a row has no value).
ROW_FLOATS = ["prob_js", "sampling_js", "majority_bias", "prob_majority_bias",
              "class_belief_consistency", "belief_preference_consistency", "rouge_l"]


class InputFileError(Exception):
    """A file that is missing or not what gdpo writes; the message names it."""


def main_guard(main):
    """Runs main(); an InputFileError becomes its message on stderr and exit status 2."""
    prog = os.path.basename(sys.argv[0])
    try:
        return main()
    except InputFileError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"{prog}: error: needs the Python module {e.name} (Debian: python3-{e.name})",
              file=sys.stderr)
        return 2


def save_figure(fig, out, title=None):
    """Lays out and writes a matplotlib figure to `out` (its folder made if missing), then closes it."""
    import matplotlib.pyplot as plt
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def text(value):
    """An HDF5 string (bytes, str or a numpy scalar of either) as str."""
    if hasattr(value, "item") and not isinstance(value, (bytes, str)):
        value = value.item()
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _h5py(path):
    try:
        import h5py
    except ImportError:
        raise InputFileError(f"{path}: reading it needs the Python module h5py (python3-h5py)")
    return h5py


def _check_hdf5(path, what):
    h5py = _h5py(path)
    if not os.path.exists(path):
        raise InputFileError(f"{path}: no such file ({what})")
    if not os.path.isfile(path):
        raise InputFileError(f"{path}: not a file ({what})")
    if not h5py.is_hdf5(path):
        raise InputFileError(f"{path}: not an HDF5 file ({what})")
    return h5py


# ---------------------------------------------------------------- run directories (gdpo train)

def metrics_path(run):
    """metrics.h5 of a run directory (or the file itself)."""
    return run if os.path.isfile(run) else os.path.join(run, "metrics.h5")


def _read_columns(h5py, path, table, swmr):
    kwargs = {"swmr": True, "libver": "latest"} if swmr else {}
    with h5py.File(path, "r", **kwargs) as f:
        tables = [name for name, g in f.items()
                  if isinstance(g, h5py.Group) and isinstance(g.get("step"), h5py.Dataset)]
        if not tables:
            raise InputFileError(f"{path}: not a gdpo metrics file (no table with a 'step' "
                                 f"column)")
        if table not in tables:
            return None  # a gdpo metric log without this table (yet)
        group = f[table]
        return {name: ds[()] for name, ds in group.items()
                if isinstance(ds, h5py.Dataset) and ds.ndim == 1}


def read_metrics(run, table="eval"):
    """Columns of one table of a run's metrics.h5 as {name: 1-D numpy array}, all cut to the rows
    every column has; None when the file has other tables but not this one. gdpo appends to the file in SWMR mode while it trains, so a row may be in
    some columns and not yet in others; the SWMR reader sees a consistent prefix of each. The
    writer leaves SWMR mode for a few milliseconds to add a column (holding a lock), so failed
    opens are retried for about two seconds; a file not in the SWMR format (copied, or from
    elsewhere) is read with a plain open."""
    path = metrics_path(run)
    h5py = _check_hdf5(path, "a gdpo metrics.h5")
    error = None
    for attempt in range(100):
        for swmr in (True, False):
            try:
                columns = _read_columns(h5py, path, table, swmr)
                if columns is None:
                    return None
                rows = min(len(v) for v in columns.values())
                return {name: values[:rows] for name, values in columns.items()}
            except InputFileError:
                raise
            except (OSError, KeyError, RuntimeError, ValueError) as e:
                error = e
        time.sleep(0.02)
    raise InputFileError(f"{path}: cannot read it as a gdpo metrics file ({error})")


def read_run_config(run):
    """The effective configuration gdpo train wrote (config.ini) as {"section.key": "value"}."""
    path = os.path.join(run, "config.ini")
    if not os.path.isfile(path):
        raise InputFileError(f"{path}: no such file (the run's configuration)")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as e:
        raise InputFileError(f"{path}: not a gdpo config.ini ({e})")
    return {f"{s}.{k}": v for s in parser.sections() for k, v in parser[s].items()}


def read_summary(run):
    """summary.json (written when a run finishes) or {} while it is still training."""
    path = os.path.join(run, "summary.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise InputFileError(f"{path}: not a gdpo summary.json ({e})")


# ---------------------------------------------------------------- evaluations (gdpo evaluate)

def find_eval_files(arg):
    """The eval.h5 files an argument names: the file itself, or a directory's eval.h5 and
    eval/*.h5."""
    if os.path.isdir(arg):
        found = [p for p in [os.path.join(arg, "eval.h5")] if os.path.isfile(p)]
        found += sorted(glob.glob(os.path.join(arg, "eval", "*.h5")))
        if not found:
            raise InputFileError(f"{arg}: no eval.h5 or eval/*.h5 in this directory")
        return found
    if not os.path.exists(arg):
        raise InputFileError(f"{arg}: no such file or directory")
    return [arg]


def _attrs(group):
    out = {}
    for key, value in group.attrs.items():
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if isinstance(value, (bytes, str)) or kind in ("S", "U", "O"):
            out[key] = text(value)
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out


def _float_attrs(group, names):
    return {n: float(group.attrs[n]) if n in group.attrs else math.nan for n in names}


def read_eval(path, rows=False):
    """An eval.h5 as a dict: "path", "attrs" (label, dataset, model, ...), "summary",
    "summary_majority", "summary_minority" ({metric: float}, NaN when absent), "reference"
    ({name: float}) and, with rows=True, "rows" ({name: numpy array}; prompt a list of str,
    options a list of lists of str)."""
    h5py = _check_hdf5(path, "a gdpo eval.h5")
    try:
        with h5py.File(path, "r") as f:
            attrs = _attrs(f)
            if attrs.get("format") != EVAL_FORMAT:
                raise InputFileError(f"{path}: not a gdpo evaluation (attribute format is "
                                     f"{attrs.get('format')!r}, expected {EVAL_FORMAT!r})")
            if attrs.get("version") != EVAL_VERSION:
                raise InputFileError(f"{path}: gdpo evaluation version {attrs.get('version')!r}"
                                     f", these scripts read version {EVAL_VERSION}")
            if "summary" not in f:
                raise InputFileError(f"{path}: gdpo evaluation without a /summary group")
            out = {"path": path, "attrs": attrs}
            for name in ("summary", "summary_majority", "summary_minority"):
                out[name] = _float_attrs(f[name], SUMMARY_METRICS) if name in f else \
                    dict.fromkeys(SUMMARY_METRICS, math.nan)
            out["reference"] = _float_attrs(f["reference"], REFERENCES) if "reference" in f \
                else dict.fromkeys(REFERENCES, math.nan)
            if rows:
                out["rows"] = _read_rows(f, path)
            return out
    except OSError as e:
        raise InputFileError(f"{path}: cannot read it as a gdpo evaluation ({e})")


def _read_rows(f, path):
    if "rows" not in f:
        raise InputFileError(f"{path}: gdpo evaluation without a /rows group")
    g = f["rows"]
    missing = [n for n in ("question", "k", "pstar", "model_probs") if n not in g]
    if missing:
        raise InputFileError(f"{path}: /rows lacks {', '.join(missing)}")
    rows = {}
    for name, ds in g.items():
        if name in ("prompt", "options"):
            values = [text(v) for v in ds[()]]
            if name == "options":
                try:
                    values = [json.loads(v) for v in values]
                except ValueError as e:
                    raise InputFileError(f"{path}: /rows/options is not JSON ({e})")
            rows[name] = values
        else:
            rows[name] = ds[()]
    return rows

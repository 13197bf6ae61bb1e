"""Issue 19: whatever a file or a command line holds, it works or is refused with a reason."""

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from landscape_gui.cli import main
from landscape_gui.core.files.atomic import remove_stale_temporaries
from landscape_gui.core.nn.datasets import DatasetError, load_csv
from landscape_gui.core.session import Session, SessionError

NUMERIC_PATHS = [("xrange", 0), ("xrange", 1), ("yrange", 0), ("yrange", 1), ("starts", 0, 0), ("starts", 0, 1),
                 ("camera", "distance"), ("camera", "elevation"), ("camera", "azimuth"), ("percentile",),
                 ("resolution",), ("steps",), ("noise",), ("seed",), ("params", "a"),
                 ("optimizers", 0, "hyperparameters", "lr"), ("network", "span"), ("network", "depth"),
                 ("network", "noise"), ("network", "seed")]
HOSTILE_VALUES = [10**40, -10**40, 10**400, 1e39, -1e308, 1e308, 2**63, "1", None, True, [], {}, [1, 2],
                  float("nan"), float("inf"), 1e-320]


def _base() -> dict:
    s = Session.default()
    s.function_text = "a*x^2 + y^2"
    s.params = {"a": 1.0}
    s.camera = {"elevation": 30.0, "azimuth": 45.0, "distance": 6.0}
    d = s.to_dict()
    d["network"] = {}
    return d


def _set(d, path, value):
    for key in path[:-1]:
        d = d[key]
    d[path[-1]] = value


def test_session_fuzz_only_ever_raises_session_error(tmp_path):
    rng = random.Random(19)
    cases = [(p, v) for p in NUMERIC_PATHS for v in HOSTILE_VALUES]
    for _ in range(300):  # and random combinations of several at once
        cases.append([(rng.choice(NUMERIC_PATHS), rng.choice(HOSTILE_VALUES)) for _ in range(3)])
    path = tmp_path / "s.landscape.json"
    for case in cases:
        d = _base()
        for p, v in ([case] if isinstance(case, tuple) else case):
            _set(d, p, v)
        path.write_text(json.dumps(d, allow_nan=True))
        try:
            s = Session.load(path)
        except SessionError as err:
            assert str(err), case
            continue
        # accepted: then everything it holds must be usable (finite, in range)
        assert all(abs(v) <= 1e6 for v in (*s.xrange, *s.yrange)), case
        json.loads(s.to_json())


@pytest.mark.parametrize("text, fragment", [
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"function_text": "x", "xrange": [1e39, 1e40]}', "xrange[0]"),
    ('{"function_text": "x", "xrange": [10000000000000000000000000000000000000000, 1]}', "xrange[0]"),
    ('{"function_text": "x", "xrange": [-1e308, 1e308]}', "xrange[0]"),
    ('{"function_text": "x", "steps": 100000, "starts": ' + json.dumps([[0, 0]] * 500) + ', "optimizers": '
     + json.dumps([{"name": "SGD"}] * 64) + "}", "optimizer steps"),
    ('{"function_text": "x", "camera": {"elevation": 0, "azimuth": 0, "distance": 0}}', "camera.distance"),
    ('{"function_text": "x", "optimizers": [{"name": "Adam", "hyperparameters": {"lr": 1e400}}]}', "lr"),
])
def test_hostile_session_files_are_refused_with_the_field(tmp_path, text, fragment):
    path = tmp_path / "bad.landscape.json"
    path.write_text(text.replace("1e400", "1" + "0" * 400))
    t0 = time.perf_counter()
    with pytest.raises(SessionError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Session.load(path)
    assert time.perf_counter() - t0 < 2


def test_files_that_are_not_sessions_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    with pytest.raises(SessionError, match="not a regular file"):
        Session.load(fifo)
    with pytest.raises(SessionError, match="not a regular file"):
        Session.load("/dev/zero")
    big = tmp_path / "big.landscape.json"
    with open(big, "w") as fh:
        fh.write('{"starts": [' + ",".join(["[0,0]"] * 2_000_000) + "]}")
    with pytest.raises(SessionError, match="too large"):
        Session.load(big)
    assert time.perf_counter() - t0 < 3


def test_export_of_a_hostile_session_exits_2_with_the_reason(tmp_path, capsys):
    path = tmp_path / "bad.landscape.json"
    path.write_text('{"function_text": "x", "seed": ' + "9" * 50 + "}")
    assert main(["export", "--session", str(path), "-o", str(tmp_path / "x.csv")]) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--xrange", "-1e3", "1e3", "--yrange", "-inf", "0"], "--yrange -inf 0: both ends must be finite"),
    (["--size", "-100x100"], "--size -100x100: width and height"),
    (["--function", ""], "the formula is empty"),
    (["--optimizer", "SGD(lr=1, lr=2)"], "lr is given twice"),
    (["--camera", "nan,0,1", "--view", "2d"], "camera.elevation"),
    (["--camera", "0,0,inf"], "camera.distance"),
    (["--camera", "0,0,0"], "camera.distance"),
])
def test_command_line_values_are_checked(tmp_path, capsys, args, fragment):
    out = tmp_path / "x.csv"
    assert main(["export", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err, err
    assert not out.exists()


def test_a_negative_range_is_read_as_numbers(tmp_path):
    out = tmp_path / "x.csv"
    assert main(["export", "--xrange", "-1e3", "1e3", "--function", "x^2+y^2", "--steps", "5", "-o", str(out)]) == 0


def test_argparse_errors_are_one_line_and_a_hint(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--bogus", "-o", "x.png"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "unrecognized arguments: --bogus" in err[0] and "--help" in err[1]


SUFFIXES = [".svg", ".pdf", ".png", ".gif", ".csv", ".npz", ".mp4"]

#: one child process (under the file-size limit) exports to every format in turn, each in its own
#: folder, through the CLI's own ``main``: one start-up instead of seven
_CHILD = """
import contextlib, io, json, sys
from landscape_gui.cli import main
results = {}
for suffix, target in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(["export", "--function", "x^2+y^2", "--steps", "20", "--size", "800x600",
                         "--frames", "6", "-o", target])
        except SystemExit as exc:
            code = exc.code
    results[suffix] = [code, err.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def exports_under_a_file_limit(tmp_path_factory):
    limit_bytes = 16 * 1024
    targets = {}
    for suffix in SUFFIXES:
        folder = tmp_path_factory.mktemp("limit" + suffix[1:])
        target = folder / f"figure{suffix}"
        target.write_bytes(b"OLD")
        targets[suffix] = str(target)

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(targets)], preexec_fn=limit,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {s: (results[s][0], results[s][1], Path(targets[s])) for s in SUFFIXES}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_export_that_cannot_be_written_fails_and_keeps_the_old_file(exports_under_a_file_limit, suffix):
    code, stderr, target = exports_under_a_file_limit[suffix]
    assert code == 2, (code, stderr[-2000:])
    assert target.read_bytes() == b"OLD"
    assert str(target) in stderr  # the target is named, not the temporary file
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left behind


def test_temporaries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "fig.png"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".fig.png.{dead.pid}.k3j4.png"
    live = tmp_path / f".fig.png.{os.getpid()}.zz.png"
    other = tmp_path / ".other.png.1.x.png"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    assert remove_stale_temporaries(target) == 1
    assert not stale.exists() and live.exists() and other.exists()


def test_3d_export_without_a_display_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "landscape_gui", "export", "--view", "3d", "--function", "x^2+y^2",
                           "-o", str(tmp_path / "s.png")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert "needs an OpenGL display" in proc.stderr and "xvfb-run" in proc.stderr


# --- CSV --------------------------------------------------------------------------------------


def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_label_column_must_be_an_index_or_a_name(tmp_path):
    p = _csv(tmp_path, "a,b,c\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(8)))
    for bad in (None, 1.5, True):
        with pytest.raises(DatasetError, match="label_column must be"):
            load_csv(p, label_column=bad)
    assert load_csv(p, label_column="c").n_classes == 2


@pytest.mark.parametrize("cell", ["1_000", "\u0661", "\uff11"])
def test_csv_numbers_are_plain_ascii_decimals(tmp_path, cell):
    p = _csv(tmp_path, "".join(f"{i},{i % 2}\n" for i in range(6)) + f"{cell},1\n")
    with pytest.raises(DatasetError, match="line 7, column 1.*is not a number"):
        load_csv(p)


def test_csv_a_header_of_column_numbers_is_a_header(tmp_path):
    p = _csv(tmp_path, "0,1,2\n" + "".join(f"{i}.5,{i * 2},{i % 2}\n" for i in range(8)))
    d = load_csv(p)
    assert len(d) == 8


@pytest.mark.parametrize("sep", [";", "\t"])
def test_csv_semicolon_and_tab_separators_are_detected(tmp_path, sep):
    p = _csv(tmp_path, "".join(f"{i}.25{sep}{i * 2}{sep}{i % 2}\n" for i in range(8)))
    d = load_csv(p)
    assert d.n_features == 2 and len(d) == 8


def test_a_huge_csv_is_refused_at_the_row_cap_not_after_parsing_it(tmp_path, monkeypatch):
    import landscape_gui.core.nn.datasets as ds

    monkeypatch.setattr(ds, "MAX_ROWS", 10_000)
    p = tmp_path / "big.csv"
    with open(p, "w") as fh:
        fh.write("1,0\n" * 2_000_000)
    t0 = time.perf_counter()
    with pytest.raises(DatasetError, match="more than 10,000 rows"):
        load_csv(p)
    assert time.perf_counter() - t0 < 1.0
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="not a regular file"):
        load_csv(fifo)
    assert np.isfinite(0)

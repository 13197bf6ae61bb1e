"""The command line: help, the function list, and the benchmark (a smoke run, not a measurement)."""

import io
import json
import subprocess
import sys

from landscape_gui.devtools.bench import run_bench
from landscape_gui.cli import main


def test_help_and_functions(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "bench" in capsys.readouterr().out
    assert main(["functions"]) == 0
    out = capsys.readouterr().out
    assert "rosenbrock" in out and "himmelblau" in out


def test_bench_quick_json_reports_ratios():
    buf = io.StringIO()
    result = run_bench(quick=True, as_json=True, out=buf)
    data = json.loads(buf.getvalue())
    figures = {r["figure"]: r for r in data["figures"]}
    assert any(f.startswith("grid 256x256 rosenbrock") for f in figures)
    grid_rows = [r for r in data["figures"] if r["figure"].startswith("grid 256x256 ") and "ratio" in r
                 and "geometric" not in r["figure"]]
    assert len(grid_rows) == 5 and all(r["ratio"] > 0 and r["max_abs_diff"] < 1e-9 for r in grid_rows)
    assert any("drag" in f for f in figures)
    assert result["machine"]["numba"]


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "landscape_gui", "functions"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "rastrigin" in out.stdout

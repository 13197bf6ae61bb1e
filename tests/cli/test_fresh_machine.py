"""What a new user on a new machine meets first: declared dependencies, the documented
command line, and errors that say what to do."""

import ast
import importlib.metadata
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

from landscape_gui.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return {re.split(r"[<>=!~\[; ]", r, 1)[0].lower().replace("_", "-") for r in reqs}


def _imported_top_level(folder: pathlib.Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"landscape_gui", "__future__"}


# packages the app imports only behind a clear message when they are missing (the extras)
OPTIONAL = {"imageio": "video", "imageio_ffmpeg": "video", "torch": "torch", "h5py": "torch", "dask": None,
            "distributed": None, "IPython": None, "threadpoolctl": "torch"}   # IPython: only inside a running kernel (show())


def test_every_package_the_app_imports_is_declared():
    """A fresh venv has only what pyproject.toml declares: an undeclared import breaks a user's
    install while a developer's machine (with scipy, Pillow, ... installed) stays green."""
    dist_of = importlib.metadata.packages_distributions()
    base = _declared()
    missing = []
    for module in sorted(_imported_top_level(ROOT / "landscape_gui")):
        dists = {d.lower().replace("_", "-") for d in dist_of.get(module, [module])}
        if module in OPTIONAL:
            extra = OPTIONAL[module]
            assert extra is None or dists & _declared(extra), f"{module} is not in the [{extra}] extra"
            continue
        if not dists & base:
            missing.append(f"{module} (from {', '.join(sorted(dists))})")
    assert not missing, "imported but not declared in [project.dependencies]: " + "; ".join(missing)


def test_the_core_needs_no_scipy():
    """Numba's np.linalg needs scipy; no kernel may use it (the 2x2 Newton step is closed form)."""
    code = ("import sys, importlib.abc\n"
            "class NoScipy(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] == 'scipy': raise ImportError('scipy is not installed')\n"
            "sys.meta_path.insert(0, NoScipy())\n"
            "from landscape_gui.core import analysis, compile_function, optimizers\n"
            "f = compile_function('(x^2 + y - 11)^2 + (x + y^2 - 7)^2', background=False)\n"
            "for name in optimizers.names():\n"
            "    t = optimizers.run(f, name, (0.5, 0.5), 50, lr=1e-3)\n"
            "    assert len(t.points) > 1, name\n"
            "assert len(analysis.critical_points(f, (-5, 5), (-5, 5), resolution=24)) >= 9\n"
            "print('OK')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-2000:]


def test_without_torch_and_h5py_landscape_files_still_open(tmp_path):
    """The base install has neither: .npz landscapes open, .h5 and loss_plane say what to install."""
    code = ("import sys, importlib.abc\n"
            "class Missing(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'h5py'): raise ImportError(name + ' is not installed')\n"
            "sys.meta_path.insert(0, Missing())\n"
            "import numpy as np\n"
            "from landscape_gui.pytorch import LandscapePlane, load_landscape, loss_plane, LandscapeFileError\n"
            "x = np.linspace(-1, 1, 5)\n"
            "LandscapePlane(x, x, np.add.outer(x, x) ** 2).save(sys.argv[1] + '/p.npz')\n"
            "print('NPZ', load_landscape(sys.argv[1] + '/p.npz').values.shape)\n"
            "open(sys.argv[1] + '/p.h5', 'wb').write(b'\\x89HDF\\r\\n\\x1a\\n')\n"
            "try:\n"
            "    load_landscape(sys.argv[1] + '/p.h5')\n"
            "except LandscapeFileError as e:\n"
            "    print('H5', e)\n"
            "try:\n"
            "    loss_plane(None, None, [])\n"
            "except ImportError as e:\n"
            "    print('TORCH', e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "NPZ (5, 5)" in out.stdout
    assert "H5 p.h5: reading and writing .h5 files needs h5py: pip install h5py" in out.stdout
    assert "TORCH loss planes of PyTorch models need torch: pip install 'landscape-gui[torch]'" in out.stdout


def test_a_session_file_argument_opens_the_window(monkeypatch, tmp_path):
    """`landscape-gui FILE` is documented; argparse used to take FILE for a subcommand name."""
    seen = {}

    def fake_run_app(session=None, preset=None, after_show=None, example=None):
        seen.update(session=session, preset=preset)
        if example:
            seen["example"] = example
        return 0

    monkeypatch.setattr("landscape_gui.ui.window.app.run_app", fake_run_app)
    path = tmp_path / "mine.landscape.json"
    assert main([str(path)]) == 0
    assert seen == {"session": str(path), "preset": None}
    assert main(["--preset", "himmelblau"]) == 0 and seen["preset"] == "himmelblau"
    assert main([]) == 0 and seen == {"session": None, "preset": None}
    assert main(["--example", "saddle"]) == 0 and seen["example"] == "saddle"
    with pytest.raises(SystemExit):
        main(["--example", "nosuch"])   # refused with the list, before any window opens


def test_an_unknown_preset_lists_the_valid_names(capsys):
    assert main(["export", "--preset", "nosuch", "-o", "x.png"]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'nosuch'" in err and "rosenbrock" in err and "himmelblau" in err
    assert "\"" not in err  # a sentence, not a quoted KeyError
    with pytest.raises(SystemExit):
        main(["--preset", "rosenbrok"])
    err = capsys.readouterr().err
    assert "did you mean 'rosenbrock'" in err


def test_readme_commands_make_a_fresh_venv_and_ci_runs_the_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    install, test = blocks[0], blocks[1]
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate") and "landscape-gui" in install
    assert test.startswith("python3 -m venv .venv && . .venv/bin/activate") and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text()


def test_every_package_and_the_resources_are_installed(tmp_path):
    """pyproject finds the packages (landscape_gui/resources links to the top-level resources/):
    a sub-package or example files missing from a user's wheel, while an editable install still
    finds them, fail here."""
    assert (ROOT / "landscape_gui" / "resources").resolve() == (ROOT / "resources").resolve()
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                          "--target", str(tmp_path / "site"), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    found = {p.parent.relative_to(ROOT) for p in (ROOT / "landscape_gui").rglob("__init__.py")}
    assert len(found) >= 18
    for package in found:
        assert (tmp_path / "site" / package / "__init__.py").is_file(), package
    res = tmp_path / "site" / "landscape_gui" / "resources"
    from landscape_gui import examples

    for eid in examples.ids():
        for name in ("session.landscape.json", "explain.md", "thumb.png"):
            assert (res / "examples" / eid / name).is_file(), (eid, name)
    assert (res / "examples" / "index.json").is_file()

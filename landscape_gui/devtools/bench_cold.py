"""``landscape-gui bench --cold``: how long a new machine waits for the fast kernels.

Each figure runs in a fresh child process with an empty, temporary Numba cache
and kernel folder, as on a new user's first launch; a second child then measures
a later launch (everything loaded from the cache). The child does what the window
does: it asks for the default session's optimizers first, then all of them, with
the compile in child processes (``optimizers.prepare``), while the formula's
kernels compile in a thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

TARGETS_S = {"default kernels ready": (10.0, 5.0), "all optimizers ready": (30.0, None),
             "network training kernels ready": (15.0, None), "later launch: default kernels ready": (2.0, None)}


def _child() -> dict:
    t0 = time.perf_counter()
    from landscape_gui.core import compile_function, optimizers
    from landscape_gui.core.session import Session

    s = Session.default()
    f = compile_function(s.function_text, s.params)  # the formula's kernels: a background thread
    default = [o.name for o in s.enabled_optimizers()]
    optimizers.prepare(default)
    optimizers.prepare(optimizers.names())
    out = {"import_s": time.perf_counter() - t0}
    want_default = {optimizers.SPECS[n][0] for n in default}
    while True:
        if "default kernels ready" not in out and f.compiled_ready and all(
                optimizers.runner_ready(k, wait=False) for k in want_default):
            out["default kernels ready"] = time.perf_counter() - t0
        ready, wanted, error = optimizers.kernel_progress()
        if error:
            out["error"] = error
            break
        if ready == wanted and "default kernels ready" in out:
            out["all optimizers ready"] = time.perf_counter() - t0
            break
        time.sleep(0.02)
    t1 = time.perf_counter()
    from landscape_gui.core import nn

    data = nn.make_dataset("moons", n=200, seed=0)
    nn.train(nn.MLP(depth=2, width=16), data, "Adam", {"lr": 0.01}, epochs=1, batch_size=32, seed=0)
    out["network training kernels ready"] = time.perf_counter() - t1
    return out


def bench_cold() -> list[dict]:
    """Rows for ``bench``: cold (empty cache) and warm launch times against the issue's targets."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="landscape-gui-cold-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba"),
                   LANDSCAPE_GUI_KERNEL_DIR=os.path.join(tmp, "kernels"))
        runs = []
        for _ in range(2):  # first launch, then a later one on the cache the first wrote
            p = subprocess.run([sys.executable, "-m", "landscape_gui.devtools.bench_cold", "--child"], env=env, capture_output=True,
                               text=True, timeout=600)
            if p.returncode != 0:
                return [{"figure": "cold start", "skipped": p.stderr.strip().splitlines()[-1:] or "failed"}]
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    for key in ("default kernels ready", "all optimizers ready", "network training kernels ready"):
        rows.append(_row(f"cold: {key}", cold.get(key), *TARGETS_S[key]))
    rows.append(_row("later launch: default kernels ready", warm.get("default kernels ready"),
                     *TARGETS_S["later launch: default kernels ready"]))
    return rows


def _row(figure, seconds, target, goal) -> dict:
    if seconds is None:
        return {"figure": figure, "skipped": "did not finish"}
    row = {"figure": figure, "ours_ms": seconds * 1e3, "target_ms": target * 1e3,
           "meets_target": seconds <= target}
    if goal is not None:
        row["goal_ms"] = goal * 1e3
    return row


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(_child()))
    else:
        for r in bench_cold():
            print(r)

"""``landscape-gui bench``: performance figures as ratios against a baseline run in
the same process (this machine is shared and noisy, so only ratios are comparable).

Each figure: our time, the baseline's time, and ``ratio = baseline / ours``
(higher is better). Timings are medians of several repeats.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from landscape_gui.core import compile_function, optimizers
from landscape_gui.core.functions import get as get_function

GRID_FUNCTIONS = {
    # name: (formula, domain, best hand-written numpy with x as a row and y as a column)
    "rosenbrock": ("(1 - x)^2 + 100*(y - x^2)^2", (-2, 2),
                   lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2),
    "himmelblau": ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", (-5, 5),
                   lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2),
    "rastrigin": ("20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)", (-5.12, 5.12),
                  lambda x, y: (20 + x * x - 10 * np.cos(2 * np.pi * x)) + (y * y - 10 * np.cos(2 * np.pi * y))),
    "ackley": ("-20*exp(-0.2*sqrt(0.5*(x^2 + y^2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20",
               (-5, 5),
               lambda x, y: (-20 * np.exp(-0.2 * np.sqrt(0.5 * (x * x + y * y)))
                             - np.exp(0.5 * (np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y))) + np.e + 20)),
    "nonseparable": ("sin(3*x*y) + cos(x + y)*exp(-0.1*(x^2 + y^2))", (-3, 3),
                     lambda x, y: np.sin(3 * x * y) + np.cos(x + y) * np.exp(-0.1 * (x * x + y * y))),
}

TORCH_NINE = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"]
BENCH_HYPER = {"SGD": {"lr": 1e-4, "momentum": 0.9}, "Adagrad": {"lr": 0.05}, "RMSprop": {"lr": 1e-3},
               "Adadelta": {}, "Adam": {"lr": 0.01}, "AdamW": {"lr": 0.01}, "Adamax": {"lr": 0.01},
               "NAdam": {"lr": 0.01}, "RAdam": {"lr": 0.01}}


def _median_time(fn, repeats: int, min_time: float = 0.0) -> float:
    """Median of at least ``repeats`` calls (and of ``min_time`` seconds of calls), after a warm-up."""
    return _interleaved_medians([fn], repeats, min_time)[0]


def _interleaved_medians(fns, repeats: int, min_time: float, max_rounds: int = 200,
                         calls: int = 1) -> list[float]:
    """Median time of each function, called in turn round after round for at least ``min_time``:
    a burst of load from another program then slows all of them alike instead of one figure's
    few-millisecond window (a grid of 256^2 takes about a millisecond).

    ``calls > 1``: in each round a function runs that many times back to back and only the last
    call is timed, nearer its steady state (a drag redraws the same grid again and again). With
    single calls, each side of a grid figure paid for the other's writes: the megabytes the other
    side had just written were written back to memory while its own call filled the cache (a 1024^2
    Rastrigin grid took 0.8 ms timed alone after the numpy baselines, 0.67 ms as the second call and
    0.25 ms in a row of its own calls)."""
    for fn in fns:
        fn()  # warm-up: compile, page in, start thread pools
    times = [[] for _ in fns]
    t_end = time.perf_counter() + min_time
    while len(times[0]) < repeats or time.perf_counter() < t_end:
        for fn, ts in zip(fns, times):
            for _ in range(calls - 1):
                fn()
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        if len(times[0]) > max_rounds:
            break
    return [statistics.median(ts) for ts in times]


def bench_grids(n: int, repeats: int, min_time: float = 0.2) -> list[dict]:
    rows = []
    for name, (formula, (lo, hi), numpy_fn) in GRID_FUNCTIONS.items():
        f = compile_function(formula, background=False)
        xs = np.linspace(lo, hi, n)
        xr, yc = xs[None, :], xs[:, None]
        buf = np.empty((n, n))
        with np.errstate(all="ignore"):
            ours, hand, generated = _interleaved_medians(
                [lambda: f.grid((lo, hi), (lo, hi), (n, n), out=buf), lambda: numpy_fn(xr, yc),
                 lambda: f.compiled.numpy_value(xr, yc, f.param_array)], repeats, min_time, max_rounds=400,
                calls=2)
        base = min(hand, generated)
        check = np.nanmax(np.abs(f.grid((lo, hi), (lo, hi), (n, n)) - numpy_fn(xr, yc)))
        rows.append({"figure": f"grid {n}x{n} {name}", "ours_ms": ours * 1e3, "baseline": "best numpy",
                     "baseline_ms": base * 1e3, "ratio": base / ours, "max_abs_diff": float(check)})
    return rows


def bench_first_grid(repeats: int) -> dict:
    """New text -> first 512x512 grid (tier 1), and the time until Numba's kernels are ready."""
    import sympy as sp

    firsts, readies, base = [], [], []
    salt = time.time_ns() % 997  # a text never compiled before, not even in Numba's disk cache
    xs = np.linspace(-3, 3, 512)
    for k in range(repeats):   # interleaved, so a burst of load from another program hits both
        text = f"sin(x*{k + 2}.5) * cos(y) + 0.{k + 1}*x^2*y + exp(-(x^2 + y^2)/{k + 3}) + {salt}"
        t0 = time.perf_counter()
        f = compile_function(text)
        f.grid((-3, 3), (-3, 3), (512, 512))
        firsts.append(time.perf_counter() - t0)
        f.kernels(wait=True)
        readies.append(time.perf_counter() - t0)
        # baseline: sympy's own numpy lambdify of the same kind of text (parse + lambdify + grid)
        t0 = time.perf_counter()
        x, y = sp.symbols("x y")
        e = sp.sympify(f"sin(x*{k + 2}.25) * cos(y) + 0.{k + 2}*x**2*y + exp(-(x**2 + y**2)/{k + 4}) + {salt}")
        fn = sp.lambdify((x, y), e, "numpy")
        fn(xs[None, :], xs[:, None])
        base.append(time.perf_counter() - t0)
    ours, b = statistics.median(firsts), statistics.median(base)
    return {"figure": "new formula -> first 512x512 grid", "ours_ms": ours * 1e3,
            "baseline": "sympy lambdify", "baseline_ms": b * 1e3, "ratio": b / ours,
            "numba_ready_ms": statistics.median(readies) * 1e3}


def bench_optimizers(steps: int, n_starts: int, repeats: int) -> list[dict]:
    lib = get_function("rosenbrock")
    f = compile_function(lib.formula, background=False)
    rng = np.random.default_rng(0)
    starts = np.column_stack([rng.uniform(-1.8, 1.8, n_starts), rng.uniform(-0.8, 2.8, n_starts)])
    configs = [(n, BENCH_HYPER[n]) for n in TORCH_NINE]
    ours = _median_time(lambda: optimizers.run_many(f, configs, starts, steps), repeats)
    rows = []
    # pure numpy loop: the reference rules, vectorised over the starts
    def numpy_loop():
        for name, hyper in configs:
            _numpy_run(f, name, hyper, starts, steps)

    with np.errstate(all="ignore"):
        t_np = _median_time(numpy_loop, max(1, repeats // 3))
    rows.append({"figure": f"9 optimizers x {n_starts} starts x {steps} steps (Rosenbrock)",
                 "ours_ms": ours * 1e3, "baseline": "numpy loop", "baseline_ms": t_np * 1e3,
                 "ratio": t_np / ours})
    try:
        import torch
    except ImportError:
        rows.append({"figure": "same vs torch.optim", "skipped": "torch is not installed"})
    else:
        torch.set_num_threads(2)

        def torch_loop():
            for name, hyper in configs:
                p = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
                opt = getattr(torch.optim, name)([p], **hyper)
                for _ in range(steps):
                    opt.zero_grad()
                    x, y = p[:, 0], p[:, 1]
                    ((1 - x) ** 2 + 100 * (y - x ** 2) ** 2).sum().backward()
                    opt.step()

        t_torch = _median_time(torch_loop, 1)
        rows.append({"figure": f"9 optimizers x {n_starts} starts x {steps} steps (Rosenbrock)",
                     "ours_ms": ours * 1e3, "baseline": f"torch.optim {torch.__version__}",
                     "baseline_ms": t_torch * 1e3, "ratio": t_torch / ours})
    return rows


def bench_typed_rules(steps: int, n_starts: int, repeats: int) -> list[dict]:
    """Issue 18: a typed Adam against the built-in Adam, same work (bar >= 0.5x, goal >= 0.9x)."""
    from landscape_gui.core.optimizers.templates import TEMPLATES

    f = compile_function(get_function("rosenbrock").formula, background=False)
    rng = np.random.default_rng(1)
    starts = np.column_stack([rng.uniform(-1.8, 1.8, n_starts), rng.uniform(-0.8, 2.8, n_starts)])
    optimizers.define("BenchTypedAdam", TEMPLATES["Adam"])
    t0 = time.perf_counter()
    optimizers.prepare(["BenchTypedAdam"], background=False)
    compile_s = time.perf_counter() - t0
    typed = _median_time(lambda: optimizers.run_many(f, [("BenchTypedAdam", {"lr": 0.01})], starts, steps),
                         repeats)
    built = _median_time(lambda: optimizers.run_many(f, [("Adam", {"lr": 0.01})], starts, steps), repeats)
    optimizers.remove("BenchTypedAdam")
    return [{"figure": f"typed Adam rule x {n_starts} starts x {steps} steps (kernel ready in {compile_s:.1f} s)",
             "ours_ms": typed * 1e3, "baseline": "built-in Adam", "baseline_ms": built * 1e3,
             "ratio": built / typed, "bar": 0.5, "goal": 0.9}]


def bench_schedules(steps: int, n_starts: int, repeats: int) -> list[dict]:
    """Issue 28: a schedule costs the kernels at most 10% (goal >= 0.9x of the constant rate): the
    rates are precomputed per step; ReduceLROnPlateau runs its rule (and the step's scalars) inside."""
    f = compile_function(get_function("rosenbrock").formula, background=False)
    rng = np.random.default_rng(2)
    starts = np.column_stack([rng.uniform(-1.8, 1.8, n_starts), rng.uniform(-0.8, 2.8, n_starts)])
    rows = []
    for name, hyper in (("Adam", {"lr": 0.01}), ("SGD", {"lr": 1e-3, "momentum": 0.9})):
        for sched in (f"CosineAnnealingLR(T_max={steps})", "ReduceLROnPlateau(patience=20)"):
            optimizers.run_many(f, [(name, {**hyper, "schedule": sched})], starts[:2], 4)   # compiled
            const, scheduled = _interleaved_medians(
                [lambda: optimizers.run_many(f, [(name, hyper)], starts, steps),
                 lambda: optimizers.run_many(f, [(name, {**hyper, "schedule": sched})], starts, steps)],
                repeats, 0.3)
            rows.append({"figure": f"{name} + {sched.split('(')[0]} x {n_starts} starts x {steps} steps",
                         "ours_ms": scheduled * 1e3, "baseline": "the same at a constant rate",
                         "baseline_ms": const * 1e3, "ratio": const / scheduled, "bar": 0.8, "goal": 0.9})
    return rows


def bench_drag(repeats: int) -> dict:
    """One drag's worth: 8 optimizers x 1 start x 500 steps (target <= 2 ms)."""
    f = compile_function(get_function("rosenbrock").formula, background=False)
    configs = [(n, BENCH_HYPER[n]) for n in TORCH_NINE[:8]]
    start = np.array([[-1.2, 1.8]])
    ours = _median_time(lambda: optimizers.run_many(f, configs, start, 500), repeats, min_time=0.5)
    return {"figure": "drag: 8 optimizers x 1 start x 500 steps", "ours_ms": ours * 1e3,
            "target_ms": 2.0, "meets_target": ours * 1e3 <= 2.0}


def _numpy_run(f, name, hyper, starts, steps):
    """The numpy reference rule vectorised over starts: the baseline for batch figures."""
    from landscape_gui.core.optimizers.reference import ReferenceOptimizer

    kind, h = optimizers.pack(name, hyper)
    opt = ReferenceOptimizer(kind, h, starts.shape)
    q = starts.copy()
    for _ in range(steps):
        gx, gy = f.gradient(q[:, 0], q[:, 1])
        q = opt.step(q, np.column_stack([gx, gy]))
    return q


def bench_analysis(quick: bool, repeats: int) -> list[dict]:
    """Basin map, critical points of every library function, LR sweep (issue 8's targets)."""
    from landscape_gui.core import analysis, functions
    from landscape_gui.core.analysis.newton import newton_search_reference

    rows = []
    lib = get_function("himmelblau")
    f = compile_function(lib.formula, background=False)
    n = 64 if quick else 256
    ours = _median_time(lambda: analysis.basins(f, "Adam", {"lr": 0.05}, lib.xrange, lib.yrange,
                                                shape=(n, n), steps=500), max(1, repeats // 3))
    # baseline: the numpy reference rule vectorised over all starts (endpoints only)
    xs, ys = analysis.cell_centres(lib.xrange, lib.yrange, (n, n))
    starts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    with np.errstate(all="ignore"):
        t_np = _median_time(lambda: _numpy_run(f, "Adam", {"lr": 0.05}, starts, 500), 1)
    rows.append({"figure": f"basin map {n}x{n} starts x 500 Adam steps", "ours_ms": ours * 1e3,
                 "baseline": "numpy reference", "baseline_ms": t_np * 1e3, "ratio": t_np / ours,
                 "target_ms": 200.0 if n == 256 else 200.0 / 16, "meets_target": ours * 1e3 <= (200.0 if n == 256 else 200.0 / 16),
                 "goal": 3.0})
    worst, worst_name = 0.0, ""
    for lf in functions.FUNCTIONS:
        g = compile_function(lf.formula, lf.params, background=False)
        t = _median_time(lambda: analysis.critical_points(g, lf.xrange, lf.yrange), 1 if quick else 3)
        if t > worst:
            worst, worst_name, worst_f, worst_lf = t, lf.key, g, lf
    seeds = np.stack(np.meshgrid(*analysis.cell_centres(worst_lf.xrange, worst_lf.yrange, 96)), axis=-1).reshape(-1, 2)
    diag = math.hypot(np.ptp(worst_lf.xrange), np.ptp(worst_lf.yrange))
    t_np = _median_time(lambda: newton_search_reference(worst_f, seeds, 100, 0.25 * diag, 1e-11 * diag), 1)
    rows.append({"figure": f"critical points, slowest library function ({worst_name})",
                 "ours_ms": worst * 1e3, "baseline": "numpy Newton (search only)", "baseline_ms": t_np * 1e3,
                 "ratio": t_np / worst, "target_ms": 200.0, "meets_target": worst * 1e3 <= 200.0})
    g = compile_function("0.5*(x^2 + 25*y^2)", background=False)
    lrs = np.geomspace(1e-4, 1, 200)
    ours = _median_time(lambda: analysis.lr_sweep(g, "SGD", {}, (2.0, 1.0), lrs, 500), repeats)
    with np.errstate(all="ignore"):
        t_np = _median_time(lambda: [_numpy_run(g, "SGD", {"lr": lr}, np.array([[2.0, 1.0]]), 500)
                                     for lr in lrs], 1)
    rows.append({"figure": "LR sweep 200 rates x 500 steps", "ours_ms": ours * 1e3,
                 "baseline": "numpy reference", "baseline_ms": t_np * 1e3, "ratio": t_np / ours,
                 "target_ms": 100.0, "meets_target": ours * 1e3 <= 100.0})
    return rows


def bench_nn(quick: bool) -> list[dict]:
    """Issue 9: a 51x51 train-loss plane of a 2x32 MLP on 1000 points vs numpy's forward pass."""
    from landscape_gui.core import nn
    from landscape_gui.core.nn import reference

    data = nn.make_dataset("moons", n=1000, noise=0.1, seed=0)
    model = nn.MLP(depth=2, width=32).fit_to(data)
    theta = model.init(0)
    n = 21 if quick else 51
    ours = _median_time(lambda: nn.landscape(model, data, theta, "filter", grid=(n, n), seed=0), 3)
    land = nn.landscape(model, data, theta, "filter", grid=(n, n), seed=0)
    yi, yf = data.kernel_targets()
    layout = model.layout
    d1, d2 = land.directions
    rows = range(0, n, 5)  # numpy: every 5th row, scaled to the whole grid

    def numpy_plane():
        for j in rows:
            for i in range(n):
                q = theta + land.alphas[i] * d1 + land.betas[j] * d2
                reference.dataset_loss(q, data.X, yi, yf, *layout)

    t_np = _median_time(numpy_plane, 1) * n / len(rows)
    check = max(abs(reference.dataset_loss(theta + land.alphas[i] * d1 + land.betas[j] * d2, data.X, yi, yf,
                                           *layout)[0] - land.values[j, i]) for j in (0, n // 2) for i in (0, n - 1))
    return [{"figure": f"NN landscape {n}x{n}, MLP 2x32, 1000 points", "ours_ms": ours * 1e3,
             "baseline": "numpy forward pass", "baseline_ms": t_np * 1e3, "ratio": t_np / ours,
             "target_ms": 150.0 if n == 51 else 150.0 * 441 / 2601,
             "meets_target": ours * 1e3 <= (150.0 if n == 51 else 150.0 * 441 / 2601), "goal": 5.0,
             "max_abs_diff": float(check)}]


def bench_geometry(quick: bool) -> list[dict]:
    """Issue 17: the Hessian spectrum (k=5, 100 trace samples, density) of a 2x32 MLP on 1,000
    points, and a Bézier curve between two such nets, each against a numpy reference of the
    same computation (one vector at a time, forward pass and all; numpy backprop) in this run."""
    from landscape_gui.core import nn
    from landscape_gui.core.nn import curvature

    data = nn.make_dataset("moons", n=1000, noise=0.1, seed=0)
    epochs = 5 if quick else 20
    a = nn.train(nn.MLP(2, 32), data, "Adam", {"lr": 0.01}, epochs=epochs, batch_size=64, seed=0, test=None)
    b = nn.train(nn.MLP(2, 32), data, "Adam", {"lr": 0.01}, epochs=epochs, batch_size=64, seed=1, test=None)
    m, theta = a.model, a.params
    args = dict(k=5, trace_samples=100, density=True, seed=0)
    nn.hessian_spectrum(m, data, theta, **args)  # warm
    times = []
    for _ in range(1 if quick else 3):   # a median: one run on this shared machine varies by 2x
        t0 = time.perf_counter()
        spec = nn.hessian_spectrum(m, data, theta, **args)
        times.append(time.perf_counter() - t0)
    ours = statistics.median(times)
    t0 = time.perf_counter()
    ref = curvature.spectrum_of(curvature.ReferenceOperator(m, data, theta), **args)
    t_ref = time.perf_counter() - t0
    # its cost in full-batch gradients (the unit): the median gradient of this run
    grads = []
    for _ in range(41):
        t0 = time.perf_counter()
        curvature.loss_and_gradient(m, data, theta)
        grads.append(time.perf_counter() - t0)
    cost = ours / float(np.median(grads))
    rows = [{"figure": f"Hessian spectrum, MLP 2x32, 1000 points ({spec.products} HVPs)", "ours_ms": ours * 1e3,
             "baseline": "numpy, one HVP at a time", "baseline_ms": t_ref * 1e3, "ratio": t_ref / ours,
             "gradients": cost, "note": f"costs {cost:.0f} full-batch gradients (goal <= 200)",
             "target_ms": 1000.0, "meets_target": ours <= 1.0,
             "max_rel_diff": float(np.max(np.abs(ref.eigenvalues - spec.eigenvalues) / np.abs(ref.eigenvalues)))}]
    curve_epochs = 10 if quick else 50
    # the training is what the backends differ in: the plane drawn around the curve afterwards (the
    # same kernel in both) at its smallest, so it does not dilute the ratio
    small = dict(seed=0, grid=(2, 2), points=11)
    nn.connect(m, data, a.params, b.params, epochs=1, **small)  # warm
    t0 = time.perf_counter()
    curve = nn.connect(m, data, a.params, b.params, epochs=curve_epochs, **small)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    nn.connect(m, data, a.params, b.params, epochs=curve_epochs, backend="numpy", **small)
    t_ref = time.perf_counter() - t0
    rows.append({"figure": f"Bezier curve {curve_epochs} epochs, MLP 2x32, 1000 points (training; barrier "
                           f"{curve.barrier_linear:.3g} -> {curve.barrier_curve:.3g})", "ours_ms": ours * 1e3, "goal": 2.0,
                 "baseline": "numpy backprop", "baseline_ms": t_ref * 1e3, "ratio": t_ref / ours,
                 "target_ms": 10000.0, "meets_target": ours <= 10.0})
    return rows


def bench_torch_planes(quick: bool) -> list[dict]:
    """Issue 15: a 51x51 loss plane of a small CNN (conv-BN-ReLU x2, linear; 46k parameters)
    on 1,024 samples, against loss-landscape's plain loop (copy the weights in, run the
    batches; ``pytorch.reference``) on the same batches, in this process. The loop is timed
    on a few rows of the grid and scaled to all 51 (each point costs the same)."""
    try:
        import torch
    except ImportError:
        return [{"figure": "PyTorch loss plane (CNN)", "skipped": "torch is not installed "
                 "(pip install 'landscape-gui[torch]')"}]
    from landscape_gui.pytorch import loss_plane
    from landscape_gui.pytorch.models import random_images, small_cnn, warm_bn
    from landscape_gui.pytorch.reference import plain_loop_plane

    rows = []
    lf = torch.nn.CrossEntropyLoss()
    cases = [("CNN 46k params", small_cnn(), random_images(1024, batch_size=128))]
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 2))
    x = torch.randn(1000, 2)
    cases.append(("MLP 2x32", mlp, [(x[s:s + 125], (x[s:s + 125, 0] * x[s:s + 125, 1] > 0).long())
                                    for s in range(0, 1000, 125)]))
    for name, model, batches in cases:
        warm_bn(model, batches)
        n_rows = 51 if (not quick or name.startswith("MLP")) else 2
        t0 = time.perf_counter()
        plane = loss_plane(model, lf, batches, grid=(51, n_rows), seed=0)
        ours = time.perf_counter() - t0
        state = dict(model.named_parameters()) | dict(model.named_buffers())
        centre = {k: v.detach().clone() for k, v in state.items()}
        d1 = {k: torch.as_tensor(v[0]) for k, v in plane.directions.items()}
        d2 = {k: torch.as_tensor(v[1]) for k, v in plane.directions.items()}
        base_rows = 2 if quick else 3
        t0 = time.perf_counter()
        ref, _ = plain_loop_plane(model, lf, batches, centre, d1, d2, plane.alphas, plane.betas[:base_rows])
        t_loop = (time.perf_counter() - t0) * n_rows / base_rows
        diff = float(np.max(np.abs(ref - plane.values[:base_rows]) / np.abs(ref)))
        rows.append({"figure": f"PyTorch plane 51x{n_rows}, {name}, {sum(len(b[1]) for b in batches)} samples "
                               f"({plane.info['method']})",
                     "ours_ms": ours * 1e3, "baseline": "plain loop (loss-landscape)", "baseline_ms": t_loop * 1e3,
                     "ratio": t_loop / ours, "bar": 1.0, "goal": 3.0, "max_rel_diff": diff})
    return rows


def bench_torch_geometry(quick: bool) -> list[dict]:
    """Issue 27: the Hessian spectrum of the bench CNN (46k parameters; k = 5, 100 trace
    probes, the SLQ density) against one Hessian-vector product at a time by double backward
    (``torch.autograd.grad`` with ``create_graph``, as PyHessian and hessian-eigenthings do) for
    the same number of products, in this process (the baseline is timed on a few products and
    scaled: each costs the same); and the first, coarse 11x11 picture of a progressive plane."""
    try:
        import torch
    except ImportError:
        return [{"figure": "PyTorch Hessian spectrum (CNN)", "skipped": "torch is not installed"}]
    import copy

    from landscape_gui.pytorch import hessian_spectrum, loss_plane
    from landscape_gui.pytorch.models import random_images, small_cnn, warm_bn
    from landscape_gui.pytorch.reference import autograd_hvp_matmat

    lf = torch.nn.CrossEntropyLoss()
    samples = 32 if quick else 1024   # quick: that the figure runs, not a ratio to guard
    model = small_cnn()
    batches = random_images(samples, batch_size=128)
    warm_bn(model, batches)
    probes, k = (2, 1) if quick else (100, 5)
    t0 = time.perf_counter()
    spec = hessian_spectrum(model, lf, batches, k=k, trace_samples=probes, density=not quick)
    ours = time.perf_counter() - t0
    V = np.random.default_rng(0).standard_normal((1 if quick else 4, sum(p.numel() for p in model.parameters())))
    net = copy.deepcopy(model).eval()
    autograd_hvp_matmat(net, lf, batches[:1], V[:1])   # warm-up
    t0 = time.perf_counter()
    autograd_hvp_matmat(net, lf, batches, V)
    per = (time.perf_counter() - t0) / len(V)
    rows = [{"figure": f"PyTorch spectrum, CNN 46k params, {samples} samples (k={k}, {probes} probes"
                       f"{', density' if not quick else ''})",
             "ours_ms": ours * 1e3, "baseline": "autograd HVP one at a time", "baseline_ms": per * spec.products * 1e3,
             "ratio": per * spec.products / ours, "bar": 1.0, "goal": 3.0,
             "note": f"{spec.products} products, {ours / spec.products * 1e3:.0f} ms each vs {per * 1e3:.0f} ms"}]
    t0 = time.perf_counter()
    loss_plane(model, lf, batches, grid=(11, 11), seed=0)
    first = time.perf_counter() - t0
    rows.append({"figure": f"PyTorch progressive plane: first 11x11 picture, CNN, {samples} samples",
                 "ours_ms": first * 1e3, "target_ms": 3000.0, "meets_target": first <= 3.0})
    return rows


def run_bench(quick: bool = False, as_json: bool = False, gui: bool = False, cold: bool = False,
              out=sys.stdout, load: bool = False, check: str | None = None, only: str | None = None) -> dict:
    """Every figure; ``load``: each also with one core kept busy by another process (a second
    column); ``check``: compare the ratios with a baseline file (``check_ratios``); ``only``:
    the figures whose group name contains this text (grids, optimizers, analysis, nn, torch)."""
    result = {"machine": _machine(), "figures": _figures(quick, gui, cold, only)}
    if load:
        with busy_core():
            loaded = _figures(quick, False, False, only)
        by_key = {figure_key(r): r for r in loaded}
        for r in result["figures"]:
            twin = by_key.get(figure_key(r))
            if twin is not None and "ratio" in twin:
                r["ratio_loaded"] = twin["ratio"]
                if "ours_ms" in twin:
                    r["ours_ms_loaded"] = twin["ours_ms"]
    if check:
        result["check"] = check_ratios(result["figures"], load_baseline(check), "quick" if quick else "full")
    if as_json:
        json.dump(result, out, indent=1)
        out.write("\n")
    else:
        _print_table(result["figures"], out)
        if check:
            _print_check(result["check"], out)
    return result


#: ratios of a run on the development machine (2 cores), quiet and with one core busy; ``--check``
#: fails when a ratio falls more than ``CHECK_DROP`` below its entry
BASELINE_FILE = Path(__file__).with_name("bench_baseline.json")
CHECK_DROP = 0.4


def figure_key(row: dict) -> str:
    """A figure's name without its parenthesised run details (counts, barriers, methods), and its baseline."""
    name = re.sub(r"\s*\([^)]*\)", "", row["figure"]).strip()
    return f"{name} | {row['baseline']}" if row.get("baseline") else name


def load_baseline(path: str | None = None) -> dict:
    p = Path(path) if path and path not in ("default", "1") else BASELINE_FILE
    with open(p) as fh:
        return json.load(fh)


def check_ratios(rows: list[dict], baseline: dict, size: str, drop: float = CHECK_DROP) -> dict:
    """Each figure with a ratio against the baseline's: ``failed`` lists those more than ``drop``
    below it (quiet, and with ``ratio_loaded`` also loaded), and loaded ratios under 1x."""
    base = baseline.get(size, {})
    checked, failed = [], []
    for r in rows:
        key = figure_key(r)
        entry = base.get(key)
        if entry is None or "ratio" not in r:
            continue
        for column in ("ratio", "ratio_loaded"):
            if column not in r or column not in entry:
                continue
            floor = entry[column] * (1.0 - drop)
            row = {"figure": key, "column": column, "ratio": r[column], "baseline": entry[column], "floor": floor}
            checked.append(row)
            if r[column] < floor:
                failed.append(row)
    return {"checked": checked, "failed": failed, "drop": drop}


def write_baseline(rows: list[dict], size: str, path: Path = BASELINE_FILE) -> None:
    """Record this run's ratios as the baseline of ``size`` (``bench --record``)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[size] = {figure_key(r): {k: round(r[k], 3) for k in ("ratio", "ratio_loaded") if k in r}
                  for r in rows if "ratio" in r}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _print_check(check: dict, out) -> None:
    out.write(f"\ncheck against the baseline: {len(check['checked'])} ratios, "
              f"{len(check['failed'])} more than {check['drop']:.0%} below it\n")
    for r in check["failed"]:
        out.write(f"  SLOWER: {r['figure']} [{r['column']}] {r['ratio']:.2f}x < {r['floor']:.2f}x "
                  f"(baseline {r['baseline']:.2f}x)\n")


class busy_core:
    """Keep one core busy with another process (a spinning Python) while the block runs."""

    def __enter__(self):
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def _figures(quick: bool, gui: bool, cold: bool, only: str | None) -> list[dict]:
    groups = {"grids": _grid_group, "optimizers": _optimizer_group, "analysis": _analysis_group,
              "nn": _nn_group,
              "torch": lambda quick: bench_torch_planes(quick) + bench_torch_geometry(quick)}
    rows = []
    for name, fn in groups.items():
        if only is None or only in name:
            rows += fn(quick)
    if gui:
        from landscape_gui.devtools.bench_gui import bench_gui

        rows += bench_gui(quick=quick)
    if cold:
        from landscape_gui.devtools.bench_cold import bench_cold

        rows += bench_cold()
    return rows


def _grid_group(quick: bool) -> list[dict]:
    n = 256 if quick else 1024
    repeats = 3 if quick else 9
    rows = bench_grids(n, repeats, 0.25 if quick else 1.0)
    ratios = [r["ratio"] for r in rows]
    summary = {"figure": f"grid {n}x{n} geometric mean ratio", "ratio": math.exp(np.mean(np.log(ratios))),
               "min_ratio": min(ratios), "bar": 2.0, "goal": 12.0}
    rows.append(summary)
    rows.append(bench_first_grid(3 if quick else 7))
    return rows


def _optimizer_group(quick: bool) -> list[dict]:
    repeats = 3 if quick else 9
    rows = bench_optimizers(100 if quick else 1000, 4 if quick else 16, repeats)
    rows += bench_typed_rules(100 if quick else 1000, 16 if quick else 256, repeats)
    rows += bench_schedules(200 if quick else 1000, 16 if quick else 256, repeats)
    rows.append(bench_drag(repeats))
    return rows


def _analysis_group(quick: bool) -> list[dict]:
    return bench_analysis(quick, 3 if quick else 9)


def _nn_group(quick: bool) -> list[dict]:
    return bench_nn(quick) + bench_geometry(quick)


def _machine() -> dict:
    import os
    import platform

    import numba

    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "cpus": os.cpu_count(), "threading_layer": _threading_layer()}


def _threading_layer() -> str:
    try:
        import numba

        return numba.threading_layer()
    except Exception:  # no parallel kernel has run yet
        return "unknown"


def _print_table(rows, out) -> None:
    out.write(f"{'figure':58s} {'ours':>10s} {'baseline':>24s} {'ratio':>8s}\n")
    if any("ratio_loaded" in r for r in rows):
        out.write("(ratio | the same with one core kept busy by another process)\n")
    for r in rows:
        if "skipped" in r:
            out.write(f"{r['figure']:58s} skipped: {r['skipped']}\n")
            continue
        ours = f"{r['ours_ms']:.3f}ms" if "ours_ms" in r else ""
        base = f"{r['baseline']} {r['baseline_ms']:.2f}ms" if "baseline_ms" in r else ""
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else ""
        if "ratio_loaded" in r:
            ratio += f" | {r['ratio_loaded']:.1f}x loaded"
        extra = ""
        if "goal" in r and "min_ratio" not in r:
            extra = f"  (bar {r.get('bar', 1):g}x, goal {r['goal']:g}x)"
        if "min_ratio" in r:
            extra = f"  (min {r['min_ratio']:.2f}x; bar {r['bar']:g}x, goal {r['goal']:g}x)"
        if "target_ms" in r:
            extra = f"  (target <= {r['target_ms']:g} ms: {'met' if r['meets_target'] else 'MISSED'})"
        if "numba_ready_ms" in r:
            extra = f"  (Numba kernels ready after {r['numba_ready_ms']:.0f} ms)"
        if "note" in r:
            extra += f"  [{r['note']}]"
        out.write(f"{r['figure']:58s} {ours:>10s} {base:>24s} {ratio:>8s}{extra}\n")

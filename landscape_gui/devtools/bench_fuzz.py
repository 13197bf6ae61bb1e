"""``landscape-gui bench --fuzz N``: hostile formulas against the formula budgets.

Five kinds of generated text, as a fuzzing run of a real user base would type them:
token soups, mutated valid formulas, deep nestings, huge constants, and random
combinations of every function of the language (up to 300 characters). Each case is
compiled, then value, gradient, Hessian and a 64 x 64 grid are evaluated; the outcome
is one of

- ``accepted``   compiled and evaluated within the budgets
- ``refused``    an ExpressionError (a typo, a constant that is inf/NaN, ...)
- ``budget``     refused by a budget (time or operation count): must stay a tiny share
- ``crashed``    any other exception: a bug
- ``over``       finished, but used more CPU time than a budget allows: a bug (CPU time,
                 so a busy machine does not count as over)
- ``hung``       did not finish in the hard limit (5 s): the worker is killed; a bug

The cases run in worker processes, so a hang costs one worker, not the run.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import random
import time

from landscape_gui.core.formula.expression import ALIASES, FUNCTIONS

UNARY = [n for n, (_, lo, _) in FUNCTIONS.items() if lo == 1] + [a for a, n in ALIASES.items()
                                                                 if FUNCTIONS[n][1] == 1]
BINARY = [n for n, (_, lo, hi) in FUNCTIONS.items() if lo <= 2 <= hi and lo == 2]
TOKENS = (["x", "y", "a", "b", "pi", "e", "0", "1", "2", "0.5", "1e3", "10", "-", "+", "*", "/", "^",
           "**", "(", ")", "(", ")", ",", " ", "!", "%", "=", "[", "]", "'", "lambda", "__import__",
           "1e308", "9" * 30, "."] + UNARY + BINARY)
HUGE = ["1e308", "10**300", "9" * 40, "exp(exp(10**300))", "exp(1000)", "2**1000", "1e-320",
        "exp(exp(exp(100)))", "10^308*10^308", "(1e200)^2", "1/1e-320", "asin(2)", "log(0)",
        "acosh(0.5)", "tan(pi/2)", "0^0", "0^-1", "(-8)^(1/3)", "sqrt(-1)", "e^709", "e^710"]
KINDS = ("soup", "mutated", "deep", "huge", "combo")


def _leaf(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(["x", "y", "x", "y", "a", "b", "pi", "e"])
    if r < 0.9:
        return rng.choice(["0", "1", "2", "3", "0.5", "1.5", "10", "0.01", "100", "2.5"])
    return rng.choice(HUGE)


def _tree(rng: random.Random, budget: int) -> str:
    if budget <= 1 or rng.random() < 0.25:
        return _leaf(rng)
    r = rng.random()
    if r < 0.4:
        op = rng.choice(["+", "-", "*", "/", "^"])
        left, right = _tree(rng, budget // 2), _tree(rng, budget // 2)
        if op == "^" and rng.random() < 0.7:
            right = rng.choice(["2", "3", "0.5", "-1", "4", "1.5"])
        return f"({left} {op} {right})"
    if r < 0.8:
        return f"{rng.choice(UNARY)}({_tree(rng, budget - 1)})"
    if r < 0.9:
        f = rng.choice(BINARY)
        return f"{f}({_tree(rng, budget // 2)}, {_tree(rng, budget // 2)})"
    return f"-{_tree(rng, budget - 1)}"


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        if not text:
            text = _leaf(rng)
        i = rng.randrange(len(text))
        r = rng.random()
        if r < 0.3:
            text = text[:i] + text[i + 1:]
        elif r < 0.6:
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif r < 0.8:
            text = text[:i] + rng.choice(TOKENS) + text[i + 1:]
        else:
            j = rng.randrange(len(text))
            a, b = sorted((i, j))
            text = text[:b] + text[a:b] + text[b:]
    return text


def _deep(rng: random.Random) -> str:
    r = rng.random()
    depth = rng.randint(5, 90)
    if r < 0.3:
        return "x" + "".join(f"^{rng.choice('xy')}" for _ in range(rng.randint(2, 40)))
    if r < 0.5:
        return "(" * depth + "x" + ")" * depth
    if r < 0.8:
        names = [rng.choice(UNARY) for _ in range(depth)]
        return "".join(f"{n}(" for n in names) + rng.choice(["x", "x + y", "x*y", "x - 1e3"]) + ")" * depth
    fn = rng.choice(["softplus", "sigmoid", "relu", "abs", "exp", "sin"])
    return f"{fn}(" * depth + "x + y" + ")" * depth


def _huge(rng: random.Random) -> str:
    parts = [rng.choice(HUGE), _tree(rng, 4)]
    rng.shuffle(parts)
    return f"{parts[0]} {rng.choice(['+', '*', '-', '/', '^'])} {parts[1]}"


def generate(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (kind, text) cases, the kinds in equal shares, reproducible from ``seed``."""
    from landscape_gui.core.functions import FUNCTIONS as LIBRARY

    rng = random.Random(seed)
    valid = [lf.formula for lf in LIBRARY]
    out = []
    for k in range(n):
        kind = KINDS[k % len(KINDS)]
        if kind == "soup":
            text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 30)))
        elif kind == "mutated":
            text = _mutate(rng, rng.choice(valid) if rng.random() < 0.6 else _tree(rng, 12))
        elif kind == "deep":
            text = _deep(rng)
        elif kind == "huge":
            text = _huge(rng)
        else:
            text = _tree(rng, rng.choice([4, 8, 16, 32, 64]))
            while len(text) > 300:
                text = _tree(rng, 16)
        out.append((kind, text))
    return out


def run_case(text: str) -> dict:
    """Compile and evaluate one formula in this process; time each stage."""
    import numpy as np

    from landscape_gui.core import ExpressionError
    from landscape_gui.core.formula.loss_function import (
        LossFunction,
        compile_expression,
    )

    result = {"text": text}
    c0 = time.thread_time()  # CPU time: "over budget" must not depend on what else the machine runs
    t0 = time.perf_counter()
    try:
        compiled = compile_expression(text)
    except ExpressionError as err:
        result["compile_s"] = time.perf_counter() - t0
        result["outcome"] = "budget" if _is_budget(err.message) else "refused"
        result["message"] = err.message
        return result
    except BaseException as exc:  # noqa: BLE001 - classifying is the point
        result["compile_s"] = time.perf_counter() - t0
        result["outcome"] = "crashed"
        result["message"] = f"compile: {type(exc).__name__}: {exc}"[:300]
        return result
    result["compile_s"] = time.perf_counter() - t0
    result["compile_cpu_s"] = time.thread_time() - c0
    f = LossFunction(compiled, {n: 1.3 for n in compiled.parsed.parameters})
    axis = np.linspace(-3.0, 3.0, 64)
    xs, ys = axis[None, :], axis[:, None]
    t1 = time.perf_counter()
    c1 = time.thread_time()
    try:
        f.value(xs, ys)
        f.gradient(xs, ys)
        f.hessian(xs, ys)
        f.grid((-3, 3), (-3, 3), (64, 64))
        f.value(0.25, -0.5)
        f.gradient(0.25, -0.5)
    except BaseException as exc:  # noqa: BLE001
        result["outcome"] = "crashed"
        result["message"] = f"evaluate: {type(exc).__name__}: {exc}"[:300]
        return result
    result["evaluate_s"] = time.perf_counter() - t1
    result["evaluate_cpu_s"] = time.thread_time() - c1
    from landscape_gui.core.formula.budget import EVALUATION_SECONDS, SYMBOLIC_SECONDS

    over = (result["compile_cpu_s"] > SYMBOLIC_SECONDS + 0.25
            or result["evaluate_cpu_s"] > EVALUATION_SECONDS)
    result["outcome"] = "over" if over else "accepted"
    return result


def _is_budget(message: str) -> bool:
    return "took longer than" in message or "operations (limit" in message or "ran out of" in message


def run_fuzz(n: int, seed: int = 0, workers: int = 2, limit_s: float = 5.0, progress=None) -> dict:
    """Run ``n`` generated cases in ``workers`` processes; returns counts and the slowest cases."""
    cases = generate(n, seed)
    shards = [list(range(w, n, workers)) for w in range(workers)]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    outcomes: dict[int, dict] = {}
    state = []  # per shard: [process, position in shard, case started at]
    for w, shard in enumerate(shards):
        state.append(_start(ctx, [cases[i] for i in shard], 0, results, w))
    done_shards = 0
    while done_shards < len(shards):
        try:
            kind, i, payload = results.get(timeout=0.2)
        except queue.Empty:
            kind = None
        if kind is not None:
            w, local = i
            if kind == "start":
                state[w][2] = time.monotonic()
                state[w][1] = local
            elif kind == "done":
                outcomes[shards[w][local]] = payload
                state[w][2] = None
                if progress and len(outcomes) % 500 == 0:
                    progress(len(outcomes), n)
            elif kind == "exit":
                state[w][0] = None
                done_shards += 1
        for w, (proc, local, started) in enumerate(state):
            if proc is not None and started is not None and time.monotonic() - started > limit_s:
                proc.kill()
                proc.join()
                idx = shards[w][local]
                outcomes[idx] = {"text": cases[idx][1], "outcome": "hung", "compile_s": limit_s,
                                 "message": f"did not finish in {limit_s:g} s"}
                if local + 1 < len(shards[w]):
                    state[w] = _start(ctx, [cases[i] for i in shards[w]], local + 1, results, w)
                else:
                    state[w] = [None, local, None]
                    done_shards += 1
    for proc, _, _ in state:
        if proc is not None:
            proc.join(timeout=5)
    return summarise(cases, outcomes)


def _start(ctx, shard_cases, start, results, w):
    proc = ctx.Process(target=_shard_worker, args=(shard_cases, start, results, w), daemon=True)
    proc.start()
    return [proc, start, None]


def _shard_worker(shard_cases, start, results, w) -> None:
    import os

    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    parent = os.getppid()
    for local in range(start, len(shard_cases)):
        if os.getppid() != parent:  # the run was killed: do not go on alone for hours
            return
        results.put(("start", (w, local), time.monotonic()))
        results.put(("done", (w, local), run_case(shard_cases[local][1])))
    results.put(("exit", (w, None), None))


def summarise(cases, outcomes: dict[int, dict]) -> dict:
    counts = {k: 0 for k in ("accepted", "refused", "budget", "crashed", "over", "hung")}
    by_kind: dict[str, dict[str, int]] = {k: dict.fromkeys(counts, 0) for k in KINDS}
    for i, r in outcomes.items():
        counts[r["outcome"]] += 1
        by_kind[cases[i][0]][r["outcome"]] += 1
    slowest = sorted(outcomes.values(), key=lambda r: -(r.get("compile_s", 0) + r.get("evaluate_s", 0)))[:8]
    bad = [r for r in outcomes.values() if r["outcome"] in ("crashed", "over", "hung")][:20]
    budget = [r for r in outcomes.values() if r["outcome"] == "budget"][:10]
    return {"cases": len(outcomes), "counts": counts, "by_kind": by_kind, "slowest": slowest,
            "bad": bad, "budget_examples": budget}


def print_report(report: dict, seconds: float) -> None:
    n = report["cases"]
    c = report["counts"]
    print(f"fuzz: {n} formulas in {seconds:.0f} s")
    for k, v in c.items():
        print(f"  {k:9} {v:7d}  ({100 * v / max(n, 1):.2f} %)")
    print("  by kind: " + "; ".join(f"{k}: " + ", ".join(f"{o} {v}" for o, v in d.items() if v)
                                   for k, d in report["by_kind"].items()))
    print("  slowest:")
    for r in report["slowest"]:
        t = r.get("compile_s", 0) + r.get("evaluate_s", 0)
        print(f"    {t:6.2f} s  {r['outcome']:8}  {r['text'][:90]!r}")
    for title, rows in (("bugs (crashed/over/hung)", report["bad"]),
                        ("refused by a budget (examples)", report["budget_examples"])):
        if rows:
            print(f"  {title}:")
            for r in rows:
                print(f"    {r['text'][:80]!r}: {r.get('message', r['outcome'])[:160]}")

"""Learn by example: each idea about loss landscapes as a ready session with an explanation.

>>> from landscape_gui import examples
>>> examples.ids()                    # ['minima', 'saddle', 'learning-rate', ...]
>>> s = examples.load("saddle")       # a Session: formula (or network settings), domain, starts, optimizers
>>> print(examples.explain("saddle"))

Examples are data, not code: ``resources/examples/index.json`` lists them in order (title,
mode, which live numbers to show, view options, the network runs to train), and each has a
folder with ``session.landscape.json`` and ``explain.md`` (installed as package data, read
with ``importlib.resources``). Adding one needs no code. ``live_numbers`` turns a kind named
in the index into sentences about the *current* session ("your lr = 0.09 > 2/λmax = 0.08:
it will diverge"), so the Explain panel follows what the user changes. No Qt here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from .core.session import Session


class UnknownExample(KeyError):
    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    mode: str                      # "formula" or "network"
    live: str | None = None        # a LIVE kind
    view: dict = field(default_factory=dict)    # formula: {"basins": optimizer, "critical": bool, "arrows": bool}
    runs: tuple = ()               # network: settings overrides trained one after another (pinned A, B)
    then: str | None = None        # network: "compare", "connect", "train-vs-test"


def _root():
    return resources.files("landscape_gui.resources") / "examples"


@lru_cache(maxsize=1)
def _index() -> dict:
    entries = json.loads((_root() / "index.json").read_text(encoding="utf-8"))
    out = {}
    for e in entries:
        out[e["id"]] = Example(e["id"], e["title"], e.get("mode", "formula"), e.get("live"), dict(e.get("view", {})),
                               tuple(e.get("runs", ())), e.get("then"))
    return out


def ids() -> list[str]:
    """Every example's id, in the order of the tour."""
    return list(_index())


def info(example_id: str) -> Example:
    try:
        return _index()[example_id]
    except KeyError:
        raise UnknownExample(f"no example {example_id!r} (examples: {', '.join(ids())})") from None


def load(example_id: str) -> Session:
    """The example's session (a fresh one each call)."""
    info(example_id)
    text = (_root() / example_id / "session.landscape.json").read_text(encoding="utf-8")
    return Session.from_json(text)


def explain(example_id: str) -> str:
    """The explanation as markdown: a title line, 3–6 sentences, and one thing to try."""
    info(example_id)
    return (_root() / example_id / "explain.md").read_text(encoding="utf-8").strip()


def explain_html(example_id: str) -> str:
    """``explain`` for a QLabel: the title as a heading, paragraphs, "Try:" in bold."""
    import html

    parts = explain(example_id).split("\n\n")
    out = []
    for p in parts:
        p = p.strip()
        if p.startswith("# "):
            out.append(f"<h3>{html.escape(p[2:])}</h3>")
        elif p.startswith("Try:"):
            out.append(f"<p><b>Try:</b> {html.escape(p[4:].strip())}</p>")
        else:
            out.append("<p>" + " ".join(html.escape(line) for line in p.splitlines()) + "</p>")
    return "\n".join(out)


def thumbnail(example_id: str):
    """The example's picture (a Traversable), or None when it has none."""
    p = _root() / example_id / "thumb.png"
    return p if p.is_file() else None


def network_runs(example_id: str) -> list[dict]:
    """The network settings of each run an example trains (its session's settings, overridden)."""
    e = info(example_id)
    base = load(example_id).network or {}
    return [{**base, **over} for over in (e.runs or ({},))]


def transfer_numbers(model) -> list[str]:
    """The transfer-learning example's numbers from the network model's three runs and plane."""
    a, b, c, tp = model.pinned.get("A"), model.pinned.get("B"), model.result, model.transfer
    if a is None or b is None or c is None or tp is None:
        return ["training…"]
    target = float(c.run.losses[-1]) * 1.1
    def epochs_to(run):
        hit = np.flatnonzero(np.asarray(run.losses) <= target)
        return f"epoch {int(hit[0])}" if len(hit) else "never"
    return [f"pre-trained (A): {a.run.label}, loss {a.run.losses[-1]:.3g} on its own task.",
            f"on the new task the pre-trained net starts at loss {b.run.losses[0]:.3g}; within 10% of the from-scratch "
            f"run's final {c.run.losses[-1]:.3g}: fine-tuned (B) at {epochs_to(b.run)}, from scratch at {epochs_to(c.run)}.",
            f"distance from the pre-trained weights: fine-tuned {tp.distance_finetuned:.3g}, from scratch "
            f"{tp.distance_scratch:.3g}; barrier on the straight line: {tp.barrier_finetuned:.3g} and "
            f"{tp.barrier_scratch:.3g}."]


# --- live numbers ----------------------------------------------------------------------------------


def _function(session: Session):
    from .core.formula import compile_function

    return compile_function(session.function_text, params=session.params, background=False)


def _minimum(f, session) -> tuple[float, float]:
    """The lowest grid point of the domain, refined by Newton (the quadratic examples' minimum)."""
    from .core.analysis import critical_points

    cps = [c for c in critical_points(f, session.xrange, session.yrange, resolution=24) if c.kind == "minimum"]
    if cps:
        best = min(cps, key=lambda c: c.value)
        return best.x, best.y
    return 0.0, 0.0


def _eig(f, x, y):
    H = np.asarray(f.hessian(x, y), dtype=float).reshape(2, 2)
    return np.linalg.eigvalsh(0.5 * (H + H.T))


def _sgd_like(session):
    for o in session.enabled_optimizers():
        lr = o.hyperparameters.get("lr")
        if o.name in ("SGD", "SAM") and isinstance(lr, (int, float)):
            yield o, float(lr), float(o.hyperparameters.get("momentum", 0.0) or 0.0)


def _curvature(session, batch):
    f = _function(session)
    x, y = _minimum(f, session)
    lam = _eig(f, x, y)
    lmax = lam[-1]
    out = [f"At the minimum ({x:.3g}, {y:.3g}) the Hessian's eigenvalues are {lam[0]:.4g} and {lmax:.4g}: "
           f"λmax = {lmax:.4g}, condition number {lmax / lam[0]:.3g}." if lam[0] > 0 else
           f"λmax = {lmax:.4g} at ({x:.3g}, {y:.3g})."]
    for o, lr, m in _sgd_like(session):
        limit = 2 * (1 + m) / lmax if lmax > 0 else np.inf  # no curvature: no edge of stability
        verdict = "it will converge" if lr < limit else "it will diverge"
        what = "2(1+m)/λmax" if m else "2/λmax"
        out.append(f"{o.label}: lr = {lr:.4g} {'<' if lr < limit else '>'} {what} = {limit:.4g}: {verdict}.")
    for o in session.enabled_optimizers():
        if o.name in ("Adam", "AdamW", "RMSprop", "Adagrad"):
            out.append(f"{o.label}: its steps are about lr = {o.hyperparameters.get('lr', 0):.4g} per coordinate, "
                       "whatever the curvature.")
    return out


def _saddle(session, batch):
    f = _function(session)
    lam = _eig(f, 0.0, 0.0)
    out = [f"At (0, 0) the gradient is zero and the Hessian's eigenvalues are {lam[0]:.3g} and {lam[1]:.3g}: "
           "one direction curves down, one up — a saddle."]
    for k, (x, y) in enumerate(session.starts):
        out.append(f"Start {k + 1} is {abs(y):.3g} away from the line y = 0 that leads into the saddle.")
    out += _escape_steps(session, batch)
    return out


def _escape_steps(session, batch):
    if batch is None:
        return []
    out = []
    for ci, o in enumerate(session.enabled_optimizers()):
        pts = batch.points[ci, 0]
        far = np.flatnonzero(np.hypot(pts[:, 0], pts[:, 1]) > 1.0)
        far = far[far > np.argmin(np.hypot(pts[:, 0], pts[:, 1]))] if len(far) else far
        out.append(f"{o.label}: {'leaves the saddle (1 unit away) after ' + str(int(far[0])) + ' steps' if len(far) else 'has not left the saddle yet'}.")
    return out


def _gradient(session, batch):
    f = _function(session)
    out = []
    for k, (x, y) in enumerate(session.starts):
        g = np.hypot(*np.asarray(f.gradient(x, y), dtype=float).ravel()[:2])
        out.append(f"At start {k + 1} the gradient's length is {g:.3g}.")
        for o, lr, _m in _sgd_like(session):
            out.append(f"{o.label}'s first step there: lr × |g| = {lr * g:.3g}.")
    if batch is not None:
        for ci, o in enumerate(session.enabled_optimizers()):
            below = np.flatnonzero(batch.losses[ci, 0] < 0.05)
            out.append(f"{o.label}: {'reaches f < 0.05 after ' + str(int(below[0])) + ' steps' if len(below) else 'has not crossed the plateau yet'}.")
    return out


def _minima(session, batch):
    f = _function(session)
    from .core.analysis import critical_points

    cps = critical_points(f, session.xrange, session.yrange, resolution=48)
    mins = [c for c in cps if c.kind == "minimum"]
    out = [f"{len(mins)} minima in this domain: " + "; ".join(
        f"({_clean(c.x):.3g}, {_clean(c.y):.3g}) f = {_clean(c.value):.4g}, λmax = {max(c.eigenvalues):.3g}"
        for c in mins) + "."]
    if batch is not None and mins:
        centres = np.array([[c.x, c.y] for c in mins])
        for ci, o in enumerate(session.enabled_optimizers()):
            ends = batch.points[ci, :, -1]
            which = [int(np.argmin(np.hypot(*(centres - e).T))) if np.isfinite(e).all() else -1 for e in ends]
            reached = sorted({w for w in which if w >= 0})
            where = ", ".join(f"({_clean(mins[w].x):.3g}, {_clean(mins[w].y):.3g}) with λmax "
                              f"{max(mins[w].eigenvalues):.3g}" for w in reached)
            count = "one minimum" if len(reached) == 1 else f"{len(reached)} different minima"
            out.append(f"{o.label} ends in {count} from {len(ends)} start{'s' if len(ends) != 1 else ''}: {where}.")
    return out


def _noise(session, batch):
    out = [f"Gradient noise: {session.noise:g} (standard deviation added to every gradient), seed {session.seed}."]
    for o, lr, _m in _sgd_like(session):
        out.append(f"{o.label}: a typical random kick is lr × noise = {lr * session.noise:.3g} per step; "
                   "kicks add up step after step, while the well's walls push back.")
    if batch is not None:
        for ci, o in enumerate(session.enabled_optimizers()):
            ends = batch.points[ci, :, -1]
            left = int(np.sum(ends[:, 0] > 0))
            out.append(f"{o.label}: {left} of {len(ends)} start{'s' if len(ends) != 1 else ''} left the sharp well.")
    return out


def _convexity(session, batch):
    a = session.params.get("a", 0.0)
    f = _function(session)
    from .core.analysis import critical_points

    cps = critical_points(f, session.xrange, session.yrange, resolution=48)
    kinds = {k: sum(c.kind == k for c in cps) for k in ("minimum", "saddle", "maximum")}
    return [f"a = {a:g}: {kinds['minimum']} minim{'um' if kinds['minimum'] == 1 else 'a'}, {kinds['saddle']} saddles, "
            f"{kinds['maximum']} maxima — {'convex: every start reaches the one minimum' if kinds['minimum'] == 1 and not kinds['saddle'] else 'not convex'}."]


def _rates(o, steps: int):
    from .core import optimizers

    try:
        return optimizers.step_rates(o.name, o.hyperparameters, steps)
    except ValueError:
        return None


def _warmup(session, batch):
    f = _function(session)
    x0, y0 = session.starts[0]
    lam0 = _eig(f, x0, y0)[-1]
    xm, ym = _minimum(f, session)
    lamm = _eig(f, xm, ym)[-1]
    out = [f"λmax is {lam0:.3g} at the start ({x0:.3g}, {y0:.3g}) and {lamm:.3g} at the minimum: stable rates are "
           f"below 2/λmax = {2 / lam0:.3g} there and {2 / lamm:.3g} here."]
    for ci, o in enumerate(session.enabled_optimizers()):
        lrs = _rates(o, session.steps)
        if lrs is None or not len(lrs):
            continue
        first_lr = float(lrs[0])
        verdict = "unstable" if first_lr > 2 / lam0 else "stable"
        line = f"{o.label}: first step at lr = {first_lr:.3g} ({verdict} at the start)"
        if batch is not None and ci < batch.points.shape[0]:
            pts = batch.points[ci, 0]
            d = batch.diverged_at(ci, 0)
            if d is not None:
                line += f"; it diverged after {d} steps"
            else:
                k = int(np.argmax(lrs >= lrs.max() * 0.999))
                lam_k = _eig(f, *pts[min(k, len(pts) - 1)])[-1]
                line += (f"; it reaches its top rate {lrs.max():.3g} at step {k + 1}, where λmax has fallen to "
                         f"{lam_k:.3g} (2/λmax = {2 / lam_k:.3g}), and converges")
        out.append(line + ".")
    return out


def _annealing(session, batch):
    out = [f"Gradient noise σ = {session.noise:g} on every gradient, seed {session.seed}."]
    if batch is None:
        return out
    f = _function(session)
    xm, ym = _minimum(f, session)
    for ci, o in enumerate(session.enabled_optimizers()):
        pts = batch.points[ci, :, -50:]
        dist = float(np.nanmean(np.hypot(pts[..., 0] - xm, pts[..., 1] - ym)))
        lrs = _rates(o, session.steps)
        last = f"; its last rate is {lrs[-1]:.3g}" if lrs is not None and len(lrs) else ""
        out.append(f"{o.label}: over the last 50 steps it is on average {dist:.3g} from the minimum{last}.")
    return out


LIVE = {"curvature": _curvature, "saddle": _saddle, "gradient": _gradient, "minima": _minima, "noise": _noise,
        "convexity": _convexity, "warmup": _warmup, "annealing": _annealing}


def live_numbers(example_id: str, session: Session, batch=None) -> list[str]:
    """Sentences with the numbers that matter for the current ``session`` (and its trajectories)."""
    kind = info(example_id).live
    if kind is None or kind not in LIVE:
        return []
    try:
        return LIVE[kind](session, batch)
    except Exception as exc:  # noqa: BLE001 - the user may have typed anything: say so, never crash
        return [f"(no numbers for this formula: {exc})"]


def _clean(v: float) -> float:
    """Round-off zeros (3e-30) print as 0."""
    return 0.0 if abs(v) < 1e-12 else v

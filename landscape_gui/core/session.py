"""The session: everything that defines what the window shows, as plain data.

No Qt here: the window edits a :class:`Session` through its controller, the CLI
reads the same object, and it round-trips through JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import optimizers
from .functions import get as get_function

FORMAT_VERSION = 1

#: Trajectory colours: distinguishable, readable on dark and light surfaces.
PALETTE = ["#ff4d4d", "#ffd11a", "#33ccff", "#ff66ff", "#66ff66", "#ff9933", "#ffffff", "#9966ff",
           "#00e6b8", "#ff3399"]


@dataclass
class OptimizerInstance:
    """One optimizer with its settings; several of the same name are normal."""

    name: str
    hyperparameters: dict
    color: str
    enabled: bool = True

    @property
    def label(self) -> str:
        return optimizers.describe(self.name, self.hyperparameters)

    def config(self) -> tuple[str, dict]:
        return self.name, dict(self.hyperparameters)


@dataclass
class Session:
    function_text: str = "(1 - x)^2 + 100*(y - x^2)^2"
    params: dict = field(default_factory=dict)
    xrange: tuple[float, float] = (-2.0, 2.0)
    yrange: tuple[float, float] = (-1.0, 3.0)
    resolution: int = 200
    colormap: str = "viridis"
    zscale: str = "log"
    percentile: float = 98.0
    starts: list = field(default_factory=lambda: [(-1.5, 2.0)])
    optimizers: list = field(default_factory=list)
    steps: int = 500
    noise: float = 0.0
    seed: int = 0
    camera: dict | None = None
    preset: str | None = "rosenbrock"

    @classmethod
    def default(cls) -> "Session":
        s = cls.from_preset("rosenbrock")
        s.optimizers = default_optimizers()
        return s

    @classmethod
    def from_preset(cls, key: str) -> "Session":
        lf = get_function(key)
        return cls(function_text=lf.formula, params=dict(lf.params), xrange=lf.xrange,
                   yrange=lf.yrange, starts=list(lf.starts) or [(0.0, 0.0)],
                   optimizers=default_optimizers(), preset=lf.key,
                   zscale="log" if lf.key in ("rosenbrock", "goldstein_price", "beale", "himmelblau",
                                              "booth", "ill_conditioned") else "linear")

    def enabled_optimizers(self) -> list[OptimizerInstance]:
        return [o for o in self.optimizers if o.enabled]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format_version"] = FORMAT_VERSION
        d["starts"] = [list(p) for p in self.starts]
        return d


def default_optimizers() -> list[OptimizerInstance]:
    """A first set that shows the classic contrasts on most landscapes."""
    setups = [("SGD", {"lr": 1e-3}), ("SGD", {"lr": 1e-3, "momentum": 0.9}),
              ("Adam", {"lr": 0.05}), ("RMSprop", {"lr": 0.01})]
    return [OptimizerInstance(n, optimizers.validate(n, h)[1], PALETTE[i]) for i, (n, h) in enumerate(setups)]


def next_color(session: Session) -> str:
    used = {o.color for o in session.optimizers}
    for c in PALETTE:
        if c not in used:
            return c
    return PALETTE[len(session.optimizers) % len(PALETTE)]

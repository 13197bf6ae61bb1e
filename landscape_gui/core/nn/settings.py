"""Everything that defines a network experiment in the window, as plain data for sessions.

Training is seeded, so these settings reproduce a run exactly: sessions store them, not
the trained weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from .datasets import DATASETS
from .landscape import DIRECTIONS
from .model import ACTIVATIONS


@dataclass
class NetworkSettings:
    dataset: str = "moons"           # a DATASETS name, or "csv" (the file itself is not stored)
    n: int = 1000
    noise: float = 0.1
    data_seed: int = 0
    test: float = 0.2
    depth: int = 2
    width: int = 32
    activation: str = "relu"
    residual: bool = False
    optimizer: str = "Adam"
    hyperparameters: dict = field(default_factory=lambda: {"lr": 0.01})
    batch_size: int = 64
    epochs: int = 50
    seed: int = 0
    directions: str = "pca"
    grid: int = 51
    span: float = 0.0                # 0: automatic
    use_test: bool = False
    track_sharpness: int = 0         # λmax every this many steps while training (0: off)
    schedule_per: str = "step"       # a schedule (hyperparameters["schedule"]) steps per "step" or "epoch"
    init_from: str = ""              # "A"/"B": start from that pinned run's solution (fine-tuning)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hyperparameters"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparameters.items()}
        return d

    def copy(self) -> "NetworkSettings":
        return NetworkSettings.from_dict(self.to_dict())

    @classmethod
    def from_dict(cls, data) -> "NetworkSettings":
        """Validated settings; ValueError("field: reason") for anything wrong."""
        from .. import optimizers

        if not isinstance(data, dict):
            raise ValueError("expected an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown field")
        s = cls()

        def number(key, lo, hi, integer=False):
            v = data.get(key, getattr(s, key))
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{key}: expected a number")
            try:
                finite = math.isfinite(float(v))
            except OverflowError:  # a huge JSON integer
                finite = False
            if not finite:
                raise ValueError(f"{key}: expected a finite number, got {str(v)[:40]}")
            if integer and v != int(v):
                raise ValueError(f"{key}: expected a whole number")
            if not lo <= v <= hi:
                raise ValueError(f"{key}: {v} is outside [{lo}, {hi}]")
            return int(v) if integer else float(v)

        def choice(key, options):
            v = data.get(key, getattr(s, key))
            if v not in options:
                raise ValueError(f"{key}: expected one of {', '.join(options)}")
            return v

        def flag(key):
            v = data.get(key, getattr(s, key))
            if not isinstance(v, bool):
                raise ValueError(f"{key}: expected true or false")
            return v

        s.dataset = choice("dataset", (*DATASETS, "csv"))
        s.n = number("n", 4, 1_000_000, True)
        s.noise = number("noise", 0, 100)
        s.data_seed = number("data_seed", 0, 2**31 - 1, True)
        s.test = number("test", 0, 0.9)
        s.depth = number("depth", 1, 64, True)
        s.width = number("width", 1, 1024, True)
        s.activation = choice("activation", tuple(ACTIVATIONS))
        s.residual = flag("residual")
        name = data.get("optimizer", s.optimizer)
        hyper = data.get("hyperparameters", s.hyperparameters)
        if not isinstance(name, str) or not isinstance(hyper, dict):
            raise ValueError("optimizer: expected a name and an object of hyperparameters")
        hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()}
        try:
            s.optimizer, full = optimizers.validate(name, hyper)
        except ValueError as exc:
            raise ValueError(f"optimizer: {exc}") from None
        s.hyperparameters = {k: v for k, v in full.items() if k in hyper}
        s.batch_size = number("batch_size", 1, 1_000_000, True)
        s.epochs = number("epochs", 1, 100_000, True)
        s.seed = number("seed", 0, 2**31 - 1, True)
        s.directions = choice("directions", DIRECTIONS)
        s.grid = number("grid", 3, 2048, True)
        s.span = number("span", 0, 1e6)
        s.use_test = flag("use_test")
        s.track_sharpness = number("track_sharpness", 0, 1_000_000, True)
        s.schedule_per = choice("schedule_per", ("step", "epoch"))
        s.init_from = choice("init_from", ("", "A", "B"))
        return s


def edge_of_stability() -> NetworkSettings:
    """Settings that show progressive sharpening and the edge of stability (Cohen et al. 2021)
    within seconds: full-batch gradient descent (lr 0.05, so 2/lr = 40) on a 2x32 tanh net
    with MSE; λmax starts near 14, rises past 40 and then hovers at 40."""
    return NetworkSettings(dataset="regression", n=200, noise=0.1, test=0.0, depth=2, width=32, activation="tanh",
                           optimizer="SGD", hyperparameters={"lr": 0.05}, batch_size=200, epochs=2000,
                           track_sharpness=25)

"""The session: everything that defines what the window shows, as plain data.

No Qt here: the window edits a :class:`Session` through its controller, the CLI
reads the same object, and it round-trips through JSON.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path

from .. import optimizers
from ..files import atomic_write_text
from ..functions import get as get_function
from ..scene.surface import Z_SCALES

FORMAT_VERSION = 1
SUFFIX = ".landscape.json"
COLORMAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "turbo")
MAX_STARTS = 500
MAX_OPTIMIZERS = 64
MAX_STEPS = 100_000
MAX_RESOLUTION = 1024


class SessionError(ValueError):
    """A session file that cannot be used; the message says what and where."""

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
        """``SGD(lr=0.01, momentum=0.9)``. A typed rule that is no longer defined (removed from
        the process's registry while a session still names it) is labelled as such: a legend
        refreshed later must not raise."""
        try:
            return optimizers.describe(self.name, self.hyperparameters)
        except ValueError:
            return f"{self.name} (rule not defined)"

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
    network: dict | None = None   # the network mode's settings (core.nn.NetworkSettings.to_dict())
    rules: dict = field(default_factory=dict)   # optimizers typed as rules: name -> text (optimizers.define)
    landscape: dict | None = None  # an opened loss-landscape file: {path, surface, colormap, zscale, path_shown, shown}

    @classmethod
    def default(cls) -> "Session":
        return cls.from_preset("rosenbrock")

    @classmethod
    def from_preset(cls, key: str) -> "Session":
        """A library function as it should open: resolution, z scale, view and optimizer
        settings chosen from the function (``presets.preset_view``), not by hand."""
        from .presets import preset_view

        lf = get_function(key)
        view = preset_view(lf.key)
        opts = [OptimizerInstance(name, dict(hyper), PALETTE[i % len(PALETTE)])
                for i, (name, hyper) in enumerate(view["optimizers"])]
        return cls(function_text=lf.formula, params=dict(lf.params), xrange=view["xrange"],
                   yrange=view["yrange"], starts=list(view["starts"]), optimizers=opts, preset=lf.key,
                   zscale=view["zscale"], resolution=view["resolution"])

    def enabled_optimizers(self) -> list[OptimizerInstance]:
        return [o for o in self.optimizers if o.enabled]

    def to_dict(self) -> dict:
        """Plain JSON-able data (fresh containers). Written out by hand rather than with
        ``dataclasses.asdict``: every undo step takes two of these, and asdict's recursive
        deep copy cost a millisecond per slider step."""
        d = {"format_version": FORMAT_VERSION}
        for f in fields(self):
            d[f.name] = getattr(self, f.name)
        d["params"] = dict(self.params)
        d["xrange"], d["yrange"] = list(self.xrange), list(self.yrange)
        d["starts"] = [list(p) for p in self.starts]
        d["optimizers"] = [{"name": o.name,
                            "hyperparameters": {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in o.hyperparameters.items()},
                            "color": o.color, "enabled": o.enabled} for o in self.optimizers]
        d["camera"] = dict(self.camera) if self.camera is not None else None
        d["network"] = json.loads(json.dumps(self.network)) if self.network is not None else None
        d["rules"] = dict(self.rules)
        d["landscape"] = dict(self.landscape) if self.landscape is not None else None
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, data) -> "Session":
        """Validate everything; raise :class:`SessionError` naming the field that is wrong."""
        return _from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> "Session":
        if not isinstance(text, str) or len(text) > MAX_SESSION_BYTES:
            raise SessionError("not a session file: expected JSON text of at most "
                               f"{MAX_SESSION_BYTES / 1e6:g} MB")
        depth = _nesting_depth(text)
        if depth > MAX_NESTING:
            raise SessionError(f"not a session file: brackets nested {depth} deep (a session needs {MAX_NESTING})")
        try:
            data = json.loads(text, parse_constant=_no_constants)
        except (json.JSONDecodeError, ValueError) as exc:
            raise SessionError(f"not a session file: invalid JSON ({exc})") from None
        except RecursionError:
            raise SessionError("not a session file: nested too deeply") from None
        return _from_dict(data)

    def save(self, path) -> None:
        """Write atomically: a temporary file beside the target, then a rename, so a
        crash mid-save leaves the previous file intact."""
        save_text(path, self.to_json())

    @classmethod
    def load(cls, path) -> "Session":
        """Read a session file, checking what it is before reading it: a FIFO would block,
        /dev/zero never ends, a 100 MB file of tiny lists costs gigabytes to parse."""
        path = Path(path)
        try:
            with open(path, "rb", opener=_open_nonblocking) as fh:
                info = os.fstat(fh.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise SessionError(f"{path.name}: not a regular file")
                if info.st_size > MAX_SESSION_BYTES:
                    raise SessionError(f"{path.name}: {info.st_size / 1e6:.1f} MB is too large for a session "
                                       f"file (at most {MAX_SESSION_BYTES / 1e6:g} MB)")
                raw = fh.read(MAX_SESSION_BYTES + 1)
        except OSError as exc:
            raise SessionError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
        if len(raw) > MAX_SESSION_BYTES:
            raise SessionError(f"{path.name}: too large for a session file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SessionError(f"{path.name}: not a text file") from None
        return cls.from_json(text)


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


#: a session with every limit at its maximum is ~1 MB
MAX_SESSION_BYTES = 8_000_000
MAX_NESTING = 32
#: parameters and other plain numbers: beyond this nothing can be drawn or run
MAX_COORDINATE = 1e12
#: domains and start points, as far as the window's range boxes go
MAX_DOMAIN = 1e6
#: optimizers x starts x steps of one session: about 60 bytes each when run and drawn
MAX_TOTAL_STEPS = 5_000_000


def _nesting_depth(text: str) -> int:
    """Deepest [ / { nesting outside strings, without parsing (the parser would recurse)."""
    import re

    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth -= 1
    return deepest


def _open_nonblocking(path, flags):
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def save_text(path, text: str) -> None:
    atomic_write_text(path, text)


def _no_constants(name):
    # read NaN/Infinity as numbers so the field that holds one is named in the error
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


# --- validation ---------------------------------------------------------------------


def _fail(where: str, what: str):
    raise SessionError(f"{where}: {what}")


def _number(value, where, *, lo=-MAX_COORDINATE, hi=MAX_COORDINATE, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, f"expected a number, got {_short(value)}")
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # a JSON integer beyond float range
        finite = False
    if not finite:
        _fail(where, f"expected a finite number, got {_short(value)}")
    if integer and int(value) != value:
        _fail(where, f"expected a whole number, got {value}")
    if not lo <= value <= hi:
        _fail(where, f"{_short(value)} is out of range [{lo:g}, {hi:g}]")
    return int(value) if integer else float(value)


def _short(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _pair(value, where, increasing=False, limit=MAX_DOMAIN):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        _fail(where, "expected [x, y] numbers" if not increasing else "expected [min, max] numbers")
    a = _number(value[0], f"{where}[0]", lo=-limit, hi=limit)
    b = _number(value[1], f"{where}[1]", lo=-limit, hi=limit)
    if increasing and not b > a:
        _fail(where, f"min {a:g} must be below max {b:g}")
    if increasing and (b - a) < 1e-9 * max(abs(a), abs(b), 1.0):
        _fail(where, f"[{a:g}, {b:g}] is too narrow to draw (width below 1e-9 of its size)")
    return (a, b)


def _migrate(data: dict) -> dict:
    """Older formats to the current one. Version 0 (no ``format_version``) named the
    formula ``function`` and the start points ``start_points``."""
    version = data.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        _fail("format_version", "expected a whole number")
    if version > FORMAT_VERSION:
        raise SessionError(f"format_version {version} is newer than this version of landscape-gui "
                           f"reads ({FORMAT_VERSION}); update landscape-gui to open it")
    data = dict(data)
    if version < 1:
        if "function" in data and "function_text" not in data:
            data["function_text"] = data.pop("function")
        if "start_points" in data and "starts" not in data:
            data["starts"] = data.pop("start_points")
        data["format_version"] = 1
    return data


_KEYS = {"format_version", "function_text", "params", "xrange", "yrange", "resolution", "colormap", "zscale",
         "percentile", "starts", "optimizers", "steps", "noise", "seed", "camera", "preset", "network", "rules",
         "landscape"}


def _check_work(s: Session) -> None:
    """The session as a whole: each count may be within its limit and the product not."""
    runs = len(s.enabled_optimizers()) * len(s.starts)
    total = runs * s.steps
    if total > MAX_TOTAL_STEPS:
        raise SessionError(
            f"the session asks for {len(s.enabled_optimizers())} optimizers x {len(s.starts)} starts x "
            f"{s.steps:,} steps = {total:,} optimizer steps; at most {MAX_TOTAL_STEPS:,} "
            f"(~{MAX_TOTAL_STEPS * 60 / 1e6:.0f} MB): use fewer optimizers, starts or steps")


def _from_dict(data) -> Session:
    from ..formula.expression import ExpressionError, is_parameter_name
    from ..formula.loss_function import compile_expression

    if not isinstance(data, dict):
        raise SessionError("not a session file: expected a JSON object at the top level")
    data = _migrate(data)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        _fail(unknown[0], "unknown field")
    if "function_text" not in data:
        _fail("function_text", "missing")
    text = data["function_text"]
    if not isinstance(text, str):
        _fail("function_text", "expected text")
    try:
        compiled = compile_expression(text)
    except ExpressionError as err:
        _fail("function_text", err.message)
    params = data.get("params", {})
    if not isinstance(params, dict):
        _fail("params", "expected an object of name: number")
    clean_params = {n: 1.0 for n in compiled.parsed.parameters}
    for name, value in params.items():
        if not is_parameter_name(name) or name not in clean_params:
            _fail(f"params.{name}", "not a parameter of the formula")
        clean_params[name] = _number(value, f"params.{name}")
    s = Session(function_text=text, params=clean_params, optimizers=[])
    if "xrange" in data:
        s.xrange = _pair(data["xrange"], "xrange", increasing=True)
    if "yrange" in data:
        s.yrange = _pair(data["yrange"], "yrange", increasing=True)
    s.resolution = _number(data.get("resolution", s.resolution), "resolution", lo=8, hi=MAX_RESOLUTION, integer=True)
    s.colormap = data.get("colormap", s.colormap)
    if s.colormap not in COLORMAPS:
        _fail("colormap", f"unknown colour map {json.dumps(s.colormap)[:40]} (choose from {', '.join(COLORMAPS)})")
    s.zscale = data.get("zscale", s.zscale)
    if s.zscale not in Z_SCALES:
        _fail("zscale", f"expected one of {', '.join(Z_SCALES)}")
    s.percentile = _number(data.get("percentile", s.percentile), "percentile", lo=1, hi=100)
    starts = data.get("starts", [])
    if not isinstance(starts, list):
        _fail("starts", "expected a list of [x, y] pairs")
    if len(starts) > MAX_STARTS:
        _fail("starts", f"{len(starts)} start points (at most {MAX_STARTS})")
    s.starts = [_pair(p, f"starts[{i}]") for i, p in enumerate(starts)]
    # typed rules first: the optimizers below may use them (defining one makes it known here)
    rules = data.get("rules", {}) or {}
    if not isinstance(rules, dict):
        _fail("rules", "expected an object: name -> rule text")
    if len(rules) > MAX_OPTIMIZERS:
        _fail("rules", f"{len(rules)} rules (at most {MAX_OPTIMIZERS})")
    for rname, rtext in rules.items():
        if not isinstance(rtext, str):
            _fail(f"rules.{rname}", "expected the rule's text")
        try:
            optimizers.define(rname, rtext)
        except ValueError as exc:   # RuleError names the line and column
            _fail(f"rules.{rname}", str(exc))
        s.rules[rname] = rtext
    opts = data.get("optimizers", [])
    if not isinstance(opts, list):
        _fail("optimizers", "expected a list")
    if len(opts) > MAX_OPTIMIZERS:
        _fail("optimizers", f"{len(opts)} optimizers (at most {MAX_OPTIMIZERS})")
    for i, o in enumerate(opts):
        where = f"optimizers[{i}]"
        if not isinstance(o, dict):
            _fail(where, "expected an object with name, hyperparameters, color, enabled")
        extra = sorted(set(o) - {"name", "hyperparameters", "color", "enabled"})
        if extra:
            _fail(f"{where}.{extra[0]}", "unknown field")
        name, hyper = o.get("name"), o.get("hyperparameters", {})
        if not isinstance(name, str):
            _fail(f"{where}.name", "expected an optimizer name")
        if not isinstance(hyper, dict):
            _fail(f"{where}.hyperparameters", "expected an object")
        hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()}  # pairs: JSON lists
        try:
            cname, full = optimizers.validate(name, hyper)
        except ValueError as exc:
            _fail(where, str(exc))
        color = o.get("color", PALETTE[i % len(PALETTE)])
        if not (isinstance(color, str) and len(color) == 7 and color[0] == "#"
                and all(ch in "0123456789abcdefABCDEF" for ch in color[1:])):
            _fail(f"{where}.color", "expected a colour like #ff8800")
        enabled = o.get("enabled", True)
        if not isinstance(enabled, bool):
            _fail(f"{where}.enabled", "expected true or false")
        s.optimizers.append(OptimizerInstance(cname, full, color.lower(), enabled))
    s.steps = _number(data.get("steps", s.steps), "steps", lo=1, hi=MAX_STEPS, integer=True)
    for i, o in enumerate(s.optimizers):   # a schedule must take the session's steps (OneCycleLR's total)
        if o.hyperparameters.get("schedule"):
            try:
                optimizers.schedule_arrays([o.config()], s.steps)
            except ValueError as exc:
                _fail(f"optimizers[{i}].hyperparameters.schedule", str(exc))
    s.noise = _number(data.get("noise", s.noise), "noise", lo=0, hi=1e6)
    s.seed = _number(data.get("seed", s.seed), "seed", lo=0, hi=2**63 - 1, integer=True)
    camera = data.get("camera")
    if camera is not None:
        if not isinstance(camera, dict) or set(camera) - {"elevation", "azimuth", "distance"}:
            _fail("camera", "expected {elevation, azimuth, distance}")
        limits = {"elevation": (-90, 90), "azimuth": (-1e6, 1e6), "distance": (1e-3, 1e6)}
        camera = {k: _number(v, f"camera.{k}", lo=limits[k][0], hi=limits[k][1]) for k, v in camera.items()}
    s.camera = camera
    _check_work(s)
    preset = data.get("preset")
    if preset is not None:
        try:
            get_function(preset) if isinstance(preset, str) else _fail("preset", "expected a name")
        except KeyError as exc:
            _fail("preset", str(exc).strip("'\""))
    s.preset = preset
    network = data.get("network")
    if network is not None:
        from ..nn.settings import NetworkSettings

        try:
            network = NetworkSettings.from_dict(network).to_dict()
        except ValueError as exc:
            where, _, why = str(exc).partition(": ")
            _fail(f"network.{where}", why) if why else _fail("network", where)
    s.network = network
    s.landscape = _landscape_view(data.get("landscape"))
    return s


#: what a session keeps of an opened landscape file (the file itself stays where it is)
LANDSCAPE_KEYS = {"path": str, "surface": str, "colormap": str, "zscale": str, "path_shown": bool, "shown": bool}


def _landscape_view(d):
    if d is None:
        return None
    if not isinstance(d, dict):
        _fail("landscape", "expected {path, surface, colormap, zscale, path_shown, shown}")
    unknown = set(d) - set(LANDSCAPE_KEYS)
    if unknown:
        _fail("landscape", f"unknown key {sorted(unknown)[0]!r}")
    if not isinstance(d.get("path"), str) or not 0 < len(d["path"]) <= 4096:
        _fail("landscape.path", "expected the file's path")
    for key, kind in LANDSCAPE_KEYS.items():
        if key in d and not isinstance(d[key], kind):
            _fail(f"landscape.{key}", f"expected {'true or false' if kind is bool else 'text'}")
    if "colormap" in d and d["colormap"] not in COLORMAPS:
        _fail("landscape.colormap", f"unknown colour map {d['colormap']!r}")
    if "zscale" in d and d["zscale"] not in ("linear", "log", "clip"):
        _fail("landscape.zscale", "expected linear, log or clip")
    if "surface" in d and not (0 < len(d["surface"]) <= 64 and d["surface"].replace("_", "").isalnum()):
        _fail("landscape.surface", "expected a metric name such as train_loss")
    return dict(d)

"""Command line: ``landscape-gui`` opens the window; subcommands work headless."""

from __future__ import annotations

import argparse
import json
import time
import sys


SUBCOMMANDS = ("bench", "functions", "export", "gallery", "monkey")


def window_parser() -> argparse.ArgumentParser:
    """``landscape-gui [SESSION] [--preset NAME]``: open the window.

    Separate from the subcommands' parser: argparse cannot tell an optional
    positional file from a subcommand name, so ``landscape-gui my.landscape.json``
    would be refused as an invalid command.
    """
    parser = _Parser(
        prog="landscape-gui",
        description="Type a loss f(x, y), drop start points, and watch optimizers walk down it.",
        epilog="your own PyTorch model: landscape-gui model FILE.py; "
               "headless commands: landscape-gui {bench,functions,export,gallery} --help")
    parser.add_argument("session", nargs="?", help="a session file to open (*.landscape.json), or a loss "
                                                   "landscape to look at (.h5 from loss-landscape, .npz)")
    parser.add_argument("--preset", help="start with a library function, e.g. rosenbrock")
    parser.add_argument("--example", help="open an example of the tour, e.g. saddle (landscape-gui export "
                                          "--example ID renders one)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The headless subcommands."""
    parser = _Parser(
        prog="landscape-gui",
        description="Headless commands (without one, landscape-gui [SESSION] opens the window).")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="performance figures as ratios against numpy / torch baselines")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a measurement)")
    bench.add_argument("--gui", action="store_true", help="also time the window (needs a display)")
    bench.add_argument("--cold", action="store_true",
                       help="also time a first launch with an empty kernel cache, and a later one")
    bench.add_argument("--fuzz", type=int, metavar="N", default=None,
                       help="instead: N generated hostile formulas in worker processes against the budgets")
    bench.add_argument("--seed", type=int, default=0, help="seed of --fuzz's formulas")
    bench.add_argument("--load", action="store_true",
                       help="also run every figure with one core kept busy by another process (second column)")
    bench.add_argument("--check", nargs="?", const="default", default=None, metavar="FILE",
                       help="compare the ratios with a baseline (default: the committed one) and exit 1 "
                            "on a drop of more than 40%%")
    bench.add_argument("--record", action="store_true",
                       help="write this run's ratios as the committed baseline (developers)")
    bench.add_argument("--only", default=None, metavar="GROUP",
                       help="only the figures of one group: grids, optimizers, analysis, nn, torch")
    sub.add_parser("functions", help="list the test-function library")
    gal = sub.add_parser("gallery", help="render every preset (window, exports, analysis, network) into "
                                         "PNGs and an index.html for review (needs a display: xvfb-run)")
    gal.add_argument("folder")
    gal.add_argument("--only", metavar="KEY,KEY", help="these presets only")
    gal.add_argument("--sizes", default="1280x800,1920x1080", metavar="WxH,WxH", help="window sizes")
    gal.add_argument("--no-network", action="store_true", help="skip training a network")
    mk = sub.add_parser("monkey", help="drive the real window through random actions a person could take; "
                                       "fail on any error, drawing outside the domain or a freeze (xvfb-run)")
    mk.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    mk.add_argument("--seed", type=int, default=0)
    ex = sub.add_parser("export", help="write a figure, an animation or data without opening the window",
                        description="Output type from the extension of -o: .png .svg .pdf (2-D) .gif .mp4 "
                                    ".csv .json .npz")
    src = ex.add_mutually_exclusive_group()
    src.add_argument("--function", help='formula, e.g. "(1-x)^2 + 100*(y-x^2)^2"')
    src.add_argument("--preset", dest="export_preset", metavar="NAME", help="a library function (formula and domain)")
    src.add_argument("--landscape", metavar="FILE", help="a loss-landscape surface (.h5, 2-D or 1-D) or a .npz plane")
    src.add_argument("--example", dest="export_example", metavar="ID", help="an example of the tour (formula examples)")
    src.add_argument("--model", metavar="FILE.py", help="your own PyTorch model: a file defining model(), loss_fn, "
                                                        "batches() (and checkpoints for --directions pca)")
    ex.add_argument("--directions", choices=["filter", "random", "hessian", "pca", "points"], default=None,
                    help="with --model: the plane's directions (default filter)")
    ex.add_argument("--grid", type=int, default=None, metavar="N", help="with --model: N x N points (default 51)")
    ex.add_argument("--surface", metavar="METRIC", help="with --landscape: train_loss (default), train_acc, "
                                                        "test_loss, …")
    ex.add_argument("--animate", choices=["descent", "orbit"],
                    help="what a .gif/.mp4 shows: the descent step by step (formulas) or the camera orbiting "
                         "the surface (the default for --landscape)")
    ex.add_argument("--session", help="take everything from a saved session (later flags override)")
    ex.add_argument("--xrange", metavar="MIN MAX", help="two numbers (or MIN,MAX)")
    ex.add_argument("--yrange", metavar="MIN MAX", help="two numbers (or MIN,MAX)")
    ex.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ex.add_argument("--start", action="append", default=[], metavar="X,Y")
    ex.add_argument("--optimizer", action="append", default=[], metavar='"Adam(lr=0.05)"')
    ex.add_argument("--schedule", action="append", default=[], metavar='"CosineAnnealingLR(T_max=300)"',
                    help="a torch.optim.lr_scheduler schedule: once for every optimizer, or once per "
                         "--optimizer in the same order (or inside the call: SGD(lr=0.1, schedule='…'))")
    ex.add_argument("--steps", type=int)
    ex.add_argument("--noise", type=float)
    ex.add_argument("--seed", type=int)
    ex.add_argument("--resolution", type=int)
    ex.add_argument("--view", choices=["2d", "3d", "both"], default="2d")
    ex.add_argument("--size", default="1600x1200", metavar="WxH")
    ex.add_argument("--camera", metavar="ELEVATION,AZIMUTH,DISTANCE")
    ex.add_argument("--zscale", choices=["linear", "log", "clip"])
    ex.add_argument("--colormap")
    ex.add_argument("--frames", type=int, default=60, help="animation frames")
    ex.add_argument("--fps", type=int, default=20, help="animation frames per second")
    ex.add_argument("--no-title", action="store_true")
    ex.add_argument("--no-legend", action="store_true")
    ex.add_argument("--no-colorbar", action="store_true")
    ex.add_argument("--transparent", action="store_true")
    ex.add_argument("-o", "--output", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    argv = _glue_values(argv)
    if argv and argv[0] == "model":   # landscape-gui model FILE.py: the window, in the "Your model" mode
        mp = _Parser(prog="landscape-gui model", description="Open your own PyTorch model in the window: FILE.py "
                     "defines model() (the trained torch.nn.Module), loss_fn and batches(); optionally "
                     "checkpoints and lr.")
        mp.add_argument("file", help="the model file (.py)")
        margs = mp.parse_args(argv[1:])
        from .ui.window.app import run_app

        return run_app(model=margs.file)
    if not argv or argv[0] not in SUBCOMMANDS:
        args = window_parser().parse_args(argv)
        if args.preset:
            from .core.functions import UnknownPreset, get

            try:
                get(args.preset)
            except UnknownPreset as exc:
                window_parser().error(str(exc))
        if args.example:
            from . import examples

            try:
                examples.info(args.example)
            except examples.UnknownExample as exc:
                window_parser().error(str(exc))
        from .ui.window.app import run_app

        return run_app(session=args.session, preset=args.preset, example=args.example)
    args = build_parser().parse_args(argv)
    if args.command == "bench" and args.fuzz is not None:
        from .devtools.bench_fuzz import print_report, run_fuzz

        t0 = time.perf_counter()
        report = run_fuzz(args.fuzz, seed=args.seed,
                          progress=lambda k, n: print(f"  {k}/{n}", file=sys.stderr, flush=True))
        if args.json:
            json.dump(report, sys.stdout, indent=1)
        else:
            print_report(report, time.perf_counter() - t0)
        return 1 if any(report["counts"][k] for k in ("crashed", "over", "hung")) else 0
    if args.command == "bench":
        from .devtools.bench import run_bench, write_baseline

        result = run_bench(quick=args.quick, as_json=args.json, gui=args.gui, cold=args.cold, load=args.load,
                           check=args.check, only=args.only)
        if args.record:
            write_baseline(result["figures"], "quick" if args.quick else "full")
        return 1 if args.check and result["check"]["failed"] else 0
    if args.command == "export":
        return _export(args)
    if args.command == "monkey":
        from .devtools.monkey import run_monkey

        return run_monkey(seconds=args.seconds, seed=args.seed)
    if args.command == "gallery":
        import os

        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            print("landscape-gui gallery: needs an OpenGL display: run under xvfb-run -a -s "
                  "'-screen 0 1920x1080x24'", file=sys.stderr)
            return 2
        from .devtools.gallery import build_gallery

        try:
            sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
        except ValueError:
            print(f"landscape-gui gallery: --sizes {args.sizes}: expected WxH,WxH", file=sys.stderr)
            return 2
        keys = args.only.split(",") if args.only else None
        index = build_gallery(args.folder, keys, sizes, network=not args.no_network,
                              progress=lambda m: print(m, file=sys.stderr, flush=True))
        print(index)
        return 0
    if args.command == "functions":
        from .core import functions

        for f in functions.FUNCTIONS:
            print(f"{f.key:18s} {f.title:24s} {f.formula}")
        return 0
    raise AssertionError(args.command)


#: options whose values may start with "-" (a negative number, -inf): argparse would take
#: "-1e3" for an option and say "expected 2 arguments"
_VALUE_OPTIONS = {"--start": 1, "--camera": 1, "--size": 1, "--param": 1, "--xrange": 2, "--yrange": 2,
                  "--steps": 1, "--noise": 1, "--seed": 1, "--resolution": 1}


def _glue_values(argv: list[str]) -> list[str]:
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        n = _VALUE_OPTIONS.get(a)
        if n and len(argv) >= i + 1 + n:
            values = argv[i + 1:i + 1 + n]
            if len(values) == n and all(not v.startswith("--") for v in values):
                out.append(f"{a}={','.join(values)}")
                i += 1 + n
                continue
        out.append(a)
        i += 1
    return out


def _range(text: str, flag: str) -> tuple[float, float]:
    from .core.session.model import MAX_DOMAIN

    parts = text.split(",")
    try:
        lo, hi = (float(v) for v in parts)
    except ValueError:
        raise ValueError(f"{flag} {text.replace(',', ' ')}: expected two numbers MIN MAX") from None
    if not (abs(lo) <= MAX_DOMAIN and abs(hi) <= MAX_DOMAIN):
        raise ValueError(f"{flag} {lo:g} {hi:g}: both ends must be finite and within "
                         f"[-{MAX_DOMAIN:g}, {MAX_DOMAIN:g}]")
    if not hi > lo:
        raise ValueError(f"{flag} {lo:g} {hi:g}: min must be below max")
    return lo, hi


class _Parser(argparse.ArgumentParser):
    """One line of usage and the error, not the whole option list (that is --help's)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def _fail(message: str) -> int:
    print(f"landscape-gui export: {message}", file=sys.stderr)
    return 2


def build_session(args):
    """The export's session: --session, then --preset/--function, then each flag on top."""
    from .core import ExpressionError, optimizers
    from .core.formula import compile_expression
    from .core.session import PALETTE, OptimizerInstance, Session, SessionError

    if getattr(args, "export_example", None):
        from . import examples

        try:
            e = examples.info(args.export_example)
        except examples.UnknownExample as exc:
            raise ValueError(f"--example: {exc}") from None
        if e.mode == "network":
            raise ValueError(f"--example {e.id}: a network example trains networks; open it in the window "
                             f"(landscape-gui --example {e.id})")
        s = examples.load(e.id)
    elif args.session:
        try:
            s = Session.load(args.session)
        except SessionError as exc:
            raise ValueError(f"--session {args.session}: {exc}") from None
    elif args.export_preset:
        try:
            s = Session.from_preset(args.export_preset)
        except KeyError as exc:
            raise ValueError(f"--preset: {exc}") from None
    else:
        s = Session.default()
    if args.function is not None:
        try:
            compile_expression(args.function)  # validate only; no background compile yet
        except ExpressionError as exc:
            raise ValueError(f"--function: {exc.message}") from None
        s.function_text, s.params, s.preset = args.function, {}, None
    try:
        names = compile_expression(s.function_text).parsed.parameters
    except ExpressionError as exc:
        raise ValueError(f"formula: {exc.message}") from None
    s.params = {n: s.params.get(n, 1.0) for n in names}
    for item in args.param:
        name, _, value = item.partition("=")
        if name not in s.params:
            raise ValueError(f"--param {item}: '{name}' is not a parameter of the formula "
                             f"(it has: {', '.join(s.params) or 'none'})")
        try:
            s.params[name] = float(value)
        except ValueError:
            raise ValueError(f"--param {item}: '{value}' is not a number") from None
    if getattr(args, "camera", None):
        try:
            el, az, dist = (float(v) for v in args.camera.split(","))
        except ValueError:
            raise ValueError(f"--camera {args.camera}: expected ELEVATION,AZIMUTH,DISTANCE") from None
        s.camera = {"elevation": el, "azimuth": az, "distance": dist}  # checked with the session
    for flag, value in (("--xrange", args.xrange), ("--yrange", args.yrange)):
        if value is not None:
            setattr(s, flag[2:], _range(value, flag))
    if args.start:
        starts = []
        for item in args.start:
            try:
                x, y = (float(v) for v in item.split(","))
            except ValueError:
                raise ValueError(f"--start {item}: expected X,Y") from None
            starts.append((x, y))
        s.starts = starts
    if args.optimizer:
        s.optimizers = []
        for k, item in enumerate(args.optimizer):
            try:
                name, hyper = optimizers.parse_call(item)
            except ValueError as exc:
                raise ValueError(f"--optimizer {item}: {exc}") from None
            s.optimizers.append(OptimizerInstance(name, hyper, PALETTE[k % len(PALETTE)]))
    if args.schedule:
        if len(args.schedule) not in (1, len(s.optimizers)):
            raise ValueError(f"--schedule: give one for every optimizer, or one per --optimizer "
                             f"({len(s.optimizers)}), not {len(args.schedule)}")
        for k, o in enumerate(s.optimizers):
            text = args.schedule[0] if len(args.schedule) == 1 else args.schedule[k]
            try:
                _, o.hyperparameters = optimizers.validate(o.name, {**o.hyperparameters, "schedule": text})
            except ValueError as exc:
                raise ValueError(f"--schedule {text}: {exc}") from None
    for flag in ("steps", "noise", "seed", "resolution", "zscale", "colormap"):
        value = getattr(args, flag)
        if value is not None:
            setattr(s, flag, value)
    try:
        return Session.from_dict(s.to_dict())  # every value checked the same way as a file
    except (SessionError, ValueError) as exc:  # to_dict refuses NaN/inf (allow_nan) too
        raise ValueError(str(exc)) from None


def _export(args) -> int:
    import os

    if args.model:
        return _export_landscape(args)
    if args.directions or args.grid:
        return _fail("--directions and --grid go with --model FILE.py")
    if args.landscape:
        return _export_landscape(args)
    if args.surface:
        return _fail("--surface goes with --landscape FILE")
    # Qt's bindings first: importing them while the formula's kernels build in a thread raced in
    # shiboken's start-up ("dictionary changed size during iteration", an abort)
    from PySide6 import QtWidgets  # noqa: F401  (imported before any kernel thread starts)

    from .ui.window.app import configure_qt
    try:
        session = build_session(args)
        width, height = _size(args.size)
        camera = session.camera
    except ValueError as exc:
        return _fail(str(exc))
    needs_gl = args.view in ("3d", "both") and not args.output.lower().endswith(
        (".csv", ".json", ".npz", ".svg", ".pdf"))  # vector files are 2-D only: export() says so
    if needs_gl and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        # Qt would abort (SIGABRT) trying to open the X display
        return _fail(f"--view {args.view} needs an OpenGL display: run under xvfb-run "
                     "(xvfb-run -a landscape-gui export ...), or export --view 2d")
    if not needs_gl and not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # 2-D figures need no screen
    configure_qt()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["landscape-gui-export"])  # noqa: F841
    from .core import optimizers
    from .ui.state.session_controller import SessionController
    from .ui.export.figures import FigureOptions, export

    optimizers.prepare([o.name for o in session.enabled_optimizers()], background=False)
    controller = SessionController(session)
    controller.function.kernels(wait=True)
    controller.step = session.steps
    opts = FigureOptions(view=args.view, width=width, height=height, title=not args.no_title,
                         legend=not args.no_legend, colorbar=not args.no_colorbar,
                         transparent=args.transparent)
    return _write(args, lambda: export(controller, args.output, opts, frames=args.frames, fps=args.fps,
                                       camera=camera, animation=args.animate or "descent"))


def _write(args, make) -> int:
    """Run an export; its errors become the command's message and exit status 2."""
    from .ui.export.figures import ExportError

    try:
        path = make()
    except ExportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"-o {args.output}: {exc.strerror or exc}")
    print(path)
    return 0


#: formula-only flags, refused with --landscape (a file has no formula, starts or optimizers)
_FORMULA_FLAGS = ("session", "xrange", "yrange", "param", "start", "optimizer", "schedule", "steps", "noise",
                  "seed", "resolution")


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise ValueError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 1600x1200") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"--size {text}: width and height must be between 16 and 8192 pixels")
    return width, height


def _model_plane(args):
    """``export --model FILE.py``: the model file's plane (a ValueError says what is wrong)."""
    try:
        from .pytorch.modelfile import ModelFileError, load_model_file
        from .pytorch.planes import loss_plane
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    try:
        spec = load_model_file(args.model)
    except ModelFileError as exc:
        raise ValueError(f"--model: {exc}") from None
    kind = args.directions or "filter"
    n = args.grid or 51
    if not 3 <= n <= 401:
        raise ValueError(f"--grid {n}: between 3 and 401 points per axis")
    cps = None
    if kind in ("pca", "points"):
        need = 2 if kind == "pca" else 3
        if len(spec.checkpoints) < need:
            raise ValueError(f"--directions {kind}: {spec.name} defines {len(spec.checkpoints)} checkpoints, "
                             f"{kind} needs {need} or more")
        cps = spec.checkpoints if kind == "pca" else [spec.checkpoints[0], spec.checkpoints[len(spec.checkpoints) // 2],
                                                      spec.checkpoints[-1]]
    print(f"{spec.name}: {spec.describe()}; computing a {n}x{n} {kind} plane", file=sys.stderr)
    plane = loss_plane(spec.model, spec.loss_fn, spec.batches, directions=kind, grid=(n, n), checkpoints=cps)
    plane.info["name"] = f"{spec.name}: {kind} plane"
    t = plane.info["trust"]
    print(f"trust: loss at the centre {t['centre_loss']:.6g}, the model's own {t['model_loss']:.6g}"
          f"{'' if t['centre_matches'] else '  (DIFFERENT: is the model in eval mode?)'}", file=sys.stderr)
    return plane


def _export_landscape(args) -> int:
    """``export --landscape FILE`` (a loss-landscape file) or ``--model FILE.py`` (your own
    model's plane): a figure, an orbit, or the data."""
    import os

    from .core.files.landscapes import LandscapeFileError, load_landscape

    used = [f"--{f}" for f in _FORMULA_FLAGS if getattr(args, f) not in (None, [], False)]
    src = "--model" if args.model else "--landscape"
    if used:
        return _fail(f"{', '.join(used)}: not with {src} (a landscape has no formula, starts or optimizers)")
    try:
        plane = _model_plane(args) if args.model else load_landscape(args.landscape)
    except LandscapeFileError as exc:
        return _fail(f"--landscape: {exc}")
    except ValueError as exc:
        return _fail(str(exc))
    metric = args.surface or ("train_loss" if "train_loss" in plane.surfaces else
                              next(k for k in plane.surfaces if k.endswith("_loss")))
    if metric not in plane.surfaces:
        return _fail(f"--surface {metric}: {plane.name} has {', '.join(plane.surfaces)}")
    out = args.output.lower()
    if out.endswith((".h5", ".hdf5", ".npz")):  # a conversion: .npz <-> loss-landscape's .h5
        try:
            print(plane.save(args.output))
        except (LandscapeFileError, OSError) as exc:
            return _fail(f"-o {args.output}: {exc}")
        return 0
    try:
        width, height = _size(args.size)
        camera = None
        if args.camera:
            try:
                el, az, dist = (float(v) for v in args.camera.split(","))
            except ValueError:
                raise ValueError(f"--camera {args.camera}: expected ELEVATION,AZIMUTH,DISTANCE") from None
            camera = {"elevation": el, "azimuth": az, "distance": dist}
    except ValueError as exc:
        return _fail(str(exc))
    needs_gl = not plane.is_line and args.view in ("3d", "both") and not out.endswith((".svg", ".pdf"))
    if needs_gl and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return _fail(f"--view {args.view} needs an OpenGL display: run under xvfb-run "
                     "(xvfb-run -a landscape-gui export ...), or export --view 2d")
    if not needs_gl and not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from .ui.window.app import configure_qt

    configure_qt()
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["landscape-gui-export"])
    from .ui.export.figures import FigureOptions, export, export_line
    from .ui.modes.landscape_file import default_zscale, metric_label, path_label
    from .ui.state.plane_source import LandscapeSource

    zscale = args.zscale or default_zscale(metric)
    opts = FigureOptions(view="2d" if plane.is_line else args.view, width=width, height=height,
                         title=not args.no_title, legend=not args.no_legend, colorbar=not args.no_colorbar,
                         transparent=args.transparent)
    if plane.is_line:
        return _write(args, lambda: export_line(plane, metric, args.output, opts, zscale=zscale))
    from .core.session import COLORMAPS

    if args.colormap is not None and args.colormap not in COLORMAPS:
        return _fail(f"--colormap {args.colormap}: choose from {', '.join(COLORMAPS)}")
    source = LandscapeSource(app)
    source.session.colormap = args.colormap or "viridis"
    source.session.zscale = zscale
    source.set_landscape(plane, f"{plane.name}: {metric_label(metric)}", metric=metric,
                         z_name=metric_label(metric), path_label=path_label(plane))
    return _write(args, lambda: export(source, args.output, opts, frames=args.frames, fps=args.fps, camera=camera,
                                       animation=args.animate or "orbit"))


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``landscape-gui`` opens the window; subcommands work headless."""

from __future__ import annotations

import argparse
import json
import time
import sys


SUBCOMMANDS = ("bench", "functions", "export")


def window_parser() -> argparse.ArgumentParser:
    """``landscape-gui [SESSION] [--preset NAME]``: open the window.

    Separate from the subcommands' parser: argparse cannot tell an optional
    positional file from a subcommand name, so ``landscape-gui my.landscape.json``
    would be refused as an invalid command.
    """
    parser = argparse.ArgumentParser(
        prog="landscape-gui",
        description="Type a loss f(x, y), drop start points, and watch optimizers walk down it.",
        epilog="headless commands: landscape-gui {bench,functions,export} --help")
    parser.add_argument("session", nargs="?", help="a session file to open (*.landscape.json)")
    parser.add_argument("--preset", help="start with a library function, e.g. rosenbrock")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The headless subcommands."""
    parser = argparse.ArgumentParser(
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
    sub.add_parser("functions", help="list the test-function library")
    ex = sub.add_parser("export", help="write a figure, an animation or data without opening the window",
                        description="Output type from the extension of -o: .png .svg .pdf (2-D) .gif .mp4 "
                                    ".csv .json .npz")
    src = ex.add_mutually_exclusive_group()
    src.add_argument("--function", help='formula, e.g. "(1-x)^2 + 100*(y-x^2)^2"')
    src.add_argument("--preset", dest="export_preset", metavar="NAME", help="a library function (formula and domain)")
    ex.add_argument("--session", help="take everything from a saved session (later flags override)")
    ex.add_argument("--xrange", nargs=2, type=float, metavar=("MIN", "MAX"))
    ex.add_argument("--yrange", nargs=2, type=float, metavar=("MIN", "MAX"))
    ex.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ex.add_argument("--start", action="append", default=[], metavar="X,Y")
    ex.add_argument("--optimizer", action="append", default=[], metavar='"Adam(lr=0.05)"')
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
    # "--start -1.5,2": argparse would take "-1.5,2" for an option; glue such values on
    for i in range(len(argv) - 1, 0, -1):
        if argv[i - 1] in ("--start", "--camera") and argv[i].startswith("-"):
            argv[i - 1:i + 1] = [f"{argv[i - 1]}={argv[i]}"]
    if not argv or argv[0] not in SUBCOMMANDS:
        args = window_parser().parse_args(argv)
        if args.preset:
            from .core.functions import UnknownPreset, get

            try:
                get(args.preset)
            except UnknownPreset as exc:
                window_parser().error(str(exc))
        from .ui.app import run_app

        return run_app(session=args.session, preset=args.preset)
    args = build_parser().parse_args(argv)
    if args.command == "bench" and args.fuzz is not None:
        from .bench_fuzz import print_report, run_fuzz

        t0 = time.perf_counter()
        report = run_fuzz(args.fuzz, seed=args.seed,
                          progress=lambda k, n: print(f"  {k}/{n}", file=sys.stderr, flush=True))
        if args.json:
            json.dump(report, sys.stdout, indent=1)
        else:
            print_report(report, time.perf_counter() - t0)
        return 1 if any(report["counts"][k] for k in ("crashed", "over", "hung")) else 0
    if args.command == "bench":
        from .bench import run_bench

        run_bench(quick=args.quick, as_json=args.json, gui=args.gui, cold=args.cold)
        return 0
    if args.command == "export":
        return _export(args)
    if args.command == "functions":
        from .core import functions

        for f in functions.FUNCTIONS:
            print(f"{f.key:18s} {f.title:24s} {f.formula}")
        return 0
    raise AssertionError(args.command)


def _fail(message: str) -> int:
    print(f"landscape-gui export: {message}", file=sys.stderr)
    return 2


def build_session(args):
    """The export's session: --session, then --preset/--function, then each flag on top."""
    from .core import ExpressionError, optimizers
    from .core.formula import compile_expression
    from .core.session import PALETTE, OptimizerInstance, Session, SessionError

    if args.session:
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
    if args.function:
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
    for flag, value in (("--xrange", args.xrange), ("--yrange", args.yrange)):
        if value is not None:
            if not value[1] > value[0]:
                raise ValueError(f"{flag}: min must be below max")
            setattr(s, flag[2:], tuple(value))
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
    for flag in ("steps", "noise", "seed", "resolution", "zscale", "colormap"):
        value = getattr(args, flag)
        if value is not None:
            setattr(s, flag, value)
    try:
        return Session.from_dict(s.to_dict())  # every value checked the same way as a file
    except SessionError as exc:
        raise ValueError(str(exc)) from None


def _export(args) -> int:
    import os

    try:
        session = build_session(args)
        w, _, h = args.size.lower().partition("x")
        try:
            width, height = int(w), int(h)
        except ValueError:
            raise ValueError(f"--size {args.size}: expected WIDTHxHEIGHT, e.g. 1600x1200") from None
        camera = None
        if args.camera:
            try:
                el, az, dist = (float(v) for v in args.camera.split(","))
            except ValueError:
                raise ValueError(f"--camera {args.camera}: expected ELEVATION,AZIMUTH,DISTANCE") from None
            camera = {"elevation": el, "azimuth": az, "distance": dist}
        elif session.camera:
            camera = session.camera
    except ValueError as exc:
        return _fail(str(exc))
    needs_gl = args.view in ("3d", "both") and not args.output.lower().endswith((".csv", ".json", ".npz"))
    if not needs_gl and not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # 2-D figures need no screen
    from .ui.app import configure_qt

    configure_qt()
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["landscape-gui-export"])
    from .core import optimizers
    from .ui.controller import SessionController
    from .ui.export import ExportError, FigureOptions, export

    optimizers.prepare([o.name for o in session.enabled_optimizers()], background=False)
    controller = SessionController(session)
    controller.function.kernels(wait=True)
    controller.step = session.steps
    opts = FigureOptions(view=args.view, width=width, height=height, title=not args.no_title,
                         legend=not args.no_legend, colorbar=not args.no_colorbar,
                         transparent=args.transparent)
    try:
        path = export(controller, args.output, opts, frames=args.frames, fps=args.fps, camera=camera)
    except ExportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"-o {args.output}: {exc.strerror or exc}")
    del app
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

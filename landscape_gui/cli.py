"""Command line: ``landscape-gui`` opens the window; subcommands work headless."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landscape-gui",
        description="Type a loss f(x, y), drop start points, and watch optimizers walk down it.")
    parser.add_argument("session", nargs="?", help="a session file to open (*.landscape.json)")
    parser.add_argument("--preset", help="start with a library function, e.g. rosenbrock")
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="performance figures as ratios against numpy / torch baselines")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a measurement)")
    bench.add_argument("--gui", action="store_true", help="also time the window (needs a display)")
    sub.add_parser("functions", help="list the test-function library")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if argv and argv[0] in ("bench", "functions"):
        args = parser.parse_args(argv)
    else:
        args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import run_bench

        run_bench(quick=args.quick, as_json=args.json, gui=args.gui)
        return 0
    if args.command == "functions":
        from .core import functions

        for f in functions.FUNCTIONS:
            print(f"{f.key:18s} {f.title:24s} {f.formula}")
        return 0
    from .ui.app import run_app

    return run_app(session=args.session, preset=args.preset)


if __name__ == "__main__":
    sys.exit(main())

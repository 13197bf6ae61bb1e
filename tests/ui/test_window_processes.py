"""The window as a user runs it: a real process (run_app), what it prints to the terminal, what it
remembers across a restart, and what it costs while nothing happens."""

import os
import subprocess
import sys
import textwrap

import pytest

if not os.environ.get("DISPLAY"):
    pytest.skip("needs an X display with OpenGL (run under xvfb-run)", allow_module_level=True)

ERROR_MARKS = ("Traceback", "Error", "error", "already deleted", "GLError", "Warning")


def run_child(tmp_path, body: str, *args, home: str = "home", timeout: int = 240):
    script = tmp_path / f"child_{abs(hash(body))}.py"
    script.write_text(textwrap.dedent(body))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / home / "d"), "XDG_CONFIG_HOME": str(tmp_path / home / "c"),
           "LANDSCAPE_GUI_RESTORE": "no"}
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_exports_and_playback_print_nothing_and_an_idle_window_uses_almost_no_cpu(tmp_path):
    """Three 3-D exports and a playback of the learning-rate example: nothing on stderr, no
    exception. Then nothing changes, so nothing is drawn or computed: ≤ 0.2 CPU-s in 3.5 s."""
    out = run_child(tmp_path, """
        import sys, time
        from PySide6 import QtCore, QtWidgets
        from landscape_gui.core import optimizers
        from landscape_gui.ui.window.app import run_app

        def after(window):
            window.ask_save_changes = lambda: "discard"
            c = window.controller
            window.open_example("learning-rate")
            optimizers.prepare(optimizers.names(), background=False)
            c.function.kernels(wait=True)
            for k in range(3):
                print("EXPORTED", window.export_to(f"{sys.argv[1]}/e{k}.png", view="3d", size=(640, 480)), flush=True)
            steps = list(range(c.session.steps, -1, -7))

            def next_step():
                if steps:
                    c.set_step(steps.pop(0))
                    QtCore.QTimer.singleShot(5, next_step)
                else:
                    print("PLAYED", flush=True)
                    QtCore.QTimer.singleShot(2000, start_idle)   # settled: last paints, kernel polls
            marks = {}

            def start_idle():
                marks["t0"] = time.process_time()
                QtCore.QTimer.singleShot(3500, stop_idle)

            def stop_idle():
                print("IDLE_CPU", time.process_time() - marks["t0"], flush=True)
                window.quit()
            QtCore.QTimer.singleShot(300, next_step)   # deferred deletes of the export views run first

        sys.exit(run_app(after_show=after))
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("EXPORTED True") == 3 and "PLAYED" in out.stdout, out.stdout
    bad = [line for line in out.stderr.splitlines() if any(m in line for m in ERROR_MARKS)]
    assert not bad, "\n".join(bad[:20])
    for k in range(3):
        assert (tmp_path / f"e{k}.png").stat().st_size > 10_000
    cpu = float(out.stdout.split("IDLE_CPU")[1].split()[0])
    assert cpu <= 0.21, cpu   # 6% of a core


def test_open_recent_after_a_restart_lists_whole_paths(tmp_path):
    """QSettings gives a one-item list back as a string: the menu listed its letters, and saving
    again wrote the letters back."""
    first, second = tmp_path / "one.landscape.json", tmp_path / "two.landscape.json"
    out = run_child(tmp_path, """
        import sys
        from landscape_gui.ui.window.app import run_app

        def after(window):
            window.ask_save_changes = lambda: "discard"
            assert window.save_to(sys.argv[1])
            window.quit()

        sys.exit(run_app(after_show=after))
    """, first)
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_child(tmp_path, """
        import sys
        from landscape_gui.ui.window.app import run_app

        def after(window):
            window.ask_save_changes = lambda: "discard"
            print("RECENT", window.recent_files(), flush=True)
            window.recent_menu.aboutToShow.emit()
            print("MENU", [a.text() for a in window.recent_menu.actions()], flush=True)
            assert window.save_to(sys.argv[1])   # saving after the restart keeps whole paths
            print("AGAIN", window.recent_files(), flush=True)
            window.quit()

        sys.exit(run_app(after_show=after))
    """, second)  # the same settings: a second launch
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"RECENT {[str(first.resolve())]}" in out.stdout, out.stdout
    assert f"MENU {[str(first.resolve())]}" in out.stdout, out.stdout
    assert f"AGAIN {[str(second.resolve()), str(first.resolve())]}" in out.stdout, out.stdout

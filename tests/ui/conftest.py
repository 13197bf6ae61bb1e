import os

import pytest

from landscape_gui.ui.window.app import configure_qt


def pytest_configure(config):
    if not os.environ.get("DISPLAY") and os.environ.get("CI"):
        raise pytest.UsageError("GUI tests need an X display in CI: run them under xvfb-run")


@pytest.fixture(scope="session")
def qapp_args(tmp_path_factory):
    # settings, recent files and the autosave go to a throwaway home, not the user's
    home = tmp_path_factory.mktemp("home")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    configure_qt()  # before pytest-qt creates the QApplication
    return ["landscape-gui-tests"]


@pytest.fixture
def window(qtbot):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display with OpenGL (run under xvfb-run)")
    from landscape_gui.core.session import Session
    from landscape_gui.ui import MainWindow

    w = MainWindow(Session.default())
    w.ask_save_changes = lambda: "discard"  # no modal dialog at teardown
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    # the optimizer kernels: wait so drags measure the compiled path
    from landscape_gui.core import optimizers

    optimizers.prepare(optimizers.names(), background=False)
    w.controller.function.kernels(wait=True)
    qtbot.wait(50)
    return w

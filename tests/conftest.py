"""Shared test settings. With CI=true a skipped test counts as a failure: the GUI and
OpenGL tests must really run there (under xvfb-run)."""

import gc
import itertools
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {report.longrepr}"



@pytest.fixture(autouse=True)
def _forget_typed_rules():
    """Typed optimizer rules live in a process-wide registry: each test's own are removed after it,
    so no test sees (or compiles) another's."""
    from landscape_gui.core import optimizers

    before = optimizers.custom_rules()
    yield
    for name, text in optimizers.custom_rules().items():
        if name not in before:
            optimizers.remove(name)
        elif text != before[name]:
            optimizers.define(name, before[name])


_tests_run = itertools.count()


@pytest.fixture(autouse=True)
def _collect_garbage_in_the_test_thread():
    """The window turns automatic garbage collection off (it collects on a GUI-thread timer, so a
    worker thread never deletes Qt objects); core tests run no event loop, so collect here."""
    yield
    if not gc.isenabled():
        gc.collect(2 if next(_tests_run) % 25 == 0 else 1)

"""A short seeded monkey run in the suite (``landscape-gui monkey --seconds 1800`` is the long one):
random actions a person could take, failing on an uncaught exception, a warning or Qt error,
anything drawn outside the domain, or a window that stops answering for more than 2 s."""

from landscape_gui.devtools.monkey import Monkey


def test_a_short_monkey_run_finds_nothing(window, qtbot):
    with Monkey(window, seed=11) as monkey:
        report = monkey.run(actions=50)
    assert report.actions >= 50
    assert len(report.counts) >= 12  # most kinds of action were taken
    assert report.ok(), report.summary()


def test_a_new_formula_with_many_paths_never_freezes_the_window(window, qtbot):
    """While the formula's kernels compile, the numpy twin gets a budget of steps (the paths are
    shown that far) and the whole paths follow when the kernels are ready."""
    import time

    c = window.controller
    for name in ("Adam", "RMSprop", "Adagrad", "NAdam"):
        c.add_optimizer(name, {"lr": 0.01})
    for k in range(24):
        c.add_start(-1.5 + 0.12 * k, 1.0 - 0.05 * k)
    t0 = time.perf_counter()
    assert c.set_function_text("sin(3*x)*cos(2*y) + 0.05*(x^2 + y^2) + 0.001*x*y")
    assert time.perf_counter() - t0 < 2.0
    qtbot.waitUntil(lambda: not c.partial and c.batch.points.shape[2] == c.session.steps + 1, timeout=60000)
    assert c.batch.used_kernels

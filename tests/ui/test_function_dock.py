"""The Function dock tells the truth about the surface: the grid box shows the grid in use; a
preset opens with your optimizers at learning rates safe for it, and says so."""

import numpy as np

from landscape_gui.core.session import presets


def test_the_grid_box_shows_the_grid_the_surface_uses(window, qtbot):
    c = window.controller
    box = window.function_editor.resolution
    for text in ("x^2 + 3*y^2", "sin(3*x)*cos(2*y) + 0.1*x^2"):
        window.function_editor.set_formula(text)
        assert box.currentData() == c.session.resolution == c.grid.shape[0]
    c.set_resolution(160)  # a size that is not among the choices (an example, a session file)
    assert box.currentData() == 160 == c.grid.shape[0] and box.currentText() == "160 × 160"
    data = [box.itemData(i) for i in range(box.count())]
    assert data == sorted(data) and data.count(160) == 1
    c.undo_stack.undo()
    assert box.currentData() == c.session.resolution == c.grid.shape[0]


def test_a_preset_keeps_your_optimizers_with_rates_safe_for_it(window, qtbot):
    assert window.open_example("learning-rate")
    c = window.controller
    names = [o.name for o in c.session.optimizers]
    colours = [o.color for o in c.session.optimizers]
    messages = []
    c.status.connect(messages.append)
    c.load_preset("rastrigin")
    s = c.session
    assert [o.name for o in s.optimizers] == names and [o.color for o in s.optimizers] == colours
    # no run leaves the 3-D box: the rates are the preset's safe ones for these optimizers
    top = presets.box_top(c.function, s.xrange, s.yrange)
    assert np.all((c.batch.diverged < 0)) and np.all(c.batch.losses[np.isfinite(c.batch.losses)] <= top)
    assert any("learning rates safe" in m for m in messages), messages
    # the message is what the status bar shows, and Ctrl+Z brings the example's rates back
    c.undo_stack.undo()
    assert c.session.function_text != s.function_text or c.session.optimizers[0].hyperparameters != \
        s.optimizers[0].hyperparameters

"""Where each path's head is at a playback step (vectorised; diverged paths stop at their last point)."""

import numpy as np

from landscape_gui.core import compile_function, optimizers
from landscape_gui.ui.views.arrows import head_steps


def test_heads_stop_at_the_last_finite_point_of_a_diverged_path():
    f = compile_function("x^2 + 10*y^2", background=False)
    b = optimizers.run_many(f, [("SGD", {"lr": 0.01}), ("SGD", {"lr": 0.5})], [(1.0, 1.0), (0.5, -0.2)], 200)
    d = b.diverged_at(1, 0)
    assert d is not None and b.diverged_at(0, 0) is None
    idx = head_steps(b, 150)
    assert idx.shape == (2, 2)
    assert idx[0, 0] == 150 and idx[0, 1] == 150
    assert idx[1, 0] == d - 1 and np.isfinite(b.points[1, 0, idx[1, 0]]).all()
    assert (head_steps(b, 10**6) <= 200).all() and (head_steps(b, 0) == 0).all()

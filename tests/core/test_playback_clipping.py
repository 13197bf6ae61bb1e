"""What the views draw of the trajectories is clipped to the domain in one place
(``core.scene.playback``): heads stop at the last finite point and at the domain's edge,
arrows are cut at the box, exits are where a path crosses the edge."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from landscape_gui import examples
from landscape_gui.core import compile_function, optimizers
from landscape_gui.core.scene.playback import clip_segments, frame, head_steps


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


def test_heads_stop_at_the_domain_edge():
    f = compile_function("x^2 + 10*y^2", background=False)
    b = optimizers.run_many(f, [("SGD", {"lr": 0.105})], [(1.0, 1.0)], 100, record_state=True)
    dom = ((-2.0, 2.0), (-2.0, 2.0))
    idx = head_steps(b, 100, *dom)
    p = b.points[0, 0, idx[0, 0]]
    assert -2 <= p[0] <= 2 and -2 <= p[1] <= 2
    assert idx[0, 0] < 100  # the run left: its head waits where it was last inside


def _inside(p, dom, tol=1e-9):
    (x0, x1), (y0, y1) = dom
    return (p[..., 0] >= x0 - tol).all() and (p[..., 0] <= x1 + tol).all() and \
        (p[..., 1] >= y0 - tol).all() and (p[..., 1] <= y1 + tol).all()


coord = st.floats(-1e7, 1e7, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(coord, coord, coord, coord), min_size=1, max_size=20))
def test_clipped_segments_lie_in_the_box_and_keep_what_was_inside(segs):
    dom = ((-1.5, 2.0), (-3.0, 0.5))
    seg = np.array(segs, dtype=float).reshape(-1, 2, 2)
    out, keep = clip_segments(seg, *dom)
    assert _inside(out, dom)
    for s, k in zip(seg, keep):
        # a segment with an end inside is always kept (and that end unchanged)
        ends_inside = [_inside(s[i][None], dom, 0) for i in (0, 1)]
        if any(ends_inside):
            assert k
    kept_inside = [s for s in seg if _inside(s, dom, 0)]
    assert all(any(np.allclose(s, o) for o in out) for s in kept_inside)


def test_every_drawn_point_of_the_learning_rate_example_lies_in_the_domain():
    """The example whose run diverges (lr past 2/λmax): heads and arrows at every step."""
    s = examples.load("learning-rate")
    f = compile_function(s.function_text, s.params, background=False)
    configs = [o.config() for o in s.enabled_optimizers()]
    b = optimizers.run_many(f, configs, s.starts, s.steps, domain=(s.xrange, s.yrange), record_state=True)
    assert np.nanmax(np.abs(b.points)) > 10 * max(map(abs, s.xrange + s.yrange))  # it really leaves
    colors = [(1, 0, 0, 1)] * len(configs)
    for step in range(s.steps + 1):
        fr = frame(b, step, s.xrange, s.yrange, colors)
        assert _inside(fr.heads[np.isfinite(fr.heads[..., 0])], (s.xrange, s.yrange))
        assert _inside(fr.segments, (s.xrange, s.yrange))

"""Session files: valid ones round-trip exactly, anything else is refused with a reason."""

import json
import time

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landscape_gui.core import functions, optimizers
from landscape_gui.core.session import COLORMAPS, OptimizerInstance, Session, SessionError
from landscape_gui.core.session.model import MAX_TOTAL_STEPS

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def optimizer_instances(draw):
    name = draw(st.sampled_from(optimizers.BUILT_IN))   # typed rules: tests of their own
    hyper = optimizers.defaults(name)
    hyper["lr"] = draw(st.floats(0, 10, allow_nan=False))
    for k, v in list(hyper.items()):
        if isinstance(v, bool) and k not in ("nesterov",):
            hyper[k] = draw(st.booleans())
    color = "#" + draw(st.text("0123456789abcdef", min_size=6, max_size=6))
    return OptimizerInstance(name, optimizers.validate(name, hyper)[1], color, draw(st.booleans()))


@st.composite
def sessions(draw):
    lf = draw(st.sampled_from(functions.FUNCTIONS))
    x0 = draw(st.floats(-1e6, 1e6 - 1e3))
    y0 = draw(st.floats(-1e6, 1e6 - 1e3))
    starts = draw(st.lists(st.tuples(finite, finite), max_size=20))
    opts = draw(st.lists(optimizer_instances(), max_size=8))
    runs = max(1, len(starts) * sum(o.enabled for o in opts))
    steps = min(draw(st.integers(1, 100_000)), MAX_TOTAL_STEPS // runs)  # the session's work budget
    return Session(
        function_text=lf.formula, params={k: draw(finite) for k in lf.params},
        xrange=(x0, x0 + draw(st.floats(1e-3, 1e3))), yrange=(y0, y0 + draw(st.floats(1e-3, 1e3))),
        resolution=draw(st.integers(8, 1024)), colormap=draw(st.sampled_from(COLORMAPS)),
        zscale=draw(st.sampled_from(["linear", "log", "clip"])), percentile=draw(st.floats(1, 100)),
        starts=starts, optimizers=opts,
        steps=steps, noise=draw(st.floats(0, 1e3)), seed=draw(st.integers(0, 2**40)),
        camera=draw(st.none() | st.fixed_dictionaries({"elevation": st.floats(-90, 90), "azimuth": finite,
                                                        "distance": st.floats(1e-3, 1e6)})),
        preset=draw(st.none() | st.just(lf.key)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_valid_sessions_round_trip_exactly(tmp_path_factory, session):
    path = tmp_path_factory.mktemp("s") / "x.landscape.json"
    session.save(path)
    loaded = Session.load(path)
    assert loaded == session
    assert loaded.to_dict() == session.to_dict()


def mutations(d):
    """Ways a file goes bad: wrong types, out-of-range values, unknown names, truncation."""
    yield "starts", [[0, 1], "a"], "starts[1]"
    yield "starts", [[0, 1, 2]], "starts[0]"
    yield "xrange", [3, 1], "xrange"
    yield "steps", -5, "steps"
    yield "steps", 2.5, "steps"
    yield "resolution", True, "resolution"
    yield "zscale", "cubic", "zscale"
    yield "colormap", "jet", "colormap"
    yield "params", {"__class__": 1}, "params.__class__"
    yield "optimizers", [{"name": "Adam", "hyperparameters": {"lr": "fast"}}], "optimizers[0]"
    yield "optimizers", [{"name": "Adam", "colour": "#ffffff"}], "optimizers[0].colour"
    yield "optimizers", [{"name": "SGD", "color": "red"}], "optimizers[0].color"
    yield "function_text", "x +", "function_text"
    yield "function_text", 3, "function_text"
    yield "noise", float("inf"), "noise"
    yield "wat", 1, "wat"


def test_each_kind_of_damage_names_its_field():
    base = Session.default().to_dict()
    for key, value, where in mutations(base):
        d = json.loads(json.dumps(base))
        d[key] = value
        text = json.dumps(d)  # inf becomes Infinity: refused as non-JSON-standard
        try:
            Session.from_json(text)
        except SessionError as err:
            assert str(err).startswith(where) or where in str(err), (key, str(err))
        else:
            raise AssertionError(f"accepted a bad {key}: {value!r}")


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.recursive(st.none() | st.booleans() | finite | st.text(max_size=10),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
                              max_leaves=20).map(json.dumps)))
def test_garbage_is_refused_quickly_with_a_message(text):
    t0 = time.perf_counter()
    try:
        Session.from_json(text)
    except SessionError as err:
        assert str(err)
    assert time.perf_counter() - t0 < 2.0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["function_text", "starts", "optimizers", "steps", "params", "xrange",
                                        "format_version", "seed", "camera", "preset"]),
                       st.none() | st.booleans() | finite | st.text(max_size=8) | st.lists(finite, max_size=3),
                       max_size=6))
def test_plausible_but_wrong_files_are_refused_not_crashed(d):
    try:
        Session.from_dict(d)
    except SessionError:
        pass


def test_network_settings_round_trip_and_are_validated():
    from landscape_gui.core.session import Session, SessionError

    s = Session.default()
    s.network = {"dataset": "spirals", "depth": 8, "residual": True, "optimizer": "Adam",
                 "hyperparameters": {"lr": 0.003, "betas": [0.8, 0.99]}, "epochs": 30}
    back = Session.from_json(s.to_json())
    assert back.network["depth"] == 8 and back.network["hyperparameters"]["betas"] == [0.8, 0.99]
    assert Session.from_json(back.to_json()).to_dict() == back.to_dict()
    for bad, message in [({"depth": 0}, "network.depth"), ({"optimizer": "Adamm"}, "did you mean 'Adam'"),
                         ({"extra": 1}, "network.extra: unknown field"), ({"dataset": "mnist"}, "network.dataset"),
                         ([1, 2], "network: expected an object")]:
        s.network = bad
        with pytest.raises(SessionError, match=message):
            Session.from_json(s.to_json())

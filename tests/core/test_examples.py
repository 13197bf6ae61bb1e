"""Every example's claim, checked numerically with the example's own settings (its session file):
a claim that fails means the settings are wrong, not the test."""

import numpy as np
import pytest

from landscape_gui import examples
from landscape_gui.core import analysis, compile_function, nn, optimizers

IDS = ["minima", "saddle", "learning-rate", "warmup", "annealing", "transfer-learning", "plateau", "ravine-momentum", "adaptive", "batch-noise", "sharp-vs-flat",
       "sam", "generalization", "depth-and-skips", "connected-valleys", "overfitting", "convexity"]


def test_the_tour_has_every_example_with_text_and_a_session():
    assert sorted(examples.ids()) == sorted(IDS)
    for eid in IDS:
        s = examples.load(eid)
        text = examples.explain(eid)
        e = examples.info(eid)
        assert text.startswith("# ") and "Try:" in text, eid
        body = [line for line in text.splitlines()[1:] if line.strip() and not line.startswith("Try:")]
        assert 3 <= len(body) <= 6, (eid, len(body))   # one sentence a line: 3-6 of them, then one thing to try
        assert (s.network is not None) == (e.mode == "network"), eid
        assert "<h3>" in examples.explain_html(eid)
    with pytest.raises(examples.UnknownExample, match="no example 'nope'"):
        examples.load("nope")


def setup(eid):
    s = examples.load(eid)
    f = compile_function(s.function_text, params=s.params, background=False)
    configs = [o.config() for o in s.enabled_optimizers()]
    batch = optimizers.run_many(f, configs, s.starts, s.steps, noise=s.noise, seed=s.seed)
    return s, f, batch


def first(mask) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else 10 ** 9


def test_minima_one_optimizer_different_minima_from_nearby_starts():
    s, f, b = setup("minima")
    assert len(s.enabled_optimizers()) == 1
    cps = [c for c in analysis.critical_points(f, s.xrange, s.yrange) if c.kind == "minimum"]
    centres = np.array([[c.x, c.y] for c in cps])
    ends = b.points[0, :, -1]
    reached = {int(np.argmin(np.hypot(*(centres - e).T))) for e in ends}
    assert len(cps) == 4 and len(reached) >= 3
    assert examples.info("minima").view.get("basins") == "SGD"


def test_saddle_gradient_descent_creeps_momentum_leaves_5x_sooner():
    s, f, b = setup("saddle")
    names = [(o.name, o.hyperparameters.get("momentum", 0)) for o in s.enabled_optimizers()]
    assert names == [("SGD", 0.0), ("SGD", 0.9)]
    away = [first(np.hypot(b.points[c, 0, :, 0], b.points[c, 0, :, 1]) > 1.0 + 1e-9) for c in range(2)]
    # both first go down into the saddle (the start is 1.5 away), then leave it: count from the closest point
    closest = [int(np.argmin(np.hypot(b.points[c, 0, :, 0], b.points[c, 0, :, 1]))) for c in range(2)]
    leave = [first((np.hypot(b.points[c, 0, :, 0], b.points[c, 0, :, 1]) > 1.0) & (np.arange(b.points.shape[2]) > closest[c]))
             for c in range(2)]
    assert leave[0] >= 5 * leave[1], leave
    assert all(a < 10 ** 9 for a in away)


def test_learning_rate_just_below_2_over_lambda_converges_just_above_diverges():
    s, f, b = setup("learning-rate")
    lmax = np.linalg.eigvalsh(np.asarray(f.hessian(0.0, 0.0)))[-1]
    lrs = [o.hyperparameters["lr"] for o in s.enabled_optimizers()]
    assert lrs == pytest.approx([0.95 * 2 / lmax, 1.05 * 2 / lmax])
    assert np.hypot(*b.points[0, 0, -1]) < 1e-3 and b.diverged_at(0, 0) is None
    assert b.diverged_at(1, 0) is not None or np.hypot(*b.points[1, 0, -1]) > 10
    assert any("it will diverge" in line for line in examples.live_numbers("learning-rate", s))


def test_plateau_adam_crosses_far_sooner_than_sgd():
    s, f, b = setup("plateau")
    assert np.hypot(*np.asarray(f.gradient(*s.starts[0]))) < 1e-2   # a plateau indeed
    steps = [first(b.losses[c, 0] < 0.05) for c in range(2)]
    assert [o.name for o in s.enabled_optimizers()] == ["SGD", "Adam"]
    assert steps[0] >= 5 * steps[1] and steps[1] < s.steps


def test_ravine_momentum_needs_a_fraction_of_the_steps():
    s, f, b = setup("ravine-momentum")
    steps = [first(b.losses[c, 0] < 1e-4) for c in range(2)]
    assert s.enabled_optimizers()[1].hyperparameters["momentum"] > 0
    assert steps[1] * 3 <= steps[0] and steps[0] < s.steps
    # SGD zig-zags: y changes sign again and again on the way
    y = b.points[0, 0, :60, 1]
    assert np.sum(np.diff(np.sign(y)) != 0) > 20


def test_adaptive_adam_goes_diagonally_and_arrives_sooner():
    s, f, b = setup("adaptive")
    d_sgd = b.points[0, 0, 1] - b.points[0, 0, 0]
    d_adam = b.points[1, 0, 1] - b.points[1, 0, 0]
    assert np.degrees(np.arctan2(abs(d_sgd[1]), abs(d_sgd[0]))) > 85        # SGD: straight down the gradient (y)
    assert abs(np.degrees(np.arctan2(abs(d_adam[1]), abs(d_adam[0]))) - 45) < 1   # Adam: sign-like, diagonal
    steps = [first(b.losses[c, 0] < 1e-3) for c in range(2)]
    assert steps[1] * 3 <= steps[0] and steps[1] < s.steps
    assert examples.info("adaptive").view.get("arrows")


def test_batch_noise_escapes_the_sharp_minimum_in_most_seeds_never_without():
    s = examples.load("batch-noise")
    f = compile_function(s.function_text, params=s.params, background=False)
    cfg = [o.config() for o in s.enabled_optimizers()]
    left = lambda noise, seed: optimizers.run_many(f, cfg, s.starts, s.steps, noise=noise, seed=seed).points[0, 0, -1, 0] > 0  # noqa: E731
    assert s.noise > 0
    assert sum(left(s.noise, seed) for seed in range(20)) >= 16
    assert sum(left(0.0, seed) for seed in range(20)) == 0


def _sharp_and_flat(f, s):
    mins = sorted((c for c in analysis.critical_points(f, s.xrange, s.yrange) if c.kind == "minimum"),
                  key=lambda c: max(c.eigenvalues))
    return mins[-1], mins[0]   # sharp, flat


def test_sharp_and_flat_minima_of_equal_depth():
    s, f, _ = setup("sharp-vs-flat")
    sharp, flat = _sharp_and_flat(f, s)
    assert sharp.value == pytest.approx(flat.value, abs=0.01)           # equal depth
    assert max(sharp.eigenvalues) > 10 * max(flat.eigenvalues)          # the flat one has the smaller λmax
    o = s.enabled_optimizers()[0]
    bs = analysis.basins(f, o.name, o.hyperparameters, s.xrange, s.yrange, shape=(64, 64), steps=s.steps)
    share = {}
    for k, p in enumerate(bs.attractors):
        for name, c in (("sharp", sharp), ("flat", flat)):
            if np.hypot(p[0] - c.x, p[1] - c.y) < 0.1:
                share[name] = share.get(name, 0) + bs.fractions[k]
    assert share["flat"] > 3 * share["sharp"] > 0


def test_sam_ends_in_the_flat_minimum_where_sgd_ends_in_the_sharp_one():
    s, f, b = setup("sam")
    sharp, flat = _sharp_and_flat(f, s)
    assert [o.name for o in s.enabled_optimizers()] == ["SGD", "SAM"]
    for k in range(len(s.starts)):
        sgd_end, sam_end = b.points[0, k, -1], b.points[1, k, -1]
        assert np.hypot(*(sgd_end - [sharp.x, sharp.y])) < 0.1, k
        assert np.hypot(*(sam_end - [flat.x, flat.y])) < 0.1, k


def test_convexity_one_minimum_for_every_start_then_an_atlas():
    s, f, b = setup("convexity")
    assert s.params == {"a": 0.0}
    ends = b.points[0, :, -1]
    assert len(ends) >= 6 and np.abs(ends).max() < 1e-3                     # every start: the one minimum
    assert [c.kind for c in analysis.critical_points(f, s.xrange, s.yrange)] == ["minimum"]
    wavy = compile_function(s.function_text, params={"a": 1.0}, background=False)
    kinds = [c.kind for c in analysis.critical_points(wavy, s.xrange, s.yrange)]
    assert kinds.count("minimum") >= 5 and kinds.count("saddle") >= 5 and kinds.count("maximum") >= 2


def _train(settings: dict, seed=None):
    st = nn.NetworkSettings.from_dict(settings)
    data = nn.make_dataset(st.dataset, n=st.n, noise=st.noise, seed=st.data_seed)
    return nn.train(nn.MLP(st.depth, st.width, st.activation, st.residual), data, st.optimizer, st.hyperparameters,
                    epochs=st.epochs, batch_size=st.batch_size, seed=st.seed if seed is None else seed,
                    test=st.test if st.test > 0 else None)


def test_generalization_small_batches_flatter_and_better_for_three_seeds():
    small, large = examples.network_runs("generalization")
    assert small["batch_size"] < large["batch_size"]
    for seed in range(3):
        a, b = _train(small, seed), _train(large, seed)
        lam_a = nn.sharpness(a.model, a.train_data, a.params)
        lam_b = nn.sharpness(b.model, b.train_data, b.params)
        assert lam_a < lam_b, (seed, lam_a, lam_b)
        assert a.test_losses[-1] < b.test_losses[-1], (seed, a.test_losses[-1], b.test_losses[-1])


def test_depth_and_skips_the_skip_net_plane_is_smoother():
    plain, skips = examples.network_runs("depth-and-skips")
    assert plain["depth"] >= 16 and skips["residual"] and not plain["residual"]
    rough = []
    for st in (plain, skips):
        r = _train(st)
        land = nn.landscape(r.model, r.train_data, r.params, "filter", grid=(st["grid"], st["grid"]), seed=st["seed"])
        rough.append(nn.roughness(land.values))
    assert rough[0] > 1.5 * rough[1], rough


def test_connected_valleys_two_seeds_equally_low_a_barrier_and_a_low_path():
    a_st, b_st = examples.network_runs("connected-valleys")
    assert a_st["seed"] != b_st["seed"]
    a, b = _train(a_st), _train(b_st)
    assert a.losses[-1] < 0.01 and b.losses[-1] < 0.01
    assert np.linalg.norm(a.params - b.params) > 0.5 * np.linalg.norm(a.params)     # different weights
    curve = nn.connect(a.model, a.train_data, a.params, b.params, epochs=50, seed=0)
    assert curve.barrier_linear > 0.1 and curve.barrier_curve < 0.5 * curve.barrier_linear


def test_overfitting_train_near_zero_test_high():
    (st,) = examples.network_runs("overfitting")
    r = _train(st)
    assert r.losses[-1] < 0.05 and r.test_losses[-1] > 3 * r.losses[-1]
    assert examples.info("overfitting").then == "train-vs-test"


def test_warmup_the_constant_rate_diverges_from_the_first_step_the_warmed_up_one_converges():
    s, f, b = setup("warmup")
    opts = s.enabled_optimizers()
    assert [o.hyperparameters["lr"] for o in opts] == [0.15, 0.15]
    assert "schedule" not in opts[0].hyperparameters and opts[1].hyperparameters["schedule"].startswith("LinearLR")
    lam0 = np.linalg.eigvalsh(np.asarray(f.hessian(*s.starts[0])))[-1]
    assert 0.15 > 2 / lam0                      # unstable at the start...
    lam_min = np.linalg.eigvalsh(np.asarray(f.hessian(0.0, 0.0)))[-1]
    assert 0.15 < 2 / lam_min                   # ...stable at the minimum
    assert b.diverged_at(0, 0) is not None and b.diverged_at(0, 0) <= 5
    t = b.trajectory(1, 0)
    assert t.diverged_at is None and t.final_loss < 1e-12
    # at every step the warmed-up rate stays below 2/λmax where the run is: λmax fell while the rate was small
    lrs = t.lrs
    lam = np.array([np.linalg.eigvalsh(np.asarray(f.hessian(*p)))[-1] for p in t.points[:-1]])
    assert (lrs * lam < 2).all()
    assert lam[int(np.argmax(lrs >= 0.15))] < lam0 / 3
    lines = examples.live_numbers("warmup", s, b)
    assert any("diverged" in line for line in lines) and any("converges" in line for line in lines)


def test_annealing_a_cosine_schedule_settles_where_a_constant_rate_bounces():
    s, f, b = setup("annealing")
    opts = s.enabled_optimizers()
    assert s.noise > 0 and opts[1].hyperparameters["schedule"].startswith("CosineAnnealingLR")
    assert opts[0].hyperparameters["lr"] == opts[1].hyperparameters["lr"]
    dist = [np.hypot(b.points[c, :, -50:, 0], b.points[c, :, -50:, 1]).mean(axis=1) for c in range(2)]
    loss = [b.losses[c, :, -50:].mean(axis=1) for c in range(2)]
    assert (dist[1] < dist[0] / 2).all(), dist          # every start: settles at least twice as close
    assert loss[1].mean() < loss[0].mean() / 5
    lines = examples.live_numbers("annealing", s, b)
    assert len(lines) == 3


def test_transfer_learning_fine_tuning_is_faster_and_stays_in_the_pretrained_basin():
    runs = examples.network_runs("transfer-learning")
    assert examples.info("transfer-learning").then == "transfer"
    pre_s, ft_s, sc_s = (nn.NetworkSettings.from_dict(r) for r in runs)
    assert ft_s.init_from == "A" and sc_s.init_from == ""
    assert (ft_s.dataset, ft_s.n, ft_s.noise, ft_s.data_seed) == (sc_s.dataset, sc_s.n, sc_s.noise, sc_s.data_seed)
    assert (ft_s.n, ft_s.noise) != (pre_s.n, pre_s.noise)          # a related, different task

    def train(s, init=None):
        data = nn.make_dataset(s.dataset, n=s.n, noise=s.noise, seed=s.data_seed)
        model = nn.MLP(s.depth, s.width, s.activation, s.residual)
        return nn.train(model, data, s.optimizer, s.hyperparameters, epochs=s.epochs, batch_size=s.batch_size,
                        seed=s.seed, test=s.test or None, init=init)

    pre = train(pre_s)
    ft = train(ft_s, init=pre.params)
    sc = train(sc_s)
    target = sc.losses[-1] * 1.1
    ft_at = int(np.flatnonzero(ft.losses <= target)[0])
    sc_at = int(np.flatnonzero(sc.losses <= target)[0])
    assert ft_at * 3 <= sc_at, (ft_at, sc_at)                    # far fewer steps to the new task's loss
    tp = nn.transfer_plane(sc.model, sc.train_data, pre.params, ft.params, sc.params)
    assert tp.barrier_finetuned < 0.02 and tp.barrier_scratch > 5 * max(tp.barrier_finetuned, 0.01)
    assert tp.distance_finetuned * 2 < tp.distance_scratch
    # the plane holds all three solutions: their losses there are the networks' own
    own = [nn.evaluate(sc.model, sc.train_data, p)[0] for p in (pre.params, ft.params, sc.params)]
    np.testing.assert_allclose(tp.points_loss, own, rtol=1e-9)
    np.testing.assert_allclose(tp.loss_to_finetuned[[0, -1]], own[:2], rtol=1e-9)

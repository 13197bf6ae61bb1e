"""The test-function library: named 2-D landscapes with their known optima.

Formulas use the app's own formula language; points and values come from the
published tables (Jamil & Yang 2013, "A literature survey of benchmark functions
for global optimization problems"; Surjanovic & Bingham's Virtual Library of
Simulation Experiments, sfu.ca/~ssurjano) or, for the teaching landscapes, are
exact. Tests check every listed point against ``compile_function``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float, float]  # x, y, f(x, y)

_JY = "Jamil & Yang 2013"
_VL = "Surjanovic & Bingham, Virtual Library of Simulation Experiments"


@dataclass(frozen=True)
class LibraryFunction:
    """A named landscape: formula, default domain and known critical points."""

    key: str
    title: str
    formula: str
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    minima: tuple[Point, ...]                 # global minima
    local_minima: tuple[Point, ...] = ()
    saddles: tuple[Point, ...] = ()
    maxima: tuple[Point, ...] = ()
    smooth_at_minima: bool = True             # False: kink or domain edge, gradient need not vanish
    params: dict = field(default_factory=dict)
    starts: tuple[tuple[float, float], ...] = ()  # instructive start points
    lesson: str = ""                          # what the landscape teaches
    source: str = _JY

    @property
    def global_minimum(self) -> float:
        return self.minima[0][2]


FUNCTIONS: tuple[LibraryFunction, ...] = (
    LibraryFunction(
        "rosenbrock", "Rosenbrock", "(1 - x)^2 + 100*(y - x^2)^2", (-2.0, 2.0), (-1.0, 3.0),
        minima=((1.0, 1.0, 0.0),), starts=((-1.5, 2.0), (1.5, 2.5)),
        lesson="A long curved valley: plain SGD crawls along the floor, momentum and Adam race."),
    LibraryFunction(
        "himmelblau", "Himmelblau", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", (-5.0, 5.0), (-5.0, 5.0),
        minima=((3.0, 2.0, 0.0), (-2.805118, 3.131312, 0.0), (-3.779310, -3.283186, 0.0),
                (3.584428, -1.848126, 0.0)),
        maxima=((-0.270845, -0.923039, 181.616522),), starts=((0.0, 0.0), (-1.0, 4.5)),
        lesson="Four equal minima: which one you reach depends on where you start."),
    LibraryFunction(
        "rastrigin", "Rastrigin", "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        (-5.12, 5.12), (-5.12, 5.12), minima=((0.0, 0.0, 0.0),), starts=((3.2, -2.1),),
        lesson="A bowl covered in local minima: small steps get trapped, noise and large steps escape."),
    LibraryFunction(
        "ackley", "Ackley",
        "-20*exp(-0.2*sqrt(0.5*(x^2 + y^2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20",
        (-5.0, 5.0), (-5.0, 5.0), minima=((0.0, 0.0, 0.0),), smooth_at_minima=False,
        starts=((3.5, 2.5),), lesson="Nearly flat outside, a sharp funnel at the centre."),
    LibraryFunction(
        "beale", "Beale", "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        (-4.5, 4.5), (-4.5, 4.5), minima=((3.0, 0.5, 0.0),), starts=((1.0, 1.5), (-2.0, -1.0)),
        lesson="Sharp ridges and flat plateaus: gradient magnitudes vary by orders of magnitude."),
    LibraryFunction(
        "booth", "Booth", "(x + 2*y - 7)^2 + (2*x + y - 5)^2", (-10.0, 10.0), (-10.0, 10.0),
        minima=((1.0, 3.0, 0.0),), starts=((-8.0, -6.0),), lesson="A plain quadratic bowl, tilted."),
    LibraryFunction(
        "matyas", "Matyas", "0.26*(x^2 + y^2) - 0.48*x*y", (-10.0, 10.0), (-10.0, 10.0),
        minima=((0.0, 0.0, 0.0),), starts=((8.0, -3.0),),
        lesson="A flat diagonal valley (condition number 25): steps zig-zag across it."),
    LibraryFunction(
        "levi13", "Lévi N.13",
        "sin(3*pi*x)^2 + (x - 1)^2*(1 + sin(3*pi*y)^2) + (y - 1)^2*(1 + sin(2*pi*y)^2)",
        (-10.0, 10.0), (-10.0, 10.0), minima=((1.0, 1.0, 0.0),), starts=((-4.0, 5.0),),
        lesson="Ripples on a bowl: many local minima along the axes."),
    LibraryFunction(
        "goldstein_price", "Goldstein–Price",
        "(1 + (x + y + 1)^2*(19 - 14*x + 3*x^2 - 14*y + 6*x*y + 3*y^2))"
        "*(30 + (2*x - 3*y)^2*(18 - 32*x + 12*x^2 + 48*y - 36*x*y + 27*y^2))",
        (-2.0, 2.0), (-2.0, 2.0), minima=((0.0, -1.0, 3.0),),
        local_minima=((-0.6, -0.4, 30.0), (1.8, 0.2, 84.0), (1.2, 0.8, 840.0)),
        starts=((1.0, 1.5), (-1.5, 1.0)),
        lesson="Values span six orders of magnitude: use the log z-scale to see anything."),
    LibraryFunction(
        "eggholder", "Eggholder",
        "-(y + 47)*sin(sqrt(abs(x/2 + (y + 47)))) - x*sin(sqrt(abs(x - (y + 47))))",
        (-512.0, 512.0), (-512.0, 512.0), minima=((512.0, 404.2319, -959.6407),),
        smooth_at_minima=False, starts=((0.0, 0.0),),
        lesson="Deep, irregular egg-crate; the global minimum sits on the domain's edge."),
    LibraryFunction(
        "holder_table", "Hölder table", "-abs(sin(x)*cos(y)*exp(abs(1 - sqrt(x^2 + y^2)/pi)))",
        (-10.0, 10.0), (-10.0, 10.0),
        minima=((8.05502, 9.66459, -19.2085), (-8.05502, 9.66459, -19.2085),
                (8.05502, -9.66459, -19.2085), (-8.05502, -9.66459, -19.2085)),
        starts=((5.0, 5.0),), source=_VL,
        lesson="Four corner minima behind high walls."),
    LibraryFunction(
        "cross_in_tray", "Cross-in-tray",
        "-0.0001*(abs(sin(x)*sin(y)*exp(abs(100 - sqrt(x^2 + y^2)/pi))) + 1)^0.1",
        (-10.0, 10.0), (-10.0, 10.0),
        minima=((1.34941, 1.34941, -2.06261), (-1.34941, 1.34941, -2.06261),
                (1.34941, -1.34941, -2.06261), (-1.34941, -1.34941, -2.06261)),
        starts=((3.0, 4.0),), source=_VL, lesson="A cross of ridges with minima between its arms."),
    LibraryFunction(
        "styblinski_tang", "Styblinski–Tang", "0.5*(x^4 - 16*x^2 + 5*x + y^4 - 16*y^2 + 5*y)",
        (-5.0, 5.0), (-5.0, 5.0), minima=((-2.903534, -2.903534, -78.33233),),
        local_minima=((2.746803, -2.903534, -64.19561), (-2.903534, 2.746803, -64.19561),
                      (2.746803, 2.746803, -50.05889)),
        saddles=((0.156731, -2.903534, -38.97055), (-2.903534, 0.156731, -38.97055),
                 (0.156731, 2.746803, -24.83383), (2.746803, 0.156731, -24.83383)),
        maxima=((0.156731, 0.156731, 0.391225),), starts=((4.5, 4.5), (0.5, -0.3)), source=_VL,
        lesson="One global and three local minima of different depths, saddles between them."),
    LibraryFunction(
        "mccormick", "McCormick", "sin(x + y) + (x - y)^2 - 1.5*x + 2.5*y + 1", (-1.5, 4.0), (-3.0, 4.0),
        minima=((-0.547198, -1.547198, -1.913223),), starts=((3.0, 3.0),), source=_VL,
        lesson="A gently curved, tilted valley."),
    LibraryFunction(
        "schaffer2", "Schaffer N.2", "0.5 + (sin(x^2 - y^2)^2 - 0.5)/(1 + 0.001*(x^2 + y^2))^2",
        (-10.0, 10.0), (-10.0, 10.0), minima=((0.0, 0.0, 0.0),), starts=((4.0, 1.0),),
        lesson="Concentric ripples whose spacing shrinks outward: learning rates must shrink too."),
    LibraryFunction(
        "six_hump_camel", "Six-hump camel", "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
        (-3.0, 3.0), (-2.0, 2.0), minima=((0.0898, -0.7126, -1.0316), (-0.0898, 0.7126, -1.0316)),
        local_minima=((-1.7036, 0.7961, -0.2155), (1.7036, -0.7961, -0.2155),
                      (1.6071, 0.5687, 2.1043), (-1.6071, -0.5687, 2.1043)),
        starts=((-2.0, -1.0), (2.0, 1.0)), source=_VL,
        lesson="Two global minima, four local ones: basins of attraction are easy to see."),
    LibraryFunction(
        "three_hump_camel", "Three-hump camel", "2*x^2 - 1.05*x^4 + x^6/6 + x*y + y^2",
        (-5.0, 5.0), (-5.0, 5.0), minima=((0.0, 0.0, 0.0),),
        local_minima=((1.7476, -0.8738, 0.2986), (-1.7476, 0.8738, 0.2986)),
        starts=((2.5, -2.0),), source=_VL, lesson="One global and two shallow local minima."),
    LibraryFunction(
        "easom", "Easom", "-cos(x)*cos(y)*exp(-((x - pi)^2 + (y - pi)^2))", (-2.0, 8.0), (-2.0, 8.0),
        minima=((3.141592653589793, 3.141592653589793, -1.0),), starts=((0.0, 0.0), (2.0, 4.5)),
        lesson="A needle in a flat haystack: far away the gradient is numerically zero."),
    LibraryFunction(
        "bukin6", "Bukin N.6", "100*sqrt(abs(y - 0.01*x^2)) + 0.01*abs(x + 10)",
        (-15.0, -5.0), (-3.0, 3.0), minima=((-10.0, 1.0, 0.0),), smooth_at_minima=False,
        starts=((-6.0, 2.0),), lesson="A razor-thin curved valley with a kink: gradients jump across it."),
    LibraryFunction(
        "ill_conditioned", "Ill-conditioned bowl", "0.5*(x^2 + k*y^2)", (-3.0, 3.0), (-3.0, 3.0),
        minima=((0.0, 0.0, 0.0),), params={"k": 25.0}, starts=((-2.5, 1.5),),
        lesson="Curvature k along y, 1 along x: SGD diverges above lr = 2/k, Adam rescales per axis."),
    LibraryFunction(
        "saddle", "Saddle x² − y²", "x^2 - y^2", (-2.0, 2.0), (-2.0, 2.0),
        minima=(), saddles=((0.0, 0.0, 0.0),), starts=((1.5, 1e-3),),
        lesson="Started near the ridge, gradient descent lingers at the saddle before escaping."),
    LibraryFunction(
        "monkey_saddle", "Monkey saddle", "x^3 - 3*x*y^2", (-2.0, 2.0), (-2.0, 2.0),
        minima=(), saddles=((0.0, 0.0, 0.0),), starts=((1.0, 0.1),),
        lesson="A degenerate saddle (zero Hessian): second-order methods see nothing there."),
    LibraryFunction(
        "double_well", "Double well", "(x^2 - 1)^2 + 0.5*y^2", (-2.0, 2.0), (-2.0, 2.0),
        minima=((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)), saddles=((0.0, 0.0, 1.0),),
        starts=((0.05, 1.5), (-0.05, -1.5)), source="exact",
        lesson="Two mirror-image minima and the saddle between them."),
    LibraryFunction(
        "sharp_flat", "Sharp vs flat minimum",
        "1 - exp(-((x + 1.5)^2 + y^2)/0.1) - 0.9*exp(-((x - 1.5)^2 + y^2)/2)",
        (-3.5, 3.5), (-2.5, 2.5), minima=((-1.498494, 0.0, -0.010021),),
        local_minima=((1.5, 0.0, 0.1),), starts=((0.0, 1.0), (0.5, -1.5)), source="exact",
        lesson="A narrow deep minimum and a wide shallow one: large learning rates and SAM prefer the flat one."),
    LibraryFunction(
        "sphere", "Sphere", "x^2 + y^2", (-3.0, 3.0), (-3.0, 3.0), minima=((0.0, 0.0, 0.0),),
        starts=((2.0, 2.5),), lesson="The simplest bowl: every optimizer's baseline."),
)

_BY_KEY = {f.key: f for f in FUNCTIONS}


def names() -> list[str]:
    """Keys of every library function, in menu order."""
    return [f.key for f in FUNCTIONS]


def get(name: str) -> LibraryFunction:
    """Look up by key or title, case-insensitively (``"Rosenbrock"``, ``"six_hump_camel"``)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in _BY_KEY:
        return _BY_KEY[key]
    for f in FUNCTIONS:
        if f.title.lower() == name.strip().lower():
            return f
    import difflib

    hint = difflib.get_close_matches(key, list(_BY_KEY), n=1)
    raise UnknownPreset(f"unknown preset '{name}'" + (f" — did you mean '{hint[0]}'?" if hint else "")
                        + f" (presets: {', '.join(_BY_KEY)})")


class UnknownPreset(KeyError):
    """A preset name not in the library; ``str()`` is the plain message (KeyError's would quote it)."""

    def __str__(self) -> str:
        return self.args[0]

"""``compile_function``: formula text -> a LossFunction with exact derivatives.

Two tiers, so typing never waits for Numba:

1. numpy (at once): the value is generated and usable within milliseconds;
   derivatives follow on first use.
2. Numba (background thread): scalar kernels, the hoisted parallel grid and the
   optimizer runner, written to a disk-cached module; swapped in when ready.

The same text compiled twice in one process returns the same compiled object, and
parameters are runtime arguments, so ``with_params`` never recompiles.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict

import numba as _numba  # noqa: F401  (imported in the caller's thread, never first inside a compile thread)
import numpy as np

from ..threads import run_shared
from . import codegen
from .budget import SYMBOLIC_SECONDS, OverBudget, budget, stage, start_deep_thread
from .expression import ExpressionError, ParsedExpression, is_parameter_name, parse_expression

#: Numba's workqueue threading layer must not run two parallel kernels at once.
PARALLEL_LOCK = threading.RLock()
#: seconds a new formula's Numba compile waits for the first picture (see ``start_numba_soon``)
FIRST_PICTURE_GRACE = 0.15

_CACHE_SIZE = 64


class CompiledExpression:
    """Everything derived from one formula text; shared by all its LossFunctions."""

    def __init__(self, parsed: ParsedExpression):
        self.parsed = parsed
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        stage("generating the value's code")
        value_source = codegen.numpy_value_source(parsed.expr, parsed.parameters)
        _refuse_if_too_large(codegen.count_operations(value_source), "value")
        self._numpy = codegen.load_numpy_functions(value_source)
        stage("evaluating the value")
        _refuse_if_nowhere_finite(parsed, self._numpy["value"])
        self._numpy_derivs: dict | None = None
        # A formula is accepted only if its gradient and Hessian can be generated too:
        # otherwise the surface would show and every optimizer would then fail.
        stage("computing the exact derivatives")
        self.derivatives = codegen.derivatives(parsed.expr)
        stage("generating the derivatives' code")
        source = codegen.numpy_derivative_source(parsed.expr, parsed.parameters, self.derivatives)
        _refuse_if_too_large(codegen.count_operations(value_source + source), "derivatives")
        self._numpy_derivs = codegen.load_numpy_functions(source)
        self.timings["numpy_ms"] = (time.perf_counter() - t0) * 1e3
        self._numba = None
        self.numba_error: str | None = None
        self._numba_done = threading.Event()
        self._numba_started = False
        self._numba_soon = False   # compile_function(background=True) asked: start after the first picture

    # -- tier 1 -------------------------------------------------------------------
    @property
    def numpy_value(self):
        return self._numpy["value"]

    def numpy_derivatives(self) -> dict:
        return self._numpy_derivs

    # -- tier 2 -------------------------------------------------------------------
    def start_numba(self, background: bool = True) -> None:
        with self._lock:
            if self._numba_started:
                return
            self._numba_started = True
        if background:
            start_deep_thread(self._build_numba, (), "numba-compile")
        else:
            self._build_numba()

    def start_numba_soon(self) -> None:
        """Start the compile after the first picture (``LossFunction.grid`` starts it when it has drawn
        one) or after ``FIRST_PICTURE_GRACE`` seconds, whichever comes first: Numba's compiler is
        Python and holds the GIL, and the numpy tier's first grid would wait for it at every step."""
        self._numba_soon = True
        timer = threading.Timer(FIRST_PICTURE_GRACE, self.start_numba)
        timer.daemon = True
        timer.start()

    def first_picture_drawn(self) -> None:
        """The numpy tier has drawn a grid: start a compile that ``start_numba_soon`` asked for (only
        then: a formula only evaluated, as the fuzz benchmark's thousands are, compiles nothing)."""
        if self._numba_soon:
            self.start_numba()

    def _build_numba(self) -> None:
        t0 = time.perf_counter()
        try:
            with budget(3 * SYMBOLIC_SECONDS, "generating the Numba kernels"):
                source, key = codegen.numba_source(self.parsed.expr, self.parsed.parameters,
                                                   self.derivatives)
            module = codegen.load_numba_module(source, key)
            _warm_up(module, len(self.parsed.parameters))
            self._numba = module
        except Exception as exc:  # keep the numpy tier; say why once
            self.numba_error = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"Numba kernels unavailable for {self.parsed.text!r}: {self.numba_error}",
                          RuntimeWarning, stacklevel=2)
        finally:
            self.timings["numba_ms"] = (time.perf_counter() - t0) * 1e3
            self._numba_done.set()

    def numba(self, wait: bool = True, timeout: float | None = None):
        """The compiled module, or None (not ready and ``wait`` is False, or it failed)."""
        if self._numba is None and wait:
            self.start_numba(background=False)  # no-op if a thread already compiles it
            self._numba_done.wait(timeout)
        return self._numba

    @property
    def numba_ready(self) -> bool:
        return self._numba is not None


#: Where a formula is probed before it is accepted: 0 and +-10^k for k = -3 ... 6 (in steps of
#: 0.5) on each axis, so a formula meant for any reasonable domain is finite somewhere here.
_MAGNITUDES = 10.0 ** np.arange(-3.0, 6.25, 0.5)
_PROBE = np.concatenate([-_MAGNITUDES[::-1], [0.0], _MAGNITUDES])


def _refuse_if_nowhere_finite(parsed: ParsedExpression, value) -> None:
    """``exp(1000) + x`` or ``sqrt(-1 - x^2)``: a surface of inf/NaN is a mistake, say so now."""
    p = np.ones(len(parsed.parameters))
    with np.errstate(all="ignore"):
        v = np.asarray(value(_PROBE[None, :], _PROBE[:, None], p), dtype=np.float64)
    if np.isfinite(v).any():
        return
    what = "infinite" if np.isinf(v).all() else "undefined (NaN) or infinite"
    raise ExpressionError(f"the formula is {what} everywhere (tried x and y from -1e6 to 1e6): "
                          "a constant overflows, or a square root or log of a negative number", 0)


def _refuse_if_too_large(operations: int, what: str) -> None:
    if operations > codegen.MAX_OPERATIONS:
        raise ExpressionError(
            f"the {what} of this formula {'is' if what == 'value' else 'are'} too large to compute: "
            f"{operations:,} operations (limit {codegen.MAX_OPERATIONS:,}); simplify the formula", None)


def _warm_up(module, n_params: int) -> None:
    """Run the grid kernel once (a first call pages its machine code in)."""
    xs = np.array([0.5, 1.0])
    module.grid(xs, xs, np.ones(n_params), np.empty((2, 2)), 0, 2)


#: below this many operations (points x GRID_POINT_COST; ~1-2 ms) a grid runs on the calling
#: thread: handing work to another thread and waiting for it costs ~0.3 ms on this machine class
_SERIAL_WORK = 20_000_000


def _rows_per_task(nx: int, ny: int, numpy: bool = False) -> int:
    """Rows a thread takes at a time: for the kernel about eight tasks a thread (each call costs a
    few microseconds, so a busy core just takes fewer of them) and at least ~16k points; for numpy
    blocks small enough that its temporaries are not fresh pages (a 2 MB temporary is mmap'ed and
    page-faulted on every call: a 512^2 grid in one call takes 10x as long as in 128-row blocks)."""
    from ..threads import THREADS

    if numpy:   # 64k-128k points a task (measured: 512^2 1.2 ms, 1024^2 2.4 ms), two a thread at least
        return max(1, min(131072 // max(nx, 1), -(-ny // (2 * THREADS))))
    rows = -(-ny // (8 * THREADS))
    return max(rows, 16384 // max(nx, 1), 1)


_cache: OrderedDict[str, CompiledExpression] = OrderedDict()
_cache_lock = threading.Lock()


def compile_expression(text: str) -> CompiledExpression:
    """Parse and generate tier 1 for ``text``, reusing an earlier compile of the same text."""
    if not isinstance(text, str):
        raise ExpressionError("the formula must be text", None)
    key = text.strip()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    # Everything symbolic runs under one time budget: a formula whose constants, derivatives
    # or code would take longer is refused (ExpressionError), never left running.
    with budget(SYMBOLIC_SECONDS, "parsing and folding constants"):
        try:
            compiled = CompiledExpression(parse_expression(text))
        except ExpressionError:
            raise
        except (RecursionError, MemoryError, OverBudget):
            raise  # the budget turns these into ExpressionError with the stage's name
        except Exception as exc:  # sympy failing inside; never a crash for the caller
            raise ExpressionError(f"this formula cannot be handled: {type(exc).__name__}: {exc}",
                                  None) from None
    with _cache_lock:
        compiled = _cache.setdefault(key, compiled)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def compile_function(text: str, params: dict | None = None, *, background: bool = True) -> "LossFunction":
    """Compile a formula in x and y. Every other free name is a parameter (default 1.0).

    Raises :class:`ExpressionError` (with ``.position``) for text the app cannot use.
    With ``background`` the Numba tier compiles in a thread and is used once ready;
    without, this call waits for it.
    """
    compiled = compile_expression(text)
    if background:
        compiled.start_numba_soon()
    else:
        compiled.start_numba(background=False)
    values = {name: 1.0 for name in compiled.parsed.parameters}
    for name, v in (params or {}).items():
        if name not in values:
            raise ExpressionError(f"'{name}' is not a parameter of this formula "
                                  f"(its parameters: {', '.join(values) or 'none'})")
        values[name] = _as_float(name, v)
    return LossFunction(compiled, values)


def _as_float(name, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ExpressionError(f"parameter '{name}' must be a number, got {v!r}") from None
    if not np.isfinite(f):
        raise ExpressionError(f"parameter '{name}' must be finite, got {v!r}")
    return f


def _broadcast(r, shape):
    if shape == ():
        return float(r)
    return np.array(np.broadcast_to(np.asarray(r, dtype=np.float64), shape))


class LossFunction:
    """A formula with parameter values: value, exact gradient and Hessian, and grids."""

    def __init__(self, compiled: CompiledExpression, params: dict[str, float]):
        self._compiled = compiled
        self._params = dict(params)
        self.param_array = np.array([self._params[n] for n in compiled.parsed.parameters],
                                    dtype=np.float64)

    # -- description --------------------------------------------------------------
    @property
    def text(self) -> str:
        return self._compiled.parsed.text

    @property
    def parameters(self) -> dict[str, float]:
        return dict(self._params)

    @property
    def expr(self):
        """The sympy expression (for display, e.g. LaTeX in exports)."""
        return self._compiled.parsed.expr

    @property
    def compiled(self) -> CompiledExpression:
        return self._compiled

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:g}" for k, v in self._params.items())
        return f"LossFunction({self.text!r}{', ' + ps if ps else ''})"

    def with_params(self, **params) -> "LossFunction":
        """Same compiled kernels, new parameter values (no recompilation)."""
        values = dict(self._params)
        for name, v in params.items():
            if name not in values:
                raise ExpressionError(f"'{name}' is not a parameter of this formula")
            values[name] = _as_float(name, v)
        return LossFunction(self._compiled, values)

    # -- evaluation (numpy tier: any broadcastable shapes) -----------------------------
    # (try/except around np.errstate rather than a contextlib helper: the numpy reference
    # optimizers call these once per step, and a generator-based context cost 25% there)
    def value(self, x, y):
        x, y, shape = _inputs(x, y)
        try:
            with np.errstate(all="ignore"):
                v = self._compiled.numpy_value(x, y, self.param_array)
        except _EVALUATION_ERRORS as exc:
            raise _evaluation_error(exc) from None
        return _broadcast(v, shape)

    def gradient(self, x, y):
        x, y, shape = _inputs(x, y)
        try:
            with np.errstate(all="ignore"):
                gx, gy = self._compiled.numpy_derivatives()["gradient"](x, y, self.param_array)
        except _EVALUATION_ERRORS as exc:
            raise _evaluation_error(exc) from None
        return _broadcast(gx, shape), _broadcast(gy, shape)

    def hessian(self, x, y):
        x, y, shape = _inputs(x, y)
        try:
            with np.errstate(all="ignore"):
                hxx, hxy, hyy = self._compiled.numpy_derivatives()["hessian"](x, y, self.param_array)
        except _EVALUATION_ERRORS as exc:
            raise _evaluation_error(exc) from None
        hxy = _broadcast(hxy, shape)
        return (_broadcast(hxx, shape), hxy), (hxy, _broadcast(hyy, shape))

    # -- grids ----------------------------------------------------------------------
    def grid(self, xrange, yrange, shape, out: np.ndarray | None = None) -> np.ndarray:
        """f on a regular grid: array (ny, nx), ``grid[j, i] == f(x_i, y_j)``.

        Uses the Numba kernel when it is ready, else numpy broadcasting. ``out``
        lets a caller reuse a buffer (the window does, on every slider move).
        """
        xs, ys = grid_axes(xrange, yrange, shape)
        nx, ny = xs.size, ys.size
        if out is None or out.shape != (ny, nx) or out.dtype != np.float64:
            out = np.empty((ny, nx))
        module = self._compiled.numba(wait=False)
        p = self.param_array
        if module is not None and not module.GRID_BY_NUMPY:
            if nx * ny * module.GRID_POINT_COST < _SERIAL_WORK:
                module.grid(xs, ys, p, out, 0, ny)   # a millisecond or so: waking a thread costs more
            else:
                run_shared(lambda j0, j1: module.grid(xs, ys, p, out, j0, j1), ny, _rows_per_task(nx, ny))
            return out
        # the numpy twin, in row blocks on the same threads: its SIMD transcendental functions
        # (a formula that needs them in its inner loop), or the first picture before Numba is ready
        value = self._compiled.numpy_value
        xr = xs[None, :]

        def rows(j0, j1):
            with np.errstate(all="ignore"):
                out[j0:j1] = value(xr, ys[j0:j1, None], p)

        try:
            run_shared(rows, ny, _rows_per_task(nx, ny, numpy=True))
        except _EVALUATION_ERRORS as exc:
            raise _evaluation_error(exc) from None
        if module is None:
            self._compiled.first_picture_drawn()   # now the kernels, if they were asked for
        return out

    def kernels(self, wait: bool = True):
        """The Numba module (value, value_and_gradient, hessian, grid) or None."""
        return self._compiled.numba(wait=wait)

    @property
    def compiled_ready(self) -> bool:
        return self._compiled.numba_ready


def grid_axes(xrange, yrange, shape) -> tuple[np.ndarray, np.ndarray]:
    """The x and y sample coordinates of ``grid`` (endpoints included)."""
    (x0, x1), (y0, y1) = xrange, yrange
    nx, ny = (int(shape[0]), int(shape[1])) if np.ndim(shape) else (int(shape), int(shape))
    if nx < 2 or ny < 2:
        raise ValueError(f"grid shape must be at least 2x2, got {nx}x{ny}")
    if not (np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 > y0):
        raise ValueError(f"invalid ranges x {xrange}, y {yrange}: need finite min < max")
    return np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)


#: what generated code can still raise (it follows numpy's inf/NaN rules otherwise): the
#: formula's fault, so it reaches the caller as the one documented error
_EVALUATION_ERRORS = (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError)


def _evaluation_error(exc) -> ExpressionError:
    if isinstance(exc, ExpressionError):
        return exc
    return ExpressionError(f"this formula cannot be evaluated here: {type(exc).__name__}: {exc}", None)


def _inputs(x, y):
    if np.isscalar(x) and np.isscalar(y):
        # numpy scalars, not Python floats: 1/0 -> inf and (-1)**0.5 -> nan, never an exception
        return np.float64(x), np.float64(y), ()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return x, y, np.broadcast_shapes(x.shape, y.shape)


__all__ = ["compile_function", "LossFunction", "ExpressionError", "grid_axes", "is_parameter_name"]

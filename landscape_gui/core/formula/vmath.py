"""exp, log, sin and cos that the compiler can vectorise: for the grid kernel's inner loop.

Numba's LLVM has no vector math library here (Intel's SVML needs a patched LLVM, which
the PyPI wheels are not), so ``np.exp`` in a loop is a scalar libm call per point
while numpy's own loops use SIMD. These are branch-free versions of fdlibm's
algorithms (FreeBSD msun: ``e_exp.c``, ``e_log.c``, ``k_sin.c``, ``k_cos.c``, with Cody-Waite
argument reduction), written so that LLVM turns a loop over them into AVX2/AVX-512
code. Accuracy: within about one unit in the last place of the correctly rounded
value (tests compare them with numpy on millions of arguments).

``vsin``/``vcos`` reduce arguments with three-part pi/2 only while ``|x| <= TRIG_LIMIT``
and return NaN beyond it (and for inf/NaN); the grid kernel recomputes a row that holds a
NaN with libm (``np.sin``), so every argument gets a correct result.

Round with ``np.floor``, never ``// 1.0``: Python's floor division is a libm ``fmod`` call,
which keeps a loop from vectorising (it made ``vexp`` 6.1 ns an argument instead of 3.3). Turn
floats into integers with ``_to_int``, never ``int()``: AVX2 has no vector float-to-int64
conversion, so ``int()`` is a scalar instruction per lane (3.3 ns an exp instead of 2.25).
Numba's disk cache checks only the file of a cached function, not what it inlines: generated
grid kernels carry this file's hash in their names (``codegen``), but after changing this file
change ``nn/kernels.py`` too (the networks inline vexp, vlog and vtanh), or a user's cache keeps
the old code.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_HOT = dict(inline="always", error_model="numpy", cache=True)

#: |x| up to which the three-part reduction is exact enough (j * PIO2_k exact for j < 2**20)
TRIG_LIMIT = 1.0e5


def _bitcast(src, dst):
    """An intrinsic reinterpreting a ``src`` value's 64 bits as ``dst`` (no conversion)."""

    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst))

        return dst(src), codegen

    return cast


_bits_to_double = _bitcast(types.int64, types.float64)
_double_to_bits = _bitcast(types.float64, types.int64)


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c, fused into one instruction (rounded once) on a CPU with FMA (``llvm.fmuladd``: a
    multiply and an add where there is none, never a slow libm ``fma`` call). Numba never fuses by
    itself: the polynomials below ask explicitly, so they are the same whatever the calling kernel's
    fastmath flags (13% off an exp, 20% off a cos on this machine)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [t], ir.FunctionType(t, [t, t, t]))
        return builder.call(fn, args)

    return sig, codegen


_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_EXP_MAX = 7.09782712893383973096e+02
_EXP_MIN = -7.45133219101941108420e+02
#: 1.5 * 2**52: for an integer-valued float |n| < 2**51, the bits of ``n + _ROUNDER`` minus
#: ``_ROUNDER_BITS`` are n as an int64. Plain SIMD integer arithmetic, where ``int(n)`` is a scalar
#: ``cvttsd2si`` per lane under AVX2 (it made ``vexp`` 3.3 ns an argument instead of 2.25)
_ROUNDER = 6755399441055744.0
_ROUNDER_BITS = 0x4338000000000000


@njit(**_HOT)
def _to_int(n):
    """An integer-valued float with |n| < 2**51 as an int64, in SIMD (see ``_ROUNDER``)."""
    return _double_to_bits(n + _ROUNDER) - _ROUNDER_BITS


@njit(**_HOT)
def _to_float(k):
    """An int64 with |k| < 2**51 as a float, in SIMD (``float()`` is scalar too: no AVX2 form)."""
    return _bits_to_double(k + _ROUNDER_BITS) - _ROUNDER


@njit(**_HOT)
def _pow2(n):
    """2**n for an integer-valued float -1075 <= n <= 1024 as two normal factors (multiply by
    both in turn: their product alone may overflow or underflow where the result does not)."""
    a = np.floor(n * 0.5)
    b = n - a
    return _bits_to_double((_to_int(a) + 1023) << 52), _bits_to_double((_to_int(b) + 1023) << 52)


@njit(**_HOT)
def vexp(x):
    n = np.floor(x * _INV_LN2 + 0.5)   # not "// 1.0": Python floor division is a libm fmod call, no SIMD
    n = min(max(n, -1075.0), 1024.0)   # also makes NaN's n finite (its result stays NaN)
    hi = x - n * _LN2_HI
    lo = n * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * _fma(t, _fma(t, _fma(t, _fma(t, _P5, _P4), _P3), _P2), _P1)
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    s1, s2 = _pow2(n)
    out = (y * s1) * s2
    out = np.inf if x > _EXP_MAX else out
    return 0.0 if x < _EXP_MIN else out


_TWO_OVER_PI = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e+00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11


@njit(**_HOT)
def _reduce(x):
    j = np.floor(x * _TWO_OVER_PI + 0.5)
    j = min(max(j, -1.0e6), 1.0e6)
    r = ((x - j * _PIO2_1) - j * _PIO2_2) - j * _PIO2_3
    return r, _to_int(j) & 3


@njit(**_HOT)
def _ksin(r):
    z = r * r
    v = z * r
    return r + v * _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _S6, _S5), _S4), _S3), _S2), _S1)


@njit(**_HOT)
def _kcos(r):
    z = r * r
    c = z * _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _C6, _C5), _C4), _C3), _C2), _C1)
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + z * c)


@njit(**_HOT)
def vsin(x):
    r, q = _reduce(x)
    s = _ksin(r)
    c = _kcos(r)
    v = c if (q & 1) else s
    v = -v if (q & 2) else v
    return v if abs(x) <= TRIG_LIMIT else np.nan   # the caller recomputes with libm


@njit(**_HOT)
def vcos(x):
    r, q = _reduce(x)
    s = _ksin(r)
    c = _kcos(r)
    v = s if (q & 1) else c
    v = -v if ((q + 1) & 2) else v
    return v if abs(x) <= TRIG_LIMIT else np.nan   # the caller recomputes with libm


_T3 = -0.3333333333333333
_T5 = 0.13333333333333333
_T7 = -0.05396825396825397
_T9 = 0.021869488536155203
_T11 = -0.008863235529902197
_T13 = 0.003592128036572481
_T15 = -0.0014558343870513183
_T17 = 0.000590027440945586


@njit(**_HOT)
def vtanh(x):
    """tanh: its Taylor series below |x| = 0.125 (error < 1e-17 relative), 1 - 2/(e^2|x| + 1)
    above (a few ulps near 0.125, where the subtraction cancels a little; one or two beyond)."""
    a = abs(x)
    z = x * x
    series = x + x * z * (_T3 + z * (_T5 + z * (_T7 + z * (_T9 + z * (_T11 + z * (_T13 + z * (_T15 + z * _T17)))))))
    big = 1.0 - 2.0 / (vexp(2.0 * a) + 1.0)
    big = -big if x < 0.0 else big
    return series if a < 0.125 else big


_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_TWO54 = 1.80143985094819840000e+16


@njit(**_HOT)
def vlog(x):
    """log: fdlibm's ``e_log.c`` without its branches (both of its final formulas computed, one
    chosen; its k = 0 forms are the general ones with k = 0). x = 2^k (1 + f) with 1 + f in
    [sqrt(2)/2, sqrt(2)), log(1 + f) = f - s (f - R(s^2)), s = f / (2 + f)."""
    sub = x < 2.2250738585072014e-308   # subnormal (or zero, or negative): scaled by 2^54 first
    xs = x * _TWO54 if sub else x
    bits = _double_to_bits(xs)
    hx = bits >> 32
    k = (hx >> 20) - 1023 - (54 if sub else 0)
    hx &= 0x000FFFFF
    i = (hx + 0x95F64) & 0x100000   # normalise x or x/2
    k += i >> 20
    m = _bits_to_double(((hx | (i ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF))
    f = m - 1.0
    s = f / (2.0 + f)
    dk = _to_float(k)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    big = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    small = dk * _LN2_HI - ((s * (f - r) - dk * _LN2_LO) - f)
    out = big if ((hx - 0x6147A) | (0x6B851 - hx)) > 0 else small
    out = x + x if x == np.inf or x != x else out   # inf, NaN
    out = -np.inf if x == 0.0 else out
    return np.nan if x < 0.0 else out


__all__ = ["vexp", "vlog", "vsin", "vcos", "vtanh", "TRIG_LIMIT"]

"""The session: everything a user set up (formula, domain, start points, optimizers,
camera, network settings) as plain dataclasses, read from and written to JSON.

``model`` holds the dataclasses, their validation and the file format.
"""

from .model import (COLORMAPS, FORMAT_VERSION, MAX_OPTIMIZERS, MAX_RESOLUTION, MAX_STARTS, MAX_STEPS,
                    PALETTE, SUFFIX, OptimizerInstance, Session, SessionError, default_optimizers,
                    next_color, save_text)

__all__ = ["COLORMAPS", "FORMAT_VERSION", "MAX_OPTIMIZERS", "MAX_RESOLUTION", "MAX_STARTS", "MAX_STEPS",
           "PALETTE", "SUFFIX", "OptimizerInstance", "Session", "SessionError", "default_optimizers",
           "next_color", "save_text"]

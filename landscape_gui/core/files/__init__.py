"""Files the app writes: one atomic writer for sessions, autosave and exports
(``atomic``), and the trajectory CSV/NPZ formats (``trajectories``)."""

from .atomic import atomic_write, atomic_write_text, default_file_mode

__all__ = ["atomic_write", "atomic_write_text", "default_file_mode"]

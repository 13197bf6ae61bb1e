"""``python -m landscape_gui`` is the same as ``landscape-gui``."""

import sys

from .cli import main

sys.exit(main())

"""Data the app ships (installed as the package ``landscape_gui.resources``): example sessions and
their explanations under ``examples/``, figures for the README under ``figures/``. Read with
``importlib.resources.files("landscape_gui.resources")`` so an installed wheel finds them."""

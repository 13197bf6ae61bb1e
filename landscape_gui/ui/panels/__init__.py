"""Docks that edit the session through the controller: function, optimizers, loss plot,
playback, analysis, typed optimizer rules."""

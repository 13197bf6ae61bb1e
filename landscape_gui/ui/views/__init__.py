"""Views draw a source (``ui.state``) and own their connections: the 3-D surface view, the 2-D
contour view, the mouse gestures they share, the analysis overlays, pyqtgraph internals."""

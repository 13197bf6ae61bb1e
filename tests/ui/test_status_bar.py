"""The status bar states facts as they are now: a drag past the domain reports the clamped
position the marker and the file hold; a removed start's coordinates do not linger."""

from landscape_gui.ui.views.surface_view import HALF

from gui_helpers import contour_pixel, mouse


def test_a_drag_past_the_edge_reports_the_clamped_position(window, qtbot):
    c = window.controller
    plot = window.contour_view
    view = plot.viewport()
    (y0, y1) = c.session.yrange
    sx, sy = c.session.starts[0]
    mouse(view, "press", contour_pixel(plot, sx, sy))
    below = y0 - 0.25 * (y1 - y0)
    mouse(view, "move", contour_pixel(plot, sx, 0.5 * (y0 + sy)))
    mouse(view, "move", contour_pixel(plot, sx, below))
    text = window.status_label.text()
    mouse(view, "release", contour_pixel(plot, sx, below))
    assert c.session.starts[0][1] == y0
    assert f"y = {y0:.4g}" in text, text
    # the marker is drawn where the session has it: on the edge, not below it
    mx, my = plot.markers.getData()
    assert my[0] == y0
    assert abs(window.surface_view.to_scene(0, y0, 0)[1] + HALF) < 1e-9


def test_removing_a_start_replaces_its_coordinates_in_the_status_bar(window, qtbot):
    c = window.controller
    c.add_start(0.5, 0.5)
    assert "x = 0.5" in window.status_label.text()
    n = len(c.session.starts)
    c.remove_start(n - 1)
    text = window.status_label.text()
    assert "removed" in text and "0.5" not in text, text

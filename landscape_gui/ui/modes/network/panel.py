"""The "Neural network" mode: pick a dataset, train a small network with the app's optimizers,
and look at its real loss landscape in the same 3-D and 2-D views — and at its geometry
(Hessian spectrum, sharpness during training, curves between solutions, batch size).

Three layers, as napari splits a layer, its controls and its visual: ``nn_model.NetworkModel``
holds the settings and results and runs every computation in the background;
``nn_groups`` are the control groups (``show(settings)``/``read(settings)``); this panel
lays them out beside the views (``plane_source.LandscapeSource`` feeds the shared 3-D and
2-D views) and the geometry tabs (``nn_geometry``), and wires the signals.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from landscape_gui.core import nn
from landscape_gui.ui.modes.layout import controls_beside_views, hint_label, plane_views
from landscape_gui.ui.modes.network.geometry import (
    ConnectView,
    SharpnessView,
    SpectrumView,
    SweepView,
)
from landscape_gui.ui.modes.network.groups import (
    DataGroup,
    LandscapeGroup,
    NetworkGroup,
    PlaneThumb,
    TrainingGroup,
)
from landscape_gui.ui.state.network_model import NetworkModel, RunResult  # noqa: F401  (RunResult: re-exported)
from landscape_gui.ui.state.plane_source import TRAJECTORY_COLOR, LandscapeSource  # noqa: F401  (TRAJECTORY_COLOR: re-exported)
from landscape_gui.ui.views.axes import LogAxis

NNController = NetworkModel  # the earlier name


class NNPanel(QtWidgets.QWidget):
    """The whole mode: controls on the left; landscape views, A|B and the geometry tabs on the right."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("nnPanel")
        self.model = c = NetworkModel(self)
        self.source = LandscapeSource(self)
        split, cl = controls_beside_views(self, 300)
        self.data_group = DataGroup(c.settings)
        self.network_group = NetworkGroup(c.settings)
        self.training_group = TrainingGroup(c.settings)
        self.landscape_group = LandscapeGroup(c.settings)
        self.groups = (self.data_group, self.network_group, self.training_group, self.landscape_group)
        for g in self.groups:
            cl.addWidget(g)
        self.status = QtWidgets.QLabel(wordWrap=True, objectName="nnStatus")
        cl.addWidget(self.status)
        cl.addStretch(1)
        self._expose_group_widgets()

        # views
        self.tabs = QtWidgets.QTabWidget(objectName="nnViews")
        views, self.surface_view, self.contour_view = plane_views(self.source, "nn", "θ*, the trained parameters")
        # before the first training there is no plane: say what will appear, not a flat sheet
        self.views_stack = QtWidgets.QStackedWidget(objectName="nnViewsStack")
        self.views_stack.addWidget(hint_label(
            "<h3>No network trained yet</h3><p>Choose a dataset and a network on the left, then press "
            "<b>Train</b>.</p><p>The trained network's loss plane L(θ* + α·d₁ + β·d₂) appears here in 3-D "
            "and 2-D, with the training path drawn on it.</p>", "nnHint"))
        self.views_stack.addWidget(views)
        self.tabs.addTab(self.views_stack, "Landscape")
        self.tabs.addTab(self._compare_tab(), "Compare A | B")
        self.spectrum_view = SpectrumView(c)
        self.sharpness_view = SharpnessView(c, self.load_settings)
        self.connect_view = ConnectView(c)
        self.sweep_view = SweepView(c)
        self.tabs.addTab(self.spectrum_view, "Spectrum")
        self.tabs.addTab(self.sharpness_view, "Sharpness")
        self.tabs.addTab(self.connect_view, "Connect A–B")
        self.tabs.addTab(self.sweep_view, "Batch size")
        split.addWidget(self.tabs)
        split.setSizes([340, 900])

        # wiring
        self.session_controller = None   # the window's SessionController: settings go into sessions
        d, n, t, land = self.groups
        d.dataset_box.activated.connect(self._dataset_chosen)
        for w in (d.n_spin, d.noise_spin):
            w.valueChanged.connect(self._data_settings)
        d.test_spin.valueChanged.connect(lambda v: setattr(c.settings, "test", float(v)))
        for w in (n.depth_spin, n.width_spin):
            w.valueChanged.connect(self._network_settings)
        n.activation_box.currentTextChanged.connect(self._network_settings)
        n.residual_check.toggled.connect(self._network_settings)
        t.train_button.clicked.connect(self.start_training)
        t.cancel_button.clicked.connect(lambda: c.cancel("train"))
        land.pin_a.clicked.connect(lambda: c.pin("A"))
        land.pin_b.clicked.connect(lambda: c.pin("B"))
        land.export_button.clicked.connect(self.export_dialog)
        land.cmap_box.currentTextChanged.connect(lambda name: self._view_options(colormap=name))
        land.zscale_box.currentTextChanged.connect(lambda z: self._view_options(zscale=z))
        land.split_box.currentIndexChanged.connect(self._split_changed)
        c.datasetChanged.connect(lambda: self.preview.show_data(c.data))
        c.trainingProgress.connect(self._training_progress)
        c.landscapeProgress.connect(self._landscape_progress)
        c.resultChanged.connect(self._show_result)
        c.compareChanged.connect(self._show_compare)
        c.busyChanged.connect(self._busy)
        c.message.connect(self.status.setText)
        c.sweepPlane.connect(lambda _r: self.tabs.setCurrentIndex(0))
        self.preview.show_data(c.data)
        self._network_settings()
        self.source.set_landscape(None, "train a network to see its loss landscape")

    def _expose_group_widgets(self) -> None:
        """The groups' widgets as the panel's attributes (``panel.epochs_spin``: scripts, tests)."""
        for g in self.groups:
            for name, w in vars(g).items():
                if isinstance(w, (QtWidgets.QWidget, pg.PlotDataItem)) and not name.startswith("_"):
                    setattr(self, name, w)

    def _compare_tab(self) -> QtWidgets.QWidget:
        compare = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(compare)
        self.thumbs = {"A": PlaneThumb("A"), "B": PlaneThumb("B")}
        self.compare_labels = {"A": QtWidgets.QLabel(wordWrap=True), "B": QtWidgets.QLabel(wordWrap=True)}
        for k, slot in enumerate("AB"):
            grid.addWidget(self.thumbs[slot], 0, k)
            grid.addWidget(self.compare_labels[slot], 1, k)
        self.interp_plot = pg.PlotWidget(background="#15171c", axisItems={"left": LogAxis("left")},
                                         viewBox=pg.ViewBox(enableMenu=False))
        self.interp_plot.setObjectName("nnInterpolation")
        self.interp_plot.getPlotItem().setLabel("bottom", "t: (1 − t) θA + t θB")
        self.interp_plot.getPlotItem().setLogMode(y=True)
        self.interp_plot.getPlotItem().addLegend(offset=(-10, 8), labelTextColor=(230, 230, 230))
        self.interp_train = self.interp_plot.plot(pen=pg.mkPen("#33ccff", width=2), name="train")
        self.interp_test = self.interp_plot.plot(pen=pg.mkPen("#ff9933", width=2), name="test")
        self.interp_note = QtWidgets.QLabel(wordWrap=True)
        grid.addWidget(self.interp_plot, 2, 0, 1, 2)
        grid.addWidget(self.interp_note, 3, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(2, 2)
        return compare

    # -- settings ---------------------------------------------------------------------------------
    def _dataset_chosen(self, index: int) -> None:
        key = self.dataset_box.itemData(index)
        c = self.model
        if key == "csv":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load dataset", "", "CSV (*.csv *.txt)")
            if not path or not c.load_csv(path):
                self.dataset_box.setCurrentIndex(nn.DATASETS.index(c.settings.dataset)
                                                 if c.settings.dataset in nn.DATASETS else 0)
            return
        c.settings.dataset = key
        c.make_data()

    def _data_settings(self) -> None:
        c = self.model
        self.data_group.read(c.settings)
        if c.settings.dataset != "csv":
            c.make_data()

    def _network_settings(self, *_) -> None:
        s = self.model.settings
        self.network_group.read(s)
        m = nn.MLP(s.depth, s.width, s.activation, s.residual)
        if self.model.data is not None:
            m = m.fit_to(self.model.data)
        self.network_group.show_size(m.n_params)

    def read_training_settings(self) -> bool:
        """Every group's entries into the settings; False (with the reason shown) if one is invalid."""
        s = self.model.settings
        for g in self.groups:
            if not g.read(s):
                self.status.setText(getattr(g, "error", "") or "invalid setting")
                return False
        return True

    def attach(self, session_controller) -> None:
        """Keep the settings in the window's session (saved, autosaved, undoable) and follow it."""
        self.session_controller = session_controller
        session_controller.sessionReplaced.connect(lambda: self.load_settings(session_controller.session.network))
        self.load_settings(session_controller.session.network)

    def load_settings(self, data: dict | None) -> None:
        """Show settings from a session or a preset (None: keep the current ones)."""
        if data is None:
            return
        s = nn.NetworkSettings.from_dict(data)
        c = self.model
        if s.dataset == "csv" and c.custom_data is None:
            self.status.setText("This session used a CSV file, which sessions do not store: load it again "
                                "(Dataset → CSV file…); showing the moons until then.")
            s.dataset = "moons"
        for g in self.groups:
            g.show(s)
        c.settings = s
        c.make_data()
        self._network_settings()

    def start_training(self) -> None:
        if self.read_training_settings():
            if self.session_controller is not None:
                self.session_controller.set_network(self.model.settings.to_dict())
            self.train_curve.setData([], [])
            self.test_curve.setData([], [])
            self.model.train()

    # -- results ------------------------------------------------------------------------------------
    def _training_progress(self, epoch: int, epochs: int, losses) -> None:
        self.progress.setFormat("training %p%")
        self.progress.setValue(int(100 * epoch / max(epochs, 1)))
        self.status.setText(f"training: epoch {epoch}/{epochs}")
        if losses is not None:
            train, test = losses
            self.train_curve.setData(np.arange(1, len(train) + 1), train)
            if np.isfinite(test).any():
                self.test_curve.setData(np.arange(1, len(test) + 1), test)

    def _landscape_progress(self, done: int, total: int) -> None:
        self.progress.setFormat("landscape %p%")
        self.progress.setValue(int(100 * done / max(total, 1)))
        self.status.setText(f"landscape: {done}/{total} rows of the plane")

    def _busy(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def _show_result(self) -> None:
        r = self.model.result
        self.views_stack.setCurrentIndex(0 if r is None else 1)
        if r is not None:
            self.train_curve.setData(np.arange(len(r.run.losses)), r.run.losses)
            if len(r.run.test_losses):
                self.test_curve.setData(np.arange(len(r.run.test_losses)), r.run.test_losses)
            self.source.set_landscape(r.land, r.title, use_test=r.settings.use_test)
            self.preview.show_model(r)
            self.progress.setValue(100)
        self._show_compare()

    def _split_changed(self, index: int) -> None:
        r = self.model.result
        self.model.settings.use_test = index == 1
        if r is not None:
            r.settings.use_test = index == 1
            self.source.set_landscape(r.land, r.title, use_test=index == 1)
            self.model.refresh_compare()

    def _view_options(self, colormap=None, zscale=None) -> None:
        self.source.set_view_options(colormap=colormap, zscale=zscale)
        self._show_compare()

    def _show_compare(self) -> None:
        comp = self.model.comparison
        cmap = self.source.session.colormap
        for slot in "AB":
            r = self.model.pinned[slot]
            self.thumbs[slot].show_result(r, comp.levels, cmap)
            self.compare_labels[slot].setText(f"<b>{slot}</b>: " + (r.summary() if r else "pin a trained run"))
        path = comp.path
        self.interp_plot.setVisible(path is not None)
        if path is not None:
            self.interp_train.setData(path.alphas, path.losses)
            self.interp_test.setData(path.alphas, path.test_losses if path.test_losses is not None else [])
        else:
            self.interp_train.setData([], [])
            self.interp_test.setData([], [])
        self.interp_note.setText(comp.note)

    def export_dialog(self) -> None:
        from landscape_gui.ui.export.figures import FigureOptions

        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export landscape", "landscape.png",
            "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf);;GIF animation of the path (*.gif);;"
            "Path as CSV (*.csv);;Plane as NumPy grid (*.npz)")
        if path:
            vector = path.lower().endswith((".svg", ".pdf"))
            self.export_to(path, FigureOptions(view="2d" if vector else "both"))

    def export_to(self, path, opts) -> None:
        from landscape_gui.ui.export.figures import ExportError, export

        try:
            export(self.source, path, opts)
        except (ExportError, OSError) as exc:
            self.status.setText(f"export failed: {exc}")
            return
        self.status.setText(f"exported {path}")

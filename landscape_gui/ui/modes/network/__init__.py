"""The network mode: its panel, control groups and geometry tabs (its model is
``ui.state.network_model``)."""

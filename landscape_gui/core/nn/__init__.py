"""Neural-network landscapes: train a small network with the optimizer engine and look at its
real loss surface (no Qt here).

>>> data = make_dataset("moons", n=1000, noise=0.1, seed=0)
>>> run = train(MLP(depth=2, width=32), data, "Adam", {"lr": 0.01}, epochs=50, batch_size=64)
>>> land = landscape(run.model, run.train_data, run.params, directions="pca", trajectory=run.trajectory)
>>> sharpness(run.model, run.train_data, run.params)
"""

from .datasets import DATASETS, Dataset, DatasetError, load_csv, make_dataset
from .connectivity import Curve, TransferPlane, connect, transfer_plane
from .curvature import HessianOperator, Spectrum, hessian_spectrum, hessian_vector_product, loss_and_gradient
from .landscape import (DIRECTIONS, DaskExecutor, Interpolation, Landscape, LocalExecutor, filter_normalized_direction,
                        interpolate, landscape, pca_directions, roughness, sam_sharpness, sharpness)
from .model import MLP
from .settings import NetworkSettings
from .sweep import Sweep, batch_size_sweep
from .training import Cancelled, Regions, TrainingRun, decision_regions, evaluate, train

__all__ = ["DATASETS", "Dataset", "DatasetError", "load_csv", "make_dataset", "MLP", "train", "TrainingRun",
           "evaluate", "Cancelled", "landscape", "Landscape", "DIRECTIONS", "interpolate", "Interpolation",
           "sharpness", "sam_sharpness", "hessian_vector_product", "roughness", "filter_normalized_direction",
           "pca_directions", "LocalExecutor", "DaskExecutor", "NetworkSettings", "loss_and_gradient",
           "hessian_spectrum", "Spectrum", "HessianOperator", "connect", "Curve", "batch_size_sweep", "Sweep",
           "decision_regions", "Regions", "TransferPlane", "transfer_plane"]

"""Trajectories and grids as files: CSV, JSON and .npz. No Qt; the window and the CLI share it."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from ..optimizers import Batch

CSV_COLUMNS = ["optimizer", "start", "step", "x", "y", "loss", "lr", "hyperparameters"]


def trajectory_rows(batch: Batch, labels: list[str]):
    """(optimizer label, start index, step, x, y, loss, lr, hyperparameters as JSON) per point kept.

    ``lr`` is the rate of the step taken from that point (its schedule's, or the plateau rule's
    from the losses), None at the last point.
    """
    for c, (name, hyper) in enumerate(batch.configs):
        hyper_json = json.dumps(_plain(hyper), sort_keys=True)
        for s in range(batch.points.shape[1]):
            t = batch.trajectory(c, s)
            lrs = _rates(t)
            for k, ((x, y), loss) in enumerate(zip(t.points, t.losses)):
                lr = float(lrs[k]) if k < len(lrs) else None
                yield labels[c], s, k, float(x), float(y), float(loss), lr, hyper_json


def _rates(t) -> np.ndarray:
    try:
        return t.lrs
    except ValueError:   # a typed rule without an 'lr'
        return np.zeros(0)


def trajectories_csv(batch: Batch, labels: list[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in trajectory_rows(batch, labels):
        w.writerow([row[0], row[1], row[2], repr(row[3]), repr(row[4]), repr(row[5]),
                    "" if row[6] is None else repr(row[6]), row[7]])
    return out.getvalue()


def trajectories_json(batch: Batch, labels: list[str], session_dict: dict | None = None) -> str:
    runs = []
    for c, (name, hyper) in enumerate(batch.configs):
        for s in range(batch.points.shape[1]):
            t = batch.trajectory(c, s)
            runs.append({"optimizer": name, "label": labels[c], "hyperparameters": _plain(hyper),
                         "start": [float(v) for v in batch.starts[s]], "start_index": s,
                         "diverged_at": t.diverged_at, "points": t.points.tolist(),
                         "lr": [float(v) for v in _rates(t)],
                         "losses": [float(v) if np.isfinite(v) else None for v in t.losses]})
    return json.dumps({"session": session_dict, "trajectories": runs}, indent=1)


def read_trajectories_csv(text: str) -> list[dict]:
    """Parse what ``trajectories_csv`` wrote (tests, and people checking a file)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for r in rows:
        r["start"], r["step"] = int(r["start"]), int(r["step"])
        r["x"], r["y"], r["loss"] = float(r["x"]), float(r["y"]), float(r["loss"])
        if "lr" in r:
            r["lr"] = float(r["lr"]) if r["lr"] else None
        r["hyperparameters"] = json.loads(r["hyperparameters"])
    return rows


def grid_npz(fh, xs: np.ndarray, ys: np.ndarray, grid: np.ndarray, formula: str, params: dict) -> None:
    np.savez_compressed(fh, x=xs, y=ys, f=grid, formula=np.array(formula),
                        params=np.array(json.dumps(params)))


def _plain(hyper: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()}

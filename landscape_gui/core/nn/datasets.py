"""Small datasets generated from a seed (the classic 2-D toy problems and a 1-D regression),
and a user's CSV, validated with messages that say which line is wrong."""

from __future__ import annotations

import csv
import re
import stat
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATASETS = ("moons", "circles", "spirals", "xor", "checkerboard", "regression")
MAX_ROWS = 1_000_000


class DatasetError(ValueError):
    """A dataset that cannot be used, with the reason (file, line, column)."""


@dataclass
class Dataset:
    X: np.ndarray                  # (n, features)
    y: np.ndarray                  # (n,) int labels 0..k-1, or (n,) / (n, k) float targets
    task: str                      # "classification" | "regression"
    name: str = "data"
    classes: list = field(default_factory=list)   # original label values (CSV), in label order

    def __post_init__(self):
        self.X = np.ascontiguousarray(np.asarray(self.X, dtype=np.float64))
        if self.X.ndim == 1:
            self.X = self.X[:, None]
        if self.task == "classification":
            self.y = np.ascontiguousarray(np.asarray(self.y, dtype=np.int64))
        else:
            self.y = np.ascontiguousarray(np.asarray(self.y, dtype=np.float64))
        if len(self.X) != len(self.y):
            raise DatasetError(f"{len(self.X)} feature rows but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1 if self.task == "classification" and len(self.y) else 0

    @property
    def n_targets(self) -> int:
        return 1 if self.y.ndim == 1 else self.y.shape[1]

    def kernel_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """(integer labels, float targets (n, k)) as the kernels take them; the unused one is zeros."""
        n = len(self)
        if self.task == "classification":
            return self.y, np.zeros((n, 1))
        yf = self.y[:, None] if self.y.ndim == 1 else self.y
        return np.zeros(n, dtype=np.int64), np.ascontiguousarray(yf)

    def subset(self, idx, name=None) -> "Dataset":
        return Dataset(self.X[idx], self.y[idx], self.task, name or self.name, list(self.classes))

    def split(self, test: float = 0.2, seed: int = 0) -> tuple["Dataset", "Dataset"]:
        """(train, test): a seeded random split, ``test`` the held-out share."""
        if not 0.0 < test < 1.0:
            raise DatasetError(f"test share must be between 0 and 1, got {test!r}")
        n = len(self)
        k = int(round(n * test))
        if k < 1 or n - k < 1:
            raise DatasetError(f"{n} samples are too few for a {test:.0%} test split")
        perm = np.random.default_rng(seed).permutation(n)
        return self.subset(perm[k:], self.name + " (train)"), self.subset(perm[:k], self.name + " (test)")


def make_dataset(name: str, n: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    """``name`` in DATASETS; ``noise`` is a Gaussian jitter (regression: of the targets)."""
    key = name.strip().lower()
    if key not in DATASETS:
        import difflib

        hint = difflib.get_close_matches(key, DATASETS, n=1)
        raise DatasetError(f"unknown dataset '{name}'" + (f" — did you mean '{hint[0]}'?" if hint else "")
                           + f" (choose from {', '.join(DATASETS)})")
    n = int(n)
    if not 4 <= n <= MAX_ROWS:
        raise DatasetError(f"n must be between 4 and {MAX_ROWS}, got {n}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise DatasetError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    if key == "regression":
        x = rng.uniform(-3, 3, n)
        y = np.sin(1.5 * x) + 0.3 * x + noise * rng.standard_normal(n)
        return Dataset(x[:, None], y, "regression", key)
    half = n // 2
    if key == "moons":  # the two interleaving half circles (as sklearn.datasets.make_moons)
        t1, t2 = np.linspace(0, np.pi, n - half), np.linspace(0, np.pi, half)
        X = np.r_[np.c_[np.cos(t1), np.sin(t1)], np.c_[1 - np.cos(t2), 0.5 - np.sin(t2)]]
        y = np.r_[np.zeros(n - half), np.ones(half)]
    elif key == "circles":
        t1, t2 = (np.linspace(0, 2 * np.pi, m, endpoint=False) for m in (n - half, half))
        X = np.r_[np.c_[np.cos(t1), np.sin(t1)], 0.5 * np.c_[np.cos(t2), np.sin(t2)]]
        y = np.r_[np.zeros(n - half), np.ones(half)]
    elif key == "spirals":
        t = np.sqrt(rng.uniform(0, 1, n - half)) * 3 * np.pi
        s = np.sqrt(rng.uniform(0, 1, half)) * 3 * np.pi
        a = np.c_[t * np.cos(t), t * np.sin(t)] / (3 * np.pi)
        b = -np.c_[s * np.cos(s), s * np.sin(s)] / (3 * np.pi)
        X = np.r_[a, b]
        y = np.r_[np.zeros(n - half), np.ones(half)]
    else:  # xor (2 x 2 cells) or checkerboard (4 x 4)
        cells = 2 if key == "xor" else 4
        X = rng.uniform(-1, 1, (n, 2))
        ix = np.floor((X + 1) / 2 * cells).astype(int)
        y = ((ix[:, 0] + ix[:, 1]) % 2).astype(float)
    X = X + noise * rng.standard_normal(X.shape)
    perm = rng.permutation(n)
    return Dataset(X[perm], y[perm].astype(np.int64), "classification", key)


def load_csv(path, label_column: int | str = -1, task: str | None = None) -> Dataset:
    """A dataset from CSV: numeric feature columns and one label column (by index or header name).

    The separator (comma, semicolon or tab) is taken from the first line; a header row
    is detected (a non-numeric first row, or column numbers 0..n-1 / 1..n). ``task`` is
    inferred: integer labels with at most 20 distinct values mean classification. The
    file is checked (regular, size) before it is read and streamed row by row, so a huge
    file is refused at the row cap, not after parsing all of it. Every problem is a
    DatasetError naming the line and column.
    """
    p = Path(path)
    if isinstance(label_column, bool) or not isinstance(label_column, (int, str)):
        raise DatasetError(f"label_column must be a column index (int) or a header name (str), "
                           f"got {label_column!r}")
    try:
        info = p.stat()
    except OSError as exc:
        raise DatasetError(f"cannot read {p.name}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DatasetError(f"{p.name}: not a regular file")
    if info.st_size > MAX_CSV_BYTES:
        raise DatasetError(f"{p.name}: {info.st_size / 1e6:.0f} MB; at most {MAX_CSV_BYTES / 1e6:.0f} MB "
                           "of CSV are supported")
    try:
        with open(p, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline(65536)
            delimiter = max((",", ";", "\t"), key=first.count) if first.strip() else ","
            fh.seek(0)
            rows = []
            for r in csv.reader(fh, delimiter=delimiter):
                if r and any(c.strip() for c in r):
                    rows.append(r)
                    if len(rows) > MAX_ROWS + 1:
                        raise DatasetError(f"{p.name}: more than {MAX_ROWS:,} rows; at most {MAX_ROWS:,} "
                                           "are supported")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {p.name}: {exc}") from None
    except csv.Error as exc:
        raise DatasetError(f"{p.name}: not a CSV file ({exc})") from None
    if not rows:
        raise DatasetError(f"{p.name} is empty")
    header = None
    if not all(_is_number(c) for c in rows[0]) or _is_index_header(rows):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if len(rows) < 4:
        raise DatasetError(f"{p.name}: {len(rows)} data rows; at least 4 are needed")
    if len(rows) > MAX_ROWS:
        raise DatasetError(f"{p.name}: {len(rows)} rows; at most {MAX_ROWS} are supported")
    width = len(rows[0])
    if width < 2:
        raise DatasetError(f"{p.name}: need at least two columns (features and a label), found {width} "
                           "(columns may be separated by commas, semicolons or tabs)")
    first_line = 2 if header else 1
    values = np.empty((len(rows), width))
    for r, row in enumerate(rows):
        if len(row) != width:
            raise DatasetError(f"{p.name} line {r + first_line}: {len(row)} columns, expected {width}")
        for k, cell in enumerate(row):
            if not _is_number(cell):
                raise DatasetError(f"{p.name} line {r + first_line}, column {k + 1}: "
                                   f"'{cell.strip()[:30]}' is not a number")
            v = float(cell)
            if not math.isfinite(v):
                raise DatasetError(f"{p.name} line {r + first_line}, column {k + 1}: {cell.strip()} is not finite")
            values[r, k] = v
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            raise DatasetError(f"{p.name}: no column named '{label_column}'"
                               + (f" (columns: {', '.join(header)})" if header else " (the file has no header)"))
        label_column = header.index(label_column)
    if not -width <= label_column < width:
        raise DatasetError(f"{p.name}: label column {label_column} does not exist ({width} columns)")
    lc = label_column % width
    X = np.delete(values, lc, axis=1)
    labels = values[:, lc]
    distinct = np.unique(labels)
    if task is None:
        task = ("classification" if np.all(labels == np.round(labels)) and 2 <= len(distinct) <= 20
                else "regression")
    if task == "classification":
        if len(distinct) < 2:
            raise DatasetError(f"{p.name}: the label column has a single value; nothing to classify")
        if len(distinct) > 100:
            raise DatasetError(f"{p.name}: {len(distinct)} distinct labels; use task='regression'")
        y = np.searchsorted(distinct, labels)
        return Dataset(X, y, "classification", p.stem, [float(v) for v in distinct])
    if task != "regression":
        raise DatasetError(f"task must be 'classification' or 'regression', got {task!r}")
    return Dataset(X, labels, "regression", p.stem)


#: a plain decimal number in ASCII: no "1_000", no Arabic-Indic or full-width digits,
#: which Python's float() accepts but no spreadsheet writes
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z|\s*[+-]?(inf|nan|infinity)\s*\Z",
                     re.IGNORECASE | re.ASCII)
MAX_CSV_BYTES = 512_000_000


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.match(cell))


def _is_index_header(rows) -> bool:
    """A first row of column numbers (0,1,2 or 1,2,3) above data that is not one."""
    first = [c.strip() for c in rows[0]]
    n = len(first)
    if n < 2 or len(rows) < 2:
        return False
    as_index = [str(k) for k in range(n)], [str(k + 1) for k in range(n)]
    return first in as_index and [c.strip() for c in rows[1]] not in as_index

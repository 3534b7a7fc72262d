"""Preprocessing: feature scaling fitted on training data, and seeded stratified splits."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

SCALINGS = ("none", "255", "standard", "minmax")


class Scaler:
    """Feature scaling: ``"255"`` (÷255, for 8-bit images), ``"standard"`` (zero mean, unit
    variance per feature), ``"minmax"`` (each feature to [0, 1]), or ``"none"``.

    Parameters are fitted on the training data and stored with a model, so that
    ``synapsenet predict`` scales new inputs exactly as training did.
    """

    def __init__(self, kind="none", offset=None, scale=None):
        if kind not in SCALINGS:
            raise ConfigError(f"unknown scaling {kind!r}; valid scalings are: "
                              f"{', '.join(SCALINGS)}")
        self.kind = kind
        self.offset = None if offset is None else np.asarray(offset, np.float64)
        self.scale = None if scale is None else np.asarray(scale, np.float64)

    def fit(self, X):
        X = np.asarray(X)  # statistics without a float64 copy of the data
        n = X.shape[1]
        if self.kind == "standard":
            s1, s2 = np.zeros(n), np.zeros(n)
            for i in range(0, len(X), 4096):  # in chunks: memory stays one chunk
                c = X[i:i + 4096].astype(np.float64)
                s1 += c.sum(axis=0)
                s2 += (c * c).sum(axis=0)
            self.offset = s1 / len(X)
            s = np.sqrt(np.maximum(s2 / len(X) - self.offset ** 2, 0.0))
        elif self.kind == "minmax":
            lo = X.min(axis=0).astype(np.float64)
            self.offset, s = lo, X.max(axis=0).astype(np.float64) - lo
        elif self.kind == "255":
            self.offset, s = np.zeros(n), np.full(n, 255.0)
        else:
            self.offset, s = np.zeros(n), np.ones(n)
        self.scale = np.where(s > 0, s, 1.0)  # constant features stay put
        return self

    def transform(self, X, dtype=np.float32):
        if self.offset is None:
            raise ConfigError("Scaler.transform called before fit")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.offset):
            raise ConfigError(f"the scaler was fitted on {len(self.offset)} features, got "
                              f"data of shape {X.shape}")
        out = X.astype(dtype)  # one copy, in the target dtype: no float64 intermediate
        if self.kind != "none":
            out -= self.offset.astype(dtype)
            out *= (1.0 / self.scale).astype(dtype)
        return out

    def fit_transform(self, X, dtype=np.float32):
        return self.fit(X).transform(X, dtype)

    def to_dict(self):
        return {"kind": self.kind, "offset": None if self.offset is None else self.offset.tolist(),
                "scale": None if self.scale is None else self.scale.tolist()}

    @classmethod
    def from_dict(cls, d):
        return cls(d["kind"], d.get("offset"), d.get("scale"))


def split(X, y, fraction: float, seed=0, stratify=True):
    """Split off ``fraction`` of the samples (stratified by label, seeded):
    returns X_keep, X_part, y_keep, y_part.

    The part set aside has ⌈fraction·N⌉ samples. Both parts must have samples, and when every
    class has at least two samples the split is stratified, so both parts must be able to hold
    one sample of each class; a set too small for that is refused, naming the numbers.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"split fraction must be between 0 and 1, got {fraction!r}")
    y = np.asarray(y)
    n = len(y)
    n_part = int(np.ceil(fraction * n))
    n_keep = n - n_part
    if n_part < 1 or n_keep < 1:
        raise DataError(f"{n} sample{'s' * (n != 1)} cannot be split {1 - fraction:g} : "
                        f"{fraction:g}: it leaves {n_keep} to keep and {n_part} to set aside")
    counts = np.bincount(y)
    counts = counts[counts > 0]
    strat = stratify and counts.min() >= 2
    if strat and min(n_part, n_keep) < len(counts):
        raise DataError(f"{n} samples of {len(counts)} classes cannot be split {1 - fraction:g} : "
                        f"{fraction:g} with every class on both sides: {n_keep} kept and "
                        f"{n_part} set aside, and each part needs at least {len(counts)}; use "
                        "more data or a fraction nearer 0.5")
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=fraction, random_state=seed,
                            stratify=y if strat else None)

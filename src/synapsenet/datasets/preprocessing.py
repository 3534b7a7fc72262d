"""Preprocessing: feature scaling fitted on training data (and stored with a model), and
seeded stratified splits."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

# Fixed full scales of pixel formats: the value that becomes 1.
FULL_SCALE = {"16": 16.0, "255": 255.0}
SCALINGS = ("none", "16", "255", "standard", "minmax")


class Scaler:
    """Feature scaling: ``"255"`` (÷255, for 8-bit images), ``"16"`` (÷16, for scikit-learn's
    4-bit digits), ``"standard"`` (zero mean, unit variance per feature), ``"minmax"`` (each
    feature to [0, 1]), or ``"none"``.

    Parameters are fitted on the training data and stored with a model (:meth:`to_dict`),
    together with the range of the raw training inputs, so that ``synapsenet predict`` scales
    new inputs exactly as training did and :meth:`range_warning` can tell when new inputs
    are far from what the network saw (e.g. pixels scaled twice, or not at all).
    """

    def __init__(self, kind="none", offset=None, scale=None, input_range=None):
        if kind not in SCALINGS:
            raise ConfigError(f"unknown scaling {kind!r}; valid scalings are: "
                              f"{', '.join(SCALINGS)}")
        self.kind = kind
        self.offset = None if offset is None else np.asarray(offset, np.float64)
        self.scale = None if scale is None else np.asarray(scale, np.float64)
        self.input_range = None if input_range is None else tuple(map(float, input_range))

    def fit(self, X):
        X = np.asarray(X)  # statistics without a float64 copy of the data
        n = X.shape[1]
        self.input_range = (float(X.min()), float(X.max())) if X.size else None
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
        elif self.kind in FULL_SCALE:
            full = FULL_SCALE[self.kind]
            lo, hi = self.input_range or (0.0, 0.0)
            if lo < 0 or hi > full:
                raise DataError(f"the '{self.kind}' scaling is for values 0…{full:g} (pixels of "
                                f"that full scale); the training data span {lo:g}…{hi:g}: choose "
                                f"a scaling that suits them ({', '.join(SCALINGS)})")
            self.offset, s = np.zeros(n), np.full(n, full)
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

    def range_warning(self, X, what="the inputs") -> str | None:
        """A sentence if raw inputs ``X`` are far from the raw training inputs, else None.

        Far means reaching beyond the training range by more than its width (0–255 pixels
        given to a model trained on 0–16 ones), or, for two samples or more, lying wholly in
        the bottom tenth of it (inputs already scaled to 0–1 given to a model that scales
        0–255 pixels itself).
        """
        if self.input_range is None:
            return None
        X = np.asarray(X)
        if X.size == 0 or X.dtype.kind not in "biuf":
            return None
        lo, hi = self.input_range
        a, b = float(X.min()), float(X.max())
        width = hi - lo
        far = (a < lo - width or b > hi + width
               or (width > 0 and X.ndim == 2 and len(X) > 1 and b < lo + width / 10))
        if not far:
            return None
        return (f"{what} span {a:g}…{b:g} but the model was trained on raw inputs in "
                f"{lo:g}…{hi:g} (then scaled '{self.kind}' by the model itself); give inputs in "
                "the units of the training data, unscaled, or expect wrong answers")

    def to_dict(self):
        return {"kind": self.kind, "offset": None if self.offset is None else self.offset.tolist(),
                "scale": None if self.scale is None else self.scale.tolist(),
                "input_range": None if self.input_range is None else list(self.input_range)}

    @classmethod
    def from_dict(cls, d):
        """The scaler stored with a model; its fields are checked (a damaged file)."""
        if not isinstance(d, dict) or "kind" not in d:
            raise DataError(f"stored preprocessing must be a table with a 'kind', got {d!r}")
        out = cls(d["kind"], d.get("offset"), d.get("scale"), d.get("input_range"))
        if (out.offset is None) != (out.scale is None) or (
                out.offset is not None and (out.offset.shape != out.scale.shape
                                            or out.offset.ndim != 1
                                            or not np.isfinite(out.offset).all()
                                            or not (out.scale > 0).all())):
            raise DataError("stored preprocessing is damaged: offset and scale must be lists of "
                            "the same length, finite, with every scale > 0")
        return out


def model_scaler(metadata: dict, n_features: int) -> Scaler:
    """The scaler a model's raw inputs go through, from its stored metadata.

    Models saved before scalings were explicit, trained on ``digits`` with scaling ``"none"``,
    saw pixels already divided by 16 by the loader, which now returns them as stored (0–16):
    they get the ``"16"`` scaling they had in effect. A model without stored preprocessing
    takes its inputs as they are.
    """
    pre = (metadata or {}).get("preprocessing")
    if not pre:
        return Scaler("none").fit(np.zeros((1, n_features)))
    scaler = Scaler.from_dict(pre)
    if (metadata.get("dataset") == "digits" and scaler.kind == "none"
            and "input_range" not in pre):
        scaler = Scaler("16").fit(np.zeros((1, n_features)))
        scaler.input_range = (0.0, 16.0)
    return scaler


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

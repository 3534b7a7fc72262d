"""Data augmentation for images stored as flat rows: new, slightly moved copies every epoch."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


class RandomShift:
    """Shift each image by a random whole number of pixels, up to ``max_shift`` in x and y,
    filling the uncovered border with ``fill`` (the background). Works on a batch of flat
    rows of ``height × width`` pixels; vectorised, no Python loop per image."""

    def __init__(self, height=28, width=28, max_shift=2, fill=0.0):
        if max_shift < 0 or height < 1 or width < 1:
            raise ConfigError("RandomShift needs positive image sizes and max_shift ≥ 0")
        self.h, self.w, self.s, self.fill = int(height), int(width), int(max_shift), fill
        self._pad = None

    def __call__(self, X, rng):
        n = len(X)
        if X.shape[1] != self.h * self.w:
            raise ConfigError(f"RandomShift expects {self.h}×{self.w} = {self.h * self.w} "
                              f"features per row, got {X.shape[1]}")
        s = self.s
        if s == 0:
            return X
        if self._pad is None or self._pad.shape[0] < n or self._pad.dtype != X.dtype:
            self._pad = np.full((n, self.h + 2 * s, self.w + 2 * s), self.fill, X.dtype)
        pad = self._pad[:n]
        pad[:, s:s + self.h, s:s + self.w] = X.reshape(n, self.h, self.w)
        dy = rng.integers(0, 2 * s + 1, n)
        dx = rng.integers(0, 2 * s + 1, n)
        rows = dy[:, None] + np.arange(self.h)  # (n, h)
        cols = dx[:, None] + np.arange(self.w)  # (n, w)
        out = pad[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
        X[...] = out.reshape(n, -1)
        return X

    def __repr__(self):
        return f"RandomShift(max_shift={self.s})"


AUGMENTATIONS = {"shift": RandomShift}


def get_augmentation(name, n_features):
    if name in (None, "", "none"):
        return None
    if name not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {name!r}; valid: none, {', '.join(AUGMENTATIONS)}")
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise ConfigError(f"augmentation {name!r} needs square images; the data has "
                          f"{n_features} features per row")
    return AUGMENTATIONS[name](side, side)

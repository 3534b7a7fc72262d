"""Figures for a training run: learning curves, confusion matrix, decision boundary.

Every figure is rendered to memory and written atomically, so a run folder never holds half a
PNG. matplotlib is imported here only, with the non-interactive Agg backend.
"""

from __future__ import annotations

import io

import numpy as np

from .files import atomic_write_bytes


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_history(history, path, title=""):
    """Loss (left) and accuracy (right) per epoch, training and validation."""
    plt = _plt()
    has_acc = any(a is not None for a in history.accuracy)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(10 if has_acc else 5.5, 4))
    axes = np.atleast_1d(axes)
    ep = history.epoch
    axes[0].plot(ep, history.loss, label="training")
    if any(v is not None for v in history.val_loss):
        axes[0].plot(ep, history.val_loss, label="validation")
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[0].set_yscale("log")
    if has_acc:
        axes[1].plot(ep, [100 * a for a in history.accuracy], label="training")
        if any(v is not None for v in history.val_accuracy):
            axes[1].plot(ep, [100 * (a or 0) for a in history.val_accuracy], label="validation")
        axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)


def confusion_matrix(y_true, y_pred, n_classes) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def plot_confusion(cm, class_names, path, title="confusion matrix (test set)"):
    plt = _plt()
    k = len(cm)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax.imshow(cm, cmap="Blues")
    names = [str(c) for c in class_names] if len(class_names) == k else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    top = cm.max() or 1
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > top / 2 else "black")
    _save(fig, path)


def plot_decision_boundary(predict_classes, X, y, path, title="decision boundary"):
    """Colour the plane by the network's class; ``X`` in the original (unscaled) units and
    ``predict_classes`` a function of such points."""
    plt = _plt()
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    c = predict_classes(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(gx, gy, c, alpha=0.3, cmap="tab10", vmin=0, vmax=9,
                levels=np.arange(-0.5, max(int(c.max()), int(y.max())) + 1))
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=14, edgecolors="k",
               linewidths=0.3)
    ax.set(xlabel="x₁", ylabel="x₂", title=title)
    _save(fig, path)


def plot_grid(points, parameters, path, metric="accuracy", reference=None, title=""):
    """A study's figure from its ``points`` (per point of the grid: the parameters' values and
    the metric's mean and std over seeds): for one parameter, the mean ± std against it (its
    values as categories if any is not a number), with a reference line; for two or more, a
    heat map of the mean over the first two, averaged over the others."""
    plt = _plt()
    label = metric.replace("_", " ")
    points = [q for q in points if q["mean"] is not None]  # (a metric a set has not)
    if len(parameters) == 1:
        p = parameters[0]
        xs = [q[p] for q in points]
        categories = not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        if categories:  # presets, activations: points side by side, no line between them
            xs = [str(x) for x in xs]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.errorbar(xs, [100 * q["mean"] for q in points], yerr=[100 * q["std"] for q in points],
                    marker="o", capsize=3, ls="none" if categories else "-",
                    label="simulated hardware" if reference is not None else label)
        if reference is not None:
            ax.axhline(100 * reference, color="k", ls="--", lw=1, label="digital")
        ax.set(xlabel=p, ylabel=f"{label} (%)", title=title or f"{label} vs {p}")
        ax.grid(alpha=0.3)
        ax.legend()
        _save(fig, path)
        return
    a, b = parameters[:2]
    rows = list(dict.fromkeys(q[a] for q in points))
    cols = list(dict.fromkeys(q[b] for q in points))
    grid = np.full((len(rows), len(cols)), np.nan)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            m = [q["mean"] for q in points if q[a] == r and q[b] == c and q["mean"] is not None]
            grid[i, j] = 100 * np.mean(m) if m else np.nan
    fig, ax = plt.subplots(figsize=(1.6 + 0.75 * len(cols), 1.2 + 0.5 * len(rows)))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{c:g}" if isinstance(c, float) else str(c) for c in cols],
                  rotation=45 if len(cols) > 6 else 0)
    ax.set_yticks(range(len(rows)), [f"{r:g}" if isinstance(r, float) else str(r) for r in rows])
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < np.nanmean(grid) else "black")
    rest = parameters[2:]
    ax.set(xlabel=b, ylabel=a, title=(title or f"{label} over {a} × {b}") +
           (f"\n(mean over {', '.join(rest)})" if rest else ""))
    fig.colorbar(im, ax=ax, label=f"{label} (%)")
    _save(fig, path)


def plot_pulse_response(laws, path, title="device pulse response"):
    """The figure hardware papers show for synaptic devices: each law's nominal state against
    the pulse number (LTP from w_min, then LTD; left) and its step size against the state
    (right), normalised to each device's range."""
    from .hardware.devices import pulse_response_curves

    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for law in laws:
        c = pulse_response_curves(law)
        span = law.w_max - law.w_min
        label = law.name or type(law).__name__
        n_up = int(c["ltp"].sum()) - 1
        x = c["pulse"] / max(n_up, 1)
        line, = ax.plot(x, (c["w"] - law.w_min) / span, label=label)
        g = (c["w_grid"] - law.w_min) / span
        bx.plot(g, c["step_up"] / span, color=line.get_color(), label=f"{label} LTP")
        bx.plot(g, c["step_down"] / span, color=line.get_color(), ls="--", label=f"{label} LTD")
    ax.set(xlabel="pulse number / LTP pulses", ylabel="normalised state (w − w_min)/range",
           title="LTP then LTD")
    bx.set(xlabel="normalised state", ylabel="step per pulse / range", title="step size")
    bx.set_yscale("log")
    for a in (ax, bx):
        a.grid(alpha=0.3)
    ax.legend(fontsize=8)
    bx.legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_cost_breakdown(breakdown, path, title="energy per inference on the chip"):
    """A horizontal bar per cost term (J), largest first, its share of the total beside it."""
    plt = _plt()
    items = sorted(((k, v) for k, v in breakdown.items() if v > 0), key=lambda kv: kv[1])
    total = sum(v for _, v in items) or 1.0
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(items) + 1.2))
    names = [k for k, _ in items]
    values = [v * 1e9 for _, v in items]
    ax.barh(names, values, color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v * 1e9, i, f" {100 * v / total:.0f}%", va="center", fontsize=9)
    ax.set(xlabel="nJ per inference", title=title)
    ax.set_xlim(0, max(values, default=1) * 1.18)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


def plot_reproduction(records, path, title=""):
    """Test accuracy after each epoch, one line per configuration, its published accuracy
    dashed in the same colour (``records``: name → {"accuracy": [...], "published": a})."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for name, rec in records.items():
        acc = [100 * a for a in rec["accuracy"]]
        line, = ax.plot(range(1, len(acc) + 1), acc, lw=1.2, label=name)
        if rec.get("published") is not None:
            ax.axhline(100 * rec["published"], color=line.get_color(), ls="--", lw=0.8)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
           title=title or "accuracy per epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)

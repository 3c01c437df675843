"""One function per figure of the series, and :func:`save_figure`.

Each ``plot_*`` function takes arrays the notebooks computed and returns a
Matplotlib figure; nothing here trains or evaluates a model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write
from .idx_data import IMAGE_SIDE

ONE_D = "z (1-D)"  # the prefix of a 1-D code, drawn against a random vertical jitter


def project_2d(z: np.ndarray) -> tuple[np.ndarray, str]:
    """``z`` itself when 2-D, else its projection on the first two principal
    components; a 1-D code against a random vertical jitter (prefix ``ONE_D``),
    so that its points do not hide each other. Returns the points and an
    axis-label prefix."""
    if z.shape[1] == 2:
        return z, "z"
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.random.default_rng(0).uniform(-1, 1, len(z))]), ONE_D
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PC"


def figure_png(fig: Any, **kwargs: Any) -> bytes:
    """A Matplotlib figure as PNG bytes (no timestamp, so reproducible)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None}, **kwargs)
    return buffer.getvalue()



# Ten colours for ten classes, chosen to stay apart for the common colour-vision
# deficiencies: Okabe & Ito's palette (its yellow, too pale on white, replaced by
# Tol's wine) plus grey and brown. Colour alone still cannot carry ten classes for
# every reader, so every class is also named directly on the plot (label_classes).
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#882255", "#000000",
                 "#999999", "#8C510A")


def class_colour(k: int) -> str:
    """The colour of class ``k`` in every scatter of the series."""
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def _separate_boxes(centres: np.ndarray, sizes: np.ndarray, gap: float,
                    bounds: tuple[float, float, float, float] | None = None,
                    iterations: int = 1000) -> np.ndarray:
    """New centres for axis-aligned boxes so that no two are closer than
    ``gap`` (centres and sizes ``(n, 2)``, display units). Overlapping pairs
    are pushed apart along the line through their centres, a step at a time
    (each box a quarter of what still separates the pair), so the boxes keep
    their places relative to each other; boxes whose centres coincide part along directions fixed by their
    indices alone (the i-th of n on a circle), which spreads them in a ring.
    With ``bounds`` ``(x0, y0, x1, y1)`` every box is kept inside (as far as
    it fits). Deterministic: no randomness, the same input gives the same
    output."""
    p = np.array(centres, dtype=float).reshape(-1, 2)
    n = len(p)
    half = np.asarray(sizes, dtype=float).reshape(-1, 2) / 2
    if n < 2:
        return p
    i, j = np.triu_indices(n, 1)
    need = half[i] + half[j] + gap  # centre distance along x, y beyond which a pair does not overlap
    angle = 2 * np.pi * np.arange(n) / n
    tie = 1e-3 * np.column_stack([np.cos(angle), np.sin(angle)])  # breaks exact ties only
    low = high = None
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        low = np.minimum(np.array([x0, y0]) + half, (np.array([x0, y0]) + np.array([x1, y1])) / 2)
        high = np.maximum(np.array([x1, y1]) - half, low)
        p = np.clip(p, low, high)
    for _ in range(iterations):
        d = p[j] - p[i]
        overlap = np.all(np.abs(d) < need, axis=1)
        if not overlap.any():
            break
        d = d[overlap] + (tie[j] - tie[i])[overlap]
        dist = np.hypot(d[:, 0], d[:, 1])
        u = d / dist[:, None]
        with np.errstate(divide="ignore"):
            reach = np.min(need[overlap] / np.abs(u), axis=1)  # the distance along u that separates them
        push = 0.5 * (reach - dist + 1e-6)[:, None] * u
        step = np.zeros_like(p)
        np.add.at(step, i[overlap], -push)
        np.add.at(step, j[overlap], push)
        p += 0.5 * step  # under-relaxed: a box pushed from several sides at once does not overshoot far
        if low is not None:
            p = np.clip(p, low, high)
    return p


def _overlapping_groups(centres: np.ndarray, sizes: np.ndarray, gap: float) -> list[list[int]]:
    """The connected groups of boxes that overlap (closer than ``gap``),
    directly or through others; each group in index order, the groups in the
    order of their first index."""
    n = len(centres)
    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    for a in range(n):
        for b in range(a + 1, n):
            if np.all(np.abs(centres[b] - centres[a]) < (sizes[a] + sizes[b]) / 2 + gap):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for a in range(n):
        groups.setdefault(root(a), []).append(a)
    return list(groups.values())


def _place_boxes(centres: np.ndarray, sizes: np.ndarray, gap: float,
                 bounds: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Centres for labels (boxes of ``sizes`` at ``centres``, ``(n, 2)``,
    display units) that keep every two at least ``gap`` apart. A pile of
    three or more overlapping labels whose centres all lie within a label's
    diagonal of their mean (their classes' centres nearly coincide) is first
    spread on a ring around the pile, each label on the side where
    its centre lies, far enough out that the leader lines run inwards between
    the labels, not across them; then any overlap left is pushed apart
    (:func:`_separate_boxes`, inside ``bounds``). Deterministic."""
    anchors = np.array(centres, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    start = anchors.copy()
    for group in _overlapping_groups(anchors, sizes, gap):
        m = len(group)
        pile = anchors[group]
        middle = pile.mean(axis=0)
        offsets = pile - middle
        spread = float(np.max(np.hypot(offsets[:, 0], offsets[:, 1])))
        diagonal = float(np.max(np.hypot(sizes[group, 0], sizes[group, 1])))
        if m < 3 or spread > diagonal:  # not a pile: a few neighbours, or a chain of them, only nudged apart
            continue
        # Neighbours on the ring a typical label's diagonal (plus the gap) apart, every label outside all
        # the centres; the push that follows spreads longer names further.
        typical = float(np.median(np.hypot(sizes[group, 0], sizes[group, 1])))
        radius = max((typical + gap) / (2 * np.sin(np.pi / m)), spread + typical / 2 + gap)
        angles = np.arctan2(offsets[:, 1], offsets[:, 0])
        order = np.argsort(angles, kind="stable")
        slots = 2 * np.pi * np.arange(m) / m
        turn = np.angle(np.mean(np.exp(1j * (angles[order] - slots))))  # the slots turned to face the centres
        for slot, member in zip(slots, order):
            start[group[member]] = middle + radius * np.array([np.cos(slot + turn), np.sin(slot + turn)])
    return _separate_boxes(start, sizes, gap, bounds)


def _label_layout_class() -> type:
    """The artist that places the class names each time their axes are drawn
    (made on first use, so that importing this module does not import
    Matplotlib)."""
    global _LabelLayout
    if _LabelLayout is None:
        import matplotlib.artist

        class LabelLayout(matplotlib.artist.Artist):
            """Draws nothing; drawn just before the class names (its zorder is a
            hair below theirs), it moves them apart in display coordinates,
            where their sizes are known: only now are the axes' size and limits
            final (after tight_layout, set_xlim, set_aspect, ...)."""

            def __init__(self, ax: Any, names: list, gap_pt: float) -> None:
                super().__init__()
                self.names, self.gap_pt = names, gap_pt
                self.set_zorder(min(name.get_zorder() for name in names) - 1e-3)
                self.set_in_layout(False)

            def draw(self, renderer: Any) -> None:
                _place_class_names(self.axes, self.names, renderer, self.gap_pt)

        _LabelLayout = LabelLayout
    return _LabelLayout


_LabelLayout = None


def _place_class_names(ax: Any, names: Sequence[Any], renderer: Any, gap_pt: float = 4.0) -> None:
    """Move the class-name annotations of ``ax`` (made by :func:`label_classes`)
    so that no two boxes of text come closer than ``gap_pt`` points, and
    keep them inside the axes; a name moved off its class centre by more than
    half its height is tied to the centre by a thin line in its colour."""
    import matplotlib.text

    frame = ax.get_window_extent(renderer)
    for name in names:  # back on their centres, to measure them
        name.xyann = (0.0, 0.0)
        name.update_positions(renderer)  # the offset's origin follows the axes (tight_layout, limits, ...)
        name.arrow_patch.set_visible(False)
    # A class whose centre is outside the axis limits is not named (Matplotlib does not draw its name).
    names = [name for name in names if frame.contains(*ax.transData.transform(name.xy))]
    if not names:
        return
    boxes = [matplotlib.text.Text.get_window_extent(name, renderer) for name in names]
    sizes = np.array([(b.width, b.height) for b in boxes])
    anchors = np.array([((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2) for b in boxes])
    placed = _place_boxes(anchors, sizes, renderer.points_to_pixels(gap_pt),
                          bounds=(frame.x0, frame.y0, frame.x1, frame.y1))
    for name, (dx, dy), (_, height) in zip(names, placed - anchors, sizes):
        name.xyann = (float(dx), float(dy))
        name.arrow_patch.set_visible(bool(np.hypot(dx, dy) > height / 2))


def label_classes(ax: Any, points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                  fontsize: float = 12) -> list:
    """Write each class's name at the median of its points, in its colour with
    a white outline, so that no reader has to match colours with a legend.

    Names never overlap one another: each time the axes are drawn, names
    whose boxes would come closer than a third of the font size are pushed
    apart (:func:`_place_class_names`, deterministic); a name that had to leave
    its class centre is joined to it by a thin line in its colour. Returns
    the annotations."""
    import matplotlib.patheffects as pe

    outline = [pe.withStroke(linewidth=3.5, foreground="white")]
    names = []
    for k, name in enumerate(class_names):
        sel = labels == k
        if sel.any():
            x, y = np.median(points[sel], axis=0)
            text = ax.annotate(name, (x, y), xytext=(0, 0), textcoords="offset pixels", ha="center",
                               va="center", fontsize=fontsize, fontweight="bold", color=class_colour(k),
                               path_effects=outline,
                               arrowprops={"arrowstyle": "-", "color": class_colour(k), "lw": 1.2,
                                           "shrinkA": 0, "shrinkB": 0})
            text.arrow_patch.set_path_effects([pe.withStroke(linewidth=3, foreground="white")])
            text.set_in_layout(False)  # kept inside the axes by _place_class_names
            names.append(text)
    if names:
        ax.add_artist(_label_layout_class()(ax, names, gap_pt=fontsize / 3))
    return names


def scatter_classes(ax: Any, points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                    prefix: str, *, size: float = 2, legend: bool = True, names: bool = True,
                    fontsize: float = 12) -> None:
    """Latent points coloured by class, each class named on the plot (unless
    ``names`` is False) and in a legend, drawn on ``ax``."""
    for k, name in enumerate(class_names):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=size, alpha=0.5, color=class_colour(k), label=name,
                   rasterized=True)
    if names:
        label_classes(ax, points, labels, class_names, fontsize)
    if legend:
        handles = ax.legend(title="class", markerscale=6, loc="center left", bbox_to_anchor=(1, 0.5))
        for handle in handles.legend_handles:
            handle.set_alpha(1)
    if prefix == ONE_D:
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("random jitter (a 1-D code has no second axis)")
    else:
        ax.set_xlabel(f"${prefix}_1$" if prefix == "z" else f"{prefix} 1")
        ax.set_ylabel(f"${prefix}_2$" if prefix == "z" else f"{prefix} 2")
    ax.grid(alpha=0.3)


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Save a Matplotlib figure as PNG atomically (no timestamp in the file,
    so the same figure gives the same bytes)."""
    path = Path(path)
    atomic_write(path, lambda p: p.write_bytes(figure_png(fig, dpi=100, bbox_inches="tight")))
    return path


def image_axes(ax: Any) -> None:
    """Make ``ax`` show an image: no ticks or tick labels (plots here and the explorer's panels)."""
    ax.set_xticks([])
    ax.set_yticks([])


def plot_digit_grid(images: np.ndarray, labels: Sequence[int], class_names: Sequence[str],
                    ncols: int = 10, title: str = "") -> Any:
    """Show images in a grid, each titled with its class name."""
    import matplotlib.pyplot as plt

    nrows = math.ceil(len(images) / ncols)
    # 1 in per image: ten columns (about 1,000 px) shown in a 900-px notebook keep 10-pt titles above 8 pt.
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.0 * ncols, 1.2 * nrows + 0.3), squeeze=False)
    for ax in axes.flat:
        image_axes(ax)
        ax.axis("off")
    for ax, img, label in zip(axes.flat, images, labels):
        ax.imshow(img.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(class_names[int(label)], fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, labels: Sequence[int],
                         class_names: Sequence[str], title: str, ncols: int = 10) -> Any:
    """Originals with their reconstructions in the row below, ``ncols``
    images per row (more images continue in a second pair of rows)."""
    import matplotlib.pyplot as plt

    n = len(originals)
    ncols = max(1, min(ncols, n))
    blocks = math.ceil(n / ncols)
    fig, axes = plt.subplots(2 * blocks, ncols, figsize=(1.1 * ncols, 2.7 * blocks + 0.6), squeeze=False)
    for ax in axes.flat:
        image_axes(ax)
        ax.set_frame_on(False)
    for i in range(n):
        block, col = divmod(i, ncols)
        for row, imgs in enumerate((originals, reconstructions)):
            ax = axes[2 * block + row, col]
            ax.imshow(imgs[i].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            ax.set_frame_on(True)
        axes[2 * block, col].set_title(class_names[int(labels[i])], fontsize=11)
    for block in range(blocks):
        axes[2 * block, 0].set_ylabel("original", fontsize=11)
        axes[2 * block + 1, 0].set_ylabel("reconstruction", fontsize=11)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def tile_images(images: np.ndarray, nrows: int, ncols: int) -> np.ndarray:
    """Arrange ``nrows * ncols`` flattened 28x28 images in one 2-D canvas."""
    grid = images[: nrows * ncols].reshape(nrows, ncols, IMAGE_SIDE, IMAGE_SIDE)
    return grid.transpose(0, 2, 1, 3).reshape(nrows * IMAGE_SIDE, ncols * IMAGE_SIDE)


def plot_samples(images: np.ndarray, nrows: int, ncols: int, title: str) -> Any:
    """A grid of decoded samples (pixel probabilities) as one image."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(0.75 * ncols, 0.75 * nrows + 0.5))
    ax.imshow(tile_images(images, nrows, ncols), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks(np.arange(ncols) * IMAGE_SIDE + IMAGE_SIDE / 2, range(1, ncols + 1))
    ax.set_yticks(np.arange(nrows) * IMAGE_SIDE + IMAGE_SIDE / 2, range(1, nrows + 1))
    ax.set_xlabel("sample (column)")
    ax.set_ylabel("sample (row)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_manifold(coords: np.ndarray, canvas: np.ndarray, title: str) -> Any:
    """The decoded latent grid from :func:`decode_manifold`, with z-axes."""
    import matplotlib.pyplot as plt

    n = len(coords)
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    # The cells sit at quantiles of N(0, 1), not evenly: place round z values
    # (symmetric, with 0) where they fall between the cells' centres.
    centres = np.arange(n) * IMAGE_SIDE + IMAGE_SIDE / 2
    values = np.arange(-1.5, 1.51, 0.5)
    values = values[(values >= coords[0]) & (values <= coords[-1])]
    names = [f"{v:g}" for v in values]
    ax.set_xticks(np.interp(values, coords, centres), names)
    ax.set_yticks(np.interp(values, coords, centres[::-1]), names)  # the top row has the largest z_2
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_latent_space(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      axis_prefix: str, title: str, window: float | None = None) -> Any:
    """Scatter of 2-D latent points coloured by class, each class named on the
    plot and in a legend. With ``window``, the square |z_1|, |z_2| <= window
    (the part of the plane notebook 05's manifold decodes) is outlined."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    scatter_classes(ax, points, labels, class_names, axis_prefix)
    if window is not None:
        ax.add_patch(plt.Rectangle((-window, -window), 2 * window, 2 * window, fill=False, ls="--", lw=1.2,
                                   color="0.2", label="window of the decoded manifold (notebook 05)"))
        legend = ax.legend(title="class", markerscale=6, loc="center left", bbox_to_anchor=(1, 0.5))
        for handle in legend.legend_handles:
            handle.set_alpha(1)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_loss_curves(history: Mapping[str, Sequence[float]], title: str) -> Any:
    """Reconstruction BCE, KL and total loss per epoch, training vs validation; the
    epochs in which the learning rate was falling are shaded."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history["loss"]) + 1)
    rates = np.asarray(history.get("learning_rate", []))
    # The learning rate is recorded at the start of each epoch: it falls
    # during the epoch before the first lower value.
    falling = np.flatnonzero(rates[1:] < rates[0] * (1 - 1e-6)) if len(rates) > 1 else []
    parts = [("reconstruction_loss", "reconstruction BCE"), ("kl_loss", "KL divergence"),
             ("loss", "total loss (BCE + β·KL)")]
    # 10 in (about 990 px) shown at the README's 830 px keeps 10-pt text above 8 pt.
    fig, axes = plt.subplots(1, 3, figsize=(10, 4))
    for ax, (key, label) in zip(axes, parts):
        if len(falling):
            ax.axvspan(epochs[falling[0]] - 0.5, epochs[-1] + 0.5, color="0.5", alpha=0.12, lw=0,
                       label="learning rate falling")
        train, val = np.asarray(history[key]), np.asarray(history[f"val_{key}"])
        ax.plot(epochs, train, "o-", ms=3, color=CLASS_COLOURS[0], label="train")
        ax.plot(epochs, val, "s--", ms=3, color=CLASS_COLOURS[1], label="validation")
        _zoom_past_first_epoch(ax, epochs, train, val)
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, epochs[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("nats per image")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    # One legend for the three panels, below them, where it covers no curve.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _zoom_past_first_epoch(ax: Any, epochs: np.ndarray, *curves: np.ndarray) -> None:
    """Scale the y-axis to epochs 2 onwards, where the learning happens slowly
    enough to read. An epoch-1 value close to that range widens it; one far
    outside (the untrained first epoch) is written at the edge instead."""
    if len(epochs) < 3:
        return
    later = np.concatenate([c[1:] for c in curves])
    low, high = later.min(), later.max()
    span = high - low or 1.0
    firsts = [c[0] for c in curves]
    low = min([low, *(f for f in firsts if f >= low - 0.5 * span)])
    high = max([high, *(f for f in firsts if f <= high + 0.5 * span)])
    pad = 0.08 * (high - low)
    ax.set_ylim(low - pad, high + pad)
    above = [f for f in firsts if f > high + pad]
    if above:
        ax.annotate(f"epoch 1: {max(above):.1f} ↑", (1, high + pad), xytext=(4, -4),
                    textcoords="offset points", ha="left", va="top", fontsize=10)


def plot_interpolations(paths: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        labels: Sequence[tuple[int, int]], class_names: Sequence[str], title: str) -> Any:
    """One row per pair: the start image, the decoded path, the end image."""
    import matplotlib.pyplot as plt

    pairs, steps = paths.shape[:2]
    # 0.8 in per image: twelve images and 10-pt labels stay above 8 pt at the README's 880 px.
    fig, axes = plt.subplots(pairs, steps + 2, figsize=(0.8 * (steps + 2), 0.85 * pairs + 0.8),
                             squeeze=False)
    for i in range(pairs):
        row = [starts[i], *paths[i], ends[i]]
        for j, img in enumerate(row):
            ax = axes[i, j]
            ax.imshow(img.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            image_axes(ax)
            if j in (0, steps + 1):
                for spine in ax.spines.values():
                    spine.set_color("tab:red")
        a, b = labels[i]
        axes[i, 0].set_ylabel(f"{class_names[a]} → {class_names[b]}", rotation=0, ha="right",
                              va="center", fontsize=10)
    axes[0, 0].set_title("start", fontsize=10)
    axes[0, -1].set_title("end", fontsize=10)
    for j in range(steps):
        axes[-1, j + 1].set_xlabel(f"t={j / (steps - 1):.2f}", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout(w_pad=0.4)
    return fig


def plot_rate_distortion(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    """Test KL (rate) against test reconstruction BCE (distortion), one
    labelled point per β, with lines of equal negative ELBO for reference."""
    import matplotlib.pyplot as plt

    # beta = 0 (a plain autoencoder) has no place on a log-beta scale, and its KL is off the chart.
    rows = sorted((r for r in rows if r["BETA"] > 0), key=lambda r: r["BETA"])
    kl = np.array([r["test_kl"] for r in rows])
    bce = np.array([r["test_bce"] for r in rows])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot(kl, bce, "-", color="0.6", zorder=1)
    points = ax.scatter(kl, bce, c=np.log2([r["BETA"] for r in rows]), cmap="viridis", s=60, zorder=2)
    if "test_kl_std" in rows[0]:  # means over seeds (vae_machinery.grid.summarize): ± 1 standard deviation
        ax.errorbar(kl, bce, xerr=[r["test_kl_std"] for r in rows], yerr=[r["test_bce_std"] for r in rows],
                    fmt="none", ecolor="0.3", elinewidth=1, capsize=3, zorder=1.5,
                    label=f"± 1 std over {rows[0]['seeds']} seeds")
    for r, x, y in zip(rows, kl, bce):
        ax.annotate(f"β = {r['BETA']:g}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    total = kl + bce
    kl_line = np.linspace(0, kl.max() * 1.1, 50)
    for level in np.unique(np.round(np.linspace(total.min(), total.max(), 3))):
        ax.plot(kl_line, level - kl_line, ":", color="tab:red", lw=0.8)
    ax.plot([], [], ":", color="tab:red", lw=0.8, label="equal negative ELBO (BCE + KL)")
    ax.set_xlim(0, kl.max() * 1.1)
    ax.set_ylim(bce.min() - 5, bce.max() + 5)
    fig.colorbar(points, ax=ax, label="log$_2$ β")
    ax.set_xlabel("rate: test KL (nats per image)")
    ax.set_ylabel("distortion: test reconstruction BCE (nats per image)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latent_sweep(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    """Test negative ELBO and importance-weighted -log p(x) against latent
    size, with the BCE and KL parts of the ELBO."""
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["LATENT_DIM"])
    dims = [r["LATENT_DIM"] for r in rows]
    # 10 in (about 1,000 px) shown at the README's 880 px keeps 10-pt text above 8 pt.
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    ax.plot(dims, [r["test_neg_elbo"] for r in rows], "o-", label="negative ELBO (upper bound)")
    ax.plot(dims, [-r["test_log_px"] for r in rows], "s--",
            label=f"−log p(x), importance-weighted (K = {rows[0]['IWAE_K']})")
    ax.set_ylabel("nats per image (lower is better)")
    ax.set_title("Held-out bound and likelihood")
    ax2.plot(dims, [r["test_bce"] for r in rows], "o-", label="reconstruction BCE")
    ax2.plot(dims, [r["test_kl"] for r in rows], "s--", label="KL")
    if "test_neg_elbo_std" in rows[0]:  # means over seeds (grid.summarize): ± 1 standard deviation
        for a, key, sign in ((ax, "test_neg_elbo", 1), (ax, "test_log_px", -1), (ax2, "test_bce", 1),
                             (ax2, "test_kl", 1)):
            a.errorbar(dims, [sign * r[key] for r in rows], yerr=[r[f"{key}_std"] for r in rows], fmt="none",
                       ecolor="0.3", elinewidth=1, capsize=3)
        ax.plot([], [], " ", label=f"bars: ± 1 std over {rows[0]['seeds']} seeds")
    ax2.set_ylabel("nats per image")
    ax2.set_title("Parts of the negative ELBO")
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(dims, [str(d) for d in dims])
        a.set_xlabel("latent size")
        a.legend()
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_panels(panels: Sequence[tuple[str, np.ndarray]], title: str) -> Any:
    """Several images (e.g. sample grids from :func:`tile_images`) side by
    side, each with its own title."""
    import matplotlib.pyplot as plt

    # 2.4 in per panel: four panels (about 960 px) shown at the README's 880 px keep 10-pt titles above 8 pt.
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 3.0), squeeze=False)
    for ax, (name, image) in zip(axes[0], panels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        image_axes(ax)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


SHARED_AXES_QUANTILE = 0.995  # plot_sweep_gallery's shared axes hold at least this much of each run's points


def plot_sweep_gallery(entries: Sequence[tuple[str, np.ndarray, np.ndarray]], labels: np.ndarray,
                       class_names: Sequence[str], title: str, share_axes: bool = True) -> Any:
    """One column per run: its latent scatter (test means coloured by class)
    on top, a grid of its samples below. ``entries`` are ``(run title,
    2-D points, sample canvas from tile_images)``. Each scatter shows the
    circle that holds 95 % of the prior N(0, I); with ``share_axes`` the
    scatters share their axes, so the runs' spreads can be compared by eye
    (without, each is scaled to its own points, and says so).

    The shared axes are the square ``[-lim, lim]`` in both coordinates, with
    ``lim`` 5 % beyond the largest of the runs' own 99.5 % quantiles of
    ``max(|z_1|, |z_2|)``: at least 99.5 % of *every* run's points lie inside,
    the run with the widest cloud sets the scale, and a few far outliers of
    one run cannot shrink the others to a dot. Unshared axes hold all of their
    run's points (Matplotlib's autoscaling)."""
    import matplotlib.pyplot as plt

    n = len(entries)
    # At most 10.5 in wide (about 1,060 px): shown at the README's 880 px, 10-pt text stays above 8 pt.
    width = min(3.4, 10.5 / n)
    fig, axes = plt.subplots(2, n, figsize=(width * n, 1.5 * width + 2.0), squeeze=False)
    lim = 1.05 * max(float(np.quantile(np.abs(points[:, :2]).max(axis=1), SHARED_AXES_QUANTILE))
                     for _, points, _ in entries)
    radius = float(np.sqrt(-2 * np.log(0.05)))  # P(|z| <= r) = 0.95 for z ~ N(0, I) in 2-D
    for j, (name, points, canvas) in enumerate(entries):
        ax = axes[0, j]
        scatter_classes(ax, points, labels, class_names, "z" if points.shape[1] == 2 else "PC", size=1,
                        legend=False, fontsize=10)
        ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--", lw=1, color="0.3"))
        if share_axes:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            if j > 0:  # same axes as the first column: its y labels serve the whole row
                ax.set_ylabel("")
                ax.tick_params(labelleft=False)
        ax.set_aspect("equal")
        ax.set_title(name if share_axes else f"{name}\n(axes scaled to its own codes)", fontsize=10)
        axes[1, j].imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
        image_axes(axes[1, j])
        axes[1, j].set_xlabel("samples, z ~ N(0, I)", fontsize=10)
    fig.suptitle(f"{title}\n(dashed circle: the region that holds 95 % of the prior N(0, I))")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Notebooks 08-10
# --------------------------------------------------------------------------
def plot_image_table(images: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], title: str, *,
                     row_title: str = "", col_title: str = "", split_after: int | None = None,
                     cell: float = 0.62) -> Any:
    """A table of images drawn as one picture: ``images`` is ``(rows, columns,
    784)``, each row named on the left and each column on top (e.g. one row
    per digit, one column per code z). ``split_after``: a dark line after
    that many columns (e.g. the originals | what the model made of them)."""
    import matplotlib.pyplot as plt

    nrows, ncols = images.shape[:2]
    fig, ax = plt.subplots(figsize=(cell * ncols + 1.3, cell * nrows + 1.1))
    ax.imshow(tile_images(images.reshape(nrows * ncols, -1), nrows, ncols), cmap="gray_r", vmin=0, vmax=1)
    for k in range(1, ncols):
        ax.axvline(k * IMAGE_SIDE - 0.5, color="white", lw=1.5)
    for k in range(1, nrows):
        ax.axhline(k * IMAGE_SIDE - 0.5, color="white", lw=1.5)
    if split_after is not None:
        ax.axvline(split_after * IMAGE_SIDE - 0.5, color=CLASS_COLOURS[3], lw=2.5)
    centres = np.arange(max(nrows, ncols)) * IMAGE_SIDE + IMAGE_SIDE / 2 - 0.5
    ax.set_xticks(centres[:ncols], col_names, fontsize=10)
    ax.set_yticks(centres[:nrows], row_names, fontsize=10)
    ax.tick_params(length=0, top=False, labeltop=True, bottom=False, labelbottom=False)
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(col_title, fontsize=10)
    ax.set_ylabel(row_title, fontsize=10)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_latent_panels(panels: Sequence[tuple[str, np.ndarray]], labels: np.ndarray,
                       class_names: Sequence[str], title: str) -> Any:
    """Latent means side by side, each panel on its own axes, coloured and
    labelled by class (e.g. a VAE's codes beside a conditional VAE's)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.6), squeeze=False)
    for ax, (name, points) in zip(axes[0], panels):
        prefix = "z" if points.shape[1] == 2 else "PC"
        scatter_classes(ax, points[:, :2], labels, class_names, prefix, size=1, legend=False, fontsize=11)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_kl_per_dimension(panels: Sequence[tuple[str, np.ndarray, np.ndarray, float]], title: str,
                          ncols: int = 3) -> Any:
    """One panel per run: the KL of each latent dimension (nats per image),
    largest first, active units (see ``vae_helpers.active_units``) in blue,
    inactive ones grey and hatched. ``panels`` are ``(run name, KL per
    dimension, active per dimension, free bits λ)``; λ > 0 is drawn as a
    dashed line. Inactive units, whose KL is usually too small to see, are
    also marked on the axis."""
    import matplotlib.pyplot as plt
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.patches import Patch

    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows + 0.9), squeeze=False,
                             sharey=True)
    top = max(float(np.max(kl)) for _, kl, _, _ in panels) * 1.1
    for ax, (name, kl, active, free_bits) in zip(axes.flat, panels):
        order = np.argsort(-kl, kind="stable")
        rank = np.arange(1, len(kl) + 1)
        colours = [CLASS_COLOURS[0] if active[i] else CLASS_COLOURS[8] for i in order]
        bars = ax.bar(rank, kl[order], width=0.8, color=colours)
        for bar, i in zip(bars, order):
            if not active[i]:
                bar.set_hatch("///")
        inactive = ~np.asarray(active, dtype=bool)[order]
        ax.plot(rank[inactive], np.zeros(int(inactive.sum())), "x", ms=4, color="0.35")
        if free_bits > 0:
            ax.axhline(free_bits, ls="--", color=CLASS_COLOURS[3], lw=1.2)
        ax.set_title(f"{name}\n{int(np.sum(active))} of {len(kl)} active, KL {float(np.sum(kl)):.1f} nats",
                     fontsize=10)
        ax.set_xlim(0.3, len(kl) + 0.7)
        ax.set_ylim(0, top)
        ax.set_xlabel("dimension, by KL", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("KL (nats per image)", fontsize=10)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    inactive_handle = (Patch(facecolor=CLASS_COLOURS[8], hatch="///"),
                       plt.Line2D([], [], ls="", marker="x", ms=4, color="0.35"))
    free_bits_handle = plt.Line2D([], [], ls="--", color=CLASS_COLOURS[3])
    handles = [Patch(color=CLASS_COLOURS[0]), inactive_handle, free_bits_handle]
    fig.legend(handles, ["active unit", "inactive unit (bar, and × on the axis)", "free bits λ"],
               handler_map={tuple: HandlerTuple(ndivide=None)}, loc="lower center", ncol=3, fontsize=10,
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig

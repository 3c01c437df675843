"""The latent scatters stay readable whatever the codes look like.

* Class names never overlap (``label_classes``): when the classes' centres
  coincide, as in notebook 08's conditional VAE whose codes ignore the digit,
  the names are spread apart, stay inside their axes, and each one moved off
  its centre is tied to it by a leader line; names that are apart anyway (a
  VAE's clusters, notebook 06) stay exactly on their centres.
* The sweep gallery's shared axes clip no run's cloud
  (``plot_sweep_gallery``): at least 99.5 % of every run's points are inside,
  also when the runs' spreads differ a lot (notebook 07's β = 0.25 against
  β = 4).

Boxes are the window extents of the drawn texts, in display pixels, after the
figure is drawn as the series saves it (dpi 100, tight bounding box).
"""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import vae_helpers as vh  # noqa: E402

MNIST = vh.DATASETS["mnist"]["class_names"]
FASHION = vh.DATASETS["fashion_mnist"]["class_names"]
SIDE = vh.IMAGE_SIDE
MIN_INSIDE = 0.995  # the share of each run's points the gallery's shared axes must hold
TOLERANCE = 0.5  # px: rounding in the text extents


def _piled_codes(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every class drawn from the same N(0, I): the class centres (medians) nearly coincide."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), np.arange(n) % 10


def _clustered_codes(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten tight clusters on a circle of radius 3: names far apart."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    angle = 2 * np.pi * np.arange(10) / 10
    centres = 3 * np.column_stack([np.cos(angle), np.sin(angle)])
    return centres[labels] + 0.2 * rng.normal(size=(n, 2)), labels


def _drawn(fig):
    """Draw the figure as vh.save_figure does (then the canvas once more), return the renderer."""
    fig.savefig(io.BytesIO(), format="png", dpi=100, bbox_inches="tight")
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _names(ax, class_names):
    return [t for t in ax.texts if t.get_visible() and t.get_text() in class_names]


def _text_box(name, renderer):
    return matplotlib.text.Text.get_window_extent(name, renderer)  # the text alone, not its leader line


def _gap(a, b) -> float:
    """Distance between two boxes along the axis that separates them (negative: they overlap)."""
    return max(a.x0 - b.x1, b.x0 - a.x1, a.y0 - b.y1, b.y0 - a.y1)


def _layout(fig, class_names):
    """Per scatter axes: (axes, names, their boxes, their centres in display pixels)."""
    renderer = _drawn(fig)
    panels = []
    for ax in fig.axes:
        names = _names(ax, class_names)
        if names:
            boxes = [_text_box(name, renderer) for name in names]
            centres = [ax.transData.transform(name.xy) for name in names]
            panels.append((ax, names, boxes, centres))
    return panels


@pytest.mark.parametrize("class_names", [MNIST, FASHION], ids=["mnist", "fashion_mnist"])
def test_class_names_whose_centres_coincide_do_not_overlap(class_names):
    piled, labels = _piled_codes()
    same = np.repeat(np.array([[0.3, -0.2]]), len(labels), axis=0)  # every class at one point exactly
    fig = vh.plot_latent_panels([("centres close", piled), ("centres equal", same)], labels, class_names,
                                title="names of classes whose centres coincide")
    try:
        panels = _layout(fig, class_names)
        assert len(panels) == 2
        for ax, names, boxes, centres in panels:
            assert len(names) == 10, f"{ax.get_title()}: {len(names)} names drawn"
            gaps = [(_gap(a, b), names[i].get_text(), names[i + 1 + j].get_text())
                    for i, a in enumerate(boxes) for j, b in enumerate(boxes[i + 1:])]
            smallest = min(gaps)
            assert smallest[0] > 0, f"{ax.get_title()}: names {smallest[1:]} overlap by {-smallest[0]:.1f} px"
            frame = ax.get_window_extent()
            for name, box, centre in zip(names, boxes, centres):
                inside = (frame.x0 - TOLERANCE <= box.x0 and box.x1 <= frame.x1 + TOLERANCE
                          and frame.y0 - TOLERANCE <= box.y0 and box.y1 <= frame.y1 + TOLERANCE)
                assert inside, f"{ax.get_title()}: name {name.get_text()!r} leaves the axes"
                if not box.contains(*centre):  # moved off its class centre: a leader line points back to it
                    assert name.arrow_patch.get_visible(), f"{name.get_text()!r}: moved without a leader line"
    finally:
        plt.close(fig)


def test_class_names_are_placed_the_same_on_every_draw():
    piled, labels = _piled_codes()
    placements = []
    for _ in range(2):
        fig = vh.plot_latent_panels([("piled", piled)], labels, MNIST, title="twice")
        try:
            _drawn(fig)
            placements.append([tuple(name.xyann) for name in _names(fig.axes[0], MNIST)])
        finally:
            plt.close(fig)
    assert placements[0] == placements[1]


def test_names_that_are_apart_stay_on_their_centres():
    points, labels = _clustered_codes()
    fig = vh.plot_latent_space(points, labels, MNIST, "z", title="ten clusters far apart")
    try:
        [(ax, names, boxes, centres)] = _layout(fig, MNIST)
        assert len(names) == 10
        for name, box, centre in zip(names, boxes, centres):
            middle = [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]
            assert np.allclose(middle, centre, atol=TOLERANCE), f"{name.get_text()!r} moved off its centre"
            assert name.arrow_patch is None or not name.arrow_patch.get_visible(), "a leader line"
    finally:
        plt.close(fig)


def test_shared_gallery_axes_keep_every_run_cloud_inside():
    """Runs of very different spreads (notebook 07: beta = 0.25 spreads much wider than beta = 4)."""
    rng = np.random.default_rng(0)
    n = 2000
    labels = np.arange(n) % 10
    canvas = vh.tile_images(rng.random((16, SIDE * SIDE)), 4, 4)
    entries = []
    for j, spread in enumerate([4.0, 2.5, 1.0, 0.7, 0.5]):
        points = spread * rng.standard_t(df=5, size=(n, 2))  # heavy tails: a few far outliers
        entries.append((f"run {j}, spread {spread:g}", points, canvas))
    fig = vh.plot_sweep_gallery(entries, labels, MNIST, title="gallery of different spreads")
    try:
        _drawn(fig)
        limits = set()
        for ax, (name, points, _) in zip(fig.axes[:len(entries)], entries):
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            limits.add((x0, x1, y0, y1))
            inside = np.mean((points[:, 0] >= x0) & (points[:, 0] <= x1)
                             & (points[:, 1] >= y0) & (points[:, 1] <= y1))
            assert inside >= MIN_INSIDE, f"{name}: only {inside:.2%} of its points inside the shared axes"
        assert len(limits) == 1, f"the axes are not shared: {limits}"
    finally:
        plt.close(fig)

"""No text in the series' figures is smaller than 8 pt where a reader sees it.

Every figure the notebooks commit to ``imgs/`` (and the few they only show) is
built here by the same plot function and arguments the notebooks use, on small
synthetic inputs (random images and codes, no training, no data). For every
visible, non-empty Matplotlib ``Text`` artist of the figure
(``fig.findobj(matplotlib.text.Text)``: titles, axis and tick labels, legends,
annotations, colour-bar labels) that is drawn in the PNG (a tick label outside
the axis limits is not) the test computes its *apparent* size, in points, at
the size the figure is displayed::

    apparent_pt = fontsize_pt * (dpi / 96) * min(1, display_width_css_px / png_width_px)

Why: Matplotlib draws a ``fontsize_pt`` text ``fontsize_pt * dpi / 72`` pixels
tall in a PNG saved at ``dpi``. A browser shows a PNG pixel as one CSS pixel,
1/96 inch, and 72 pt make an inch, so on screen the text is
``fontsize_pt * dpi / 72 * 72 / 96 = fontsize_pt * dpi / 96`` points tall; when
the PNG is wider than its column the browser scales it down to the column width
(``max-width: 100%``), shrinking the text by ``display_width / png_width``.
The PNG's width is measured, not guessed (``bbox_inches="tight"`` trims or
grows the figure), by saving it exactly as the series does:

* README: :func:`vae_helpers.save_figure` (dpi 100, tight bounding box), shown
  at most ``README_WIDTH`` = 830 CSS px wide. GitHub lays out a README in a
  ``markdown-body`` column 980 px wide with 45 px padding, i.e. 890 px of content
  (sindresorhus/github-markdown-css documents these numbers), and the README
  embeds its figures full width; on a repository's home page the sidebar takes
  some of it, so 830 px is used (an estimate, not a measurement: it leaves a
  margin under the 890 px). Every figure in
  ``imgs/`` is held to it, also ``latent_sweep_samples.png``, which only
  notebook 07 shows today.
* Notebooks: the inline backend (``%matplotlib inline``) shows a figure as
  ``IPython.core.pylabtools.print_figure`` makes it, at ``figure.dpi`` (the
  rcParams value, 100; the series does not change it) with a tight bounding box,
  in an output area taken as ``NOTEBOOK_WIDTH`` = 900 CSS px (JupyterLab on a
  laptop screen about 1,100 px wide, less the file browser and prompts;
  JupyterLab confines wider images to the output width). The latent explorer's
  static stand-in is shown the way ``latent_explorer`` shows it:
  ``IPython.display.Image`` of ``figure_png(figure, bbox_inches="tight")``.
  The interactive explorer's map is ``figure_png(map_figure)`` shown in an
  ``ipywidgets.Image`` whose CSS width is read from its layout (480 px).

The apparent size must be at least ``MIN_PT`` = 8 pt wherever a figure is shown.
"""

import io
from contextlib import contextmanager
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import vae_helpers as vh  # noqa: E402
from vae_machinery import explorer as explorer_module  # noqa: E402
from vae_machinery.plots import figure_png  # noqa: E402

README_WIDTH = 830  # CSS px: GitHub's README content column (see the module docstring)
NOTEBOOK_WIDTH = 900  # CSS px: a JupyterLab output area on a laptop (see the module docstring)
CSS_PX_PER_INCH = 96
MIN_PT = 8.0

MNIST = vh.DATASETS["mnist"]
FASHION = vh.DATASETS["fashion_mnist"]
SIDE = vh.IMAGE_SIDE


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return _rng(seed).random((n, SIDE * SIDE), dtype=np.float32)


def _codes(n: int, spread: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D points in ten clusters (one per class), and their labels."""
    rng = _rng(seed)
    labels = np.arange(n) % 10
    centres = spread * rng.normal(size=(10, 2))
    return centres[labels] + 0.3 * spread * rng.normal(size=(n, 2)), labels


def _canvas(n: int = 8, seed: int = 0) -> np.ndarray:
    return vh.tile_images(_images(n * n, seed), n, n)


# One builder per figure, with the arguments of the notebook cell that draws it.

def _reconstructions():  # notebook 04 -> imgs/reconstructions.png
    labels = np.repeat(np.arange(10), 2)
    return vh.plot_reconstructions(_images(20), _images(20, 1), labels, MNIST["class_names"],
                                   title="MNIST test images, each with its VAE reconstruction below, "
                                         "latent size 2")


def _worst_reconstruction():  # notebook 04, shown only
    return vh.plot_reconstructions(_images(1), _images(1, 1), [4], MNIST["class_names"],
                                   title="worst reconstruction: 312 nats")


def _samples():  # notebook 05 -> imgs/samples.png
    return vh.plot_samples(_images(64), nrows=8, ncols=8,
                           title="64 samples decoded from z ~ N(0, I), MNIST, latent size 2")


def _manifold():  # notebook 05 -> imgs/manifold.png (vh.decode_manifold(model, n=20))
    n = 20
    coords = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)], dtype=np.float32)
    return vh.plot_manifold(coords, _canvas(n),
                            title="MNIST: decoded 2-D latent manifold (grid at N(0,1) quantiles)")


def _latent_space(spec):  # notebook 06 -> imgs/latent_space.png, imgs/fashion_mnist/latent_space.png
    def build():
        points, labels = _codes(2000, spread=2.0)
        return vh.plot_latent_space(points, labels, spec["class_names"], "z",
                                    title=f"{spec['title']} test set, latent means, coloured by class",
                                    window=NormalDist().inv_cdf(0.95))
    return build


def _explorer(class_names):
    class Decoder:
        latent_dim = 2

        def decode(self, z):
            return _images(len(z), 2)

    points, labels = _codes(500)
    return explorer_module.LatentExplorer(Decoder(), _images(500), labels, class_names, points, points, "z")


def _explorer_static():  # notebook 06, shown only: the latent explorer's static stand-in
    ex = _explorer(MNIST["class_names"])
    return explorer_module._explorer_figure(ex, "MNIST: click the map or move the sliders")


def _explorer_map():  # notebook 06 in JupyterLab: the interactive explorer's clickable map
    pytest.importorskip("ipywidgets")
    pytest.importorskip("ipyevents")
    ex = _explorer(FASHION["class_names"])
    explorer_module._explorer_widgets(ex, "Fashion-MNIST: click the map or move the sliders")
    width = ex.map.layout.width
    assert width.endswith("px"), width
    return ex.map_figure, float(width[:-2])  # the map PNG is shown in an ipywidgets.Image this wide


def _loss_curves():  # notebook 03 -> imgs/loss_curves.png
    epochs = 20
    rng = _rng()
    fall = np.exp(-np.arange(epochs) / 3.0)
    history = {}
    for key, start, end in (("reconstruction_loss", 175.0, 135.0), ("kl_loss", 4.7, 6.4),
                            ("loss", 180.0, 141.0)):
        curve = end + (start - end) * fall
        curve[0] += 60.0  # the untrained first epoch, far above: annotated at the top edge
        history[key] = list(curve + rng.normal(0, 0.1, epochs))
        history[f"val_{key}"] = list(curve[1:].tolist() + [curve[-1]])
    history["learning_rate"] = [1e-3] * 15 + [1e-3 * 0.5 ** k for k in range(1, 6)]
    return vh.plot_loss_curves(history, title="MNIST VAE, latent size 2, beta = 1.0: "
                                              "loss per epoch (nats per image)")


def _interpolation():  # notebook 06 -> imgs/interpolation.png
    pairs = [(1, 7), (3, 8), (4, 9), (0, 6), (2, 5)]
    paths = _images(5 * 10).reshape(5, 10, SIDE * SIDE)
    return vh.plot_interpolations(paths, _images(5, 1), _images(5, 2), pairs, MNIST["class_names"],
                                  title="MNIST: decoded straight lines between test images in latent space")


BETAS = [0.25, 0.5, 1.0, 2.0, 4.0]  # notebook 07's BETAS without 0 (the autoencoder has its own figure)
BETA_KL = [8.7, 7.5, 6.3, 5.4, 4.5]  # test KL and BCE of the committed run, roughly
BETA_BCE = [132.0, 134.5, 137.0, 141.0, 146.0]


def _beta_sweep():  # notebook 07 -> imgs/beta_sweep.png
    rows = [{"BETA": b, "test_kl": kl, "test_bce": bce} for b, kl, bce in zip(BETAS, BETA_KL, BETA_BCE)]
    return vh.plot_rate_distortion(rows, title="MNIST: rate-distortion trade-off of β "
                                               "(latent size 2, 20 epochs, test set)")


def _beta_sweep_gallery():  # notebook 07 -> imgs/beta_sweep_gallery.png
    entries = []
    for j, (b, kl) in enumerate(zip(BETAS, BETA_KL)):
        points, labels = _codes(1000, spread=1.4 / b ** 0.25, seed=j)
        entries.append((f"β = {b:g}, KL {kl:.1f} nats", points, _canvas(8, j)))
    return vh.plot_sweep_gallery(entries, labels, MNIST["class_names"],
                                 title="MNIST, latent size 2: latent means (top) and samples (bottom) by β")


def _autoencoder_vs_vae():  # notebook 07 -> imgs/autoencoder_vs_vae.png
    ae, labels = _codes(1000, spread=80.0)
    vae, _ = _codes(1000, spread=1.0, seed=1)
    pair = [("β = 0: plain autoencoder", ae, _canvas(8)), ("β = 1: VAE", vae, _canvas(8, 1))]
    return vh.plot_sweep_gallery(pair, labels, MNIST["class_names"], share_axes=False,
                                 title="MNIST, latent size 2: test codes (top) "
                                       "and samples from N(0, I) (bottom)")


LATENT_DIMS = [2, 5, 10, 20]  # notebook 07's LATENT_DIMS


def _latent_sweep():  # notebook 07 -> imgs/latent_sweep.png
    values = zip(LATENT_DIMS, (143.2, 113.5, 98.3, 96.6), (142.0, 111.5, 96.0, 94.3),
                 (137.0, 101.0, 79.5, 76.2))
    rows = [{"LATENT_DIM": d, "IWAE_K": 100, "test_neg_elbo": elbo, "test_log_px": -log_px, "test_bce": bce,
             "test_kl": elbo - bce} for d, elbo, log_px, bce in values]
    return vh.plot_latent_sweep(rows, title="MNIST: test metrics against latent size (β = 1, 20 epochs)")


def _latent_sweep_samples():  # notebook 07 -> imgs/latent_sweep_samples.png
    panels = [(f"latent size {d}", _canvas(8, d)) for d in LATENT_DIMS]
    return vh.plot_image_panels(panels, title="MNIST: samples from z ~ N(0, I) by latent size")


def _digit_grid():  # notebook 01, shown only
    labels = np.tile(np.arange(10), 3)
    return vh.plot_digit_grid(_images(30), labels, MNIST["class_names"], ncols=10,
                              title="MNIST: random training examples")


def _cvae_digits():  # notebook 08 -> imgs/cvae_digits.png
    grid = _images(100).reshape(10, 10, SIDE * SIDE)
    columns = ["z = 0"] + [f"z{j}" for j in range(1, 10)]
    return vh.plot_image_table(grid, MNIST["class_names"], columns,
                               title="MNIST conditional VAE: each column one code z (z1 ... z9 from "
                                     "N(0, I)), each row one label",
                               row_title="label given to the decoder",
                               col_title="the same z down each column")


def _cvae_style_transfer():  # notebook 08 -> imgs/cvae_style_transfer.png
    table = _images(110).reshape(10, 11, SIDE * SIDE)
    return vh.plot_image_table(table, [f"test {name}" for name in MNIST["class_names"]],
                               ["image"] + [f"as {name}" for name in MNIST["class_names"]],
                               title="MNIST: a test image's style (its code z), decoded as every digit",
                               split_after=1)


def _cvae_latent_space():  # notebook 08 -> imgs/cvae_latent_space.png
    vae, labels = _codes(2000, spread=2.0)
    cvae, _ = _codes(2000, spread=0.2, seed=1)
    return vh.plot_latent_panels([("VAE: q(z | x)", vae), ("conditional VAE: q(z | x, y)", cvae)], labels,
                                 MNIST["class_names"],
                                 title="MNIST test images' latent means, coloured by digit")


def _conv_vs_mlp_reconstructions():  # notebook 09 -> imgs/conv_vs_mlp_reconstructions.png
    names = ["test image", "MLP, latent 2", "conv, latent 2", "MLP, latent 20", "conv, latent 20"]
    return vh.plot_image_table(_images(50).reshape(5, 10, SIDE * SIDE), names, MNIST["class_names"],
                               title="MNIST: test images and their reconstructions by the MLP and the "
                                     "convolutional VAE")


def _kl_per_dimension():  # notebook 10 -> imgs/kl_per_dimension.png
    rng = _rng()
    panels = []
    for name, free_bits in [("β = 1", 0.0), ("β = 1, warm-up", 0.0), ("β = 1, free bits", 0.25),
                            ("β = 4", 0.0), ("β = 4, warm-up", 0.0), ("β = 4, free bits", 0.25)]:
        kl = np.sort(rng.exponential(0.5, 32))[::-1] * (rng.random(32) < 0.6)
        panels.append((name, kl, kl > 0.05, free_bits))
    return vh.plot_kl_per_dimension(panels, title="MNIST, latent size 32: KL of each latent dimension on the "
                                                  "test images, largest first")


def _autoregressive_collapse():  # notebook 10 -> imgs/autoregressive_collapse.png
    names = ["test image", "autoregressive:\ndrawn from its code",
             "autoregressive, free bits:\ndrawn from its code"]
    return vh.plot_image_table(_images(30).reshape(3, 10, SIDE * SIDE), names, MNIST["class_names"],
                               title="MNIST (binarized): what an autoregressive decoder draws from each "
                                     "image's code")


# name: (builder, how it is shown). "saved" figures go to imgs/ (the README embeds them) and are shown
# inline in their notebook; "inline" ones are only shown in a notebook; "explorer" is the static
# stand-in of notebook 06's latent explorer; "widget" is the interactive explorer's map, a PNG shown in
# an ipywidgets.Image of a fixed CSS width (its builder returns the figure and that width).
FIGURES = {
    "reconstructions": (_reconstructions, "saved"),
    "samples": (_samples, "saved"),
    "manifold": (_manifold, "saved"),
    "latent_space": (_latent_space(MNIST), "saved"),
    "fashion_mnist/latent_space": (_latent_space(FASHION), "saved"),
    "loss_curves": (_loss_curves, "saved"),
    "interpolation": (_interpolation, "saved"),
    "beta_sweep": (_beta_sweep, "saved"),
    "beta_sweep_gallery": (_beta_sweep_gallery, "saved"),
    "autoencoder_vs_vae": (_autoencoder_vs_vae, "saved"),
    "latent_sweep": (_latent_sweep, "saved"),
    "latent_sweep_samples": (_latent_sweep_samples, "saved"),
    "cvae_digits": (_cvae_digits, "saved"),
    "cvae_style_transfer": (_cvae_style_transfer, "saved"),
    "cvae_latent_space": (_cvae_latent_space, "saved"),
    "conv_vs_mlp_reconstructions": (_conv_vs_mlp_reconstructions, "saved"),
    "kl_per_dimension": (_kl_per_dimension, "saved"),
    "autoregressive_collapse": (_autoregressive_collapse, "saved"),
    "digit_grid (notebook 01)": (_digit_grid, "inline"),
    "worst reconstruction (notebook 04)": (_worst_reconstruction, "inline"),
    "explorer static preview (notebook 06)": (_explorer_static, "explorer"),
    "explorer map (notebook 06, interactive)": (_explorer_map, "widget"),
}


def _png_width(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as image:
        return image.size[0]


@contextmanager
def _recording_drawn_texts():
    """Collect the ids of the Text artists drawn inside the block: a tick
    label outside the axis limits is a visible Text that is never drawn."""
    drawn = set()
    draw = matplotlib.text.Text.draw

    def recording_draw(self, renderer):
        drawn.add(id(self))
        return draw(self, renderer)

    matplotlib.text.Text.draw = recording_draw
    try:
        yield drawn
    finally:
        matplotlib.text.Text.draw = draw


def _displays(fig, how: str, tmp_path):
    """For each place the figure is shown: (where, dpi, PNG width in px, display width in CSS px,
    ids of the texts drawn in that PNG)."""
    from IPython.core.pylabtools import print_figure  # what %matplotlib inline displays

    shown = []
    if how == "widget":
        fig, display = fig
        with _recording_drawn_texts() as drawn:
            png = figure_png(fig)  # what LatentExplorer puts in its map widget
        return [("widget", fig.dpi, _png_width(png), display, drawn)]
    if how == "saved":
        with _recording_drawn_texts() as drawn:
            path = vh.save_figure(fig, tmp_path / "figure.png")
        with Image.open(path) as image:
            width, dpi = image.size[0], float(image.info["dpi"][0])
        shown.append(("README", round(dpi, 3), width, README_WIDTH, drawn))
    with _recording_drawn_texts() as drawn:
        if how == "explorer":  # latent_explorer displays IPython.display.Image(data=this PNG)
            png = figure_png(fig, bbox_inches="tight")
        else:
            png = print_figure(fig, "png")
    shown.append(("notebook", fig.dpi, _png_width(png), NOTEBOOK_WIDTH, drawn))
    return shown


def apparent_sizes(name: str, tmp_path) -> list[tuple[str, str, float, float]]:
    """(where, text, fontsize in pt, apparent size in pt) for every visible,
    non-empty text drawn in figure ``name``, at each place it is shown."""
    build, how = FIGURES[name]
    built = build()
    fig = built[0] if isinstance(built, tuple) else built
    try:
        shown = _displays(built, how, tmp_path)
        # After drawing: Matplotlib creates some tick labels only when it draws the figure.
        texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
        rows = []
        for where, dpi, width, display, drawn in shown:
            scale = dpi / CSS_PX_PER_INCH * min(1.0, display / width)
            place = f"{where} ({width} px wide, shown at {min(width, display):g} px)"
            rows += [(place, t.get_text(), t.get_fontsize(), t.get_fontsize() * scale)
                     for t in texts if id(t) in drawn]
        return rows
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", list(FIGURES))
def test_no_text_under_8_pt_at_display_size(name, tmp_path):
    rows = apparent_sizes(name, tmp_path)
    assert rows, f"{name}: no text found"
    small = sorted({(size, where, text, pt) for where, text, pt, size in rows if size < MIN_PT - 1e-9})
    lines = [f"{where}: {text!r} is {size:.1f} pt (fontsize {pt:g})" for size, where, text, pt in small]
    more = f"\n  ... and {len(lines) - 20} more" if len(lines) > 20 else ""
    assert not small, (f"figure {name}: {len(small)} text(s) under {MIN_PT:g} pt at display size:\n  "
                       + "\n  ".join(lines[:20]) + more)

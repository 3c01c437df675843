"""The interactive latent explorer of notebook 06 (ipywidgets).

:func:`latent_explorer` shows sliders for the latent dimensions, the image
they decode to, and a clickable map of the test images' codes; where no
live Jupyter frontend can show widgets (papermill, nbval, a static HTML
page) it shows a static figure of the same map instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import ParameterError
from .idx_data import IMAGE_SIDE
from .parameters import describe
from .plots import figure_png, image_axes, project_2d, scatter_classes

EXPLORER_MAX_SLIDERS = 10  # one slider per latent dimension, for the first ten
EXPLORER_TEXT = ("Interactive latent explorer (sliders and a clickable latent map). It needs a running "
                 "Jupyter kernel with ipywidgets, e.g. JupyterLab: run the notebook to use it.")
# Pixels per inch of the clickable map (6 x 5.25 in -> 480 x 420 px, shown 1:1 in its widget). At 80 dpi
# a browser shows a 10-pt label as 10 * 80 / 96 = 8.3 pt (1 CSS px = 1/96 in): no map text under 8 pt.
_EXPLORER_DPI = 80
# The comm a widget manager (JupyterLab's, Notebook 7's) opens to the kernel: ipywidgets' control protocol.
WIDGET_CONTROL_TARGET = "jupyter.widget.control"


def _png(image: np.ndarray, zoom: int = 1) -> bytes:
    """A grey-level image in [0, 1] (1 = ink) as PNG bytes, enlarged ``zoom``
    times by pixel repetition. Same image, same bytes."""
    import io

    from PIL import Image

    pixels = np.clip(255.0 * (1.0 - image), 0, 255).astype(np.uint8)
    pixels = np.repeat(np.repeat(pixels, zoom, axis=0), zoom, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _nearest_point(points: np.ndarray, x: float, y: float) -> int:
    """Index of the row of ``points`` (N, 2) closest to (x, y)."""
    return int(np.argmin((points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2))


def widget_frontend() -> bool:
    """True when this cell runs in a live frontend that can show widgets.

    The kernel cannot ask the frontend whether it renders widgets, so use
    what the execute request says: papermill, nbconvert --execute (nbclient)
    and nbval all send ``allow_stdin=False`` (they cannot answer ``input()``),
    while JupyterLab, Notebook 7 and VS Code send ``True``. A frontend whose
    widget manager already opened the ``jupyter.widget.control`` comm counts
    too (it only can once ipywidgets was imported before it connected)."""
    try:
        from comm import get_comm_manager
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:  # plain Python, pytest, a terminal IPython
        return False
    comms = get_comm_manager().comms.values()
    if any(getattr(c, "target_name", None) == WIDGET_CONTROL_TARGET for c in comms):
        return True
    get_parent = getattr(kernel, "get_parent", None)  # ipykernel >= 6: the request being run
    if get_parent is None:
        return bool(getattr(kernel, "_allow_stdin", False))
    return bool(get_parent().get("content", {}).get("allow_stdin", False))


class LatentExplorer:
    """What :func:`latent_explorer` returns: the parts of the explorer.

    ``points`` (N, 2) are the plotted coordinates of the test images, ``means``
    (N, latent_dim) their latent means. In the interactive version ``widget``
    is the whole explorer (an ``ipywidgets.VBox``), ``sliders`` the latent
    sliders, ``decoded`` the image decoded from the sliders, ``nearest`` the
    picked test image and its reconstruction, ``map`` the clickable scatter (drawn from ``map_figure``);
    ``figure`` is None. In the static version ``figure`` is the Matplotlib
    figure shown and the widget attributes are None / empty.
    """

    def __init__(self, model: Any, x: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 means: np.ndarray, points: np.ndarray, prefix: str) -> None:
        self.model, self.x, self.labels, self.class_names = model, x, labels, list(class_names)
        self.means, self.points, self.prefix = means, points, prefix
        self.widget: Any = None
        self.sliders: list[Any] = []
        self.decoded = self.nearest = self.map = self.caption = None
        self.figure: Any = None
        self.selected: int | None = None
        self._base = np.zeros(means.shape[1], dtype=np.float32)  # dimensions without a slider
        self._hold = False
        self.map_figure: Any = None  # the Matplotlib figure behind the clickable map
        self._marker: Any = None

    def __repr__(self) -> str:
        kind = "interactive" if self.widget is not None else "static"
        return (f"<LatentExplorer ({kind}): {len(self.points):,} test images, "
                f"{self.means.shape[1]}-D latent space>")

    def nearest_index(self, x: float, y: float) -> int:
        """The test image whose plotted point is closest to (x, y)."""
        return _nearest_point(self.points, x, y)

    def z(self) -> np.ndarray:
        """The latent vector the sliders describe, shape (1, latent_dim)."""
        z = self._base.copy()
        for j, slider in enumerate(self.sliders):
            z[j] = slider.value
        return z[None]

    def select(self, x: float, y: float) -> int:
        """What a click at plot coordinates (x, y) does: show the nearest
        test image with its label and reconstruction, mark it on the map and
        move the sliders to its latent mean. Returns its index."""
        i = self.nearest_index(x, y)
        self.selected = i
        self._base = self.means[i].astype(np.float32)
        self._hold = True  # one decode for all the sliders, not one per slider
        try:
            for j, slider in enumerate(self.sliders):
                slider.value = float(np.clip(self._base[j], slider.min, slider.max))
        finally:
            self._hold = False
        self._update_decoded()
        if self.nearest is not None:
            pair = np.concatenate([self.x[i].reshape(IMAGE_SIDE, IMAGE_SIDE),
                                   np.full((IMAGE_SIDE, 2), 0.3),
                                   self.model.decode(self.means[i:i + 1])[0].reshape(IMAGE_SIDE, IMAGE_SIDE)],
                                  axis=1)
            self.nearest.value = _png(pair, zoom=4)
            coords = ", ".join(f"{v:.2f}" for v in self.points[i])
            name = self.class_names[int(self.labels[i])]
            self.caption.value = (f"<b>Test image #{i}</b>: label <b>{name}</b> at ({coords})"
                                  "<br>left: the image, right: its reconstruction")
            self._marker.set_data([self.points[i, 0]], [self.points[i, 1]])
            self.map.value = figure_png(self.map_figure)
        return i

    def click(self, event: Mapping[str, Any]) -> None:
        """ipyevents handler: ``dataX``/``dataY`` are pixels of the map image
        (origin top left), turned into plot coordinates for :meth:`select`."""
        if "dataX" not in event or self.map_figure is None:
            return
        height = self.map_figure.bbox.height
        to_data = self.map_figure.axes[0].transData.inverted()
        x, y = to_data.transform((event["dataX"], height - event["dataY"]))
        self.select(float(x), float(y))

    def _update_decoded(self, change: Any = None) -> None:
        if not self._hold and self.decoded is not None:
            self.decoded.value = _png(self.model.decode(self.z())[0].reshape(IMAGE_SIDE, IMAGE_SIDE), zoom=5)


def _explorer_widgets(explorer: LatentExplorer, title: str) -> Any:
    """Build the interactive explorer: map on the left; decoded digit,
    sliders and the picked test image on the right."""
    import ipywidgets as w
    from ipyevents import Event
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.25), dpi=_EXPLORER_DPI)
    ax = fig.add_axes((0.11, 0.09, 0.63, 0.84))  # fixed axes: pixel <-> data mapping never moves
    scatter_classes(ax, explorer.points, explorer.labels, explorer.class_names, explorer.prefix)
    ax.set_title("click a point: nearest test image")
    (explorer._marker,) = ax.plot([], [], marker="x", color="black", markersize=14, markeredgewidth=3)
    explorer.map_figure = fig
    explorer.map = w.Image(format="png", layout=w.Layout(width="480px", height="420px"))
    Event(source=explorer.map, watched_events=["click"]).on_dom_event(explorer.click)

    means = explorer.means
    for j in range(min(means.shape[1], EXPLORER_MAX_SLIDERS)):
        low = float(np.floor(min(means[:, j].min(), -3.0)))
        high = float(np.ceil(max(means[:, j].max(), 3.0)))
        slider = w.FloatSlider(value=0.0, min=low, max=high, step=0.05, description=f"z{j + 1}",
                               continuous_update=True, readout_format=".2f",
                               layout=w.Layout(width="300px"))
        slider.observe(explorer._update_decoded, names="value")
        explorer.sliders.append(slider)
    explorer.decoded = w.Image(format="png", layout=w.Layout(width="140px", height="140px"))
    explorer.nearest = w.Image(format="png", layout=w.Layout(width="232px", height="112px"))
    explorer.caption = w.HTML()
    note = ""
    if means.shape[1] > EXPLORER_MAX_SLIDERS:
        others = means.shape[1] - EXPLORER_MAX_SLIDERS
        note = (f"<br><i>Sliders for z1-z{EXPLORER_MAX_SLIDERS}; the other {others} dimensions "
                "stay at the picked image's mean (0 before any click).</i>")
    right = w.VBox([w.HTML("<b>decoded from the sliders</b>" + note), explorer.decoded, *explorer.sliders,
                    w.HTML("<b>nearest test image</b>"), explorer.nearest, explorer.caption],
                   layout=w.Layout(margin="0 0 0 12px"))
    heading = w.HTML(f"<b>{title}</b>" if title else "")
    explorer.select(*np.median(explorer.points, axis=0))  # start with the image nearest the centre
    return w.VBox([heading, w.HBox([explorer.map, right])])


def _explorer_figure(explorer: LatentExplorer, title: str, n: int = 10) -> Any:
    """The static stand-in: the map with a marker at the median point of each
    class (at most ``n``), and below, for each marker, the nearest test image
    (titled "marker -> its label") and that image's reconstruction."""
    from matplotlib.figure import Figure

    classes = [k for k in range(len(explorer.class_names)) if np.any(explorer.labels == k)][:n]
    marks = np.array([np.median(explorer.points[explorer.labels == k], axis=0) for k in classes])
    picks = [explorer.nearest_index(*p) for p in marks]
    recons = explorer.model.decode(explorer.means[picks])
    fig = Figure(figsize=(10, 6.6), dpi=100)
    grid = fig.add_gridspec(3, max(len(picks), 1), height_ratios=(5, 1, 1))
    ax = fig.add_subplot(grid[0, :])
    # The numbered markers stand where the class names would: no names on this map.
    scatter_classes(ax, explorer.points, explorer.labels, explorer.class_names, explorer.prefix, names=False)
    for k, (px, py) in zip(classes, marks):
        ax.annotate(str(k), (px, py), ha="center", va="center", fontsize=10, fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "black"})
    for col, (k, i) in enumerate(zip(classes, picks)):
        for row, image in ((1, explorer.x[i]), (2, recons[col])):
            cell = fig.add_subplot(grid[row, col])
            cell.imshow(image.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            image_axes(cell)
            if row == 1:
                cell.set_title(f"{k} \u2192 {explorer.class_names[int(explorer.labels[i])]}", fontsize=9)
            if col == 0:
                cell.set_ylabel("nearest\ntest image" if row == 1 else "its recon-\nstruction", fontsize=9)
    fig.suptitle((f"{title}\n" if title else "") + "Static preview of the latent explorer: marker k at "
                 "the median of class k \u2192 nearest test image (its label)", fontsize=11)
    fig.tight_layout()
    return fig


def latent_explorer(model: Any, x: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                    title: str = "", interactive: bool | None = None) -> LatentExplorer:
    """Display an explorer of the latent space and return its parts.

    Interactive version (ipywidgets + ipyevents, in JupyterLab 4 or Notebook 7):
    the test images' latent means, coloured by class (the PCA projection when
    the latent space has more than 2 dimensions); one slider per latent
    dimension, for the first ten (further dimensions keep the value of the
    last picked image's mean, 0 at first), decoding a digit live; a click on
    the map picks the nearest test image (distance in the plotted 2-D space),
    shows it with its label and reconstruction, and moves the sliders to its
    mean. Only this explorer is a widget: other cells keep ``%matplotlib
    inline``.

    Static version: the map with a marker at each class's median point, and
    each marker's nearest test image and its reconstruction, as one PNG. It is
    shown when the notebook is run by papermill, nbval or nbconvert (see
    :func:`widget_frontend`) or ipywidgets/ipyevents are missing, so the
    executed notebook holds one small figure and no widget state. Force either
    version with ``interactive=True`` / ``False``.

    Assign the result (``explorer = vh.latent_explorer(...)``): it is
    displayed already. In a saved notebook the widget reads as the sentence
    :data:`EXPLORER_TEXT`.
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    input_dim = getattr(model, "input_dim", IMAGE_SIDE * IMAGE_SIDE)
    if x.ndim != 2 or x.shape[1] != input_dim or len(x) == 0:
        raise ParameterError(f"x must be a non-empty array of flattened images, shape (N, {input_dim}); "
                             f"got shape {x.shape}.")
    if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"labels must be N = {len(x)} integer class labels, one per image in x; "
                             f"got shape {labels.shape} ({labels.dtype}).")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ParameterError(f"labels must lie in 0..{len(class_names) - 1} (one per entry of class_names); "
                             f"got {labels.min()}..{labels.max()}.")
    if not isinstance(title, str):
        raise ParameterError(f"title must be a string, got {describe(title)}.")
    from IPython.display import Image, display

    means = model.encoder.predict(x, batch_size=1000, verbose=0)[0]  # the latent means
    points, prefix = project_2d(means)
    explorer = LatentExplorer(model, x, labels, class_names, means, points, prefix)
    note = ("Static preview: this run cannot show widgets (papermill, nbval, nbconvert). "
            "In JupyterLab the explorer is interactive.")
    if interactive is None:
        interactive = widget_frontend()
        try:
            import ipyevents  # noqa: F401
        except ImportError:
            if interactive:
                note = "Static preview: install ipywidgets and ipyevents (requirements.txt) for the explorer."
            interactive = False
    if interactive:
        explorer.widget = _explorer_widgets(explorer, title)
        bundle = explorer.widget._repr_mimebundle_()
        bundle["text/plain"] = EXPLORER_TEXT
        display(bundle, raw=True)
    else:
        explorer.figure = _explorer_figure(explorer, title)
        print(note)
        display(Image(data=figure_png(explorer.figure, bbox_inches="tight")))
    return explorer


"""The interactive latent explorer of notebook 06 (vh.latent_explorer), without a browser.

A tiny untrained model and a few hundred random images are enough: what is
checked is the wiring (sliders -> decoded image, click -> nearest test image
-> sliders), the static stand-in used by papermill/nbval, and input checks.
"""

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery import explorer
from vae_machinery.errors import ParameterError
from vae_machinery.explorer import EXPLORER_MAX_SLIDERS, EXPLORER_TEXT
from vae_machinery.plots import figure_png

pytest.importorskip("ipywidgets")
pytest.importorskip("ipyevents")

N = 300


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    x = rng.random((N, vh.IMAGE_PIXELS), dtype=np.float32)
    labels = np.arange(N) % 10
    names = [str(k) for k in range(10)]
    return vh.VAE(latent_dim=2, hidden_dim=16, seed=0), x, labels, names


def test_widgets_built_and_sliders_decode_live(tiny, capsys):
    model, x, labels, names = tiny
    ex = vh.latent_explorer(model, x, labels, names, title="tiny", interactive=True)
    import ipywidgets

    assert isinstance(ex.widget, ipywidgets.VBox)
    assert [s.description for s in ex.sliders] == ["z1", "z2"]
    assert ex.figure is None
    # The saved notebook shows this sentence instead of a widget repr.
    assert EXPLORER_TEXT in capsys.readouterr().out
    before = ex.decoded.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    ex.sliders[0].value = ex.sliders[0].max
    after = ex.decoded.value
    assert after != before, "moving a slider must redraw the decoded digit"
    expected = model.decode(ex.z())[0]
    assert ex.z().shape == (1, 2) and ex.z()[0, 0] == pytest.approx(ex.sliders[0].max)
    assert after == explorer._png(expected.reshape(28, 28), zoom=5)


def test_nearest_lookup_and_click_move_sliders(tiny):
    model, x, labels, names = tiny
    ex = vh.latent_explorer(model, x, labels, names, interactive=True)
    target = 42
    px, py = ex.points[target]
    assert ex.nearest_index(px, py) == target
    rng = np.random.default_rng(2)
    for qx, qy in rng.normal(size=(5, 2)) * 3:  # against a plain loop over all points
        best = min(range(N), key=lambda i: (ex.points[i, 0] - qx) ** 2 + (ex.points[i, 1] - qy) ** 2)
        assert ex.nearest_index(qx, qy) == best
    map_before, nearest_before = ex.map.value, ex.nearest.value
    # A click arrives as pixels of the map image (origin top left), as ipyevents sends it.
    fig = ex.map_figure
    dx, dy = fig.axes[0].transData.transform((px, py))
    ex.click({"type": "click", "dataX": float(dx), "dataY": float(fig.bbox.height - dy)})
    assert ex.selected == target
    assert f"#{target}" in ex.caption.value and f"<b>{names[labels[target]]}</b>" in ex.caption.value
    assert ex.map.value != map_before and ex.nearest.value != nearest_before
    for j, slider in enumerate(ex.sliders):
        assert slider.value == pytest.approx(ex.means[target, j], abs=slider.step)


def test_many_latent_dimensions_get_ten_sliders():
    rng = np.random.default_rng(1)
    x = rng.random((50, vh.IMAGE_PIXELS), dtype=np.float32)
    model = vh.VAE(latent_dim=12, hidden_dim=16, seed=0)
    ex = vh.latent_explorer(model, x, np.arange(50) % 10, list("0123456789"), interactive=True)
    assert len(ex.sliders) == EXPLORER_MAX_SLIDERS == 10
    assert ex.prefix == "PC" and ex.points.shape == (50, 2)
    i = ex.select(*ex.points[7])
    assert i == 7
    np.testing.assert_allclose(ex.z()[0, 10:], ex.means[7, 10:])  # dimensions without a slider


def test_static_fallback_without_awidget_frontend(tiny, capsys):
    model, x, labels, names = tiny
    # Under pytest (as under papermill/nbval) no widget frontend is connected: the static figure is chosen.
    ex = vh.latent_explorer(model, x, labels, names, title="tiny")
    assert ex.widget is None and ex.sliders == []
    assert ex.figure is not None and len(ex.figure.axes) == 1 + 2 * 10
    assert "Static preview" in capsys.readouterr().out
    png = figure_png(ex.figure)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == figure_png(ex.figure), "same figure, same bytes"
    assert "static" in repr(ex)


@pytest.mark.parametrize("allow_stdin", [True, False])
def test_frontend_detection_follows_the_execute_request(monkeypatch, allow_stdin):
    """JupyterLab sends allow_stdin=True; papermill, nbval and nbconvert send False."""
    import IPython

    class Kernel:
        def get_parent(self):
            return {"content": {"code": "", "allow_stdin": allow_stdin}}

    class Shell:
        kernel = Kernel()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert explorer.widget_frontend() is allow_stdin
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert explorer.widget_frontend() is False


def test_a_frontend_that_opened_the_widget_control_comm_counts(monkeypatch):
    """allow_stdin=False, but a widget manager opened ipywidgets' control comm: it renders widgets."""
    import comm
    import IPython

    class Kernel:
        def get_parent(self):
            return {"content": {"code": "", "allow_stdin": False}}

    class Shell:
        kernel = Kernel()

    class Manager:
        def __init__(self, targets):
            self.comms = {str(i): type("Comm", (), {"target_name": t})() for i, t in enumerate(targets)}

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(comm, "get_comm_manager", lambda: Manager(["jupyter.widget"]))
    assert explorer.widget_frontend() is False, "a widget's own comm is not the control comm"
    both = Manager(["jupyter.widget", "jupyter.widget.control"])
    monkeypatch.setattr(comm, "get_comm_manager", lambda: both)
    assert explorer.widget_frontend() is True


@pytest.mark.parametrize("change, message", [
    (lambda x, y, n: (x, y[:-1], n), "one per image"),
    (lambda x, y, n: (x[:, :100], y, n), "shape"),
    (lambda x, y, n: (x, y + 5, n), "0..9"),
    (lambda x, y, n: (x, y.astype(float), n), "integer"),
])
def test_bad_input_is_a_clear_error(tiny, change, message):
    model, x, labels, names = tiny
    with pytest.raises(ParameterError, match=message):
        vh.latent_explorer(model, *change(x, labels, names), interactive=False)

"""Notebook 03 trains with the student's functions from notebook 02, or says why it does not.

``vh.functions_from_notebook`` runs the answer cells of exercises 02.1-02.3,
puts the functions through their public self-checks and one compiled training
step, and returns them as keyword arguments of ``vh.VAE`` (or ``{}``: the
module's own). These tests build small notebooks 02 with right, wrong and
missing answers, train on a few hundred random images for one epoch, and
check the saved model.
"""

import contextlib
import io
import random
from pathlib import Path

import nbformat
import numpy as np
import pytest

import vae_helpers as vh

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_02 = ROOT / "notebooks" / "02_model.ipynb"

# Worked solutions written as a student would: keras.ops, none of the series' own functions.
RIGHT = {
    "ex02-1-answer": "my_reparameterize = None\n"
                     "def my_reparameterize(z_mean, z_log_var, eps):\n"
                     "    return z_mean + ops.exp(0.5 * z_log_var) * eps\n",
    "ex02-2-answer": "my_kl_divergence = None\n"
                     "def my_kl_divergence(z_mean, z_log_var):\n"
                     "    terms = ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var\n"
                     "    return 0.5 * ops.sum(terms, axis=-1)\n",
    "ex02-3-answer": "my_vae_loss = None\n"
                     "def my_vae_loss(x, logits, z_mean, z_log_var, beta):\n"
                     "    bce = ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)\n"
                     "    return bce + beta * my_kl_divergence(z_mean, z_log_var)\n",
}


def write_notebook_02(folder: Path, **answers: str | None) -> Path:
    """A notebook 02 in ``folder`` whose answer cells hold RIGHT, with ``answers`` (by grade_id, with
    ``-`` written ``_``) replacing some of them; None leaves that cell out."""
    cells = [nbformat.v4.new_markdown_cell("# 2 · The model"),
             nbformat.v4.new_code_cell("import numpy as np\nprint('not an answer cell: never run')\n1 / 0")]
    for grade_id, source in RIGHT.items():
        source = answers.get(grade_id.replace("-", "_"), source)
        if source is None:
            continue
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata = {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": False,
                                      "schema_version": 3, "solution": True}, "tags": ["exercise"]}
        cells.append(cell)
    path = folder / "02_model.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def tiny_data(n_train: int = 256, n_val: int = 64) -> vh.Dataset:
    """Random images in [0, 1]: enough to run an epoch through the real training loop."""
    rng = np.random.default_rng(0)

    def images(n):
        return rng.random((n, vh.IMAGE_PIXELS), dtype=np.float32)

    def labels(n):
        return rng.integers(0, 10, n).astype(np.uint8)

    return vh.Dataset(name="mnist", x_train=images(n_train), y_train=labels(n_train), x_val=images(n_val),
                      y_val=labels(n_val), x_test=images(n_val), y_test=labels(n_val),
                      class_names=[str(d) for d in range(10)], source="random images (test)")


def train_one_epoch(functions: dict, data: vh.Dataset, jit_compile: bool | None = None) -> tuple:
    """One epoch of vh.train_vae, the fast path of notebook 03 (XLA unless ``jit_compile=False``)."""
    vh.set_seed(0)
    model = vh.VAE(latent_dim=2, hidden_dim=32, seed=0, **functions)
    if jit_compile is False:  # train_vae compiles a model that is not compiled yet, with XLA
        vh.compile_vae(model, 2e-3, jit_compile=False)
    history = vh.train_vae(model, data, epochs=1, batch_size=64, learning_rate=2e-3, verbose=False)
    return model, history


def fallback_line(capsys) -> str:
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1, out
    assert out.startswith("Training with vae_helpers' own reparameterize, kl_divergence and vae_loss: "), out
    return out


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data):
    """The worked solutions collected from a notebook 02 and trained for an epoch (counting their
    calls), and the same run with the module's functions."""
    folder = tmp_path_factory.mktemp("notebooks")
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        yours = vh.functions_from_notebook(write_notebook_02(folder))
    calls = dict.fromkeys(yours, 0)

    def counted(name):
        def wrapper(*args):
            calls[name] += 1
            return yours[name](*args)
        return wrapper

    model, history = train_one_epoch({name: counted(name) for name in yours}, data)
    reference, reference_history = train_one_epoch({}, data)
    return dict(yours=yours, said=said.getvalue(), calls=calls, model=model, history=history,
                reference=reference, reference_history=reference_history, folder=folder)


@pytest.mark.slow
def test_the_worked_solutions_train_the_model_and_it_says_so(trained):
    assert trained["said"] == ("Training with your own my_reparameterize, my_kl_divergence and "
                               "my_vae_loss from 02_model.ipynb (they pass their self-checks).\n")
    yours = trained["yours"]
    assert [yours[name].__name__ for name in ("reparameterize", "kl_divergence", "vae_loss")] == [
        "my_reparameterize", "my_kl_divergence", "my_vae_loss"]
    # The fast path (train_vae: XLA, several steps per call) calls them.
    assert all(trained["calls"].values()), trained["calls"]
    # Written right, they compute what the module's functions compute, op for op: the same run.
    history, reference_history = trained["history"], trained["reference_history"]
    assert history == {**reference_history, "epoch_time_s": history["epoch_time_s"]}
    for ours, theirs in zip(trained["model"].get_weights(), trained["reference"].get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_the_committed_notebook_02_trains_the_model():
    """The committed run of notebook 03 trains with notebook 02's worked solutions."""
    yours = vh.functions_from_notebook(NOTEBOOK_02, verbose=False)
    assert sorted(yours) == ["kl_divergence", "reparameterize", "vae_loss"]


KL_WITHOUT_HALF = ("my_kl_divergence = None\n"
                   "def my_kl_divergence(z_mean, z_log_var):\n"
                   "    return ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1)\n")
KL_IN_NUMPY = ("my_kl_divergence = None\n"
               "def my_kl_divergence(z_mean, z_log_var):\n"
               "    return 0.5 * np.sum(np.square(z_mean) + np.exp(z_log_var) - 1.0 - z_log_var, axis=-1)\n")
SIGMA_FOR_LOG_VAR = ("my_reparameterize = None\n"
                     "def my_reparameterize(z_mean, z_log_var, eps):\n"
                     "    return z_mean + z_log_var * eps\n")
FAILS_AFTER_THE_DEF = RIGHT["ex02-1-answer"] + "print(my_reparameterize(z, LATENT_DIM, 0))\n"


@pytest.mark.parametrize(("answers", "said", "named"), [
    ({"ex02_1_answer": SIGMA_FOR_LOG_VAR}, ["your my_reparameterize does not pass its self-check (for "],
     {"my_reparameterize"}),
    # The loss calls the student's KL: a wrong KL makes a wrong loss, and both are named.
    ({"ex02_2_answer": KL_WITHOUT_HALF}, ["your my_kl_divergence does not pass its self-check (for z_mean=",
                                         "your my_vae_loss does not pass its self-check"],
     {"my_kl_divergence", "my_vae_loss"}),
    ({"ex02_3_answer": "my_vae_loss = None\n"}, ["your my_vae_loss is not written yet (still None)"],
     {"my_vae_loss"}),
    ({"ex02_1_answer": None}, ["02_model.ipynb has no answer cell for my_reparameterize"],
     {"my_reparameterize"}),
    ({"ex02_2_answer": "my_kl_divergence = vh.kl_divergence\n"},
     ["your my_kl_divergence uses the series' own vh.kl_divergence",
      "your my_vae_loss uses the series' own vh.kl_divergence"], {"my_kl_divergence", "my_vae_loss"}),
    ({"ex02_2_answer": "my_kl_divergence = None\nmy_kl_divergence = kl_of(LATENT_DIM)\n"},
     ["your my_kl_divergence is not written yet (its cell raised NameError: name 'kl_of' is not defined)"],
     {"my_kl_divergence", "my_vae_loss"}),
    # NumPy passes the self-check (plain arrays) but cannot run in a compiled training step.
    ({"ex02_2_answer": KL_IN_NUMPY},
     ["your my_kl_divergence and my_vae_loss fail in a compiled training step although the self-checks pass",
      "use keras.ops"], {"my_kl_divergence", "my_vae_loss"}),
])
def test_a_wrong_or_missing_function_falls_back_and_says_which(tmp_path, capsys, answers, said, named):
    yours = vh.functions_from_notebook(write_notebook_02(tmp_path, **answers))
    assert yours == {}
    line = fallback_line(capsys)
    for words in said:
        assert words in line, line
    for name in ("my_reparameterize", "my_kl_divergence", "my_vae_loss"):
        assert (name in line) == (name in named), (name, line)


def test_a_cell_that_fails_after_defining_its_function_still_gives_the_function(tmp_path):
    yours = vh.functions_from_notebook(write_notebook_02(tmp_path, ex02_1_answer=FAILS_AFTER_THE_DEF),
                                       verbose=False)
    assert sorted(yours) == ["kl_divergence", "reparameterize", "vae_loss"]


def test_without_notebook_02_it_trains_with_the_module_functions(tmp_path, data, capsys):
    yours = vh.functions_from_notebook(tmp_path / "02_model.ipynb")
    assert yours == {}
    assert "02_model.ipynb, where you write my_reparameterize, my_kl_divergence and my_vae_loss, is not " \
           "beside this notebook" in fallback_line(capsys)
    model, history = train_one_epoch(yours, data, jit_compile=False)
    assert (model.reparameterize, model.kl_divergence, model.vae_loss) == (
        vh.reparameterize, vh.kl_divergence, vh.vae_loss)
    assert np.isfinite(history["loss"]).all()


def test_reading_notebook_02_leaves_the_random_state_alone(trained):
    """Same seed, same initial weights, whether or not the student's functions were collected first."""
    vh.set_seed(3)
    state = (random.getstate(), np.random.get_state()[1].copy())
    vh.functions_from_notebook(trained["folder"] / "02_model.ipynb", verbose=False)
    assert random.getstate() == state[0] and (np.random.get_state()[1] == state[1]).all()
    after = vh.VAE(latent_dim=2, hidden_dim=16).get_weights()
    vh.set_seed(3)
    before = vh.VAE(latent_dim=2, hidden_dim=16).get_weights()
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


def test_a_saved_model_loads_with_the_module_functions(tmp_path, trained, data):
    model = trained["model"]
    assert model.vae_loss.__name__ == "wrapper"  # the student's, counted
    vh.save_artifacts(tmp_path, model, trained["history"], {"LATENT_DIM": 2})
    loaded, _, _ = vh.load_artifacts(tmp_path, LATENT_DIM=2)
    assert (loaded.reparameterize, loaded.kl_divergence, loaded.vae_loss) == (
        vh.reparameterize, vh.kl_divergence, vh.vae_loss)
    x = data.x_val[:8]
    np.testing.assert_array_equal(vh.latent_means(loaded, x), vh.latent_means(model, x))


def test_a_model_that_borrows_the_vae_methods_uses_the_module_functions():
    """Notebook 09's ConvVAE takes VAE.call and VAE.compute_loss without VAE.__init__."""

    class Borrower(vh.keras.Model):
        def __init__(self):
            super().__init__()
            self.latent_dim, self.beta = 2, 1.0
            self.encoder = vh.build_encoder(vh.IMAGE_PIXELS, 8, 2)
            self.decoder = vh.build_decoder(2, 8, vh.IMAGE_PIXELS)
            self.noise = vh.keras.random.SeedGenerator(0)
            self.reconstruction_tracker = vh.keras.metrics.Mean(name="reconstruction_loss")
            self.kl_tracker = vh.keras.metrics.Mean(name="kl_loss")
            self.built = True

        call = vh.VAE.call
        compute_loss = vh.VAE.compute_loss

    model = Borrower()
    x = np.random.default_rng(1).random((4, vh.IMAGE_PIXELS), dtype=np.float32)
    logits, z_mean, z_log_var = model(x)
    loss = float(model.compute_loss(x=x, y_pred=(logits, z_mean, z_log_var)))
    assert loss == pytest.approx(float(np.mean(vh.vae_loss(x, logits, z_mean, z_log_var))), rel=1e-6)

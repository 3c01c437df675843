"""The benchmark's FLOP model (the benchmark itself is run by hand, not in CI)."""

from pathlib import Path

from vae_bench import train_speed


def test_matmul_flops_of_one_layer():
    # One 10x5 layer, 3 training images, 2 validation images:
    # forward 2*10*5 = 100 per image; training adds the weight gradient (100)
    # but no input gradient for the first layer; the validation set is forward only.
    assert train_speed.matmul_flops_per_epoch([(10, 5)], 3, 2) == 3 * 200 + 2 * 100


def test_matmul_flops_of_the_default_vae():
    import vae_helpers as vh

    shapes = [(784, 512), (512, 512), (512, 2), (512, 2), (2, 512), (512, 512), (512, 784)]
    assert train_speed.model_layer_shapes(vh.VAE(latent_dim=2, hidden_dim=512)) == shapes
    forward = 2 * sum(i * o for i, o in shapes)
    # An epoch trains on the 55,000 training images and evaluates the 5,000 validation images.
    data_sizes = (55_000, 5_000)
    expected = data_sizes[0] * (3 * forward - 2 * 784 * 512) + data_sizes[1] * forward
    assert train_speed.matmul_flops_per_epoch(shapes, *data_sizes) == expected
    assert 400e9 < expected < 420e9  # about 0.41 TFLOP per epoch


def test_the_benchmark_uses_the_series_training_defaults():
    """The benchmark reads notebook 03's parameters cell (so it measures what a learner runs); those
    are the series' training defaults, vh.TRAINING_DEFAULTS, which 03's quality bar applies to
    (through vh.start_notebook's default_run)."""
    import vae_helpers as vh

    notebook = Path(__file__).resolve().parent.parent / "notebooks" / "03_training.ipynb"
    cfg = train_speed.notebook_defaults(notebook)
    assert cfg["epochs"] == 20 and cfg["latent_dim"] == 2 and 0 < cfg["lr_decay"] < 1
    shared = ("BATCH_SIZE", "LEARNING_RATE", "LR_DECAY", "MATMUL_PRECISION", "EPOCHS",
              "LATENT_DIM", "HIDDEN_DIM", "SEED")
    ours = {name: vh.TRAINING_DEFAULTS[name] for name in shared}
    assert ours == {name: cfg[name.lower()] for name in shared}

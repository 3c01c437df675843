"""Parameter checks: the error names the parameter, the value and the rule."""

import pytest

import vae_helpers as vh


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LATENT_DIM", 0, r"LATENT_DIM = 0 \(int\).*positive integer"),
        ("HIDDEN_DIM", 2.5, r"HIDDEN_DIM = 2.5 \(float\).*positive integer"),
        ("EPOCHS", "20", r"EPOCHS = '20' \(str\).*positive integer"),
        ("BATCH_SIZE", True, r"BATCH_SIZE = True \(bool\).*positive integer"),
        ("LEARNING_RATE", 0.0, r"LEARNING_RATE = 0.0.*finite number > 0"),
        ("LEARNING_RATE", float("nan"), r"LEARNING_RATE = nan.*finite"),
        ("LR_DECAY", 1.5, r"LR_DECAY = 1.5 \(float\).*from 0 to 1"),
        ("LR_DECAY", "0.25", r"LR_DECAY = '0.25' \(str\).*from 0 to 1"),
        ("LR_DECAY", float("nan"), r"LR_DECAY = nan.*from 0 to 1"),
        ("BETA", -1.0, r"BETA = -1.0.*>= 0"),
        ("BETA", float("inf"), r"BETA = inf.*finite"),
        ("DATASET", "MNIST", r"DATASET = 'MNIST'.*one of 'mnist', 'fashion_mnist'"),
        ("SEED", "42", r"SEED = '42' \(str\).*integer.*-p, not -r"),
    ],
)
def test_bad_parameter_is_named(name, value, message):
    with pytest.raises(vh.ParameterError, match=message):
        vh.check_parameters(**{name: value})


def test_data_dir_must_exist(tmp_path):
    vh.check_parameters(DATA_DIR=None)
    vh.check_parameters(DATA_DIR=str(tmp_path))
    with pytest.raises(vh.ParameterError, match="DATA_DIR = .*nowhere.*existing folder"):
        vh.check_parameters(DATA_DIR=str(tmp_path / "nowhere"))


def test_good_defaults_pass():
    vh.check_parameters(SEED=42, DATASET="mnist", LATENT_DIM=2, HIDDEN_DIM=512, EPOCHS=20,
                        BATCH_SIZE=128, LEARNING_RATE=1e-3, LR_DECAY=0.0, BETA=0.0,
                        ARTIFACTS_DIR="../artifacts")
    vh.check_parameters(LR_DECAY=1)


def test_unknown_name_is_a_programming_error():
    with pytest.raises(TypeError, match="LATENTDIM"):
        vh.check_parameters(LATENTDIM=2)


def test_set_seed_rejects_strings():
    with pytest.raises(vh.ParameterError, match="SEED must be an integer"):
        vh.set_seed("1")

"""vh.compare_seeds: the series' one rule for calling two settings different."""

import numpy as np
import pytest
from scipy import stats

import vae_helpers as vh


def test_three_seeds_a_side_use_welchs_t_test():
    a, b = [140.0, 142.0, 144.0], [141.0, 145.0, 146.0]  # 2 nats apart, stds 2 and 2.6
    result = vh.compare_seeds(a, b)
    assert result.difference == pytest.approx(2.0)
    assert result.p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert result.p_value == pytest.approx(0.36, abs=0.01) and not result.told_apart
    assert str(result).startswith("+2.00 nats: not told apart by these seeds (Welch's t-test p = 0.36")


def test_a_gap_far_beyond_the_seed_spread_gets_its_direction():
    lower = vh.compare_seeds([146.1, 146.3, 146.6], [142.0, 142.5, 142.1])
    assert lower.told_apart and lower.p_value < 0.01 and "nats: lower (Welch" in str(lower)
    higher = vh.compare_seeds([142.0, 142.5, 142.1], [146.1, 146.3, 146.6])
    assert higher.told_apart and "nats: higher (Welch" in str(higher)


@pytest.mark.parametrize("a, b", [([142.0], [150.0]), ([142.0, 143.0], [150.0, 151.0]),
                                  ([1.0], [1.0, 2.0, 3.0])])
def test_fewer_than_three_seeds_give_numbers_and_no_verdict(a, b):
    """One seed has no spread, so even a large gap gets no direction word (07 with SEEDS = [42])."""
    result = vh.compare_seeds(a, b)
    assert result.p_value is None and not result.told_apart
    text = str(result)
    assert "too few for a test, no verdict" in text
    assert not any(word in text for word in ("higher", "lower", "better", "worse", "told apart"))


def test_seeds_without_any_spread():
    assert vh.compare_seeds([1.0] * 3, [2.0] * 3).told_apart
    assert not vh.compare_seeds([1.0] * 3, [1.0] * 3).told_apart


def test_the_level_is_the_one_stated():
    a, b = np.array([10.0, 11.0, 12.0]), np.array([11.5, 12.5, 13.5])  # p about 0.13
    assert not vh.compare_seeds(a, b).told_apart
    assert vh.compare_seeds(a, b, level=0.2).told_apart and "< 0.2)" in str(vh.compare_seeds(a, b, level=0.2))


def test_the_tuning_page_uses_the_same_rule():
    """Every verdict of docs/tuning.md is what vh.compare_seeds says of the two rows of seeds above it."""
    from pathlib import Path

    report = (Path(__file__).resolve().parent.parent / "docs" / "tuning.md").read_text()
    rows, verdicts = [], 0
    for line in report.splitlines():
        if line.startswith("| ") and not line.startswith("| configuration"):
            rows.append([float(c) for c in line.strip("|").split("|")[1:-1]])
        if line.startswith("Δ = mean(alternative)"):
            chosen, alternative = rows[-2], rows[-1]
            assert line == f"Δ = mean(alternative) − mean(chosen) = {vh.compare_seeds(chosen, alternative)}."
            verdicts += 1
    assert verdicts == 5


@pytest.mark.parametrize("name", ["07_experiments", "08_conditional_vae", "09_conv_vae",
                                  "10_posterior_collapse"])
def test_the_notebooks_that_compare_runs_use_the_one_rule(name):
    """07-10 call vh.compare_seeds and no rule of their own (twice the standard error, sum of stds)."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / f"{name}.ipynb"
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "vh.compare_seeds(" in code
    for other_rule in ("2 * se", "clearly_lower", "ttest", "standard error"):
        assert other_rule not in code, other_rule

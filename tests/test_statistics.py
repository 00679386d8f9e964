"""The gap engine reproduces the published worked examples and agrees with scipy on raw answers.

The functions under test only ever see histograms; the tests expand small samples into raw
answers so that scipy, or a brute-force formula, can check them on the rows.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from perception.statistics import (
    GapTest,
    benjamini_hochberg,
    cliffs_delta,
    cohens_d,
    effect_label,
    hedges_g,
    mann_whitney,
    moments,
    nps_difference,
    recode,
    two_proportions,
    welch,
)

VECTORS_FILE = Path(__file__).parent / "vectors" / "public.json"
# Decimals keep the number of digits each example was published with ("0.20" stays two decimals).
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"), parse_float=Decimal)

NPS_ANSWERS = st.lists(st.integers(0, 10), min_size=2, max_size=40)
SEVEN_POINT_ANSWERS = st.lists(st.integers(1, 7), min_size=2, max_size=40)
FEW_ANSWERS = st.lists(st.integers(1, 5), min_size=1, max_size=40)


def histogram_of(answers: list[int]) -> dict[int, int]:
    return dict(Counter(answers))


def nps_histogram(counts: dict) -> dict[int, int]:
    return {10: int(counts["promoters"]), 8: int(counts["passives"]), 3: int(counts["detractors"])}


def as_published(actual: float, published: Decimal) -> bool:
    """True when ``actual`` rounds to ``published`` at the number of decimals it was published with."""
    exponent = published.as_tuple().exponent
    assert isinstance(exponent, int)
    return abs(actual - float(published)) <= 0.5 * 10.0**exponent + 1e-12


def constant(answers: list[int]) -> bool:
    return len(set(answers)) == 1


def scipy_welch(employee: list[int], customer: list[int]):
    return stats.ttest_ind(employee, customer, equal_var=False)


def scipy_mann_whitney(employee: list[int], customer: list[int]):
    return stats.mannwhitneyu(employee, customer, alternative="two-sided", method="asymptotic", use_continuity=True)


# --- published worked examples ---------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["welch"], ids=lambda case: case["source"])
def test_welch_matches_the_published_example(case: dict) -> None:
    result = welch(histogram_of(case["a"]), histogram_of(case["b"]))
    assert result.method == "welch"
    assert result.statistic is not None and as_published(result.statistic, case["t"])
    assert result.df is not None and as_published(result.df, case["df"])
    assert result.p is not None and as_published(result.p, case["p"])


@pytest.mark.parametrize("case", VECTORS["welch"], ids=lambda case: case["source"])
def test_mann_whitney_matches_the_published_example(case: dict) -> None:
    u, p = mann_whitney(histogram_of(case["a"]), histogram_of(case["b"]))
    assert as_published(u, case["mann_whitney_u"])
    assert as_published(p, case["mann_whitney_p"])


@pytest.mark.parametrize("case", VECTORS["welch"], ids=lambda case: case["source"])
def test_effect_sizes_match_the_published_example(case: dict) -> None:
    employee, customer = histogram_of(case["a"]), histogram_of(case["b"])
    assert as_published(cliffs_delta(employee, customer), case["cliffs_delta"])
    assert as_published(cohens_d(employee, customer), case["cohens_d"])
    assert as_published(hedges_g(employee, customer), case["hedges_g"])


@pytest.mark.parametrize("case", VECTORS["nps_difference"], ids=lambda case: case["source"])
def test_nps_difference_matches_the_published_example(case: dict) -> None:
    result = nps_difference(nps_histogram(case["employee"]), nps_histogram(case["customer"]))
    assert result.method == "nps_wald"
    assert as_published(result.difference, case["delta"])
    assert result.se is not None and as_published(result.se, case["se"])
    assert result.ci95 is not None
    assert as_published(result.ci95[0], case["ci95"][0])
    assert as_published(result.ci95[1], case["ci95"][1])
    # The interval's half-width is 1.959964 standard errors, as the published se implies.
    assert as_published((result.ci95[1] - result.ci95[0]) / 2 / 1.959964, case["se"])
    assert result.statistic is not None and as_published(result.statistic, case["z"])


@pytest.mark.parametrize("case", VECTORS["benjamini_hochberg"], ids=lambda case: str(case["p"]))
def test_benjamini_hochberg_matches_the_published_example(case: dict) -> None:
    q = benjamini_hochberg([float(p) for p in case["p"]])
    assert len(q) == len(case["q"])
    assert all(as_published(actual, published) for actual, published in zip(q, case["q"], strict=True))


# --- agreement with scipy and brute force on raw answers ---------------------------------------


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # scipy, on a constant side
@settings(max_examples=60, deadline=None)
@given(employee=SEVEN_POINT_ANSWERS, customer=SEVEN_POINT_ANSWERS)
def test_welch_agrees_with_scipy_on_the_raw_answers(employee: list[int], customer: list[int]) -> None:
    result = welch(histogram_of(employee), histogram_of(customer))
    assert result.difference == pytest.approx(sum(employee) / len(employee) - sum(customer) / len(customer))
    if constant(employee) and constant(customer):  # scipy answers nan or inf here; see the edge cases
        assert result.statistic is None
        return
    expected = scipy_welch(employee, customer)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    if hasattr(expected, "df"):
        assert result.df == pytest.approx(expected.df, rel=1e-9)
        low, high = expected.confidence_interval(0.95)
        assert result.ci95 == pytest.approx((low, high), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(employee=NPS_ANSWERS, customer=NPS_ANSWERS)
def test_mann_whitney_agrees_with_scipy_on_the_raw_answers(employee: list[int], customer: list[int]) -> None:
    u, p = mann_whitney(histogram_of(employee), histogram_of(customer))
    expected = scipy_mann_whitney(employee, customer)
    assert u == expected.statistic
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(employee=FEW_ANSWERS, customer=FEW_ANSWERS)
def test_mann_whitney_agrees_with_scipy_even_for_single_answers(employee: list[int], customer: list[int]) -> None:
    u, p = mann_whitney(histogram_of(employee), histogram_of(customer))
    expected = scipy_mann_whitney(employee, customer)
    assert u == expected.statistic
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(employee=NPS_ANSWERS, customer=NPS_ANSWERS)
def test_cliffs_delta_counts_every_pair(employee: list[int], customer: list[int]) -> None:
    higher = sum(1 for e in employee for c in customer if e > c)
    lower = sum(1 for e in employee for c in customer if e < c)
    expected = (higher - lower) / (len(employee) * len(customer))
    assert cliffs_delta(histogram_of(employee), histogram_of(customer)) == pytest.approx(expected, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(employee=SEVEN_POINT_ANSWERS, customer=SEVEN_POINT_ANSWERS)
def test_hedges_g_follows_the_textbook_formula_on_the_raw_answers(employee: list[int], customer: list[int]) -> None:
    n_e, n_c = len(employee), len(customer)
    mean_e, mean_c = sum(employee) / n_e, sum(customer) / n_c
    squares = sum((x - mean_e) ** 2 for x in employee) + sum((x - mean_c) ** 2 for x in customer)
    pooled_sd = math.sqrt(squares / (n_e + n_c - 2))
    e, c = histogram_of(employee), histogram_of(customer)
    g, d = hedges_g(e, c), cohens_d(e, c)
    if pooled_sd == 0:
        assert math.isnan(g) and math.isnan(d)
        return
    expected_d = (mean_e - mean_c) / pooled_sd
    assert d == pytest.approx(expected_d, rel=1e-9, abs=1e-12)
    assert g == pytest.approx(expected_d * (1 - 3 / (4 * (n_e + n_c) - 9)), rel=1e-9, abs=1e-12)


def is_top_two_box(value: int) -> bool:
    return value >= 6


@settings(max_examples=60, deadline=None)
@given(employee=SEVEN_POINT_ANSWERS, customer=SEVEN_POINT_ANSWERS)
def test_two_proportions_follow_the_pooled_test_and_the_wald_interval(employee: list[int], customer: list[int]) -> None:
    n_e, n_c = len(employee), len(customer)
    s_e = sum(1 for x in employee if is_top_two_box(x))
    s_c = sum(1 for x in customer if is_top_two_box(x))
    p_e, p_c = s_e / n_e, s_c / n_c
    pooled = (s_e + s_c) / (n_e + n_c)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_e + 1 / n_c))
    se_wald = math.sqrt(p_e * (1 - p_e) / n_e + p_c * (1 - p_c) / n_c)

    result = two_proportions(histogram_of(employee), histogram_of(customer), is_top_two_box)

    assert result.method == "two_proportion"
    assert result.difference == pytest.approx(100 * (p_e - p_c), abs=1e-9)
    assert result.ci95 == pytest.approx(
        (100 * (p_e - p_c - 1.959963984540054 * se_wald), 100 * (p_e - p_c + 1.959963984540054 * se_wald)), abs=1e-9
    )
    if se_pooled == 0:
        assert result.statistic is None and result.p == 1.0
        return
    z = (p_e - p_c) / se_pooled
    assert result.statistic == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert result.p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(employee=NPS_ANSWERS, customer=NPS_ANSWERS)
def test_nps_difference_follows_the_wald_formula_on_the_raw_answers(employee: list[int], customer: list[int]) -> None:
    def score(answers: list[int]) -> tuple[float, float]:
        recoded = [1 if x >= 9 else -1 if x <= 6 else 0 for x in answers]
        mean = sum(recoded) / len(recoded)
        return mean, sum((r - mean) ** 2 for r in recoded) / len(recoded)  # the population variance of -1/0/+1

    (nps_e, var_e), (nps_c, var_c) = score(employee), score(customer)
    se = 100 * math.sqrt(var_e / len(employee) + var_c / len(customer))
    result = nps_difference(histogram_of(employee), histogram_of(customer))
    assert result.difference == pytest.approx(100 * (nps_e - nps_c), abs=1e-9)
    assert result.se == pytest.approx(se, abs=1e-9)
    if se > 1e-9:
        assert result.statistic == pytest.approx(result.difference / se, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(p_values=st.lists(st.floats(0, 1), max_size=30))
def test_benjamini_hochberg_is_the_step_up_minimum(p_values: list[float]) -> None:
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    expected = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down, q is the smallest p m / rank seen so far
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        expected[index] = running
    assert benjamini_hochberg(p_values) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(answers=st.lists(st.integers(0, 10), max_size=40))
def test_moments_are_the_mean_and_sample_variance_of_the_answers(answers: list[int]) -> None:
    result = moments(histogram_of(answers))
    assert result.n == len(answers)
    if not answers:
        assert math.isnan(result.mean) and math.isnan(result.variance)
        return
    assert result.mean == pytest.approx(sum(answers) / len(answers))
    if len(answers) < 2:
        assert math.isnan(result.variance)
    else:
        assert result.variance == pytest.approx(stats.tvar(answers) if not constant(answers) else 0.0, abs=1e-12)


# --- everyday use ---------------------------------------------------------------------------------


def test_welch_reports_a_gap_in_the_units_asked_for() -> None:
    employee, customer = {4: 30, 5: 20}, {2: 10, 3: 25, 4: 15}
    plain, scaled = welch(employee, customer), welch(employee, customer, scale=25.0)
    assert scaled.difference == pytest.approx(25 * plain.difference)
    assert plain.ci95 is not None and scaled.ci95 is not None
    assert scaled.ci95 == pytest.approx((25 * plain.ci95[0], 25 * plain.ci95[1]))
    assert scaled.se == pytest.approx(25 * plain.se)
    assert (scaled.statistic, scaled.p, scaled.df) == (plain.statistic, plain.p, plain.df)


def test_welch_refuses_a_scale_that_is_not_positive() -> None:
    with pytest.raises(ValueError):
        welch({1: 2, 2: 2}, {1: 2, 2: 2}, scale=0.0)


def test_a_wave_of_millions_of_answers_is_tested_from_its_counts() -> None:
    employee = {1: 300_000, 2: 500_000, 3: 1_200_000, 4: 2_000_000, 5: 1_000_000}
    customer = {1: 900_000, 2: 800_000, 3: 1_500_000, 4: 1_400_000, 5: 400_000}
    small_e = {value: count // 100_000 for value, count in employee.items()}
    small_c = {value: count // 100_000 for value, count in customer.items()}
    # Shares, and so Cliff's delta and the NPS-style gaps, do not depend on the size of the wave.
    assert cliffs_delta(employee, customer) == pytest.approx(cliffs_delta(small_e, small_c), abs=1e-12)
    assert welch(employee, customer).difference == pytest.approx(welch(small_e, small_c).difference)
    u, p = mann_whitney(employee, customer)
    assert u == pytest.approx((cliffs_delta(employee, customer) + 1) / 2 * 5_000_000 * 5_000_000)
    assert p < 1e-300
    assert two_proportions(employee, customer, lambda value: value >= 4).p == pytest.approx(0.0, abs=1e-300)


def test_recode_merges_values_that_share_a_code() -> None:
    histogram = {0: 2, 5: 3, 6: 0, 7: 4, 8: 1, 9: 5, 10: 6}
    recoded = recode(histogram, lambda value: 1.0 if value >= 9 else -1.0 if value <= 6 else 0.0)
    assert recoded == {-1.0: 5, 0.0: 5, 1.0: 11}


def test_recoded_histograms_feed_the_other_tests() -> None:
    employee, customer = {9: 10, 10: 10, 3: 5}, {9: 5, 7: 10, 2: 10}
    as_nps = recode(employee, lambda value: 1.0 if value >= 9 else -1.0 if value <= 6 else 0.0)
    assert moments(as_nps).mean == pytest.approx(0.6)
    top_two = two_proportions(employee, customer, lambda value: value >= 9)
    assert top_two.difference == pytest.approx(100 * (20 / 25 - 5 / 25))


@pytest.mark.parametrize(
    ("delta", "label"),
    [
        (0.0, "negligible"),
        (0.146, "negligible"),
        (-0.147, "small"),
        (0.329, "small"),
        (0.33, "medium"),
        (-0.473, "medium"),
        (0.474, "large"),
        (-1.0, "large"),
    ],
)
def test_effect_label_names_the_size_of_a_cliffs_delta(delta: float, label: str) -> None:
    assert effect_label(delta) == label


def test_effect_label_refuses_an_undefined_effect() -> None:
    with pytest.raises(ValueError):
        effect_label(math.nan)


def test_positive_gaps_mean_employees_answer_higher() -> None:
    employee, customer = {5: 10, 4: 5}, {2: 10, 3: 5}
    assert welch(employee, customer).difference > 0
    assert cliffs_delta(employee, customer) == 1.0
    assert cohens_d(employee, customer) > 0
    assert mann_whitney(employee, customer)[0] == 15 * 15


# --- edge cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [{}, {3: 0, 4: 0}], ids=["no entries", "only zero counts"])
def test_an_empty_side_gives_no_test(empty: dict[int, int]) -> None:
    other = {7: 3, 9: 4, 10: 2}
    for result in (welch(empty, other), nps_difference(other, empty), two_proportions(empty, other, is_top_two_box)):
        assert math.isnan(result.difference)
        assert (result.ci95, result.statistic, result.p, result.df) == (None, None, None, None)
    assert all(math.isnan(x) for x in mann_whitney(other, empty))
    assert math.isnan(cliffs_delta(empty, other))
    assert math.isnan(cohens_d(empty, other)) and math.isnan(hedges_g(other, empty))
    assert moments(empty).n == 0 and math.isnan(moments(empty).mean)


def test_a_single_answer_gives_a_difference_but_no_welch_test() -> None:
    result = welch({4: 1}, {2: 3, 3: 3})
    assert result.difference == pytest.approx(4 - 2.5)
    assert (result.ci95, result.statistic, result.p, result.df, result.se) == (None, None, None, None, None)
    single = moments({4: 1})
    assert (single.n, single.mean) == (1, 4.0) and math.isnan(single.variance)


def test_a_single_answer_still_counts_in_the_pooled_effect_size() -> None:
    # n = 1 adds no squared deviation but still adds a degree of freedom to the pooled variance.
    pooled_sd = math.sqrt((0.5**2 * 6) / (1 + 6 - 2))
    assert cohens_d({4: 1}, {2: 3, 3: 3}) == pytest.approx(1.5 / pooled_sd)
    assert math.isnan(cohens_d({4: 1}, {2: 1}))  # one answer each: no degree of freedom left


def test_single_answers_on_both_sides_still_get_rank_statistics() -> None:
    u, p = mann_whitney({4: 1}, {2: 1})
    expected = scipy_mann_whitney([4], [2])
    assert (u, p) == (expected.statistic, pytest.approx(expected.pvalue))
    assert cliffs_delta({4: 1}, {2: 1}) == 1.0
    assert two_proportions({6: 1}, {2: 1}, is_top_two_box).difference == 100.0


def test_identical_answers_everywhere_mean_no_gap() -> None:
    employee, customer = {4: 12}, {4: 30}
    result = welch(employee, customer)
    assert result == GapTest(difference=0.0, ci95=(0.0, 0.0), statistic=None, p=1.0, method="welch", se=0.0)
    assert mann_whitney(employee, customer) == (12 * 30 / 2, 1.0)
    assert cliffs_delta(employee, customer) == 0.0
    assert math.isnan(cohens_d(employee, customer)) and math.isnan(hedges_g(employee, customer))
    nps = nps_difference({10: 5}, {9: 8})
    assert (nps.difference, nps.se, nps.statistic, nps.p, nps.ci95) == (0.0, 0.0, None, 1.0, (0.0, 0.0))
    proportions = two_proportions(employee, customer, is_top_two_box)
    assert (proportions.difference, proportions.statistic, proportions.p) == (0.0, None, 1.0)


def test_constant_but_different_sides_are_certainly_different() -> None:
    result = welch({5: 10}, {2: 20}, scale=25.0)
    assert (result.difference, result.ci95, result.statistic, result.p) == (75.0, (75.0, 75.0), None, 0.0)
    nps = nps_difference({10: 5}, {0: 5})
    assert (nps.difference, nps.se, nps.p, nps.ci95) == (200.0, 0.0, 0.0, (200.0, 200.0))
    assert mann_whitney({5: 10}, {2: 20})[0] == 200.0


FUNCTIONS: dict[str, Callable[[dict, dict], object]] = {
    "welch": welch,
    "nps_difference": nps_difference,
    "two_proportions": lambda e, c: two_proportions(e, c, is_top_two_box),
    "mann_whitney": mann_whitney,
    "cliffs_delta": cliffs_delta,
    "cohens_d": cohens_d,
    "hedges_g": hedges_g,
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_zero_counts_are_ignored(name: str) -> None:
    employee, customer = {6: 4, 8: 3, 10: 5}, {3: 6, 7: 2, 9: 4}
    padded_e = {value: employee.get(value, 0) for value in range(11)}
    padded_c = {value: customer.get(value, 0) for value in range(11)}
    function = FUNCTIONS[name]
    assert function(padded_e, padded_c) == function(employee, customer)


def test_zero_counts_do_not_change_moments_or_recoding() -> None:
    assert moments({1: 0, 2: 3, 3: 1, 7: 0}) == moments({2: 3, 3: 1})
    assert recode({1: 0, 2: 3}, float) == {2.0: 3}


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        welch({1: -1, 2: 3}, {1: 2, 2: 2})


def test_nps_answers_outside_zero_to_ten_are_refused() -> None:
    with pytest.raises(ValueError):
        nps_difference({11: 1, 9: 1}, {9: 2})


def test_no_p_values_give_no_q_values() -> None:
    assert benjamini_hochberg([]) == []

"""The built-in scoring models reproduce the published worked examples in shared/vectors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from perception_plugins.scoring import CustomerEffortScore, Mean, NetPromoterScore, TopTwoBox

VECTORS_FILE = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "public.json"
if not VECTORS_FILE.exists():  # the repository may sit elsewhere; the vectors travel with it
    VECTORS_FILE = Path(__file__).resolve().parent / "vectors" / "public.json"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def nps_histogram(promoters: int, passives: int, detractors: int) -> dict[int, int]:
    return {10: promoters, 8: passives, 3: detractors}


def histogram_of(answers: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return counts


@pytest.mark.parametrize("case", VECTORS["nps"], ids=lambda case: case["source"])
def test_nps_matches_published_examples(case: dict) -> None:
    if "answers" in case:
        histogram = histogram_of(case["answers"])
    else:
        histogram = nps_histogram(case["promoters"], case["passives"], case["detractors"])
    assert NetPromoterScore().score(histogram).value == pytest.approx(case["nps"], abs=0.05)


@pytest.mark.parametrize("case", VECTORS["nps_variance"], ids=lambda case: case["source"])
def test_nps_per_respondent_variance(case: dict) -> None:
    assert NetPromoterScore.variance(case["p"], case["d"]) == pytest.approx(case["variance"], abs=1e-12)


def test_nps_wald_standard_error_and_margin() -> None:
    case = next(c for c in VECTORS["nps_interval"] if "se" in c)
    histogram = nps_histogram(case["promoters"], case["passives"], case["detractors"])
    se = NetPromoterScore.standard_error(histogram)
    assert se == pytest.approx(case["se"], abs=0.0005)
    assert 1.959964 * se == pytest.approx(case["moe95"], abs=0.005)


def test_nps_interval_is_the_adjusted_wald_of_rocks_2016() -> None:
    case = next(c for c in VECTORS["nps_interval"] if "ci95" in c)
    score = NetPromoterScore().score(nps_histogram(case["promoters"], case["passives"], case["detractors"]))
    assert score.value == pytest.approx(80.0)
    assert score.ci95 is not None
    centre = (score.ci95[0] + score.ci95[1]) / 2
    assert centre == pytest.approx(case["nps"], abs=0.05)
    assert score.ci95[0] == pytest.approx(case["ci95"][0], abs=0.05)
    assert score.ci95[1] == pytest.approx(case["ci95"][1], abs=0.05)


@pytest.mark.parametrize("case", VECTORS["csat"], ids=lambda case: case["source"])
def test_csat_top_two_box(case: dict) -> None:
    if "counts_5_to_1" in case:
        histogram = dict(zip([5, 4, 3, 2, 1], case["counts_5_to_1"], strict=True))
    else:
        histogram = {5: case["satisfied"], 2: case["n"] - case["satisfied"]}
    score = TopTwoBox().score(histogram)
    assert score.value == pytest.approx(case["csat"], abs=0.005)
    low, high = stats.binomtest(sum(c for v, c in histogram.items() if v >= 4), sum(histogram.values())).proportion_ci(
        method="wilson"
    )
    assert score.ci95 == pytest.approx((100 * low, 100 * high))


@pytest.mark.parametrize("case", VECTORS["ces"], ids=lambda case: case["source"])
def test_ces_is_the_mean_answer(case: dict) -> None:
    assert CustomerEffortScore().score(histogram_of(case["answers"])).value == pytest.approx(case["ces"])


def test_mean_interval_is_student_t_on_the_raw_answers() -> None:
    answers = [1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 5]
    score = Mean().score(histogram_of(answers))
    expected = stats.t.interval(0.95, len(answers) - 1, loc=stats.tmean(answers), scale=stats.sem(answers))
    assert score.value == pytest.approx(sum(answers) / len(answers))
    assert score.ci95 == pytest.approx(expected)


def test_no_answers_give_no_score_rather_than_zero() -> None:
    for model in (NetPromoterScore(), TopTwoBox(), Mean(), CustomerEffortScore()):
        score = model.score({})
        assert score.n == 0 and score.value is None and score.ci95 is None


def test_a_single_answer_has_no_mean_interval() -> None:
    score = Mean().score({4: 1})
    assert score.value == 4 and score.ci95 is None


def test_nps_interval_stays_within_the_scale() -> None:
    score = NetPromoterScore().score({10: 3})
    assert score.ci95 is not None
    assert -100 <= score.ci95[0] <= score.ci95[1] <= 100
    assert not math.isnan(score.ci95[0])

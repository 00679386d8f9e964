"""Built-in scoring models: NPS, CSAT (top-2-box %), CES and the plain mean."""

from __future__ import annotations

import math
from statistics import NormalDist

from perception import GapTest, Histogram, Score, ScoringModel, hookimpl, nps_difference, two_proportions

Z95 = NormalDist().inv_cdf(0.975)


def _n(histogram: Histogram) -> int:
    return sum(histogram.values())


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval of a proportion, 95%: honest near 0% and 100% where Wald is not."""
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


class NetPromoterScore(ScoringModel):
    """%promoters (9-10) minus %detractors (0-6), in points from -100 to 100.

    The interval is the adjusted Wald of Rocks (2016): 0.75 detractor, 1.5 passive and
    0.75 promoter are added before computing, which keeps it honest for small samples.
    """

    name = "nps"
    label = {"en": "Net Promoter Score", "fr": "Net Promoter Score"}
    unit = "points"
    scales = frozenset({"nps"})

    def score_range(self, low: int, high: int) -> tuple[float, float]:
        return -100.0, 100.0

    def recode(self, value: float) -> float:
        return 1.0 if value >= 9 else -1.0 if value <= 6 else 0.0

    def compare(self, employee: Histogram, customer: Histogram) -> GapTest:
        """Wald z-test on the unadjusted proportions, in NPS points."""
        return nps_difference(employee, customer)

    @staticmethod
    def variance(p: float, d: float) -> float:
        """Per-respondent variance of the -1/0/+1 recoding, from the promoter and detractor shares."""
        return (p + d) - (p - d) ** 2

    @staticmethod
    def shares(histogram: Histogram) -> tuple[float, float]:
        n = _n(histogram)
        promoters = sum(count for value, count in histogram.items() if value >= 9)
        detractors = sum(count for value, count in histogram.items() if value <= 6)
        return promoters / n, detractors / n

    @classmethod
    def standard_error(cls, histogram: Histogram) -> float:
        """Wald standard error of the NPS, in points."""
        p, d = cls.shares(histogram)
        return 100.0 * math.sqrt(cls.variance(p, d) / _n(histogram))

    def score(self, histogram: Histogram) -> Score:
        n = _n(histogram)
        if n == 0:
            return Score(n=0, value=None)
        promoters = sum(count for value, count in histogram.items() if value >= 9)
        detractors = sum(count for value, count in histogram.items() if value <= 6)
        value = 100.0 * (promoters - detractors) / n
        adjusted_n = n + 3.0
        p = (promoters + 0.75) / adjusted_n
        d = (detractors + 0.75) / adjusted_n
        centre = p - d
        half = Z95 * math.sqrt(self.variance(p, d) / adjusted_n)
        low, high = max(-1.0, centre - half), min(1.0, centre + half)
        return Score(n=n, value=value, ci95=(100.0 * low, 100.0 * high))


class TopTwoBox(ScoringModel):
    """Share of answers in the top two values of a 1-5 scale, in %, with a Wilson interval."""

    name = "csat"
    label = {"en": "CSAT (satisfied, % of 4-5)", "fr": "CSAT (satisfaits, % de 4-5)"}
    unit = "%"
    scales = frozenset({"csat"})
    top_values = frozenset({4, 5})

    def score_range(self, low: int, high: int) -> tuple[float, float]:
        return 0.0, 100.0

    def recode(self, value: float) -> float:
        return 1.0 if value in self.top_values else 0.0

    def compare(self, employee: Histogram, customer: Histogram) -> GapTest:
        """Pooled two-proportion z-test; unpooled Wald interval, in percentage points."""
        return two_proportions(employee, customer, lambda value: value in self.top_values)

    def score(self, histogram: Histogram) -> Score:
        n = _n(histogram)
        if n == 0:
            return Score(n=0, value=None)
        top = sum(count for value, count in histogram.items() if value in self.top_values)
        low, high = wilson_interval(top, n)
        return Score(n=n, value=100.0 * top / n, ci95=(100.0 * low, 100.0 * high))


class AgreementTopTwoBox(TopTwoBox):
    """Share of answers in the top two values of a 1-5 agreement scale (agree, strongly agree), in %."""

    name = "top2box"
    label = {"en": "Top-2-box (% agreeing, 4-5)", "fr": "Top-2-box (% d'accord, 4-5)"}
    scales = frozenset({"likert5", "csat"})


class ThumbsUp(TopTwoBox):
    """Share of thumbs up on a yes/no item, in %, with a Wilson interval."""

    name = "thumbs_up"
    label = {"en": "Thumbs up (% of yes)", "fr": "Pouce levé (% de oui)"}
    scales = frozenset({"binary"})
    top_values = frozenset({1})


class EmployeeNetPromoterScore(NetPromoterScore):
    """eNPS: the Net Promoter Score of an item asking staff whether they recommend working here."""

    name = "enps"
    label = {"en": "Employee Net Promoter Score", "fr": "eNPS (Net Promoter Score salariés)"}


class Mean(ScoringModel):
    """The mean answer, with a Student t interval."""

    name = "mean"
    label = {"en": "Mean", "fr": "Moyenne"}
    unit = ""
    scales = frozenset({"likert5", "ces", "csat", "nps", "binary"})

    def score(self, histogram: Histogram) -> Score:
        n = _n(histogram)
        if n == 0:
            return Score(n=0, value=None)
        mean = sum(value * count for value, count in histogram.items()) / n
        if n < 2:
            return Score(n=n, value=mean)
        from scipy import stats

        variance = sum(count * (value - mean) ** 2 for value, count in histogram.items()) / (n - 1)
        half = stats.t.ppf(0.975, n - 1) * math.sqrt(variance / n)
        return Score(n=n, value=mean, ci95=(mean - half, mean + half))


class CustomerEffortScore(Mean):
    """CES 2.0: the mean agreement, from 1 to 7, that the company made things easy."""

    name = "ces"
    label = {"en": "CES (mean effort ease, 1-7)", "fr": "CES (facilité moyenne, 1-7)"}
    scales = frozenset({"ces"})


@hookimpl
def perception_register_scoring_models() -> list[ScoringModel]:
    return [
        NetPromoterScore(),
        EmployeeNetPromoterScore(),
        TopTwoBox(),
        AgreementTopTwoBox(),
        ThumbsUp(),
        Mean(),
        CustomerEffortScore(),
    ]

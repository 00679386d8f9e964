"""Gap statistics between the employee and the customer side of a mirrored item.

Everything here is computed from histograms (answer value -> count), never from answer rows:
a wave can hold millions of answers, but an item only has a handful of distinct values, so a
report can test every gap from the counts it already aggregated in the database and never has
to load, expand or sort the rows themselves. The loops below run over distinct values only.

The "gap" is always employee minus customer: a positive difference means employees think
the experience is better than customers say it is.

Counts must be non-negative; zero counts are ignored (they are what a histogram over a fixed
scale holds for the values nobody chose). Results that cannot be computed (an empty side, a
single answer, no spread at all) come back as None or nan, as each function documents, rather
than as an exception, so that one thin item does not stop a whole report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

Histogram = Mapping[int | float, int]
"""Count of answers per answer value: ``{9: 41, 10: 12, ...}``."""

Z95 = float(stats.norm.ppf(0.975))  # 1.959964...

__all__ = [
    "GapTest",
    "Histogram",
    "Moments",
    "benjamini_hochberg",
    "cliffs_delta",
    "cohens_d",
    "effect_label",
    "hedges_g",
    "mann_whitney",
    "moments",
    "nps_difference",
    "recode",
    "two_proportions",
    "welch",
]


def _clean(histogram: Histogram) -> dict[float, int]:
    """The non-zero entries, with counts as Python ints so sums of millions stay exact."""
    cleaned: dict[float, int] = {}
    for value, count in histogram.items():
        count = int(count)
        if count < 0:
            raise ValueError(f"a histogram cannot count fewer than zero answers ({value!r}: {count})")
        if count == 0:
            continue
        if not math.isfinite(value):
            raise ValueError(f"answer values must be finite numbers, not {value!r}")
        cleaned[value] = cleaned.get(value, 0) + count
    return cleaned


@dataclass(frozen=True)
class Moments:
    """Size, mean and sample variance of one side, which is all Welch and Cohen need."""

    n: int
    mean: float
    variance: float  # sample variance (ddof=1); nan when n < 2


def _moments(cleaned: dict[float, int]) -> tuple[Moments, float]:
    """Moments and the sum of squared deviations (kept apart so that n = 1 contributes 0)."""
    n = sum(cleaned.values())
    if n == 0:
        return Moments(n=0, mean=math.nan, variance=math.nan), math.nan
    if len(cleaned) == 1:  # one distinct value: exactly no spread, whatever the rounding of the mean would say
        (value,) = cleaned
        return Moments(n=n, mean=float(value), variance=0.0 if n >= 2 else math.nan), 0.0
    mean = math.fsum(value * count for value, count in cleaned.items()) / n
    # Two passes over the distinct values: stable even when the mean is large and the spread small.
    squares = math.fsum(count * (value - mean) ** 2 for value, count in cleaned.items())
    variance = squares / (n - 1) if n >= 2 else math.nan
    return Moments(n=n, mean=mean, variance=variance), squares


def moments(histogram: Histogram) -> Moments:
    """n, mean and sample variance (ddof=1) of a histogram; mean is nan when empty, variance when n < 2."""
    return _moments(_clean(histogram))[0]


def recode(histogram: Histogram, mapping: Callable[[int], float]) -> dict[float, int]:
    """Map every answer value to a code and merge the counts of values that share one.

    This is how a scale is collapsed without touching rows, e.g. an NPS answer to -1/0/+1
    or a 1-5 answer to top-2-box 0/1. Zero counts are dropped.
    """
    recoded: dict[float, int] = {}
    for value, count in _clean(histogram).items():
        code = mapping(value)  # type: ignore[arg-type]
        recoded[code] = recoded.get(code, 0) + count
    return recoded


@dataclass(frozen=True)
class GapTest:
    """An employee-minus-customer difference with its uncertainty and a test of "no gap"."""

    difference: float  # employee - customer, in the units given (see scale); nan when a side is empty
    ci95: tuple[float, float] | None
    statistic: float | None  # t or z
    p: float | None
    df: float | None = None  # Welch's degrees of freedom where relevant
    method: str = ""  # "welch", "nps_wald", "two_proportion"
    se: float | None = None  # standard error of the difference, in the units of `difference`


def _point(difference: float) -> tuple[float, float]:
    return (difference, difference)


def welch(employee: Histogram, customer: Histogram, scale: float = 1.0) -> GapTest:
    """Welch's t-test of the difference in means, which does not assume the two sides share a variance.

    Employees and customers are different populations of very different sizes, so the
    unequal-variance test is the honest default. ``difference``, ``ci95`` and ``se`` are
    multiplied by ``scale`` (e.g. 25 to report a 1-5 mean gap in points of a 0-100 range);
    the statistic, df and p do not depend on it. The interval uses the Welch-Satterthwaite df.

    Degenerate cases:

    * either side has n < 2: no variance can be estimated, so ``ci95``, ``statistic``, ``p``,
      ``df`` and ``se`` are None (``difference`` is still the difference of means, nan if a side
      is empty);
    * both variances are 0: t is undefined, so ``statistic`` and ``df`` are None; ``se`` is 0,
      ``ci95`` is the point, and ``p`` is 0.0 if the means differ (no overlap is possible)
      or 1.0 if they are equal.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    e, c = moments(employee), moments(customer)
    difference = (e.mean - c.mean) * scale if e.n and c.n else math.nan
    if e.n < 2 or c.n < 2:
        return GapTest(difference=difference, ci95=None, statistic=None, p=None, method="welch")
    ve, vc = e.variance / e.n, c.variance / c.n
    raw = e.mean - c.mean
    if ve == 0 and vc == 0:
        return GapTest(
            difference=difference,
            ci95=_point(difference),
            statistic=None,
            p=1.0 if raw == 0 else 0.0,
            method="welch",
            se=0.0,
        )
    se = math.sqrt(ve + vc)
    df = (ve + vc) ** 2 / (ve**2 / (e.n - 1) + vc**2 / (c.n - 1))
    t = raw / se
    p = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.975, df)) * se * scale
    return GapTest(
        difference=difference,
        ci95=(difference - half, difference + half),
        statistic=t,
        p=p,
        df=df,
        method="welch",
        se=se * scale,
    )


def _z_test(difference: float, se: float, method: str, se_for_test: float | None = None) -> GapTest:
    """Two-sided normal test and Wald interval; a zero SE means the data leave no doubt either way."""
    tested = se if se_for_test is None else se_for_test
    if tested == 0:
        statistic, p = None, 1.0 if difference == 0 else 0.0
    else:
        statistic = difference / tested
        p = float(2 * stats.norm.sf(abs(statistic)))
    half = Z95 * se
    return GapTest(
        difference=difference,
        ci95=(difference - half, difference + half),
        statistic=statistic,
        p=p,
        method=method,
        se=se,
    )


def _nps_shares(cleaned: dict[float, int]) -> tuple[int, float, float]:
    n = sum(cleaned.values())
    for value in cleaned:
        if not 0 <= value <= 10:
            raise ValueError(f"NPS answers run from 0 to 10, not {value!r}")
    promoters = sum(count for value, count in cleaned.items() if value >= 9)
    detractors = sum(count for value, count in cleaned.items() if value <= 6)
    return n, promoters / n if n else math.nan, detractors / n if n else math.nan


def nps_difference(employee: Histogram, customer: Histogram) -> GapTest:
    """Difference of two independent NPS (0-10 answers), in NPS points, with a Wald z-test.

    NPS = 100 (p - d) with p the share of 9-10 and d the share of 0-6. Each respondent is a
    -1/0/+1 draw with variance (p + d) - (p - d)^2, so SE = 100 sqrt(var_e/n_e + var_c/n_c),
    z = delta / SE and ci95 = delta +- 1.959964 SE. This is the standard large-sample test;
    the per-side adjusted Wald of the scoring model is for single scores, not differences.

    When a side is empty everything but the method is None (difference nan). When SE is 0
    (each side answered all-promoter, all-detractor or all-passive), ``statistic`` is None,
    ``ci95`` is the point and ``p`` is 1.0 if delta is 0, else 0.0. Answers outside 0-10
    raise ValueError: they mean the histogram is not from an NPS item.
    """
    n_e, p_e, d_e = _nps_shares(_clean(employee))
    n_c, p_c, d_c = _nps_shares(_clean(customer))
    if n_e == 0 or n_c == 0:
        return GapTest(difference=math.nan, ci95=None, statistic=None, p=None, method="nps_wald")
    delta = 100.0 * ((p_e - d_e) - (p_c - d_c))
    var_e = (p_e + d_e) - (p_e - d_e) ** 2
    var_c = (p_c + d_c) - (p_c - d_c) ** 2
    se = 100.0 * math.sqrt(max(var_e, 0.0) / n_e + max(var_c, 0.0) / n_c)
    return _z_test(delta, se, "nps_wald")


def two_proportions(employee: Histogram, customer: Histogram, successes: Callable[[int], bool]) -> GapTest:
    """Difference of the shares of "successful" answers (e.g. top-2-box), in percentage points.

    ``p`` comes from the pooled two-proportion z-test (under "no gap" both sides share one
    proportion), the interval from the unpooled Wald SE, as textbooks and most tools do;
    ``se`` and ``statistic`` are reported in their own terms (``se`` unpooled, in points).

    When a side is empty everything but the method is None (difference nan). When the pooled
    SE is 0 (every answer on both sides succeeds, or none does) the difference is 0,
    ``statistic`` is None and ``p`` is 1.0.
    """
    e, c = _clean(employee), _clean(customer)
    n_e, n_c = sum(e.values()), sum(c.values())
    if n_e == 0 or n_c == 0:
        return GapTest(difference=math.nan, ci95=None, statistic=None, p=None, method="two_proportion")
    s_e = sum(count for value, count in e.items() if successes(value))  # type: ignore[arg-type]
    s_c = sum(count for value, count in c.items() if successes(value))  # type: ignore[arg-type]
    p_e, p_c = s_e / n_e, s_c / n_c
    pooled = (s_e + s_c) / (n_e + n_c)
    se_pooled = 100.0 * math.sqrt(pooled * (1 - pooled) * (1 / n_e + 1 / n_c))
    se_wald = 100.0 * math.sqrt(p_e * (1 - p_e) / n_e + p_c * (1 - p_c) / n_c)
    return _z_test(100.0 * (p_e - p_c), se_wald, "two_proportion", se_for_test=se_pooled)


def _joint(e: dict[float, int], c: dict[float, int]) -> list[tuple[float, int, int]]:
    """(value, employee count, customer count) over the union of distinct values, ascending."""
    return [(value, e.get(value, 0), c.get(value, 0)) for value in sorted(e.keys() | c.keys())]


def _u_twice(e: dict[float, int], c: dict[float, int]) -> tuple[int, int]:
    """2 U of the employee sample (exact integer) and the tie term sum(t^3 - t), from mid-ranks."""
    twice_rank_sum = 0
    tie_term = 0
    below = 0
    for _value, count_e, count_c in _joint(e, c):
        tied = count_e + count_c
        # The tied answers share ranks below+1 .. below+tied, whose average is below + (tied + 1) / 2.
        twice_rank_sum += count_e * (2 * below + tied + 1)
        tie_term += tied**3 - tied
        below += tied
    n_e = sum(e.values())
    return twice_rank_sum - n_e * (n_e + 1), tie_term


def mann_whitney(employee: Histogram, customer: Histogram) -> tuple[float, float]:
    """(U of the employee sample, two-sided p) of the Mann-Whitney test, for ordinal answers.

    Ranks are averaged over ties and the variance is tie-corrected; p is the normal
    approximation with continuity correction, the same as ``scipy.stats.mannwhitneyu(e, c,
    alternative="two-sided", method="asymptotic", use_continuity=True)`` on the expanded
    answers (survey answers are heavily tied, so the exact distribution does not apply).
    Integer arithmetic keeps the sums exact for millions of answers. (nan, nan) when a side
    is empty; p is 1.0 when every answer on both sides is the same.
    """
    e, c = _clean(employee), _clean(customer)
    n_e, n_c = sum(e.values()), sum(c.values())
    if n_e == 0 or n_c == 0:
        return math.nan, math.nan
    twice_u, tie_term = _u_twice(e, c)
    n = n_e + n_c
    u_e = twice_u / 2
    u = max(twice_u, 2 * n_e * n_c - twice_u) / 2  # two-sided: the larger of U_e and U_c
    # Tie-corrected variance n_e n_c / 12 ((n + 1) - T / (n (n - 1))) as one exact fraction.
    numerator = n_e * n_c * ((n + 1) * n * (n - 1) - tie_term)
    if numerator == 0:  # no spread at all (or n == 1 on both sides): the samples cannot differ
        return u_e, 1.0
    sd = math.sqrt(numerator / (12 * n * (n - 1)))
    z = (u - n_e * n_c / 2 - 0.5) / sd
    p = min(1.0, max(0.0, float(2 * stats.norm.sf(z))))
    return u_e, p


def cliffs_delta(employee: Histogram, customer: Histogram) -> float:
    """Cliff's delta: (#(e > c) - #(e < c)) / (n_e n_c) over all pairs, positive when employees answer higher.

    An effect size for ordinal answers that needs no interval scale. Computed as 2U / (n_e n_c) - 1
    from the exact rank sum; nan when a side is empty.
    """
    e, c = _clean(employee), _clean(customer)
    n_e, n_c = sum(e.values()), sum(c.values())
    if n_e == 0 or n_c == 0:
        return math.nan
    twice_u, _ = _u_twice(e, c)
    # 2U = 2 #(e > c) + #(e = c) and #(e > c) + #(e < c) + #(e = c) = n_e n_c.
    return (twice_u - n_e * n_c) / (n_e * n_c)


def effect_label(delta: float) -> str:
    """Words for a Cliff's delta, after Romano et al. (2006), so reports need not show raw numbers.

    "negligible" below 0.147 in absolute value, "small" below 0.33, "medium" below 0.474,
    "large" otherwise. Raises ValueError for nan, which has no size.
    """
    if math.isnan(delta):
        raise ValueError("an undefined effect size has no label")
    size = abs(delta)
    if size < 0.147:
        return "negligible"
    if size < 0.33:
        return "small"
    if size < 0.474:
        return "medium"
    return "large"


def cohens_d(employee: Histogram, customer: Histogram) -> float:
    """Cohen's d: difference of means over the pooled SD, to compare gaps across scales.

    The pooled variance is the sum of both sides' squared deviations over n_e + n_c - 2. nan
    when a side is empty, when n_e + n_c < 3, or when there is no spread at all (pooled SD 0).
    """
    return _standardised_difference(employee, customer)[0]


def _standardised_difference(employee: Histogram, customer: Histogram) -> tuple[float, int]:
    """Cohen's d and the total number of answers it rests on."""
    e, squares_e = _moments(_clean(employee))
    c, squares_c = _moments(_clean(customer))
    if e.n == 0 or c.n == 0 or e.n + c.n < 3:
        return math.nan, e.n + c.n
    pooled = (squares_e + squares_c) / (e.n + c.n - 2)
    if pooled == 0:
        return math.nan, e.n + c.n
    return (e.mean - c.mean) / math.sqrt(pooled), e.n + c.n


def hedges_g(employee: Histogram, customer: Histogram) -> float:
    """Hedges' g: Cohen's d times J = 1 - 3 / (4 (n_e + n_c) - 9), which removes d's small-sample bias.

    nan in the same cases as :func:`cohens_d`.
    """
    d, n = _standardised_difference(employee, customer)
    if math.isnan(d):
        return math.nan
    return d * (1 - 3 / (4 * n - 9))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values, in the order given; [] for [].

    A report tests every item at once, so the false discovery rate, not each p, is what
    keeps a screen full of "significant" gaps honest.
    """
    if len(p_values) == 0:
        return []
    return [float(q) for q in stats.false_discovery_control(list(p_values), method="bh")]

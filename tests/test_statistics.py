"""ketasim.trials.statistics against independent oracles.

Oracles: scipy (t distribution, Welch/paired t-tests, chi-square test of a 2x2 table,
``binomtest``, ``ecdf`` with its log-log band, ``logrank``), textbook formulas written out
here (Wilson as the roots of the score quadratic, exact McNemar from binomial
coefficients, a product-limit loop, Greenwood, the log(-log) band, the log-rank
chi-square) and published numbers (Newcombe 1998 Table II; the Gehan 1965 / Freireich
6-MP leukaemia data).
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from ketasim.trials.statistics import (
    Z95,
    KaplanMeier,
    compare_means,
    compare_medians,
    compare_proportions,
    kaplan_meier,
    log_rank,
    mean_ci,
    wilson,
)

Z = float(stats.norm.ppf(0.975))
FAST = settings(max_examples=100, deadline=None)


# --------------------------------------------------------------------------- helpers (oracles)


def wilson_oracle(k: int, n: int) -> tuple[float, float]:
    """Roots in p of the score equation (k/n - p)^2 = z^2 p (1 - p) / n."""
    a = n + Z * Z
    b = 2 * k + Z * Z
    disc = Z * math.sqrt(Z * Z + 4 * k * (n - k) / n)
    return (b - disc) / (2 * a), (b + disc) / (2 * a)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: twice the smaller binomial(b + c, 1/2) tail, capped at 1."""
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2**m
    return min(1.0, 2 * tail)


def paired_flags(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(arm, control) for a paired 2x2 table: a both, b arm only, c control only, d neither."""
    arm = np.array([True] * a + [True] * b + [False] * c + [False] * d)
    control = np.array([True] * a + [False] * b + [True] * c + [False] * d)
    return arm, control


def product_limit(time: np.ndarray, event: np.ndarray, grid: np.ndarray) -> dict[str, np.ndarray]:
    """Kaplan–Meier (in exact fractions), Greenwood and the log(-log) band, one distinct time at
    a time."""
    s, gw = Fraction(1), 0.0
    out: dict[str, list[float]] = {"survival": [], "greenwood": [], "lower": [], "upper": [], "n": [], "d": []}
    exact: list[Fraction] = []
    for g in grid:
        n = int(np.sum(time >= g))
        d = int(np.sum((time == g) & event))
        if n > 0 and d > 0:
            s *= Fraction(n - d, n)
            if n > d:
                gw += d / (n * (n - d))
        if s == 1:
            lo = hi = 1.0
        elif s == 0:
            lo = hi = 0.0
        else:
            half = Z * math.sqrt(gw) / abs(math.log(s))
            centre = math.log(-math.log(s))
            lo, hi = math.exp(-math.exp(centre + half)), math.exp(-math.exp(centre - half))
        exact.append(s)
        for key, value in (("survival", float(s)), ("greenwood", gw), ("lower", lo), ("upper", hi), ("n", n), ("d", d)):
            out[key].append(value)
    res = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    res["exact"] = np.asarray(exact, dtype=object)
    return res


def first_at_or_below_half(times: np.ndarray, curve: np.ndarray) -> float:
    for t, v in zip(times, curve, strict=True):
        if v <= 0.5:
            return float(t)
    return math.nan


def log_rank_oracle(t1: np.ndarray, e1: np.ndarray, t2: np.ndarray, e2: np.ndarray) -> float:
    """Mantel–Haenszel log-rank chi-square (1 df) from the raw data."""
    o_minus_e, var = 0.0, 0.0
    for t in np.unique(np.concatenate([t1[e1], t2[e2]])):
        n1, n2 = np.sum(t1 >= t), np.sum(t2 >= t)
        d1, d2 = np.sum((t1 == t) & e1), np.sum((t2 == t) & e2)
        n, d = n1 + n2, d1 + d2
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * n1 * n2 * (n - d) / (n * n * (n - 1))
    return o_minus_e**2 / var


def censored(t: np.ndarray, e: np.ndarray) -> stats.CensoredData:
    return stats.CensoredData(uncensored=t[e], right=t[~e])


def greenwood_from_band(km: KaplanMeier) -> np.ndarray:
    """Recover Greenwood's sum from the package's log-log lower limit (where 0 < S < 1)."""
    s = km.survival
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.log(np.log(km.lower) / np.log(s)) / Z95) ** 2 * np.log(s) ** 2


# --------------------------------------------------------------------------- Wilson


def test_z95_is_the_normal_quantile() -> None:
    assert abs(Z95 - Z) < 1e-14


@FAST
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_score_quadratic(kn: tuple[int, int]) -> None:
    k, n = kn
    e = wilson(k, n)
    lo, hi = wilson_oracle(k, n)
    assert e.value == k / n
    assert e.ci95[0] == pytest.approx(lo, abs=1e-12)
    assert e.ci95[1] == pytest.approx(hi, abs=1e-12)
    assert 0.0 <= e.ci95[0] <= e.value + 1e-15
    assert e.value <= e.ci95[1] + 1e-15 and e.ci95[1] <= 1.0
    # the limits invert the score test: n (p_hat - p)^2 = z^2 p (1 - p)
    for p in e.ci95:
        assert n * (k / n - p) ** 2 == pytest.approx(Z * Z * p * (1 - p), abs=1e-10)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 1, 0.0, 0.7935),  # n = 1
        (1, 1, 0.2065, 1.0),
        (0, 10, 0.0, 0.2775),  # k = 0
        (10, 10, 0.7225, 1.0),  # k = n
        (5, 10, 0.2366, 0.7634),
        (81, 263, 0.2553, 0.3662),  # Newcombe 1998 (Stat Med 17:857) worked example
        (15, 148, 0.0624, 0.1605),
    ],
)
def test_wilson_edges_and_published_values(k: int, n: int, lo: float, hi: float) -> None:
    e = wilson(k, n)
    assert e.ci95[0] == pytest.approx(lo, abs=5e-5)
    assert e.ci95[1] == pytest.approx(hi, abs=5e-5)
    if k == 0:
        assert e.ci95[0] == pytest.approx(0.0, abs=1e-15)
    if k == n:
        assert e.ci95[1] == pytest.approx(1.0, abs=1e-12)


def test_wilson_empty_is_nan() -> None:
    e = wilson(0, 0)
    assert math.isnan(e.value) and all(math.isnan(x) for x in e.ci95)


# --------------------------------------------------------------------------- means

samples = st.lists(st.integers(-400, 400), min_size=2, max_size=40).map(lambda v: np.asarray(v, float) / 8)


@FAST
@given(samples)
def test_mean_ci_matches_scipy_t_interval(x: np.ndarray) -> None:
    assume(np.ptp(x) > 0)
    e = mean_ci(x)
    lo, hi = stats.t.interval(0.95, x.size - 1, loc=np.mean(x), scale=stats.sem(x))
    assert e.value == pytest.approx(np.mean(x), abs=1e-12)
    assert e.ci95 == pytest.approx((lo, hi), abs=1e-9)


def test_mean_ci_ignores_nans_and_degenerate_sizes() -> None:
    x = np.array([1.0, np.nan, 2.0, 6.0, np.inf])
    lo, hi = stats.t.interval(0.95, 2, loc=3.0, scale=stats.sem([1.0, 2.0, 6.0]))
    e = mean_ci(x)
    assert e.value == 3.0
    assert e.ci95 == pytest.approx((lo, hi), abs=1e-12)
    assert math.isnan(mean_ci(np.array([np.nan])).value)
    assert mean_ci(np.array([4.0])).value == 4.0


@FAST
@given(samples, samples)
def test_welch_matches_scipy(a: np.ndarray, c: np.ndarray) -> None:
    assume(np.ptp(a) > 0 and np.ptp(c) > 0)
    got = compare_means(a, c, paired=False)
    ref = stats.ttest_ind(a, c, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert got.difference == pytest.approx(np.mean(a) - np.mean(c), abs=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)
    assert got.ci95 == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_welch_textbook_numbers() -> None:
    # unequal sizes and variances, so pooled t and Welch differ: checks dof and se by hand
    a = np.array([19.0, 22.0, 16.0, 29.0, 24.0])
    c = np.array([20.0, 11.0, 17.0, 12.0, 8.0, 15.0, 10.0])
    va, vc = np.var(a, ddof=1) / 5, np.var(c, ddof=1) / 7
    dof = (va + vc) ** 2 / (va**2 / 4 + vc**2 / 6)
    se = math.sqrt(va + vc)
    diff = 22.0 - 13.285714285714286
    got = compare_means(a, c, paired=False)
    assert got.difference == pytest.approx(diff, abs=1e-12)
    assert got.p_value == pytest.approx(2 * stats.t.sf(diff / se, dof), rel=1e-10)
    half = stats.t.ppf(0.975, dof) * se
    assert got.ci95 == pytest.approx((diff - half, diff + half), abs=1e-10)
    assert abs(got.p_value - stats.ttest_ind(a, c, equal_var=True).pvalue) > 1e-3  # not the pooled t-test


def test_welch_degenerate_cases() -> None:
    same = compare_means(np.array([3.0, 3.0]), np.array([3.0, 3.0, 3.0]), paired=False)
    assert same.difference == 0 and same.p_value == 1.0 and same.ci95 == (0.0, 0.0)
    apart = compare_means(np.array([5.0, 5.0]), np.array([3.0, 3.0]), paired=False)
    assert apart.difference == 2.0 and apart.p_value == 0.0
    short = compare_means(np.array([1.0, np.nan]), np.array([1.0, 2.0]), paired=False)
    assert math.isnan(short.difference) and math.isnan(short.p_value)


@FAST
@given(st.lists(st.tuples(st.integers(-200, 200), st.integers(-200, 200)), min_size=2, max_size=40))
def test_paired_matches_scipy_ttest_rel(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], float) / 4
    c = np.array([p[1] for p in pairs], float) / 4
    assume(np.ptp(a - c) > 0)
    got = compare_means(a, c, paired=True)
    ref = stats.ttest_rel(a, c)
    ci = ref.confidence_interval(0.95)
    assert got.difference == pytest.approx(np.mean(a - c), abs=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)
    assert got.ci95 == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_paired_drops_incomplete_pairs() -> None:
    a = np.array([10.0, 12.0, np.nan, 9.0, 14.0, 11.0])
    c = np.array([8.0, 11.0, 7.0, 9.5, np.nan, 7.0])
    keep = [0, 1, 3, 5]
    ref = stats.ttest_rel(a[keep], c[keep])
    got = compare_means(a, c, paired=True)
    assert got.difference == pytest.approx(np.mean(a[keep] - c[keep]), abs=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-10)


# --------------------------------------------------------------------------- proportions

# Newcombe RG (1998) Stat Med 17:873-890, Table II, method 10 (hybrid score, no continuity
# correction); rows (a) and (b) are also the cases reproduced by the R package `propint`.
NEWCOMBE_TABLE_II = [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
]


def flags(k: int, n: int) -> np.ndarray:
    return np.arange(n) < k


@pytest.mark.parametrize(("k1", "n1", "k2", "n2", "lo", "hi"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_matches_published_table(k1: int, n1: int, k2: int, n2: int, lo: float, hi: float) -> None:
    got = compare_proportions(flags(k1, n1), flags(k2, n2), paired=False)
    assert got.difference == pytest.approx(k1 / n1 - k2 / n2, abs=1e-12)
    assert got.ci95[0] == pytest.approx(lo, abs=5e-5)
    assert got.ci95[1] == pytest.approx(hi, abs=5e-5)
    # swapping the arms mirrors the interval
    swapped = compare_proportions(flags(k2, n2), flags(k1, n1), paired=False)
    assert swapped.ci95[0] == pytest.approx(-hi, abs=5e-5)
    assert swapped.ci95[1] == pytest.approx(-lo, abs=5e-5)


@FAST
@given(
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_pooled_z_test_is_the_uncorrected_chi_square(g1: tuple[int, int], g2: tuple[int, int]) -> None:
    (k1, n1), (k2, n2) = g1, g2
    got = compare_proportions(flags(k1, n1), flags(k2, n2), paired=False)
    if 0 < k1 + k2 < n1 + n2:
        table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
        ref = stats.chi2_contingency(table, correction=False).pvalue
        assert got.p_value == pytest.approx(ref, rel=1e-7, abs=1e-15)
    else:
        assert got.p_value == 1.0  # all or none respond in both arms: no difference
    # Newcombe's interval from independently computed Wilson limits
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_oracle(k1, n1)
    l2, u2 = wilson_oracle(k2, n2)
    lo = p1 - p2 - math.hypot(p1 - l1, u2 - p2)
    hi = p1 - p2 + math.hypot(u1 - p1, p2 - l2)
    assert got.ci95 == pytest.approx((lo, hi), abs=1e-10)
    assert -1.0 - 1e-12 <= got.ci95[0] <= got.difference <= got.ci95[1] <= 1.0 + 1e-12


@FAST
@given(st.integers(0, 30), st.integers(0, 40), st.integers(0, 40), st.integers(0, 30))
def test_mcnemar_exact_p(a: int, b: int, c: int, d: int) -> None:
    assume(a + b + c + d > 0)
    arm, control = paired_flags(a, b, c, d)
    got = compare_proportions(arm, control, paired=True)
    n = a + b + c + d
    assert got.difference == pytest.approx((b - c) / n, abs=1e-12)
    assert got.p_value == pytest.approx(mcnemar_exact(b, c), rel=1e-9, abs=1e-300)
    if b + c:
        assert got.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_mcnemar_small_table_by_hand() -> None:
    # b = 1, c = 7 discordant pairs: p = 2 * (1 + 8) / 2^8 = 0.0703125
    arm, control = paired_flags(5, 1, 7, 3)
    got = compare_proportions(arm, control, paired=True)
    assert got.p_value == pytest.approx(0.0703125, abs=1e-12)
    assert got.difference == pytest.approx(-6 / 16)
    arm, control = paired_flags(4, 0, 0, 4)  # no discordant pairs
    assert compare_proportions(arm, control, paired=True).p_value == 1.0


# --------------------------------------------------------------------------- Kaplan–Meier

survival_data = st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1, max_size=40)


@FAST
@given(survival_data, st.booleans())
def test_kaplan_meier_matches_product_limit(data: list[tuple[int, bool]], full_grid: bool) -> None:
    t = np.array([d[0] for d in data], float)
    e = np.array([d[1] for d in data])
    grid = np.arange(1.0, 10.0) if full_grid else np.unique(t)
    km = kaplan_meier(t, e, grid)
    ref = product_limit(t, e, grid)
    np.testing.assert_array_equal(km.times, grid)
    np.testing.assert_array_equal(km.at_risk, ref["n"])
    np.testing.assert_array_equal(km.events, ref["d"])
    np.testing.assert_allclose(km.survival, ref["survival"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(km.lower, ref["lower"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(km.upper, ref["upper"], rtol=0, atol=1e-10)
    inside = (km.survival > 0) & (km.survival < 1)
    np.testing.assert_allclose(greenwood_from_band(km)[inside], ref["greenwood"][inside], rtol=1e-8)
    assert np.all(km.lower <= km.survival + 1e-15) and np.all(km.survival <= km.upper + 1e-15)
    # median and its interval: first time the curve / the band reaches 0.5
    m = km.median()
    if not np.any(ref["exact"] == Fraction(1, 2)):  # S = 1/2 exactly: see test_median_when_survival_is_exactly_half
        want = first_at_or_below_half(grid, ref["exact"])
        assert m.value == want or (math.isnan(m.value) and math.isnan(want))
    for got, curve in zip(m.ci95, (ref["lower"], ref["upper"]), strict=True):
        want = first_at_or_below_half(grid, curve)
        assert got == want or (math.isnan(got) and math.isnan(want))


@FAST
@given(survival_data)
def test_kaplan_meier_matches_scipy_ecdf(data: list[tuple[int, bool]]) -> None:
    t = np.array([d[0] for d in data], float)
    e = np.array([d[1] for d in data])
    assume(e.any())
    grid = np.unique(t)
    km = kaplan_meier(t, e, grid)
    res = stats.ecdf(censored(t, e))
    np.testing.assert_allclose(km.survival, res.sf.evaluate(grid), rtol=0, atol=1e-12)
    inside = (km.survival > 0) & (km.survival < 1)
    if inside.any():
        with warnings.catch_warnings():  # undefined where S = 0 or 1; compared only inside (0, 1)
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = res.sf.confidence_interval(0.95, method="log-log")
            low, high = ci.low.evaluate(grid), ci.high.evaluate(grid)
        np.testing.assert_allclose(km.lower[inside], low[inside], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(km.upper[inside], high[inside], rtol=1e-9, atol=1e-12)


# Freireich et al. 1963 / Gehan 1965 leukaemia remission data (weeks), 6-MP and placebo.
MP_TIME = np.array([6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35], float)
MP_EVENT = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0], bool)
PL_TIME = np.array([1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23], float)
PL_EVENT = np.ones(21, bool)
GEHAN_GRID = np.unique(np.concatenate([MP_TIME, PL_TIME]))


def test_kaplan_meier_gehan_published_table() -> None:
    """Survival and Greenwood standard errors of the 6-MP arm as printed in survival-analysis
    texts (e.g. Kleinbaum & Klein, R ``survfit``)."""
    km = kaplan_meier(MP_TIME, MP_EVENT, GEHAN_GRID)
    published = {  # time: (n at risk, events, S, SE)
        6: (21, 3, 0.857, 0.0764),
        7: (17, 1, 0.807, 0.0869),
        10: (15, 1, 0.753, 0.0963),
        13: (12, 1, 0.690, 0.1068),
        16: (11, 1, 0.627, 0.1141),
        22: (7, 1, 0.538, 0.1282),
        23: (6, 1, 0.448, 0.1346),
    }
    se = km.survival * np.sqrt(greenwood_from_band(km))
    for t, (n, d, s, s_se) in published.items():
        i = int(np.searchsorted(GEHAN_GRID, t))
        assert km.times[i] == t
        assert (km.at_risk[i], km.events[i]) == (n, d)
        assert km.survival[i] == pytest.approx(s, abs=6e-4)
        assert se[i] == pytest.approx(s_se, abs=6e-5)
    assert km.median().value == 23.0
    assert kaplan_meier(PL_TIME, PL_EVENT, GEHAN_GRID).median().value == 8.0


def test_log_rank_gehan_published_chi_square() -> None:
    # log-rank chi-square 16.79 on 1 df (R survdiff: "Chisq= 16.8 on 1 degrees of freedom")
    a = kaplan_meier(MP_TIME, MP_EVENT, GEHAN_GRID)
    b = kaplan_meier(PL_TIME, PL_EVENT, GEHAN_GRID)
    p = log_rank(a, b)
    assert stats.chi2.isf(p, 1) == pytest.approx(16.79, abs=0.005)
    assert p == pytest.approx(stats.logrank(censored(MP_TIME, MP_EVENT), censored(PL_TIME, PL_EVENT)).pvalue, rel=1e-9)
    assert log_rank(b, a) == pytest.approx(p, rel=1e-12)


def test_kaplan_meier_all_censored() -> None:
    t = np.array([2.0, 3.0, 3.0, 5.0])
    km = kaplan_meier(t, np.zeros(4, bool), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(km.survival, 1.0)
    np.testing.assert_array_equal(km.lower, 1.0)
    np.testing.assert_array_equal(km.upper, 1.0)
    np.testing.assert_array_equal(km.at_risk, [4, 4, 3, 1, 1])
    np.testing.assert_array_equal(km.events, 0)
    m = km.median()
    assert math.isnan(m.value) and all(math.isnan(x) for x in m.ci95)
    assert log_rank(km, km) == 1.0
    assert math.isnan(compare_medians(km, km).difference)


def test_kaplan_meier_ties_and_reaching_zero() -> None:
    # at t = 2 an event and a censoring tie: the censored patient is still at risk at 2
    t = np.array([1.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    e = np.array([True, True, True, False, True, True])
    km = kaplan_meier(t, e, np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(km.at_risk, [6, 5, 2, 0])
    np.testing.assert_array_equal(km.events, [1, 2, 2, 0])
    np.testing.assert_allclose(km.survival, [5 / 6, 5 / 6 * 3 / 5, 0.0, 0.0], atol=1e-15)
    gw = greenwood_from_band(km)
    np.testing.assert_allclose(gw[:2], [1 / 30, 1 / 30 + 2 / 15], rtol=1e-10)
    np.testing.assert_array_equal(km.lower[2:], 0.0)  # S = 0: the band collapses onto 0
    np.testing.assert_array_equal(km.upper[2:], 0.0)
    m = km.median()
    assert m.value == 2.0  # S(2) = 0.5 exactly: the first time S <= 0.5
    assert m.ci95[0] == first_at_or_below_half(km.times, km.lower)
    assert m.ci95[1] == first_at_or_below_half(km.times, km.upper)
    everyone = kaplan_meier(np.array([1.0, 1.0, 1.0]), np.ones(3, bool), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(everyone.survival, [0.0, 0.0])
    assert everyone.median().value == 1.0


def test_single_patient() -> None:
    km = kaplan_meier(np.array([3.0]), np.array([True]), np.array([1.0, 3.0]))
    np.testing.assert_array_equal(km.survival, [1.0, 0.0])
    np.testing.assert_array_equal(km.at_risk, [1, 1])
    assert km.median().value == 3.0


# --------------------------------------------------------------------------- log-rank


@FAST
@given(survival_data, survival_data)
def test_log_rank_matches_oracles(d1: list[tuple[int, bool]], d2: list[tuple[int, bool]]) -> None:
    # administrative censoring after the last assessment keeps two patients at risk at every event
    t1 = np.array([d[0] for d in d1] + [10], float)
    e1 = np.array([d[1] for d in d1] + [False])
    t2 = np.array([d[0] for d in d2] + [10], float)
    e2 = np.array([d[1] for d in d2] + [False])
    grid = np.arange(1.0, 11.0)
    p = log_rank(kaplan_meier(t1, e1, grid), kaplan_meier(t2, e2, grid))
    if not (e1.any() or e2.any()):
        assert p == 1.0
        return
    chi2 = log_rank_oracle(t1, e1, t2, e2)
    assert p == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-9, abs=1e-300)
    assert p == pytest.approx(stats.logrank(censored(t1, e1), censored(t2, e2)).pvalue, rel=1e-8, abs=1e-300)


def test_log_rank_when_the_last_patient_at_risk_has_the_event() -> None:
    """Found by this test: the expected count was dropped where one patient was at risk."""
    # group a: events at 1, 2, 3; group b: an event and a censoring at 1.  At t = 3 only a's last
    # patient is at risk (n = 1): E = 1 there, O - E = 0.  By hand: O - E = 3 - (1.2 + 1 + 1) = -0.2,
    # V = 2 * (3/5) * (2/5) * 3/4 = 0.36, chi-square = 0.04 / 0.36 = 1/9, p = 0.7389.
    grid = np.array([1.0, 2.0, 3.0])
    ta, ea = np.array([1.0, 2.0, 3.0]), np.ones(3, bool)
    tb, eb = np.array([1.0, 1.0]), np.array([True, False])
    p = log_rank(kaplan_meier(ta, ea, grid), kaplan_meier(tb, eb, grid))
    assert p == pytest.approx(stats.chi2.sf(1 / 9, 1), rel=1e-9)
    assert p == pytest.approx(stats.logrank(censored(ta, ea), censored(tb, eb)).pvalue, rel=1e-9)


def test_compare_medians() -> None:
    grid = np.arange(1.0, 9.0)
    # a: events at 1..7, two censored at 8: S = 8/9, 7/9, 6/9, 5/9, 4/9 -> median 5
    # b: events at 2, 4, 5, 6, 6, 7; censored at 3, 8, 8: S(6) = 8/9 * 6/7 * 5/6 * 3/5 = 0.381 -> median 6
    # (each patient four times over, so that both medians have a finite interval)
    at = np.repeat(np.array([1, 2, 3, 4, 5, 6, 7, 8, 8], float), 4)
    ae = np.repeat(np.array([1] * 7 + [0, 0], bool), 4)
    bt = np.repeat(np.array([2, 3, 4, 5, 6, 6, 7, 8, 8], float), 4)
    be = np.repeat(np.array([1, 0, 1, 1, 1, 1, 1, 0, 0], bool), 4)
    a, b = kaplan_meier(at, ae, grid), kaplan_meier(bt, be, grid)
    ma, mb = a.median(), b.median()
    assert (ma.value, mb.value) == (5.0, 6.0)
    got = compare_medians(a, b)
    assert got.difference == -1.0
    assert got.p_value == log_rank(a, b)
    se = math.hypot((ma.ci95[1] - ma.ci95[0]) / (2 * Z), (mb.ci95[1] - mb.ci95[0]) / (2 * Z))
    assert math.isfinite(se)
    assert got.ci95 == pytest.approx((-1.0 - Z * se, -1.0 + Z * se), abs=1e-9)


@pytest.mark.parametrize("n", [10, 24, 28, 30, 38])
def test_median_when_survival_is_exactly_half(n: int) -> None:
    # n patients, one event a day and no censoring: S(n/2) = 1/2 exactly, so the median is day n/2
    # (as in R's quantile.survfit, which compares with a tolerance for exactly this reason).
    # n = 10 has a 2-way tie at day 2 and two patients censored at the end instead.
    if n == 10:
        t = np.array([1, 2, 2, 3, 4, 5, 6, 7, 8, 8], float)
        e = np.array([1] * 8 + [0, 0], bool)
        want = 4.0  # S = 9/10, 7/10, 6/10, 5/10
    else:
        t, e, want = np.arange(1.0, n + 1), np.ones(n, bool), n / 2
    km = kaplan_meier(t, e, np.unique(t))
    assert km.median().value == want


def test_proportions_with_an_empty_arm_are_not_estimable() -> None:
    """Found by the trial-design fuzz: a comparison whose control has nobody left (e.g. no
    responder to randomise) is NaN, not a ZeroDivisionError."""
    from ketasim.trials.statistics import compare_proportions

    empty = np.zeros(0, dtype=bool)
    some = np.array([True, False, True])
    for a, c in ((some, empty), (empty, some)):
        r = compare_proportions(a, c, paired=False)
        assert math.isnan(r.difference) and math.isnan(r.p_value)

"""The measures against independent implementations (vigipy, scipy) and published examples."""

import math

import numpy as np
import pandas as pd
import pytest
import vigipy
from scipy.stats import chi2_contingency, gamma

from streams.disproportionality import criteria_met, is_signal, measures
from streams.settings import SignalSettings

# Drug, event, cases: every 2x2 cell non-zero for the pairs compared.
REPORTS = [("d1", "e1", 12), ("d1", "e2", 30), ("d2", "e1", 7), ("d2", "e2", 150),
           ("d3", "e1", 5), ("d3", "e3", 40), ("d2", "e3", 20)]  # fmt: skip


def tables() -> dict[tuple[str, str], tuple[int, int, int, int]]:
    total = sum(n for *_, n in REPORTS)
    by_drug = {d: sum(n for dd, _, n in REPORTS if dd == d) for d, _, _ in REPORTS}
    by_event = {e: sum(n for _, ee, n in REPORTS if ee == e) for _, e, _ in REPORTS}
    return {
        (d, e): (a, by_drug[d] - a, by_event[e] - a, total - by_drug[d] - by_event[e] + a)
        for d, e, a in REPORTS
    }


def test_prr_and_ror_with_their_intervals_match_vigipy():
    container = vigipy.convert(pd.DataFrame(REPORTS, columns=["name", "AE", "count"]))
    options = {"min_events": 1, "decision_metric": "rank", "decision_thres": 1e9,
               "continuity_correction": False}  # fmt: skip
    theirs = {
        name: result.all_signals.set_index(["Product", "Adverse Event"])
        for name, result in (
            ("PRR", vigipy.prr(container, **options)),
            ("ROR", vigipy.ror(container, **options)),
        )  # fmt: skip
    }
    for pair, cells in tables().items():
        ours = measures(*(np.array([x]) for x in cells))
        assert ours.prr[0] == pytest.approx(theirs["PRR"].loc[pair, "PRR"], rel=1e-9)
        assert ours.ror[0] == pytest.approx(theirs["ROR"].loc[pair, "ROR"], rel=1e-9)
        assert ours.ror_lower[0] == pytest.approx(theirs["ROR"].loc[pair, "CI Lower"], rel=1e-9)
        assert ours.ror_upper[0] == pytest.approx(theirs["ROR"].loc[pair, "CI Upper"], rel=1e-9)


def test_yates_chi2_matches_scipy_and_ic_bound_the_gamma_quantile():
    for a, b, c, d in tables().values():
        ours = measures(np.array([a]), np.array([b]), np.array([c]), np.array([d]))
        scipy_chi2 = chi2_contingency([[a, b], [c, d]], correction=True).statistic
        assert ours.chi2[0] == pytest.approx(scipy_chi2, rel=1e-9)
        expected = (a + b) * (a + c) / (a + b + c + d)
        assert ours.ic[0] == pytest.approx(math.log2((a + 0.5) / (expected + 0.5)))
        quantile = gamma.ppf(0.025, a + 0.5, scale=1 / (expected + 0.5))
        assert ours.ic025[0] == pytest.approx(math.log2(quantile), rel=1e-9)
        # Norén et al. 2013's closed-form approximation of the same bound.
        approx = ours.ic[0] - 3.3 * (a + 0.5) ** -0.5 - 2 * (a + 0.5) ** -1.5
        assert ours.ic025[0] == pytest.approx(approx, abs=0.1)


def test_published_worked_examples():
    # Yates-corrected chi-squared of 10/16 against 5/21 is 4.15 (StatsToDo, "Compare Two
    # Binomially Distributed Proportions").
    yates = measures(np.array([10]), np.array([6]), np.array([5]), np.array([16]))
    assert round(float(yates.chi2[0]), 2) == 4.15
    # Odds ratio 28/129 against 4/133 is 7.22, 95% CI 2.46 to 21.15 (Altman 1991's method).
    odds = measures(np.array([28]), np.array([129]), np.array([4]), np.array([133]))
    assert (round(float(odds.ror[0]), 2), round(float(odds.ror_lower[0]), 2),
            round(float(odds.ror_upper[0]), 2)) == (7.22, 2.46, 21.15)  # fmt: skip
    assert odds.prr[0] == pytest.approx((28 / 157) / (4 / 137))


def test_a_zero_cell_is_corrected_as_vigipy_corrects_it():
    # The drug's only cases are of this event (b = 0), and so on: Haldane-Anscombe, +0.5.
    reports = REPORTS + [("d4", "e4", 5)]
    container = vigipy.convert(pd.DataFrame(reports, columns=["name", "AE", "count"]))
    options = {"min_events": 1, "decision_metric": "rank", "decision_thres": 1e9}
    prr = vigipy.prr(container, **options).all_signals.set_index(["Product", "Adverse Event"])
    ror = vigipy.ror(container, **options).all_signals.set_index(["Product", "Adverse Event"])
    total = sum(n for *_, n in reports)
    ours = measures(np.array([5]), np.array([0]), np.array([0]), np.array([total - 5]))
    assert ours.prr[0] == pytest.approx(prr.loc[("d4", "e4"), "PRR"], rel=1e-9)
    assert ours.ror[0] == pytest.approx(ror.loc[("d4", "e4"), "ROR"], rel=1e-9)
    assert ours.ror_lower[0] == pytest.approx(ror.loc[("d4", "e4"), "CI Lower"], rel=1e-9)
    assert is_signal(criteria_met(ours, SignalSettings()), SignalSettings())[0]


def test_a_table_without_cases_meets_no_criterion():
    m = measures(np.array([0]), np.array([0]), np.array([0]), np.array([0]))
    met = criteria_met(m, SignalSettings())
    assert not any(flags[0] for flags in met.values())


def test_evans_criteria_and_the_minimum_cases():
    settings = SignalSettings()
    strong = measures(np.array([3, 30]), np.array([1, 10]), np.array([20, 200]),
                      np.array([2000, 20000]))  # fmt: skip
    met = criteria_met(strong, settings)
    assert met["evans"].tolist() == [True, True]
    fewer = criteria_met(strong, settings.model_copy(update={"min_cases": 4}))
    assert fewer["evans"].tolist() == [False, True]

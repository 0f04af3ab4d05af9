"""Disproportionality of drug–event pairs from the 2×2 table of cases, the measures
pharmacovigilance teams read, vectorised so one pass scores every pair.

             event   other events
  drug         a          b
  other drugs  c          d

- PRR = [a/(a+b)] / [c/(c+d)], with Pearson's χ² under Yates' correction (Evans et al. 2001).
- ROR = ad/bc, with the 95% interval exp(ln ROR ± 1.96·√(1/a+1/b+1/c+1/d)).
- IC = log2[(a+½)/(E+½)], E = (a+b)(a+c)/N, the shrunk observed-to-expected ratio of the WHO's
  BCPNN (Norén et al. 2013), whose 2.5% lower bound is the Gamma(a+½, E+½) quantile.

A table with a zero cell (a new drug seen only with this event: c = 0) has PRR and ROR computed
with Haldane–Anscombe's correction, +0.5 in every cell, as vigipy does; a measure still without
a finite value is NaN (unknown), and a criterion on it is not met.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv

from streams.settings import SignalSettings

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Measures:
    """Each field an array with one value per pair."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    prr: np.ndarray
    chi2: np.ndarray
    ror: np.ndarray
    ror_lower: np.ndarray
    ror_upper: np.ndarray
    ic: np.ndarray
    ic025: np.ndarray


def measures(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> Measures:
    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    n = a + b + c + d
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    ha, hb, hc, hd = (np.where(zero, x + 0.5, x) for x in (a, b, c, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        prr = (ha / (ha + hb)) / (hc / (hc + hd))
        margins = (a + b) * (c + d) * (a + c) * (b + d)
        chi2 = n * np.maximum(np.abs(a * d - b * c) - n / 2, 0.0) ** 2 / margins
        ror = (ha * hd) / (hb * hc)
        spread = Z_95 * np.sqrt(1 / ha + 1 / hb + 1 / hc + 1 / hd)
        ror_lower = np.exp(np.log(ror) - spread)
        ror_upper = np.exp(np.log(ror) + spread)
        expected = (a + b) * (a + c) / n
        ic = np.log2((a + 0.5) / (expected + 0.5))
        ic025 = np.log2(gammaincinv(a + 0.5, 0.025) / (expected + 0.5))
    return Measures(
        a, b, c, d,
        _known(prr), _known(chi2), _known(ror), _known(ror_lower), _known(ror_upper),
        _known(ic), _known(ic025),
    )  # fmt: skip


def _known(values: np.ndarray) -> np.ndarray:
    """Infinities (a zero divisor) as NaN: unknown, not infinitely large."""
    return np.where(np.isfinite(values), values, np.nan)


def criteria_met(m: Measures, settings: SignalSettings) -> dict[str, np.ndarray]:
    """Per criterion, which pairs meet it (NaN meets none): Evans (PRR, χ², cases), the ROR's
    lower bound, the IC's lower bound; each also needs the minimum number of cases."""
    enough = m.a >= settings.min_cases
    with np.errstate(invalid="ignore"):
        return {
            "evans": enough & (m.prr >= settings.prr_min) & (m.chi2 >= settings.chi2_min),
            "ror": enough & (m.ror_lower > settings.ror_lower_min),
            "ic": enough & (m.ic025 > settings.ic025_min),
        }


def is_signal(met: dict[str, np.ndarray], settings: SignalSettings) -> np.ndarray:
    """A pair is a signal when it meets every criterion the settings require."""
    return np.logical_and.reduce([met[name] for name in settings.require])

"""The distribution of a student's entity confidences: saved with each student at training
time, it is the reference that live confidences are compared with (PSI) to detect drift."""

import numpy as np

BINS = 10
_EPSILON = 1e-4


def confidence_histogram(confidences: list[float]) -> list[float]:
    """Share of confidences in each of BINS equal bins over [0, 1]."""
    counts, _ = np.histogram(np.clip(confidences, 0, 1), bins=BINS, range=(0.0, 1.0))
    total = max(int(counts.sum()), 1)
    return [round(float(c) / total, 6) for c in counts]


def population_stability_index(reference: list[float], live: list[float]) -> float:
    """PSI of live shares against reference shares; above ~0.25 is a large shift."""
    expected = np.clip(np.asarray(reference), _EPSILON, None)
    actual = np.clip(np.asarray(live), _EPSILON, None)
    return round(float(np.sum((actual - expected) * np.log(actual / expected))), 4)

"""Rolling agreement between student and teacher: the drift signal.

Over the last `window` teacher-labelled samples: strict F1 of the student against the teacher
per type (the teacher as reference), the same for assertions on the mentions both found (both
sides run one ConText pass, so this shows they read context alike), entities per note by type
for each, and the PSI of the student's confidences against the reference saved with the serving
student.
"""

from collections import deque
from collections.abc import Callable

import numpy as np

from models.confidence import confidence_histogram, population_stability_index
from models.labels import EntityType
from models.messages import DriftReport, TeacherLabel
from streams import metrics
from trainer.evaluate import MICRO, evaluate


class DriftMonitor:
    def __init__(
        self,
        window: int,
        threshold: float,
        psi_threshold: float,
        reference_for: Callable[[str], list[float] | None],
    ) -> None:
        self.samples: deque[TeacherLabel] = deque(maxlen=window)
        self.threshold = threshold
        self.psi_threshold = psi_threshold
        self.reference_for = reference_for

    def add(self, label: TeacherLabel) -> None:
        self.samples.append(label)

    def report(self) -> DriftReport | None:
        if not self.samples:
            return None
        samples = list(self.samples)
        scored = evaluate([s.teacher for s in samples], [s.student for s in samples])
        agreement = {label: score.f1 for label, score in scored.strict.items()}
        versions = sorted({s.student_model_version for s in samples})
        psi = self._psi(samples, versions[-1])
        drift_score = round(1.0 - agreement.get(MICRO, 0.0), 4)
        report = DriftReport(
            samples=len(samples),
            agreement_f1=agreement,
            assertion_agreement_f1={name: s.f1 for name, s in scored.assertions.items()},
            student_entities_per_note=_rates([s.student.entities for s in samples]),
            teacher_entities_per_note=_rates([s.teacher.entities for s in samples]),
            confidence_psi=psi,
            drift_score=drift_score,
            threshold=self.threshold,
            drifted=drift_score > self.threshold or (psi is not None and psi > self.psi_threshold),
            model_versions=versions,
        )
        _export(report)
        return report

    def _psi(self, samples: list[TeacherLabel], version: str) -> float | None:
        reference = self.reference_for(version)
        confidences = [e.confidence for s in samples for e in s.student.entities]
        if reference is None or not confidences:
            return None
        return population_stability_index(reference, confidence_histogram(confidences))


def _rates(entity_lists: list[list]) -> dict[str, float]:
    return {
        t.value: round(float(np.mean([sum(e.type == t for e in es) for es in entity_lists])), 3)
        for t in EntityType
    }


def _export(report: DriftReport) -> None:
    for label, f1 in report.agreement_f1.items():
        metrics.AGREEMENT_F1.labels(type=label).set(f1)
    for assertion, f1 in report.assertion_agreement_f1.items():
        metrics.ASSERTION_AGREEMENT_F1.labels(assertion=assertion).set(f1)
    for source, rates in (("student", report.student_entities_per_note),
                          ("teacher", report.teacher_entities_per_note)):  # fmt: skip
        for entity_type, rate in rates.items():
            metrics.ENTITIES_PER_NOTE.labels(source=source, type=entity_type).set(rate)
    metrics.DRIFT_SCORE.set(report.drift_score)
    if report.confidence_psi is not None:
        metrics.CONFIDENCE_PSI.set(report.confidence_psi)

"""The LLM suite: recorded LLM teachers and the students distilled from them on ADE Corpus, a
student of LLM-written PHEE sentences, and drug→ADE pairing methods (bench/llm-teachers.md)."""

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models.onnx_student import OnnxStudent
from models.settings import InferenceSettings, StudentSettings
from models.spans import Annotations
from trainer.bench.runs import device_name, recipe, trained
from trainer.corpora import CorpusFormat, Document, read_corpus
from trainer.distil import distil_student, held_out, teachers_recipe
from trainer.evaluate import SCORED_TYPES, Report, Score, evaluate
from trainer.pairs import fit_pair_model, pairing_on_gold_mentions, repaired
from trainer.sentence_gate import THRESHOLDS
from trainer.settings import TrainingSettings
from trainer.teachers.recorded import RecordedSettings, RecordedTeacher
from trainer.train import train_student

View = str  # "relation sentences" or "all sentences"


class GatePoint(BaseModel):
    """The student's ADE mentions on all dev sentences, kept where its sentence head finds the
    sentence reports an ADE with at least `threshold`."""

    threshold: float
    ade: Score


class LlmTeacherRow(BaseModel):
    """One recorded teacher and the student distilled from it, on ADE Corpus dev."""

    # Scored as the student is: with its ADE mentions kept only where it names a drug when
    # the student's inference keeps them so (CLINSTREAM_INFERENCE_ADE_NEEDS_DRUG).
    teacher: dict[View, Report]
    teacher_as_answered: dict[View, Report] | None = None
    student: dict[View, Report]  # at the card's operating point; pairs by the learned pairing
    student_nearest_pairs: dict[View, Report]  # the same student, pairs by the nearest drug
    # The same student with no ADE mention gated, and the ADE P/R curve of its sentence head
    # (students before the head have neither).
    student_ungated: dict[View, Report] | None = None
    operating_point: float | None = None
    ade_curve: list[GatePoint] = []
    train_seconds: int
    best_epoch: int
    device: str


class PheeSyntheticRun(BaseModel):
    """The student of LLM-written PHEE sentences alone, on PHEE dev."""

    report: Report
    nearest_pairs: Score
    train_seconds: int
    best_epoch: int
    device: str
    sentences: int


class LlmSummary(BaseModel):
    """What `bench accuracy --suite llm` measured (llm-teachers.json)."""

    ade: dict[str, LlmTeacherRow]
    phee_synthetic: PheeSyntheticRun
    pairing_on_gold_mentions: dict[str, dict[str, Score]]
    training: TrainingSettings
    student: StudentSettings


ADE_PROMPTS = ("gpt41nano_direct", "gpt41nano_enhanced", "gpt41nano_dspy")


def llm_teachers(
    train: Path, prompts: tuple[str, ...] = ADE_PROMPTS
) -> dict[str, RecordedSettings]:
    """Each recorded prompt alone, all of them combined by 1 and by 2 votes, and by the label
    model, replaying the `train` recording."""
    teachers = {p: RecordedSettings(answers=train, prompts=[p]) for p in prompts}
    for votes in (1, 2):
        teachers[f"{votes} of {len(prompts)} prompts"] = RecordedSettings(
            answers=train, prompts=list(prompts), min_votes=votes
        )
    teachers[f"label model of {len(prompts)} prompts"] = RecordedSettings(
        answers=train, prompts=list(prompts), combine="label_model"
    )
    return teachers


def run_llm_teacher_benchmark(
    root: Path,
    workdir: Path,
    teachers: list[str] | None = None,
    seed: int = 13,
    resume: bool = False,
) -> LlmSummary:
    """The research's two recipes with real LLM labels and no endpoint.

    ADE Corpus: each recorded teacher labels the train sentences; a student distils from them
    (early stopping on held-out teacher labels, never gold); teacher and student are scored on
    dev, on the sentences with a relation (as the literature does) and on all of them.
    PHEE: a student trained on gpt-3.5-written, gpt-3.5-labelled sentences alone, scored on
    PHEE dev. Pairing: learned from the LLM-written events (every student here pairs with it),
    against the nearest-drug rule and the pairing learned from PHEE train gold.
    """
    ade = root / "ade_llm"
    train = read_corpus(ade / "train.jsonl", CorpusFormat.ADE_LLM)
    dev = read_corpus(ade / "dev.jsonl", CorpusFormat.ADE_LLM)
    related = [d for d in dev if d.labels.entities]
    types = SCORED_TYPES[CorpusFormat.ADE_LLM]
    synthetic = [
        *read_corpus(root / "phee_chatgpt" / "train_aug.json", CorpusFormat.PHEE),
        *read_corpus(root / "phee_chatgpt" / "train_aug_constrain_drug_and_effect.json",
                     CorpusFormat.PHEE),
    ]  # fmt: skip
    synthetic_fit, synthetic_stop = held_out(synthetic, seed)
    phee_train = read_corpus(root / "phee" / "train.json", CorpusFormat.PHEE)
    phee_dev = read_corpus(root / "phee" / "dev.json", CorpusFormat.PHEE)
    pairings = {
        "nearest drug": None,
        "learned, PHEE train gold": fit_pair_model(phee_train, "PHEE train gold"),
        "learned, LLM-written": fit_pair_model(synthetic_fit, "phee_chatgpt"),
    }
    llm_pairing = pairings["learned, LLM-written"]

    def views(predicted: list[Annotations]) -> dict[View, Report]:
        by_text = dict(zip([d.text for d in dev], predicted, strict=True))
        return {
            "relation sentences": evaluate([d.labels for d in related],
                                           [by_text[d.text] for d in related], types),
            "all sentences": evaluate([d.labels for d in dev], predicted, types),
        }  # fmt: skip

    def student_views(
        run: Path, documents: list[Document], scored: Callable[[list[Annotations]], Any]
    ) -> dict[str, Any]:
        """The student's scores with the learned pairing, and its pairs by the nearest drug."""
        llm_pairing.save(run)
        predicted = OnnxStudent(run).extract([d.text for d in documents])
        nearest = scored(repaired(documents, predicted, None))
        return {"learned pairing": scored(predicted), "nearest-drug pairs": nearest}

    def teacher_views(
        settings: RecordedSettings, teacher: RecordedTeacher, ade_needs_drug: bool
    ) -> dict[View, Report]:
        """The teacher's dev answers, combined as on train (its label model fitted there)."""
        dev_settings = settings.model_copy(update={"answers": ade / "dev.jsonl"})
        on_dev = RecordedTeacher(dev_settings, teacher.label_model, ade_needs_drug)
        return views(on_dev.label_batch([d.text for d in dev]))

    results: dict[str, LlmTeacherRow] = {}
    chosen = llm_teachers(ade / "train.jsonl")
    for name in teachers or list(chosen):
        settings = chosen[name]
        recipe_student, training = teachers_recipe(len(settings.prompts))  # as `clinstream train`'s
        teacher = RecordedTeacher(settings, ade_needs_drug=training.ade_needs_drug)
        labels = teacher.label_batch([d.text for d in train])
        labelled = [
            d.model_copy(update={"labels": x, "readings": teacher.readings(d.text)})
            for d, x in zip(train, labels, strict=True)
        ]
        fit, stop = held_out(labelled, seed)
        run = workdir / ("ade-" + re.sub(r"\W+", "-", name))
        metrics = trained(
            run,
            resume,
            partial(distil_student, fit, run, teacher.version, dev=stop,
                    student=recipe_student, training=training),
            training,
            recipe_student,
        )  # fmt: skip
        student = student_views(run, dev, views)
        gated = gate_curve(run, dev)
        results[name] = LlmTeacherRow(
            teacher=teacher_views(settings, teacher, InferenceSettings().ade_needs_drug),
            teacher_as_answered=teacher_views(settings, teacher, False),
            student=student["learned pairing"],
            student_nearest_pairs=student["nearest-drug pairs"],
            student_ungated=views(gated[0.0]),
            operating_point=OnnxStudent(run).ade_threshold,
            ade_curve=[
                GatePoint(
                    threshold=t, ade=evaluate([d.labels for d in dev], found, types).strict["ade"]
                )
                for t, found in gated.items()
            ],  # fmt: skip
            train_seconds=round(metrics.train_seconds),
            best_epoch=metrics.best_epoch,
            device=device_name(metrics.device),
        )

    phee_types = SCORED_TYPES[CorpusFormat.PHEE]
    phee_run = workdir / "phee-chatgpt"
    metrics = trained(phee_run, resume, partial(
        train_student, synthetic_fit, phee_run, "gpt-3.5 synthetic", dev=synthetic_stop,
        dev_types=phee_types))  # fmt: skip

    def phee_score(predicted: list[Annotations]) -> Report:
        return evaluate([d.labels for d in phee_dev], predicted, phee_types)

    phee = student_views(phee_run, phee_dev, phee_score)
    gold_entities = {
        "PHEE dev": (phee_dev, phee_types),
        "ADE dev, relation sentences": (related, types),
    }
    summary = LlmSummary(
        ade=results,
        phee_synthetic=PheeSyntheticRun(
            report=phee["learned pairing"], nearest_pairs=phee["nearest-drug pairs"].ade_pairs,
            train_seconds=round(metrics.train_seconds), best_epoch=metrics.best_epoch,
            device=device_name(metrics.device), sentences=len(synthetic),
        ),
        pairing_on_gold_mentions={
            corpus: pairing_on_gold_mentions(docs, pairings, scored)
            for corpus, (docs, scored) in gold_entities.items()
        },
        training=TrainingSettings(),
        student=StudentSettings(),
    )  # fmt: skip
    (workdir / "llm-teachers.json").write_text(summary.model_dump_json(indent=2) + "\n")
    return summary


def gate_curve(run: Path, documents: list[Document]) -> dict[float, list[Annotations]]:
    """The student's annotations with its ADE mentions gated at each threshold, 0 (none
    gated) first."""
    return {
        threshold: OnnxStudent(run, InferenceSettings(ade_sentence_threshold=threshold)).extract(
            [d.text for d in documents]
        )
        for threshold in (0.0, *THRESHOLDS[1::2])
    }


def _gate_lines(summary: LlmSummary) -> list[str]:
    """Each student with a sentence head: its ADE mentions gated at the operating point
    against none gated, beside its teacher's as the prompts answered and as the student is
    scored (the drug rule); then the precision/recall curve on all sentences."""
    gated = {name: row for name, row in summary.ade.items() if row.student_ungated}
    if not gated:
        return []
    lines = [
        "",
        "ADE mentions (strict P / R / F1): the teacher as its prompts answered and with the "
        "drug rule it is scored by above (an ADE only where the same answer names a drug); the "
        "student with none gated, and gated by its sentence head at the operating point chosen "
        "on held-out teacher labels:",
        "",
        "| teacher | view | teacher as answered | teacher, drug rule | student none gated "
        "| student gated | operating point |",
        "|---|---|---|---|---|---|---|",
    ]

    def ade(reports: dict[View, Report] | None, view: View) -> str:
        if reports is None:
            return "–"
        score = reports[view].strict["ade"]
        return f"{score.p:.3f} / {score.r:.3f} / {score.f1:.3f}"

    for name, row in gated.items():
        for view in ("relation sentences", "all sentences"):
            lines.append(
                f"| {name} | {view} | {ade(row.teacher_as_answered, view)} "
                f"| {ade(row.teacher, view)} | {ade(row.student_ungated, view)} "
                f"| {ade(row.student, view)} | {row.operating_point} |"
            )
    lines += ["", "ADE on all sentences as the gate's threshold rises (P / R / F1):", ""]
    thresholds = [point.threshold for point in next(iter(gated.values())).ade_curve]
    lines += [
        "| teacher | " + " | ".join(f"{t:.2f}" for t in thresholds) + " |",
        "|---|" + "---|" * len(thresholds),
    ]
    for name, row in gated.items():
        lines.append(
            f"| {name} | "
            + " | ".join(f"{x.ade.p:.2f} / {x.ade.r:.2f} / {x.ade.f1:.2f}" for x in row.ade_curve)
            + " |"
        )
    return lines


def llm_table(summary: LlmSummary) -> str:
    """Strict F1 (lenient in brackets) of each recorded teacher and its student on ADE dev;
    ADE pairs (the teacher's by the nearest drug; the student's by the learned pairing, the
    nearest drug in brackets); then the PHEE student and the pairing methods."""
    lines = [
        "| teacher | view | type | teacher F1 | student F1 | student − teacher | "
        "teacher P / student P | student training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in summary.ade.items():
        training = f"{row.train_seconds} s, best epoch {row.best_epoch}, {row.device}"
        for view in ("relation sentences", "all sentences"):
            teacher, student = row.teacher[view], row.student[view]
            for label in ("drug", "ade"):
                t, s = teacher.strict[label], student.strict[label]
                lines.append(
                    f"| {name} | {view} | {label} | {t.f1:.3f} "
                    f"({teacher.lenient[label].f1:.3f}) | {s.f1:.3f} "
                    f"({student.lenient[label].f1:.3f}) | {100 * (s.f1 - t.f1):+.1f} "
                    f"| {t.p:.3f} / {s.p:.3f} | {training} |"
                )
            t, s = teacher.ade_pairs, student.ade_pairs
            nearest = row.student_nearest_pairs[view].ade_pairs
            lines.append(
                f"| {name} | {view} | pairs | {t.f1:.3f} | {s.f1:.3f} "
                f"({nearest.f1:.3f}) | {100 * (s.f1 - t.f1):+.1f} "
                f"| {t.p:.3f} / {s.p:.3f} | {training} |"
            )
    lines += _gate_lines(summary)
    phee = summary.phee_synthetic
    report = phee.report
    lines += [
        "",
        f"PHEE dev, student trained on {phee.sentences} LLM-written sentences alone: "
        + ", ".join(f"{label} {report.strict[label].f1:.3f} "
                    f"({report.lenient[label].f1:.3f})" for label in ("drug", "effect"))
        + f", ADE pairs {report.ade_pairs.f1:.3f} (nearest drug "
        f"{phee.nearest_pairs.f1:.3f}); {phee.train_seconds} s, best epoch "
        f"{phee.best_epoch}, {phee.device}.",
        "",
        "ADE pair P / R / F1 of each pairing method on the gold mentions:",
        "",
        "| corpus | pairing | P | R | F1 |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for corpus, methods in summary.pairing_on_gold_mentions.items():
        for method, score in methods.items():
            lines.append(
                f"| {corpus} | {method} | {score.p:.3f} | {score.r:.3f} | {score.f1:.3f} |"
            )
    several_student, several = teachers_recipe(len(ADE_PROMPTS))
    seeds = [several.seed, *several.soup_seeds]
    soup = f", weights averaged over students of data-order seeds {seeds}" if len(seeds) > 1 else ""
    lines += [
        "",
        f"Training: {recipe(summary.training, summary.student)}. Students of several prompts "
        f"train as `clinstream train` given several --labels: "
        f"{recipe(several, several_student)}{soup}.",
    ]
    return "\n".join(lines) + "\n"

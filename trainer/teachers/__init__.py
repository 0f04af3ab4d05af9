"""Teachers label notes; the student is distilled from their labels."""

from enum import StrEnum

from trainer.teachers.base import Teacher


class TeacherName(StrEnum):
    LEXICON = "lexicon"
    LLM = "llm"
    ENSEMBLE = "ensemble"
    RECORDED = "recorded"  # an LLM's recorded answers (CLINSTREAM_RECORDED_*)


def make_teacher(name: TeacherName) -> Teacher:
    """The teacher of that name, configured from CLINSTREAM_LLM_* where it uses the LLM.

    Imported on demand: the LLM teacher's redaction loads spaCy, which a worker with the
    lexicon teacher should not wait for.
    """
    from trainer.teachers.lexicon import LexiconTeacher

    if name == TeacherName.LEXICON:
        return LexiconTeacher()
    if name == TeacherName.RECORDED:
        from trainer.teachers.recorded import RecordedTeacher

        return RecordedTeacher()
    from trainer.teachers.llm import LlmTeacher

    if name == TeacherName.LLM:
        return LlmTeacher()
    from trainer.teachers.ensemble import EnsembleTeacher

    return EnsembleTeacher(reader=LlmTeacher(), lexicon=LexiconTeacher())

"""The demo student's corpus teaches what is not an entity: invented people, ids, insurers and
places, and terse nursing notes; and the measure of what a student invents on real notes."""

from models.labels import EntityType
from models.spans import Annotations, Entity
from streams.ops.demo_corpus import training_notes
from trainer.bench.phi import phi_overlap
from trainer.corpora import Document


def test_the_corpus_holds_headers_people_and_nursing_notes_the_teacher_leaves_unlabelled(teacher):
    notes = training_notes(20, seed=3)
    assert len(notes) == 40
    assert sum(n.note_type == "nursing_note" for n in notes) == 20
    headed = [n for n in notes if n.text.startswith(("Patient:", "Insurance:", "Attending:",
                                                     "Phone:", "DOB"))]  # fmt: skip
    assert headed
    for note in headed:
        header = note.text.split("CHIEF COMPLAINT")[0]
        assert not [e for e in teacher.label(note.text).entities if e.end <= len(header)]


def test_entities_on_phi_spans_are_counted_by_kind():
    document = Document(doc_id="deid-1-1", text="Seen by Dr Vasquez, on lasix.")
    found = Annotations(entities=[
        Entity(type=EntityType.DRUG, start=11, end=18, text="Vasquez", confidence=0.9),
        Entity(type=EntityType.DRUG, start=23, end=28, text="lasix", confidence=0.9),
    ], ade_pairs=[])  # fmt: skip
    row = phi_overlap("s", [document], [found], {"deid-1-1": [(11, 18, "HCPName")]})
    assert (row.entities, row.on_phi, row.on_phi_by_kind) == (2, 1, {"HCPName": 1})

from models.chunks import chunk_spans, join_chunks
from models.labels import EntityType
from models.spans import AdePair, Annotations, Entity
from streams.ops.demo_corpus import demo_notes


def long_note() -> str:
    return "\n\n".join(note.text for note in demo_notes(40, seed=5, prefix="chunk"))


def test_chunks_tile_the_note_and_end_at_line_ends():
    text = long_note()
    spans = chunk_spans(text, 2000)
    assert len(spans) > 5
    assert "".join(text[start:end] for start, end in spans) == text
    assert all(end - start <= 2000 for start, end in spans)
    assert all(text[end - 1] == "\n" for _, end in spans[:-1])


def test_text_without_boundaries_is_cut_at_the_limit():
    assert chunk_spans("x" * 2500, 1000) == [(0, 1000), (1000, 2000), (2000, 2500)]
    assert chunk_spans("short", 1000) == [(0, 5)]


def test_joined_chunks_read_as_the_whole_note(teacher):
    text = long_note()
    spans = chunk_spans(text, 1500)
    joined = join_chunks(text, spans, [teacher.label(text[start:end]) for start, end in spans])
    whole = teacher.label(text)
    assert joined == whole
    assert len(whole.ade_pairs) > 0 and any(e.negated for e in whole.entities)
    assert all(text[e.start : e.end] == e.text for e in joined.entities)


def test_joined_chunks_keep_each_chunks_own_pairs():
    """A student's learned pairing may pair an effect with a drug the nearest-drug rule would
    not: the join moves the pairs it is given to note offsets, it does not pair again."""
    text = "Rash on amoxicillin, after warfarin.\nCough after lisinopril."
    spans = chunk_spans(text, 40)
    assert len(spans) == 2

    def chunk(start: int, end: int, effect: str, drugs: list[str], culprit: str) -> Annotations:
        piece = text[start:end]

        def mention(word: str, entity_type: EntityType) -> Entity:
            at = piece.index(word)
            return Entity(type=entity_type, start=at, end=at + len(word), text=word,
                          confidence=1.0)  # fmt: skip

        found = {word: mention(word, EntityType.DRUG) for word in drugs}
        adverse = mention(effect, EntityType.ADE)
        return Annotations(entities=[adverse, *found.values()],
                           ade_pairs=[AdePair(drug=found[culprit], effect=adverse,
                                              confidence=1.0)])  # fmt: skip

    chunks = [chunk(*spans[0], "Rash", ["amoxicillin", "warfarin"], culprit="warfarin"),
              chunk(*spans[1], "Cough", ["lisinopril"], culprit="lisinopril")]  # fmt: skip
    joined = join_chunks(text, spans, chunks)
    assert [(p.drug.text, p.effect.text) for p in joined.ade_pairs] == [
        ("warfarin", "Rash"), ("lisinopril", "Cough")
    ]  # fmt: skip
    assert all(text[e.start : e.end] == e.text
               for p in joined.ade_pairs for e in (p.drug, p.effect))  # fmt: skip

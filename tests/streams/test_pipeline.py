"""Notes through the real broker, the Faust worker and the Triton-served tiny student."""

import asyncio
import json

import pytest

from models.messages import ClinicalNote
from streams.ops.demo_corpus import demo_notes, long_demo_note
from tests.streams.kafka_helpers import exchange, worker_metrics

pytestmark = pytest.mark.integration

SECRET = "Jane Doe MRN 998877"
MALFORMED = b'{"note_id": "bad-json", "text": "' + SECRET.encode()
EMPTY = json.dumps({"note_id": "empty-1", "text": "  "}).encode()


async def test_every_note_becomes_one_extraction_or_one_dead_letter(runtime):
    notes = [
        ClinicalNote(note_id=n.note_id, text=n.text, note_type=n.note_type, patient_id="p-1")
        for n in [*demo_notes(10, seed=99, prefix="it"), long_demo_note(seed=99)]
    ]
    extractions, ades, letters = await exchange(runtime.kafka, notes, [MALFORMED, EMPTY], 2)

    # Counts in = counts out + dead letters.
    assert sorted(extractions) == sorted(n.note_id for n in notes)
    assert len(letters) == 2
    by_id = {n.note_id: n for n in notes}
    for note_id, extraction in extractions.items():
        text = by_id[note_id].text
        assert extraction.model_name == "student"
        assert extraction.model_version == "1"
        assert extraction.patient_id == "p-1"
        assert all(text[e.start : e.end] == e.text for e in extraction.entities)
    assert sum(len(x.entities) for x in extractions.values()) > len(notes)
    long_note = by_id["long-0099"]
    assert max(e.end for e in extractions["long-0099"].entities) > len(long_note.text) * 0.8

    # One ADE message per pair, matching its Extraction.
    expected = sorted((x.note_id, p.drug.start, p.effect.start)
                      for x in extractions.values() for p in x.ade_pairs)  # fmt: skip
    assert sorted((a.note_id, a.drug.start, a.effect.start) for a in ades) == expected
    assert len({a.event_id for a in ades}) == len(ades)

    reasons = {letter.reason.value: letter for letter in letters}
    assert set(reasons) == {"invalid_json", "empty_text"}
    assert reasons["invalid_json"].payload() == MALFORMED
    assert reasons["empty_text"].note_id == "empty-1"
    assert all(letter.source_topic == runtime.kafka.notes_topic for letter in letters)
    assert all(SECRET not in letter.error for letter in letters)

    metrics = worker_metrics(runtime)
    assert metrics[("clinstream_notes_in_total", ())] >= len(notes) + 2
    assert metrics[("clinstream_notes_out_total", ())] >= len(notes)
    assert metrics[("clinstream_dead_letters_total", (("reason", "invalid_json"),))] >= 1
    assert metrics[("clinstream_dead_letters_total", (("reason", "empty_text"),))] >= 1
    assert metrics[("clinstream_serving_model_version", ())] == 1
    assert metrics[("clinstream_end_to_end_latency_seconds_count", ())] >= len(notes)

    # No note text in any service's log.
    await asyncio.sleep(0)
    for log_file in runtime.runtime.log_dir.glob("*.log"):
        content = log_file.read_text(errors="replace")
        assert SECRET not in content
        assert long_note.text[:60] not in content

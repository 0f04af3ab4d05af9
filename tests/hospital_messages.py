# ruff: noqa: E501 (HL7 segments are kept whole, as engines send them)
"""HL7 v2 and FHIR R4 messages as integration engines publish them, valid and malformed.

`ORU_R01_GHH_LAB` is the sample message python-hl7 ships in its tests (tests/samples.py,
BSD licence, copyright John Paulett), itself taken from the HL7 normative edition: a real
result message with numeric values and no narrative, which clinstream must refuse clearly.
`FHIR_SPEC_EXAMPLES` are example resources of the FHIR R4 specification, unchanged
(tests/fixtures/fhir_r4_examples, CC0). The other valid messages are written here, and the
tests check them against the standards: HL7 v2.5 message structures by hl7apy at its strict
level, FHIR R4 by fhir.resources.
"""

import base64
import json
from pathlib import Path

# python-hl7 tests/samples.py `sample_hl7`, unchanged.
ORU_R01_GHH_LAB = "\r".join(
    [
        "MSH|^~\\&|GHH LAB|ELAB-3|GHH OE|BLDG4|200202150930||ORU^R01|CNTRL-3456|P|2.4",
        "PID|||555-44-4444||EVERYWOMAN^EVE^E^^^^L|JONES|196203520|F|||153 FERNWOOD DR.^^STATESVILLE^OH^35292||(206)3345232|(206)752-121||||AC555444444||67-A4335^OH^20030520",
        "OBR|1|845439^GHH OE|1045813^GHH LAB|1554-5^GLUCOSE|||200202150730||||||||555-55-5555^PRIMARY^PATRICIA P^^^^MD^^LEVEL SEVEN HEALTHCARE, INC.|||||||||F||||||444-44-4444^HIPPOCRATES^HOWARD H^^^^MD",
        "OBX|1|SN|1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN||^182|mg/dl|70_105|H|||F",
        "OBX|2|FN|1553-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN||^182|mg/dl|70_105|H|||F\r",
    ]
)

# A transcribed discharge summary: TX lines, one OBX per paragraph, escapes in the text.
MDM_T02 = "\r".join(
    [
        "MSH|^~\\&|TRANSCRIPTION|GENHOSP|EHR|GENHOSP|20240115140000||MDM^T02^MDM_T02|MSG-00017|P|2.5",
        "EVN|T02|20240115140000",
        "PID|1||MRN-48213^^^GENHOSP^MR||TESTPATIENT^ALEX",
        "PV1|1|I|WARD7^12^A||||||||||||||||ENC-9921",
        "TXA|1|DS|TX|20240115135500||||||||DOC-77811^GENHOSP|||||AU",
        "OBX|1|TX|18842-5^Discharge summary^LN||Admitted with community-acquired pneumonia.\\.br\\"
        "Started on amoxicillin and clarithromycin.||||||F",
        "OBX|2|TX|18842-5^Discharge summary^LN||On day 3 she developed a diffuse urticarial rash "
        "after amoxicillin \\T\\ it was stopped.~Denies fever or chest pain at discharge.||||||F",
        "OBX|3|TX|18842-5^Discharge summary^LN||Continue metformin for type 2 diabetes mellitus.||||||F",
    ]
)

# A status change with content (T04), FT text, framed by MLLP with \r\n segment ends.
MDM_T04 = (
    "\x0b"
    + "\r\n".join(
        [
            "MSH|^~\\&|TRANSCRIPTION|GENHOSP|EHR|GENHOSP|20240116091000||MDM^T04^MDM_T02|MSG-00018|P|2.5",
            "EVN|T04|20240116091000",
            "PID|1||MRN-50127^^^GENHOSP^MR||TESTPATIENT^SAM",
            "PV1|1|O|CLINIC3||||||||||||||||ENC-9944",
            "TXA|1|PN|FT|20240116090000||||||||DOC-77845^GENHOSP|||||LA",
            "OBX|1|FT|11506-3^Progress note^LN||Patient reports nausea and dizziness since starting "
            "lisinopril.\\.br\\Lisinopril held; start amlodipine.||||||F",
        ]
    )
    + "\r\n\x1c\r"
)

# A radiology result: the report text in TX OBX lines, document id from OBR-3.
ORU_R01_REPORT = "\r".join(
    [
        "MSH|^~\\&|RIS|GENHOSP|EHR|GENHOSP|20240117103000||ORU^R01^ORU_R01|MSG-00019|P|2.5",
        "PID|1||MRN-48213^^^GENHOSP^MR||TESTPATIENT^ALEX",
        "PV1|1|I|WARD7^12^A||||||||||||||||ENC-9921",
        "OBR|1|ORD-5531^EHR|RAD-88120^RIS|71046^CHEST X-RAY 2 VIEWS^CPT|||20240117094500",
        "OBX|1|TX|71046^CHEST X-RAY^CPT|1|FINDINGS: Right lower lobe consolidation consistent "
        "with pneumonia.||||||F",
        "OBX|2|TX|71046^CHEST X-RAY^CPT|2|No pleural effusion. No pneumothorax.||||||F",
    ]
)

VALID_HL7V2 = {"MDM_T02": MDM_T02, "MDM_T04": MDM_T04, "ORU_R01_REPORT": ORU_R01_REPORT}


def _attachment(text: str, content_type: str) -> dict:
    return {"contentType": content_type, "data": base64.b64encode(text.encode()).decode()}


DOCUMENT_REFERENCE = {
    "resourceType": "DocumentReference",
    "id": "docref-3001",
    "masterIdentifier": {"system": "urn:oid:1.2.3.4.5", "value": "DOC-3001"},
    "status": "current",
    "type": {
        "coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]
    },  # fmt: skip
    "subject": {"reference": "Patient/pat-17"},
    "date": "2024-01-18T08:30:00Z",
    "context": {"encounter": [{"reference": "Encounter/enc-4410"}]},
    "content": [
        {
            "attachment": _attachment(
                "Atorvastatin was started last month. She now reports muscle pain and "
                "weakness; atorvastatin is stopped. No jaundice.",
                "text/plain; charset=utf-8",
            )
        }
    ],
}


def _another_document(number: int, text: str, content_type: str) -> dict:
    """DOCUMENT_REFERENCE with another id and one attachment."""
    return {
        **DOCUMENT_REFERENCE,
        "id": f"docref-{number}",
        "masterIdentifier": {"system": "urn:oid:1.2.3.4.5", "value": f"DOC-{number}"},
        "content": [{"attachment": _attachment(text, content_type)}],
    }


DOCUMENT_REFERENCE_HTML = _another_document(
    3002,
    "<html><body><h1>Clinic letter</h1><p>Warfarin continued for atrial fibrillation.</p>"
    "<p>Bleeding gums after <b>warfarin</b> dose increase.</p><script>ignored()</script>"
    "</body></html>",
    "text/html",
)

DOCUMENT_REFERENCE_RTF = _another_document(
    3003,
    r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Ibuprofen caused "
    r"{\b stomach pain}.\par Switched to paracetamol.\par}",
    "text/rtf",
)

DIAGNOSTIC_REPORT = {
    "resourceType": "DiagnosticReport",
    "id": "report-812",
    "status": "final",
    "code": {"text": "CT abdomen"},
    "subject": {"identifier": {"system": "urn:oid:1.2.3.4.6", "value": "MRN-50127"}},
    "encounter": {"reference": "Encounter/enc-4470"},
    "effectiveDateTime": "2024-01-19T11:00:00Z",
    "presentedForm": [_attachment("Findings suggest acute pancreatitis.", "text/plain")],
}

BUNDLE = {
    "resourceType": "Bundle",
    "id": "bundle-55",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:8d1c3f0e-2b6a-4a7e-9d0e-1f2a3b4c5d6e",
            "resource": {"resourceType": "Patient", "id": "pat-88"},
            "request": {"method": "PUT", "url": "Patient/pat-88"},
        },
        {
            "fullUrl": "urn:uuid:0b6f9a52-7c3d-4e1f-8a2b-3c4d5e6f7a8b",
            "resource": {
                **DOCUMENT_REFERENCE,
                "id": "docref-3004",
                "masterIdentifier": {"system": "urn:oid:1.2.3.4.5", "value": "DOC-3004"},
                "subject": {"reference": "urn:uuid:8d1c3f0e-2b6a-4a7e-9d0e-1f2a3b4c5d6e"},
            },
            "request": {"method": "POST", "url": "DocumentReference"},
        },
    ],
}

# US Core presents its chest X-ray report as XHTML (presentedForm application/xhtml).
DIAGNOSTIC_REPORT_XHTML = {
    **DIAGNOSTIC_REPORT,
    "id": "report-813",
    "presentedForm": [
        _attachment(
            '<div xmlns="http://www.w3.org/1999/xhtml"><h3>Findings</h3><p>Small left '
            "pneumothorax after central line placement.</p></div>",
            "application/xhtml",
        )
    ],
}

VALID_FHIR = {
    "DOCUMENT_REFERENCE": DOCUMENT_REFERENCE,
    "DIAGNOSTIC_REPORT_XHTML": DIAGNOSTIC_REPORT_XHTML,
    "DOCUMENT_REFERENCE_HTML": DOCUMENT_REFERENCE_HTML,
    "DOCUMENT_REFERENCE_RTF": DOCUMENT_REFERENCE_RTF,
    "DIAGNOSTIC_REPORT": DIAGNOSTIC_REPORT,
    "BUNDLE": BUNDLE,
}

# A word that appears in malformed messages only, to check no error or log repeats it.
SECRET = "Zebulon-Quixote"

# Message -> the dead-letter reason it must get.
INVALID_HL7V2 = {
    ORU_R01_GHH_LAB.encode(): "unsupported_message",  # numbers, no narrative
    b"MSH|^~\\&|ADT|GENHOSP|EHR|GENHOSP|20240115||ADT^A01|MSG-1|P|2.5\rPID|1||"
    + SECRET.encode(): "unsupported_message",
    f"PID|1||{SECRET}\rOBX|1|TX|||text".encode(): "invalid_hl7v2",  # no MSH
    MDM_T02.replace("MSG-00017", "").encode(): "invalid_hl7v2",  # MSH-10 empty
    MDM_T02.replace("TXA|1|DS|TX|20240115135500", "TXA|1|DS|TX|2024-01-15")
    .replace("pneumonia", SECRET)
    .encode(): "invalid_hl7v2",  # TXA-4 not a timestamp
    "\r".join(
        line for line in MDM_T02.split("\r") if not line.startswith("TXA")
    ).encode(): "invalid_hl7v2",  # MDM without TXA
    MDM_T02.replace("pneumonia", SECRET).encode("utf-16"): "invalid_hl7v2",  # not UTF-8
    MDM_T02.replace("|TX|18842", "|ED|18842").encode(): "unsupported_message",  # no text OBX
    # Pasted from a PDF: an OBX wrapped onto a second line, and a page footer.
    MDM_T02.replace("Started on amoxicillin", "Started on\ramoxicillin")
    .replace("\rOBX|3", "\rPage 1 of 2\rOBX|3")
    .encode(): "invalid_hl7v2",
}

INVALID_FHIR = {
    json.dumps({"resourceType": "Patient", "id": "pat-1"}).encode(): "unsupported_message",
    json.dumps({**DOCUMENT_REFERENCE, "date": SECRET}).encode(): "invalid_fhir",
    json.dumps({k: v for k, v in DOCUMENT_REFERENCE.items() if k != "content"}).encode(): (
        "invalid_fhir"
    ),
    json.dumps(
        {**DOCUMENT_REFERENCE, "content": [{"attachment": _attachment(SECRET, "application/pdf")}]}
    ).encode(): "unsupported_message",
    json.dumps(
        {**DOCUMENT_REFERENCE, "content": [{"attachment": {"url": "https://ehr.example/d/1"}}]}
    ).encode(): "unsupported_message",
    json.dumps(
        {
            **BUNDLE,
            "entry": [e for e in BUNDLE["entry"] if e["resource"]["resourceType"] == "Patient"],
        }
    ).encode(): "unsupported_message",  # no document
    b'{"resourceType": "DocumentReference", "content": [' + SECRET.encode(): "invalid_json",
    json.dumps({**DOCUMENT_REFERENCE, "id": None, "masterIdentifier": None}).encode(): (
        "invalid_fhir"
    ),
}


# The FHIR specification's own examples -> None where they carry text (a report's conclusion)
# and must become notes, else the dead-letter reason they must get.
_SPEC_TEXT = {"Bundle-f001", "Bundle-f202", "DiagnosticReport-f201", "DiagnosticReport-ultrasound"}
FHIR_SPEC_EXAMPLES: dict[str, tuple[bytes, str | None]] = {
    path.stem: (path.read_bytes(), None if path.stem in _SPEC_TEXT else "unsupported_message")
    for path in sorted((Path(__file__).parent / "fixtures" / "fhir_r4_examples").glob("*.json"))
}


# An EHR export: a searchset Bundle of several documents, one of them unreadable (a PDF).
MULTI_DOCUMENT_BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [
        {"fullUrl": "https://ehr.example/fhir/DocumentReference/docref-3001",
         "resource": DOCUMENT_REFERENCE},
        {"fullUrl": "https://ehr.example/fhir/DiagnosticReport/report-812",
         "resource": DIAGNOSTIC_REPORT},
        {"resource": {**DOCUMENT_REFERENCE, "id": "docref-pdf",
                      "content": [{"attachment": _attachment(SECRET, "application/pdf")}]}},
    ],
}  # fmt: skip

# Two reports in one ORU: each order (OBR) its own document; the pathology comment is in NTE.
ORU_TWO_ORDERS = "\r".join(
    [
        "MSH|^~\\&|LIS|GENHOSP|EHR|GENHOSP|20240118120000||ORU^R01^ORU_R01|MSG-00031|P|2.5",
        "PID|1||MRN-48213^^^GENHOSP^MR||TESTPATIENT^ALEX",
        "OBR|1|ORD-6001^EHR|RAD-90001^RIS|71046^CHEST X-RAY 2 VIEWS^CPT|||20240118101500",
        "OBX|1|TX|71046^CHEST X-RAY^CPT|1|Small left pneumothorax after central line placement.||||||F",
        "OBR|2|ORD-6002^EHR|PATH-3302^LIS|88305^SKIN BIOPSY^CPT|||20240118110000",
        "OBX|1|NM|2345-7^GLUCOSE^LN||182|mg/dL|70-105|H|||F",
        "NTE|1||Lichenoid drug eruption, consistent with a reaction to hydrochlorothiazide.",
    ]
)

# A public-health case notification: its ST values are ids, a phone number and an address.
ORU_CASE_NOTIFICATION = "\r".join(
    [
        "MSH|^~\\&|ELR|STATELAB|DOH|STATE|20240118130000||ORU^R01^ORU_R01|MSG-00032|P|2.5.1",
        "PID|1||MRN-77120^^^STATELAB^MR||TESTPATIENT^ROBIN",
        "OBR|1|ORD-7001|ELR-5521|68991-9^Epidemiologically important information^LN",
        "OBX|1|ST|77989-2^Case ID^LN||CASE-2024-00981||||||F",
        "OBX|2|ST|52831-5^Reporter phone^LN||(555) 010-2233||||||F",
        "OBX|3|ST|76437-3^Reporter email^LN||reporter@example.org||||||F",
    ]
)

# A problem list, one problem a line, as some engines send a history.
MDM_PROBLEM_LIST = MDM_T02.replace(
    "Continue metformin for type 2 diabetes mellitus.",
    "Problems:\\.br\\ Generalized anxiety disorder\\.br\\ Pneumonia\\.br\\ Stroke",
)


def in_charset(message: str, named: str, codec: str) -> bytes:
    """The message with MSH-18 naming a character set, encoded in it."""
    msh, rest = message.split("\r", 1)
    fields = (msh.split("|") + [""] * 8)[:18]
    fields[17] = named
    return ("|".join(fields) + "\r" + rest).encode(codec)


# A Chinese hospital's MDM in GB 18030, as MSH-18 names it.
MDM_GB18030 = in_charset(
    MDM_T02.replace("MSG-00017", "MSG-00041").replace("DOC-77811", "DOC-77899")
    .replace("community-acquired pneumonia", "community-acquired pneumonia (社区获得性肺炎)"),
    "GB 18030-2000", "gb18030",
)  # fmt: skip

# A document known only by its identifier (no resource id), in the demo notes' wording: the
# tiny student finds something in it, so a Bundle with its Provenance is published.
DOCUMENT_REFERENCE_BY_IDENTIFIER = {
    k: v
    for k, v in _another_document(
        3009, "He developed rash after starting amoxicillin.", "text/plain"
    ).items()
    if k != "id"
}

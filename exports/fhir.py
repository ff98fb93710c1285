"""One result as a FHIR R4 Bundle: DiagnosticReport, Observations, DocumentReference, Patient, Practitioner.

Built as plain JSON and checked against the R4B models of ``fhir.resources`` (R4B shares R4's
shape for every resource used here) before it leaves the portal, so a malformed export fails
loudly instead of reaching another system. The clinical reading (``ml.assessment``, stored once)
gives the DiagnosticReport its ``conclusion`` and ``conclusionCode`` (SNOMED CT), one Observation
per finding (SNOMED CT, with its interpretation, time span and evidence) and one per measurement
(LOINC: 8867-4 heart rate, 8625-6 PR, 8633-0 QRS, 8634-8 QT, 8636-3 QTc, 8632-2 axis). Beat
classes and rhythm labels use the portal's own code systems (MIT-BIH symbols), named below.
"""

import base64
import hashlib
import json
import uuid as uuid_lib

from django.urls import reverse

from ml import assessment as clinical
from ml.classes import BY_CODE, CODES

CONTENT_TYPE = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BEAT_CLASS_SYSTEM = "urn:ecgportal:beat-class"  # MIT-BIH beat symbols (N, L, R, A, V, /, !, E)
RHYTHM_SYSTEM = "urn:ecgportal:rhythm"  # ml.rhythm labels
PATIENT_ID_SYSTEM = "urn:ecgportal:user"
LICENCE_SYSTEM = "urn:ecgportal:licence-number"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"

ECG_REPORT = {"system": LOINC, "code": "11524-6", "display": "EKG study"}
RHYTHM = {"system": LOINC, "code": "8884-9", "display": "Heart rate rhythm"}

SNOMED = "http://snomed.info/sct"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# A finding's severity as an Observation interpretation: A abnormal, AA critical abnormal, N normal.
SEVERITY_INTERPRETATION = {"info": ("N", "Normal"), "abnormal": ("A", "Abnormal"), "urgent": ("AA", "Critical abnormal")}
REPORT_STATUS = {"done": "final", "inconclusive": "final", "failed": "cancelled"}


def _urn(*parts):
    """Return a stable urn:uuid for an entry, so the same result always exports the same ids."""
    return f"urn:uuid:{uuid_lib.uuid5(uuid_lib.NAMESPACE_URL, 'ecgportal:' + ':'.join(map(str, parts)))}"


def _instant(dt):
    return dt.isoformat() if dt else None


def _patient(user):
    name = {"text": user.get_full_name() or user.email}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": str(user.pk)}],
        "name": [name],
        "telecom": [{"system": "email", "value": user.email}],
    }
    if user.sex:  # FHIR administrative gender: female | male | other | unknown
        resource["gender"] = {"F": "female", "M": "male"}[user.sex]
    if user.birth_date:
        resource["birthDate"] = user.birth_date.isoformat()
    return resource


def _practitioner(doctor, fallback_name):
    resource = {"resourceType": "Practitioner", "name": [{"text": fallback_name}]}
    if doctor is not None:
        resource["name"] = [{"text": doctor.get_full_name() or doctor.email}]
        if doctor.licence_number:
            resource["identifier"] = [{"system": LICENCE_SYSTEM, "value": doctor.licence_number}]
    return resource


def _file_hash_sha1_b64(field):
    """Return the SHA-1 (base64) of a stored file: FHIR's Attachment.hash."""
    digest = hashlib.sha1()  # noqa: S324  (FHIR defines Attachment.hash as SHA-1)
    with field.storage.open(field.name, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def _document_reference(record, *, patient_ref, base_url):
    url = base_url.rstrip("/") + reverse("predictions-api:record-file", kwargs={"uuid": record.uuid})
    attachment = {
        "contentType": "application/octet-stream",
        "url": url,
        "title": record.original_filename,
        "size": record.size_bytes,
        "hash": _file_hash_sha1_b64(record.file),
        "creation": _instant(record.created_at),
    }
    return {
        "resourceType": "DocumentReference",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{record.uuid}"}],
        "status": "current",
        "type": {"coding": [ECG_REPORT], "text": "ECG recording as uploaded"},
        "subject": {"reference": patient_ref},
        "date": _instant(record.created_at),
        "description": f"{record.get_file_format_display()} file, SHA-256 {record.sha256}",
        "content": [{"attachment": attachment}],
    }


def _observation(*, patient_ref, effective, code, text, category=None, **value):
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [code], "text": text} if code else {"text": text},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": effective,
        **value,
    }
    if category:
        resource["category"] = [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}]
    return resource


def _rhythm_observation(rhythm, *, patient_ref, effective):
    label = rhythm["label"]
    title = label.replace("_", " ").capitalize()
    components = []
    if rhythm.get("probability") is not None:
        components.append({
            "code": {"text": "Model probability"},
            "valueQuantity": {"value": round(float(rhythm["probability"]), 4), "unit": "1", "system": UCUM, "code": "1"},
        })
    for episode in rhythm.get("episodes") or []:
        components.append({
            "code": {"text": "Atrial fibrillation episode (seconds from the start of the recording)"},
            "valueRange": {
                "low": {"value": episode["start_s"], "unit": "s", "system": UCUM, "code": "s"},
                "high": {"value": episode["end_s"], "unit": "s", "system": UCUM, "code": "s"},
            },
        })
    resource = _observation(
        patient_ref=patient_ref, effective=effective, code=RHYTHM, text="Heart rhythm",
        valueCodeableConcept={"coding": [{"system": RHYTHM_SYSTEM, "code": label, "display": title}], "text": title},
    )
    if components:
        resource["component"] = components
    return resource


def _measurement_observations(assessment, *, patient_ref, effective):
    """Return one Observation per measurement of the assessment, with its LOINC code."""
    out = []
    for key, value in (assessment.get("measurements") or {}).items():
        if value is None or key not in clinical.MEASUREMENTS:
            continue
        loinc, display, unit = clinical.MEASUREMENTS[key]
        out.append(_observation(
            patient_ref=patient_ref, effective=effective, code={"system": LOINC, "code": loinc, "display": display},
            text=display, category="vital-signs" if key == "heart_rate_bpm" else "procedure",
            valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": unit},
        ))
    return out


def _finding_observation(finding, *, patient_ref, effective):
    """Return the Observation of one finding: its SNOMED CT code, value, time span and evidence."""
    code, display = SEVERITY_INTERPRETATION[finding["severity"]]
    concept = {"system": SNOMED, "code": finding["code"], "display": finding["display"]}
    value = {}
    if finding.get("value") is not None:
        unit = {"bpm": "/min", "%": "%"}.get(finding.get("unit"), finding.get("unit") or "1")
        value["valueQuantity"] = {"value": finding["value"], "unit": finding.get("unit") or "1", "system": UCUM, "code": unit}
    resource = _observation(patient_ref=patient_ref, effective=effective, code=concept, text=finding["display"], **value)
    resource["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}]
    if finding.get("evidence"):
        resource["note"] = [{"text": finding["evidence"] + (" (built on beats the model was unsure of)" if finding.get("unsure") else "")
                             + {"confirmed": " Confirmed by the reviewing doctor.", "added": ""}.get(finding.get("reviewed"), "")}]
    if finding.get("start_s") is not None:
        resource["component"] = [{
            "code": {"text": "Time in the recording (seconds from its start)"},
            "valueRange": {
                "low": {"value": finding["start_s"], "unit": "s", "system": UCUM, "code": "s"},
                "high": {"value": finding.get("end_s", finding["start_s"]), "unit": "s", "system": UCUM, "code": "s"},
            },
        }]
    return resource


def _conclusion_codes(assessment):
    """Return the report's conclusionCode: each finding's SNOMED CT concept once."""
    seen, codes = set(), []
    for f in assessment.get("findings") or []:
        if f["code"] not in seen:
            seen.add(f["code"])
            codes.append({"coding": [{"system": SNOMED, "code": f["code"], "display": f["display"]}], "text": f["display"]})
    return codes


def _conclusion(prediction, reviews):
    if prediction.status == "failed":
        text = f"The analysis failed: {prediction.error_message or prediction.error_code}"
    elif prediction.assessment:
        text = clinical.conclusion(prediction.assessment)
    else:
        text = f"Inconclusive: {prediction.inconclusive_reason or 'the recording could not be read.'}"
    for review in reviews:  # the reviewed reading says who reviewed it; the notes are added here
        if (prediction.assessment or {}).get("review"):
            text += f" {review.doctor_name}: {review.note}" if review.note else ""
        else:
            note = f": {review.note}" if review.note else ""
            text += f" Reviewed by {review.doctor_name} ({review.get_verdict_display()}){note}."
    return text + " Automated screening, not a diagnosis."


def result_bundle(*, record, prediction, base_url):
    """Return the FHIR R4 Bundle (a dict) of ``prediction``, the finished result of ``record``."""
    patient = record.owner
    patient_ref = _urn("patient", patient.pk)
    effective = _instant(prediction.finished_at or prediction.created_at)
    entries = [(patient_ref, _patient(patient))]

    document_ref = _urn("document", record.uuid)
    entries.append((document_ref, _document_reference(record, patient_ref=patient_ref, base_url=base_url)))

    assessment = prediction.assessment or {}
    observations = _measurement_observations(assessment, patient_ref=patient_ref, effective=effective)
    observations += [_finding_observation(f, patient_ref=patient_ref, effective=effective)
                     for f in assessment.get("findings") or []]
    for key in assessment.get("symptoms") or []:  # what the patient reported with the recording
        code, display = clinical.SYMPTOMS[key]
        observations.append(_observation(
            patient_ref=patient_ref, effective=effective, text=f"Reported by the patient: {display}",
            code={"system": SNOMED, "code": code, "display": display}, category="survey", valueBoolean=True,
        ))
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    for code in CODES:
        if code in counts:
            name = BY_CODE[code].name
            observations.append(_observation(
                patient_ref=patient_ref, effective=effective, text=f"Number of {name} beats",
                code={"system": BEAT_CLASS_SYSTEM, "code": code, "display": name},
                valueInteger=counts[code],
            ))
    rhythm = (prediction.summary or {}).get("rhythm")
    if isinstance(rhythm, dict) and rhythm.get("label"):
        observations.append(_rhythm_observation(rhythm, patient_ref=patient_ref, effective=effective))
    observation_refs = []
    for i, obs in enumerate(observations):
        ref = _urn("observation", prediction.uuid, i)
        observation_refs.append(ref)
        entries.append((ref, obs))

    reviews = list(prediction.reviews.select_related("doctor").order_by("created_at", "id"))
    interpreter_refs = []
    for review in reviews:
        ref = _urn("practitioner", review.doctor_id or review.doctor_name)
        if ref not in interpreter_refs:
            interpreter_refs.append(ref)
            entries.append((ref, _practitioner(review.doctor, review.doctor_name)))

    report = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{prediction.uuid}"}],
        "status": REPORT_STATUS.get(prediction.status, "registered"),
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "EC", "display": "Electrocardiac (e.g., EKG, EEC, Holter)"}]}],
        "code": {"coding": [ECG_REPORT], "text": "ECG beat and rhythm analysis"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": effective,
        "issued": _instant(prediction.finished_at or prediction.created_at),
        "result": [{"reference": ref} for ref in observation_refs],
        "conclusion": _conclusion(prediction, reviews),
    }
    codes = _conclusion_codes(assessment)
    if codes:
        report["conclusionCode"] = codes
    if interpreter_refs:
        report["resultsInterpreter"] = [{"reference": ref} for ref in interpreter_refs]
    report_ref = _urn("report", prediction.uuid)
    entries.insert(0, (report_ref, report))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(prediction.finished_at or prediction.created_at),
        "entry": [{"fullUrl": ref, "resource": resource} for ref, resource in entries],
    }


def validate_bundle(bundle):
    """Check the Bundle and every resource in it against the FHIR models; raise ValueError if invalid."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        raise ValueError(f"invalid FHIR export: {exc}") from exc
    return bundle


def result_bundle_json(*, record, prediction, base_url):
    """Return the validated Bundle of ``prediction`` as JSON text."""
    return json.dumps(validate_bundle(result_bundle(record=record, prediction=prediction, base_url=base_url)), indent=2)

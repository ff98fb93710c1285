"""One result as a FHIR R4 Bundle: DiagnosticReport, Observations, DocumentReference, Patient, Practitioner.

Built as plain JSON and checked against the R4B models of ``fhir.resources`` (R4B shares R4's
shape for every resource used here) before it leaves the portal, so a malformed export fails
loudly instead of reaching another system. Codes: LOINC where one exists (11524-6 EKG study,
8867-4 heart rate, 8884-9 heart rate rhythm); beat classes and rhythm labels use the portal's
own code systems (MIT-BIH symbols), named below.
"""

import base64
import hashlib
import json
import uuid as uuid_lib

from django.urls import reverse

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
HEART_RATE = {"system": LOINC, "code": "8867-4", "display": "Heart rate"}
RHYTHM = {"system": LOINC, "code": "8884-9", "display": "Heart rate rhythm"}

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
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": str(user.pk)}],
        "name": [name],
        "telecom": [{"system": "email", "value": user.email}],
    }


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


def _conclusion(prediction, reviews):
    summary = prediction.summary or {}
    if prediction.status == "inconclusive":
        text = f"Inconclusive: {prediction.inconclusive_reason or 'the recording could not be read.'}"
    elif prediction.status == "failed":
        text = f"The analysis failed: {prediction.error_message or prediction.error_code}"
    else:
        text = summary.get("rhythm_summary") or f"{prediction.beat_total or 0} beats classified."
    for review in reviews:
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

    observations = []
    if prediction.heart_rate_bpm is not None:
        observations.append(_observation(
            patient_ref=patient_ref, effective=effective, code=HEART_RATE, text="Mean heart rate",
            category="vital-signs",
            valueQuantity={"value": round(prediction.heart_rate_bpm, 1), "unit": "beats/minute", "system": UCUM, "code": "/min"},
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

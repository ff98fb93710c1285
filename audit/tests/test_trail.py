"""Every page, API endpoint and admin view that returns clinical data writes exactly one audit event.

The URLs come from the same enumeration the access tests walk (predictions/tests/test_access.py),
so an endpoint added there is audited here too.
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import StaffFactory
from audit.models import AuditEvent
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory
from predictions.tests.test_access import _api_urls, _page_urls, result  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _expected_action(url):
    if "/file/" in url or url.rstrip("/").endswith(("report.pdf", "/report")):
        return AuditEvent.Action.DOWNLOAD
    if "fhir" in url:
        return AuditEvent.Action.EXPORT
    return AuditEvent.Action.VIEW


def _reads(urls):
    return [url for method, url in urls if method == "get" and "/delete/" not in url]


def _walk(get, urls, *, actor, patient, door):
    """GET each URL; return the failures (URL, what went wrong) and how many URLs were walked."""
    failures = []
    for url in urls:
        before = set(AuditEvent.objects.values_list("pk", flat=True))
        response = get(url)
        new = list(AuditEvent.objects.exclude(pk__in=before))
        if response.status_code != 200:
            failures.append((url, f"status {response.status_code}"))
        elif len(new) != 1:
            failures.append((url, f"{len(new)} events"))
        else:
            event = new[0]
            wanted = (actor.pk, patient.pk, door, _expected_action(url))
            got = (event.actor_id, event.patient_id, event.door, event.action)
            if got != wanted:
                failures.append((url, f"event {got}, wanted {wanted}"))
    return failures


def test_every_page_read_of_a_record_writes_one_event_for_the_linked_doctor(client, result, doctor, patient):
    record, _, image = result
    client.force_login(doctor)
    urls = _reads(_page_urls(record, image))
    assert len(urls) == 7
    assert _walk(client.get, urls, actor=doctor, patient=patient, door="page") == []


def test_every_api_read_of_a_record_writes_one_event_for_the_linked_doctor(result, doctor, patient):
    record, _, image = result
    api = APIClient()
    api.force_authenticate(doctor)
    urls = _reads(_api_urls(record, image))
    assert len(urls) == 9
    assert _walk(api.get, urls, actor=doctor, patient=patient, door="api") == []


def test_the_patients_own_reads_are_on_the_trail_too(patient_client, result, patient):
    record, _, image = result
    urls = [
        reverse("predictions:delete", kwargs={"uuid": record.uuid}),  # the confirmation page shows the record
        reverse("predictions:history"),
    ]
    assert _walk(patient_client.get, urls, actor=patient, patient=patient, door="page") == []
    api = APIClient()
    api.force_authenticate(patient)
    assert _walk(api.get, [reverse("predictions-api:record-list")], actor=patient, patient=patient, door="api") == []


def test_the_cases_page_writes_one_event_per_patient_shown(client, result, doctor, patient):
    client.force_login(doctor)
    assert _walk(client.get, [reverse("predictions:cases")], actor=doctor, patient=patient, door="page") == []


def test_admin_change_views_of_records_and_predictions_are_audited(client, result, patient):
    record, prediction, _ = result
    staff = StaffFactory()
    client.force_login(staff)
    urls = [
        reverse("admin:predictions_ecgrecord_change", args=[record.pk]),
        reverse("admin:predictions_prediction_change", args=[prediction.pk]),
    ]
    failures = []
    for url in urls:
        before = AuditEvent.objects.count()
        assert client.get(url).status_code == 200
        events = list(AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before])
        if [(e.actor_id, e.patient_id, e.door, e.object_id) for e in events] != [(staff.pk, patient.pk, "admin", str(record.uuid))]:
            failures.append((url, events))
    assert failures == []


def _change_action(method, url):
    if method == "delete" or "/delete/" in url:
        return AuditEvent.Action.DELETE
    return AuditEvent.Action.RERUN if "/rerun/" in url else AuditEvent.Action.REVIEW


@pytest.mark.parametrize("door", ["page", "api"])
def test_every_change_writes_one_event_with_its_action(door, client, result, doctor, patient, django_capture_on_commit_callbacks):
    record, _, image = result
    urls = _page_urls(record, image) if door == "page" else _api_urls(record, image)
    changes = [(m, u) for m, u in urls if m in ("post", "delete")]
    order = [AuditEvent.Action.REVIEW, AuditEvent.Action.RERUN, AuditEvent.Action.DELETE]  # a re-run unfinishes it
    changes.sort(key=lambda mu: order.index(_change_action(*mu)))
    assert len(changes) == 3
    api = APIClient()
    for method, url in changes:
        actor = doctor if _change_action(method, url) == AuditEvent.Action.REVIEW else patient
        before = AuditEvent.objects.count()
        with django_capture_on_commit_callbacks(execute=False):
            if door == "page":
                client.force_login(actor)
                response = getattr(client, method)(url, {"verdict": "agree"})
            else:
                api.force_authenticate(actor)
                response = getattr(api, method)(url, {"verdict": "agree"} if method == "post" else None, format="json")
        assert response.status_code in (201, 202, 204, 302), (url, response.status_code)
        event = AuditEvent.objects.latest("id")
        assert AuditEvent.objects.count() == before + 1, url
        assert (event.actor, event.patient, event.door, event.action, event.object_id) == (
            actor, patient, door, _change_action(method, url), str(record.uuid)
        ), url
    assert not record.__class__.objects.filter(pk=record.pk).exists(), "the trail outlives the deleted record"


@pytest.mark.parametrize("who", ["other_patient", "unlinked_doctor", "unverified_doctor"])
def test_refused_requests_write_nothing_on_the_patients_trail(who, request, client, result):
    record, _, image = result
    client.force_login(request.getfixturevalue(who))
    api = APIClient()
    api.force_authenticate(request.getfixturevalue(who))
    for url in _reads(_page_urls(record, image)):
        assert client.get(url).status_code == 404
    for url in _reads(_api_urls(record, image)):
        assert api.get(url).status_code == 404
    assert not AuditEvent.objects.filter(patient=record.owner).exists()


def test_the_profile_shows_who_has_seen_my_ecgs_and_only_mine(client, result, doctor, patient, other_patient):
    record, _, _ = result
    client.force_login(doctor)
    client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid}))
    other_record = ECGRecordFactory(owner=other_patient)
    DonePredictionFactory(record=other_record)
    client.force_login(other_patient)
    client.get(reverse("predictions:detail", kwargs={"uuid": other_record.uuid}))

    client.force_login(patient)
    page = client.get(reverse("accounts:profile")).content.decode()
    trail = page[page.index('data-testid="records-trail"'):]
    assert "Dora Doc" in trail and "Viewed" in trail
    assert str(other_record.uuid)[:8] not in trail

    client.force_login(other_patient)
    page = client.get(reverse("accounts:profile")).content.decode()
    trail = page[page.index('data-testid="records-trail"'):]
    assert "Dora Doc" not in trail, "patient B never sees patient A's trail"


def test_the_companion_data_file_downloads_are_audited(client, doctor, patient):
    from django.core.files.base import ContentFile

    record = ECGRecordFactory(
        owner=patient, file_format="wfdb", original_filename="x.hea", companion_filename="x.dat",
        companion_file=ContentFile(b"\x00\x01" * 50, name="source.dat"),
    )
    client.force_login(doctor)
    api = APIClient()
    api.force_authenticate(doctor)
    urls = [reverse("predictions:companion_file", kwargs={"uuid": record.uuid})]
    assert _walk(client.get, urls, actor=doctor, patient=patient, door="page") == []
    api_url = reverse("predictions-api:record-file", kwargs={"uuid": record.uuid}) + "?part=data"
    assert _walk(api.get, [api_url], actor=doctor, patient=patient, door="api") == []
    assert AuditEvent.objects.filter(action="download").count() == 2


def test_polling_a_queued_analysis_writes_nothing_until_the_result_shows(patient_client, patient):
    """The progress box holds no clinical data; a poll a second must not flood the trail."""
    from predictions.tests.factories import PredictionFactory

    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    url = reverse("predictions:status", kwargs={"uuid": prediction.record.uuid})
    for _ in range(5):
        assert patient_client.get(url).status_code == 200
    assert AuditEvent.objects.count() == 0
    done = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    assert patient_client.get(reverse("predictions:status", kwargs={"uuid": done.record.uuid})).status_code == 200
    assert AuditEvent.objects.filter(action="view", object_id=str(done.record.uuid)).count() == 1

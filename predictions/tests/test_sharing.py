"""Sharing one result with a clinician who has no account: an expiring, revocable link, optionally
with a code; every open audited with its address; the PDF by email."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from predictions import services
from predictions.models import ShareLink
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db


def _share(client, record, **data):
    response = client.post(reverse("predictions:share", kwargs={"uuid": record.uuid}),
                           {"label": "Dr Lee", "days": 7, **data})
    assert response.status_code == 200, response.content[:300]
    html = response.content.decode()
    url = re.search(r'id="share-url" value="([^"]+)"', html).group(1)
    code = re.search(r'id="share-code">(\d{6})<', html)
    return url.replace("http://testserver", ""), code.group(1) if code else ""


def test_a_link_opens_without_an_account_read_only_with_the_pdf_and_each_open_is_audited(patient_client, patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="strip.csv"))
    url, code = _share(patient_client, prediction.record)
    assert code == "" and url.startswith("/s/")
    link = ShareLink.objects.get()
    assert url.split("/")[2] not in link.token_hash  # only the hash is stored
    clinician = Client(REMOTE_ADDR="203.0.113.9")
    page = clinician.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "strip.csv" in html and 'id="reading"' in html
    assert 'id="review-form"' not in html and 'id="share-form"' not in html and page["Cache-Control"] == "no-store"
    pdf = clinician.get(reverse("shared:report", kwargs={"token": url.split("/")[2], "uuid": prediction.record.uuid}))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    events = AuditEvent.objects.filter(object_type="shared_link", patient=patient)
    assert events.count() == 2 and {e.ip_address for e in events} == {"203.0.113.9"} and all(e.actor is None for e in events)
    link.refresh_from_db()
    assert link.opened_count == 2


def test_a_code_is_asked_and_five_wrong_codes_close_the_link(patient_client, patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    url, code = _share(patient_client, prediction.record, with_code="on")
    assert len(code) == 6
    clinician = Client()
    assert 'id="share-code-form"' in clinician.get(url).content.decode()
    wrong = clinician.post(url, {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 403 and "That code is not right" in wrong.content.decode()
    right = clinician.post(url, {"code": code})
    assert right.status_code == 200 and 'id="reading"' in right.content.decode()
    assert 'id="reading"' in clinician.get(url).content.decode()  # remembered in this session
    other = Client()
    for _ in range(ShareLink.MAX_CODE_ATTEMPTS):
        other.post(url, {"code": "999999" if code != "999999" else "888888"})
    assert other.post(url, {"code": code}).status_code == 404


def test_a_withdrawn_or_expired_link_is_a_404_and_only_its_owner_withdraws_it(patient_client, patient, other_patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    url, _ = _share(patient_client, prediction.record)
    link = ShareLink.objects.get()
    stranger = Client()
    stranger.force_login(other_patient)
    assert stranger.post(reverse("predictions:shared_link_revoke", kwargs={"link_uuid": link.uuid})).status_code == 404
    assert Client().get(url).status_code == 200
    listing = patient_client.get(reverse("predictions:shared_links")).content.decode()
    assert "Dr Lee" in listing and "1×" in listing
    assert patient_client.post(reverse("predictions:shared_link_revoke", kwargs={"link_uuid": link.uuid})).status_code == 302
    assert Client().get(url).status_code == 404
    url2, _ = _share(patient_client, prediction.record)
    ShareLink.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1),
                                                             created_at=timezone.now() - timedelta(days=8))
    assert Client().get(url2).status_code == 404
    assert Client().get("/s/not-a-real-token/").status_code == 404


def test_only_the_owner_shares_and_bad_inputs_make_no_link(patient, doctor, client):
    """The doctor fixture is linked to the patient and may see the record, but not share it."""
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    assert client.post(reverse("predictions:share", kwargs={"uuid": prediction.record.uuid}), {"days": 7}).status_code == 404
    client.force_login(patient)
    bad = client.post(reverse("predictions:share", kwargs={"uuid": prediction.record.uuid}), {"days": 365})
    assert bad.status_code == 302 and not ShareLink.objects.exists()
    with pytest.raises(ValidationError):
        services.share_link_create(owner=doctor, records=[prediction.record])
    assert not ShareLink.objects.exists()


def test_the_patient_emails_the_pdf_to_their_clinic(patient_client, patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    url = reverse("predictions:email_report", kwargs={"uuid": prediction.record.uuid})
    assert patient_client.post(url, {"to": "not an email"}).status_code == 302 and not mail.outbox
    assert patient_client.post(url, {"to": "clinic@example.org"}).status_code == 302
    (message,) = mail.outbox
    assert message.to == ["clinic@example.org"] and message.reply_to == [patient.email]
    assert message.attachments[0][2] == "application/pdf" and message.attachments[0][1].startswith(b"%PDF")


def test_an_inconclusive_result_is_shared_with_its_reading_and_reason(patient):
    from predictions.tests.factories import PredictionFactory

    now = timezone.now()
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="inconclusive",
                                   inconclusive_reason="No ECG trace was found in the picture.",
                                   started_at=now, finished_at=now)
    _, token, _ = services.share_link_create(owner=patient, records=[prediction.record])
    html = Client().get(reverse("shared:open", kwargs={"token": token})).content.decode()
    assert 'id="reading" data-level="inconclusive"' in html and "No ECG trace was found in the picture." in html

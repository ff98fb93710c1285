"""Each event writes one in-portal notification for the right person and sends one email."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.tests.factories import CareLinkFactory, DoctorFactory, UserFactory
from exports.models import DataExport
from notifications import services
from notifications.models import EmailOptOut, Kind, Notification
from predictions import services as prediction_services
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def _sent_to(user):
    return [m for m in mail.outbox if user.email in m.to]


def _one_event(user, kind):
    """Assert ``user`` got exactly one notification and one email, of ``kind``; return both."""
    (notification,) = Notification.objects.all()
    assert (notification.recipient, notification.kind) == (user, kind)
    assert len(mail.outbox) == 1
    (message,) = _sent_to(user)
    assert message.subject == "[ECG Portal] " + notification.title
    return notification, message


def test_a_doctors_request_tells_the_patient(django_capture_on_commit_callbacks):
    patient, doctor = UserFactory(email="pat@example.org"), DoctorFactory(first_name="Greg", last_name="House")
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.care_link_invite_deliver(inviter_id=doctor.pk, email="pat@example.org")
    notification, message = _one_event(patient, Kind.CARE_LINK_REQUESTED)
    assert "House" in notification.body and notification.link_url == reverse("accounts:care_team")
    assert "asks to see your ECG records" in message.body
    assert "http://127.0.0.1:8000/profile/care-team/" in message.body


def test_a_patients_invitation_tells_the_doctor(django_capture_on_commit_callbacks):
    patient, doctor = UserFactory(first_name="Pat", last_name="Ient"), DoctorFactory(email="dora@clinic.example")
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.care_link_invite_deliver(inviter_id=patient.pk, email="dora@clinic.example")
    notification, message = _one_event(doctor, Kind.CARE_LINK_INVITED)
    assert "Pat Ient invites you" in notification.body and notification.link_url == reverse("accounts:care_team")
    assert "Nothing is shared until you accept" in message.body


def test_a_share_tells_the_doctor(django_capture_on_commit_callbacks):
    link = CareLinkFactory(status="pending", activated_at=None, patient=UserFactory(first_name="Pat", last_name="Ient"))
    link.requested_by = link.doctor
    link.save()
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.care_link_accept(user=link.patient, link=link)
    notification, message = _one_event(link.doctor, Kind.CARE_LINK_SHARED)
    assert "Pat Ient" in notification.body and notification.link_url == reverse("predictions:cases")


def test_a_review_tells_the_patient(django_capture_on_commit_callbacks):
    review = ReviewFactory(prediction=DonePredictionFactory(record=ECGRecordFactory(original_filename="strip.csv")))
    with django_capture_on_commit_callbacks(execute=True):
        services.review_created_notify(review=review)
    notification, message = _one_event(review.prediction.record.owner, Kind.REVIEW_CREATED)
    assert "strip.csv" in notification.body
    assert notification.link_url == f"/records/{review.prediction.record.uuid}/#reviews"


def test_a_ready_export_tells_its_owner(django_capture_on_commit_callbacks):
    export = DataExport.objects.create(owner=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        services.export_ready_notify(export=export)
    notification, _ = _one_event(export.owner, Kind.EXPORT_READY)
    assert notification.link_url == f"/my-data/{export.uuid}/"


def test_a_slow_analysis_that_ends_inconclusive_tells_the_owner(django_capture_on_commit_callbacks):
    prediction = PredictionFactory(created_at=timezone.now() - timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=True):
        prediction_services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        prediction_services.prediction_mark_inconclusive(prediction_id=prediction.pk, reason="No heartbeat found.")
    notification, message = _one_event(prediction.record.owner, Kind.ANALYSIS_FINISHED)
    assert "No heartbeat found." in notification.body
    assert f"http://127.0.0.1:8000/records/{prediction.record.uuid}/" in message.body


def test_a_five_minute_recording_tells_the_owner_when_its_result_is_ready(
    data_dir, tmp_path, django_capture_on_commit_callbacks
):
    from predictions.tests.fakes import stub_analyse
    from predictions.tests.samples import mitdb_excerpt

    hea, _, _ = mitdb_excerpt(data_dir, tmp_path, record="119", start_s=0, seconds=310)
    result = stub_analyse(hea)
    prediction = PredictionFactory(record=ECGRecordFactory(original_filename="holter.hea"))
    with django_capture_on_commit_callbacks(execute=True):
        prediction_services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        prediction_services.prediction_complete(prediction_id=prediction.pk, result=result)
    notification, message = _one_event(prediction.record.owner, Kind.ANALYSIS_FINISHED)
    assert notification.title == "The analysis of your ECG is ready"
    assert "holter.hea" in notification.body and "holter.hea" in message.body


def test_a_short_quick_analysis_tells_nobody(django_capture_on_commit_callbacks):
    prediction = PredictionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        prediction_services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        prediction_services.prediction_mark_inconclusive(prediction_id=prediction.pk, reason="Flat line.")
    assert Notification.objects.count() == 0 and mail.outbox == []


@pytest.mark.parametrize(
    ("duration_s", "waited", "told"),
    [(299.9, timedelta(seconds=5), False), (300, timedelta(seconds=5), True),
     (30, timedelta(seconds=119), False), (30, timedelta(minutes=2), True), (None, timedelta(minutes=2), True)],
)
def test_the_long_analysis_rule(duration_s, waited, told):
    now = timezone.now()
    prediction = DonePredictionFactory.build(summary={"duration_s": duration_s}, created_at=now - waited, finished_at=now)
    assert services.analysis_is_long(prediction=prediction) is told


def test_a_turned_off_email_still_leaves_the_in_portal_entry(django_capture_on_commit_callbacks):
    link = CareLinkFactory(status="pending", activated_at=None)
    EmailOptOut.objects.create(user=link.patient, kind=Kind.CARE_LINK_REQUESTED)
    with django_capture_on_commit_callbacks(execute=True):
        services.care_link_requested_notify(link=link)
    assert Notification.objects.filter(recipient=link.patient, kind=Kind.CARE_LINK_REQUESTED).count() == 1
    assert mail.outbox == []


def test_turning_off_one_kind_keeps_the_others():
    user = UserFactory()
    services.email_preferences_update(user=user, emailed_kinds=[Kind.REVIEW_CREATED, Kind.EXPORT_READY])
    assert set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True)) == {
        Kind.CARE_LINK_REQUESTED, Kind.CARE_LINK_ACCEPTED, Kind.ANALYSIS_FINISHED
    }
    services.email_preferences_update(user=user, emailed_kinds=list(Kind))
    assert not EmailOptOut.objects.filter(user=user).exists()


def test_every_email_ends_with_an_unsubscribe_link_and_header(django_capture_on_commit_callbacks):
    review = ReviewFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.review_created_notify(review=review)
    (message,) = mail.outbox
    assert "Stop these emails (no sign-in needed; the link works for 30 days): http://127.0.0.1:8000/notifications/unsubscribe/" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/notifications/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_links_follow_the_portals_real_address(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://ecg.example.org/"
    review = ReviewFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.review_created_notify(review=review)
    (message,) = mail.outbox
    assert f"https://ecg.example.org/records/{review.prediction.record.uuid}/#reviews" in message.body
    assert "https://ecg.example.org/notifications/unsubscribe/" in message.body
    assert "127.0.0.1" not in message.body


def test_a_rolled_back_change_leaves_no_notification_and_sends_nothing(django_capture_on_commit_callbacks):
    from django.db import transaction

    link = CareLinkFactory(status="pending", activated_at=None)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.care_link_requested_notify(link=link)
            raise RuntimeError
    assert callbacks == [] and Notification.objects.count() == 0


def test_an_urgent_reading_tells_the_patient_and_every_linked_doctor_at_once(
    data_dir, tmp_path, django_capture_on_commit_callbacks
):
    from ml.assessment import assess
    from ml.events import Event
    from predictions.tests.factories import link
    from predictions.tests.fakes import stub_analyse
    from predictions.tests.samples import mitdb_excerpt

    hea, _, _ = mitdb_excerpt(data_dir, tmp_path, record="119", start_s=0, seconds=20)
    result = stub_analyse(hea)  # a short, quick analysis: alone it would tell nobody
    vf = Event("ventricular_fibrillation", 4.0, 12.0, value=8.0, unit="s", evidence="8 s of fibrillation waves")
    result.assessment = assess(kind="signal", duration_s=20, counts={"N": 20}, heart_rate={"mean": 80},
                               events=[vf]).to_dict()
    patient = UserFactory(email="pat@example.org")
    doctor, other_doctor, stranger = DoctorFactory(), DoctorFactory(), DoctorFactory()
    link(patient=patient, doctor=doctor)
    link(patient=patient, doctor=other_doctor)
    EmailOptOut.objects.create(user=patient, kind=Kind.URGENT_RESULT)  # cannot be turned off
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="now.hea"))
    with django_capture_on_commit_callbacks(execute=True):
        prediction_services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        prediction_services.prediction_complete(prediction_id=prediction.pk, result=result)
    prediction.refresh_from_db()
    assert prediction.level == "urgent"
    told = {n.recipient for n in Notification.objects.filter(kind=Kind.URGENT_RESULT)}
    assert told == {patient, doctor, other_doctor} and stranger not in told
    (to_patient,) = _sent_to(patient)
    assert "urgent" in to_patient.subject and "emergency number" in to_patient.body
    assert "Ventricular fibrillation" in to_patient.body
    assert len(_sent_to(doctor)) == 1 and len(_sent_to(other_doctor)) == 1
    assert Kind.URGENT_RESULT not in services_kinds(patient)


def services_kinds(user):
    from notifications.selectors import kinds_for_user

    return kinds_for_user(user=user)

"""Every page that shows clinical data writes an audit event: a walk over every URL pattern of the
site (``get_resolver``) and every page of every registered admin model.

A world with one of everything about one patient is built, each URL is visited by the patient,
their linked doctor and an administrator, and a page fails when it answers 200 with the
patient's clinical data in it (or took the patient's record or id in its URL) yet wrote no event
about the patient. A new URL or admin model is walked without anyone remembering to add it; a
URL whose arguments this test cannot fill fails until it is taught them.
"""

import uuid
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.tests.factories import DoctorFactory, StaffFactory, UserFactory
from articles.models import Article
from audit.models import AuditEvent
from audit.tests.factories import AuditEventFactory
from notifications.models import EmailOptOut, Kind
from notifications.tests.factories import NotificationFactory
from predictions.tests.factories import (
    DonePredictionFactory,
    ECGRecordFactory,
    PredictionImageFactory,
    ReviewFactory,
    link,
)
from usage.models import DailyActivity

pytestmark = pytest.mark.django_db

EMAIL = "quilla.zanetti@example.org"
FILENAME = "zx-holter-3141.csv"
REVIEW_NOTE = "Review note 3141: a ventricular run"
NOTIFICATION = "Reading 3141: atrial fibrillation"

# Pages that may show the markers yet read no clinical data, each with the reason.
ALLOWED = {
    "accounts:care_team": "the people on one's care team, not their records (linking is audited as share/revoke)",
}
# Pages not walked here, each with the reason.
NOT_WALKED = {
    "admin": "the admin site is walked model by model below",
}


@pytest.fixture
def world():
    patient = UserFactory(first_name="Quilla", last_name="Zanetti", email=EMAIL)
    doctor = DoctorFactory()
    care_link = link(patient=patient, doctor=doctor)
    record = ECGRecordFactory(owner=patient, original_filename=FILENAME)
    prediction = DonePredictionFactory(record=record)
    image = PredictionImageFactory(prediction=prediction)
    ReviewFactory(prediction=prediction, doctor=doctor, note=REVIEW_NOTE)
    notification = NotificationFactory(recipient=patient, patient=patient, body=NOTIFICATION, title=NOTIFICATION)
    NotificationFactory(recipient=doctor, patient=patient, body=NOTIFICATION, title=NOTIFICATION)
    EmailOptOut.objects.create(user=patient, kind=Kind.REVIEW_CREATED)
    DailyActivity.objects.get_or_create(user=patient, day=timezone.localdate())
    EmailAddress.objects.get_or_create(user=patient, email=EMAIL, defaults={"verified": True, "primary": True})
    Token.objects.create(user=patient)
    app = SocialApp.objects.create(provider="google", name="Google", client_id="id", secret="secret")
    account = SocialAccount.objects.create(user=patient, provider="google", uid="3141", extra_data={"email": EMAIL})
    SocialToken.objects.create(app=app, account=account, token="token")
    Authenticator.objects.create(user=patient, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    AuditEventFactory(actor=doctor, patient=patient, object_id=str(record.uuid))
    return SimpleNamespace(
        patient=patient, doctor=doctor, staff=StaffFactory(), record=record, image=image,
        care_link=care_link, notification=notification, article=Article.objects.first(),
    )


def _markers(world, viewer):
    """Return the strings that show the patient's data on a page ``viewer`` sees."""
    clinical = [FILENAME, str(world.record.uuid)[:8], REVIEW_NOTE, NOTIFICATION]
    return clinical if viewer == world.patient else [*clinical, EMAIL, "Zanetti"]


def _kwargs(world, name, keys):
    by_key = {
        "uuid": world.record.uuid, "image_id": world.image.pk, "patient_id": world.patient.pk,
        "slug": getattr(world.article, "slug", "none"), "token": "x", "key": "x", "link_uuid": uuid.uuid4(), "uidb36": "x", "provider_id": "x",
    }
    by_name = {
        "accounts:care_link_accept": world.care_link.pk, "accounts:care_link_revoke": world.care_link.pk,
        "accounts:care_link_scope": world.care_link.pk,
        "notifications:open": world.notification.pk,
    }
    kwargs = {}
    for key in keys:
        if key == "pk" and name in by_name:
            kwargs[key] = by_name[name]
        elif key in by_key:
            kwargs[key] = by_key[key]
        else:
            raise LookupError(f"{name}: teach test_audit_coverage a value for <{key}>")
    return kwargs


def _urls(resolver=None, namespace="", outer_keys=()):
    """Yield (name, route or None, argument names) for every URL pattern of the site."""
    for entry in (resolver or get_resolver()).url_patterns:
        keys = [*outer_keys, *entry.pattern.regex.groupindex]
        if isinstance(entry, URLResolver):
            if entry.namespace in NOT_WALKED:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _urls(entry, inner, keys)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}" if entry.name else None, str(entry.pattern), keys


def _body(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _visit(client, url, world, viewer, *, takes_record):
    """Return why ``url`` read the patient's data without an audit event, or None."""
    client.force_login(viewer)
    before = AuditEvent.objects.filter(patient=world.patient).count()
    response = client.get(url)
    if response.status_code != 200:
        return None
    body = _body(response).replace(EMAIL, "") if f"q={EMAIL}" in url else _body(response)  # the search echoed
    shown = [m for m in _markers(world, viewer) if m in body]
    if not shown and not takes_record:
        return None
    if AuditEvent.objects.filter(patient=world.patient).count() == before:
        return f"{url} as {viewer.role}: shows {shown or 'the record'} and wrote no audit event"
    return None


def test_every_page_that_shows_clinical_data_is_audited(client, world):
    failures, walked = [], 0
    for name, route, keys in _urls():
        if name is None:
            if keys or "^" in route:
                failures.append(f"unnamed URL {route!r} takes arguments: name it")
            continue
        if name in ALLOWED:
            continue
        try:
            url = reverse(name, kwargs=_kwargs(world, name, keys))
        except LookupError as error:
            failures.append(str(error))
            continue
        walked += 1
        takes_record = bool({"uuid", "image_id", "patient_id"} & set(keys))
        for viewer in (world.patient, world.doctor, world.staff):
            failures.append(_visit(client, url, world, viewer, takes_record=takes_record))
    assert [f for f in failures if f] == []
    assert walked > 60, "the walk found the site's URLs"


def _admin_object(model, world):
    model_admin = admin.site.get_model_admin(model)
    rows = model._default_manager.all()
    for lookup in getattr(model_admin, "audit_people", ()):
        mine = rows.filter(**{lookup: world.patient.pk})
        if mine.exists():
            return mine.first()
    return rows.first()


def test_every_admin_page_that_shows_clinical_or_personal_data_is_audited(client, world):
    failures = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:%s_%s_changelist" % info), reverse("admin:%s_%s_changelist" % info) + f"?q={EMAIL}"]
        obj = _admin_object(model, world)
        if obj is not None:
            urls += [reverse(f"admin:%s_%s_{page}" % info, args=[obj.pk]) for page in ("change", "delete", "history")]
        for url in urls:
            failures.append(_visit(client, url, world, world.staff, takes_record=False))
    assert [f for f in failures if f] == []


def test_the_dashboards_and_the_profile_name_the_patient_on_the_trail(client, world):
    for viewer, page in [(world.patient, "dashboard"), (world.doctor, "dashboard"), (world.patient, "accounts:profile")]:
        client.force_login(viewer)
        before = set(AuditEvent.objects.values_list("pk", flat=True))
        assert client.get(reverse(page)).status_code == 200
        new = AuditEvent.objects.exclude(pk__in=before)
        assert [(e.actor_id, e.patient_id, e.door, e.action) for e in new] == [
            (viewer.pk, world.patient.pk, "page", "view")
        ], (page, viewer.role)

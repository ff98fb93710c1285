import pytest
from django.db import IntegrityError

from accounts.tests.factories import DoctorFactory, UnverifiedDoctorFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_only_verified_doctors_act_as_doctors():
    assert DoctorFactory().is_verified_doctor
    assert not UnverifiedDoctorFactory().is_verified_doctor
    assert not UserFactory().is_verified_doctor


def test_database_refuses_a_verified_patient():
    from django.utils import timezone

    with pytest.raises(IntegrityError):
        UserFactory(doctor_verified_at=timezone.now())


def test_a_care_link_joins_a_patient_to_a_doctor():
    from django.core.exceptions import ValidationError

    from accounts.models import CareLink

    link = CareLink(patient=DoctorFactory(), doctor=UserFactory(), requested_by=UserFactory())
    with pytest.raises(ValidationError) as error:
        link.full_clean()
    assert set(error.value.message_dict) == {"patient", "doctor"}

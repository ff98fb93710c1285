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

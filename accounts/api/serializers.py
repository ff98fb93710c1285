from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.models import User


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="Current code from the authenticator app, or a recovery code. Required when the "
        "account has two-factor authentication on.",
    )


class MeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True, help_text="Your public id (what other API calls use).")
    is_verified_doctor = serializers.BooleanField(read_only=True)
    two_factor_enabled = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "is_verified_doctor",
            "licence_number",
            "speciality",
            "institution",
            "two_factor_enabled",
            "date_joined",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField)
    def get_two_factor_enabled(self, user) -> bool:
        return selectors.user_has_totp(user=user)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')
    user = MeSerializer()


class AuthErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["invalid", "invalid_credentials", "email_unverified", "otp_required", "otp_invalid",
                 "too_many_login_attempts", "throttled"]
    )
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="With `invalid`: the messages for each field (a missing email or password).",
    )

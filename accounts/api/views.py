from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import AuthErrorSerializer, MeSerializer, TokenObtainSerializer, TokenSerializer


class TokenObtainThrottle(AnonRateThrottle):
    """Per-IP limit on token requests (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth_token"])."""

    scope = "auth_token"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or "20/min"


class TokenObtainView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenObtainThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token",
        description="Exchange email and password (and, with two-factor authentication on, `otp`) "
        "for the account's token. Accounts made through Google or LinkedIn create a token on "
        "their profile page instead.",
        request=TokenObtainSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(AuthErrorSerializer, description="Wrong credentials, email not confirmed, or a "
                                 "missing or wrong two-factor code."),
            429: OpenApiResponse(AuthErrorSerializer, description="Too many attempts; try again later."),
        },
        examples=[
            OpenApiExample(
                "Two-factor account",
                value={"email": "ada@example.org", "password": "…", "otp": "123456"},
                request_only=True,
            )
        ],
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = services.api_token_obtain(request=request._request, **serializer.validated_data)
        except ValidationError as error:
            code = error.code or "invalid_credentials"
            http_status = (
                status.HTTP_429_TOO_MANY_REQUESTS if code == "too_many_login_attempts" else status.HTTP_400_BAD_REQUEST
            )
            return Response({"detail": " ".join(error.messages), "code": code}, status=http_status)
        return Response(TokenSerializer({"token": token.key, "user": token.user}).data)


class MeView(generics.RetrieveAPIView):
    serializer_class = MeSerializer

    @extend_schema(operation_id="me_retrieve", summary="The signed-in user", tags=["auth"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user

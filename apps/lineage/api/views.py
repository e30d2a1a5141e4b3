"""REST endpoints. ``me`` tells the caller who the API takes them for: the smoke test of a token."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.models import ApiToken
from apps.lineage.api.base import api_get


class MeTokenSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    permissions = serializers.ListField(child=serializers.CharField(), help_text="app_label.codename, sorted")
    token = MeTokenSerializer(allow_null=True, help_text="The API token used, or null for a session.")


@extend_schema(responses=MeSerializer, summary="Who the API takes the caller for, and what they may see")
@api_get()
def me(request: Request) -> Response:
    user = request.user
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return Response(
        MeSerializer(
            {
                "username": user.get_username(),
                "is_staff": user.is_staff,
                "permissions": sorted(user.get_all_permissions()),
                "token": token,
            }
        ).data
    )

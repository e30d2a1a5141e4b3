"""Validators shared by the source models of every sync app."""

from __future__ import annotations

from django.core.validators import RegexValidator

SOURCE_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9._-]{1,200}$", "Use up to 200 characters of letters, digits, '.', '_' and '-'."
)
ENV_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "An environment variable name, such as MLFLOW_PROD_PASSWORD."
)

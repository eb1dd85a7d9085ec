"""The EU/EEA region guard."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chalicelib.config import EU_EEA_REGIONS, RegionNotAllowed, require_eu_region


@pytest.mark.parametrize("region", EU_EEA_REGIONS)
def test_eu_regions_are_allowed(region: str) -> None:
    assert require_eu_region(region) == region


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "eu-central-2", "", None])
def test_other_regions_are_refused_naming_region_and_allow_list(region: str | None) -> None:
    with pytest.raises(RegionNotAllowed) as caught:
        require_eu_region(region)
    assert repr(region) in str(caught.value)
    assert "eu-north-1" in str(caught.value)


def test_app_refuses_to_start_outside_the_eu() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app"],
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Refusing to start in region 'us-east-1'" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("COGNITO_JWKS_URL", "http://127.0.0.1:1/keys"), ("COGNITO_ENDPOINT", "http://127.0.0.1:1")],
)
def test_prod_refuses_an_emulator_override(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Neither the token signer's keys nor where the console sends staff passwords can be moved in prod."""
    from chalicelib.config import settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv(name, value)
    settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=name):
            settings()
    finally:
        settings.cache_clear()


def test_the_console_uploads_to_the_buckets_regional_address_or_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.config import settings

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("UPLOAD_BUCKET", "ilopiste-dev-uploads-123")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    settings.cache_clear()
    try:
        # What store.s3_signer signs for in AWS: the bucket's regional virtual-hosted address.
        assert settings().upload_origin == "https://ilopiste-dev-uploads-123.s3.eu-west-1.amazonaws.com"
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")
        settings.cache_clear()
        assert settings().upload_origin == "http://127.0.0.1:5000"
    finally:
        settings.cache_clear()


def test_the_console_signs_in_against_the_regions_cognito_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.config import settings

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("COGNITO_ENDPOINT", raising=False)
    settings.cache_clear()
    try:
        assert settings().cognito_endpoint == "https://cognito-idp.eu-west-1.amazonaws.com"
        monkeypatch.setenv("COGNITO_ENDPOINT", "http://127.0.0.1:5000/")
        settings.cache_clear()
        assert settings().cognito_endpoint == "http://127.0.0.1:5000"
    finally:
        settings.cache_clear()

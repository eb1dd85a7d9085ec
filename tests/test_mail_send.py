"""Sending through SES v2 (chalicelib/mail/send.py): a refusal keeps its code, never the address."""

from __future__ import annotations

import traceback
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import store
from chalicelib.mail import compose
from chalicelib.mail.send import send
from tests.conftest import Stack


def _refuse(**kwargs: Any) -> None:
    """SES refusing the message the way it words it: the recipient quoted in the text."""
    to = kwargs["Destination"]["ToAddresses"][0]
    text = f"Email address is not verified. The following identities failed the check in region EU-NORTH-1: {to}"
    raise ClientError({"Error": {"Code": "MessageRejected", "Message": text}}, "SendEmail")


def test_a_refused_send_keeps_its_code_but_not_the_recipient(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.client("sesv2"), "send_email", _refuse)
    with pytest.raises(ClientError) as caught:
        send(compose.message("maija.refused@yritys.fi", compose.USERNAME_TAKEN), "registration_taken")
    assert caught.value.response["Error"]["Code"] == "MessageRejected"
    # Neither the error nor what a traceback prints of its chain quotes the address.
    shown = "".join(traceback.TracebackException.from_exception(caught.value).format_exception_only())
    assert "maija.refused" not in shown and "maija.refused" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

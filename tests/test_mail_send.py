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


def test_an_internationalised_domain_is_sent_in_punycode(stack: Stack) -> None:
    sent: list[dict[str, Any]] = []
    client = store.client("sesv2")
    real = client.send_email

    def record(**kwargs: Any) -> Any:
        sent.append(kwargs)
        return real(**kwargs)

    client.send_email = record  # type: ignore[method-assign]
    try:
        send(compose.message("pekka@ääkkönen.fi", compose.USERNAME_TAKEN), "registration_taken")
    finally:
        del client.send_email
    [call] = sent
    assert call["Destination"]["ToAddresses"] == ["pekka@xn--kknen-fraa0m.fi"]
    assert b"To: pekka@xn--kknen-fraa0m.fi\r\n" in call["Content"]["Raw"]["Data"]


def test_a_non_ascii_local_part_is_refused_as_ses_would_without_asking_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    monkeypatch.setattr(store.client("sesv2"), "send_email", lambda **kw: asked.append(kw))
    with pytest.raises(ClientError) as caught:
        send(compose.message("pää@kunta.fi", compose.USERNAME_TAKEN), "registration_taken")
    assert caught.value.response["Error"]["Code"] == "MessageRejected" and asked == []
    assert "pää" not in str(caught.value)

"""The cross-site check (chalicelib/api/cross_origin.py): Go's CrossOriginProtection rule, and
the routes that use it. The privacy center's requests through it: tests/test_privacy_center.py."""

from __future__ import annotations

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.api import cross_origin
from chalicelib.auth import ROUTES

HOST = "rekisterit.ilopiste.test"


@pytest.mark.parametrize(
    ("method", "headers", "allowed"),
    [
        # Safe methods always pass.
        ("GET", {"sec-fetch-site": "cross-site"}, True),
        ("HEAD", {"origin": "https://elsewhere.test", "host": HOST}, True),
        ("OPTIONS", {"sec-fetch-site": "cross-site"}, True),
        # Sec-Fetch-Site decides when present, whatever Origin says.
        ("POST", {"sec-fetch-site": "same-origin"}, True),
        ("POST", {"sec-fetch-site": "none"}, True),
        ("POST", {"sec-fetch-site": "cross-site"}, False),
        ("POST", {"sec-fetch-site": "same-site"}, False),
        ("POST", {"sec-fetch-site": "anything-else"}, False),
        ("POST", {"sec-fetch-site": "same-origin", "origin": "https://elsewhere.test", "host": HOST}, True),
        ("POST", {"sec-fetch-site": "cross-site", "origin": f"https://{HOST}", "host": HOST}, False),
        ("DELETE", {"sec-fetch-site": "cross-site"}, False),
        # Without it, Origin's host must be the request's Host.
        ("POST", {"origin": f"https://{HOST}", "host": HOST}, True),
        ("POST", {"origin": f"https://{HOST.upper()}", "host": HOST}, True),  # host names know no case
        ("POST", {"origin": f"https://{HOST}:8443", "host": HOST}, False),
        ("POST", {"origin": "https://elsewhere.test", "host": HOST}, False),
        ("POST", {"origin": "null", "host": HOST}, False),
        ("POST", {"origin": "null"}, False),  # no host on either side is no match
        ("POST", {"origin": "http://[::1", "host": HOST}, False),  # unparsable
        ("POST", {"origin": f"https://{HOST}"}, False),
        # Neither header: not a browser (or a very old one).
        ("POST", {}, True),
        ("POST", {"host": HOST}, True),
    ],
)
def test_the_rule(method: str, headers: dict[str, str], allowed: bool) -> None:
    assert cross_origin.allowed(method, headers) is allowed
    if allowed:
        cross_origin.check(method, headers)
    else:
        with pytest.raises(cross_origin.CrossOriginRequest) as refused:
            cross_origin.check(method, headers)
        assert (refused.value.status, refused.value.code) == (403, "cross_origin_request")


def test_the_public_form_posts_use_it_and_the_one_click_unsubscribe_does_not() -> None:
    checked = {(s.method, s.path) for s in ROUTES if s.same_origin}
    assert checked == {
        ("POST", "/privacy-center/requests"),
        ("POST", "/privacy-center/link"),
        ("POST", "/privacy-center/case/actions"),
        ("POST", "/unsubscribe"),
        ("POST", "/keep-account"),
    }
    # RFC 8058: the mail provider's servers send it.
    assert ("POST", "/unsubscribe/one-click") not in checked

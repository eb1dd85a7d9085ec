"""The public routes are throttled: API Gateway method limits and the WAF web ACL on the stage.

The anonymous routes are derived from the route table (`chalicelib.auth.ROUTES`), so a new
anonymous route fails here until it has its own method throttle and falls inside the WAF's
per-client rate limits. The WAF's scope-down statements are evaluated (not string-compared)
against the request paths a client would send, with and without the stage prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.auth import ROUTES
from tests.template import packaged

Route = tuple[str, str]  # (path template, method)


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return packaged()


def anonymous_routes() -> set[Route]:
    return {(spec.path, spec.method) for spec in ROUTES if spec.public}


def signed_in_routes() -> set[Route]:
    return {(spec.path, spec.method) for spec in ROUTES if not spec.public}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", path)


def stage_name(sam: dict[str, Any]) -> str:
    return str(sam["Resources"]["RestAPI"]["Properties"]["StageName"])


def client_paths(sam: dict[str, Any], path: str) -> list[str]:
    """The paths a client may send for a route: through the stage URL, a custom domain, encoded."""
    plain = concrete(path)
    encoded = "".join(f"%{ord(c):02X}" if c.isalpha() and i % 3 == 0 else c for i, c in enumerate(plain))
    return [f"/{stage_name(sam)}{plain}", plain, f"/{stage_name(sam)}{encoded}", f"/{stage_name(sam)}{plain}/"]


# --- API Gateway method settings -----------------------------------------------------------


def method_settings(sam: dict[str, Any]) -> dict[Route, dict[str, Any]]:
    """{(path, method): setting}; CloudFormation writes '/' inside a path as '~1'."""
    settings = {}
    for setting in sam["Resources"]["RestAPI"]["Properties"]["MethodSettings"]:
        raw = setting["ResourcePath"]
        path = raw if raw in ("/", "/*") else raw[1:].replace("~1", "/")
        settings[(path, setting["HttpMethod"])] = setting
    return settings


def test_the_route_table_and_the_packaged_api_agree_on_what_is_anonymous(sam: dict[str, Any]) -> None:
    paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    without_authorizer = {
        (path, method.upper())
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method != "options" and not operation.get("security")
    }
    assert without_authorizer == anonymous_routes()
    assert {("/registrations", "POST"), ("/unsubscribe", "GET"), ("/unsubscribe", "POST")} <= anonymous_routes()
    assert ("/assets/{name}", "GET") in anonymous_routes()  # the public pages' stylesheet


def test_the_stage_is_throttled_and_logs_no_request_data(sam: dict[str, Any]) -> None:
    settings = method_settings(sam)
    stage = settings[("/*", "*")]
    assert 0 < stage["ThrottlingRateLimit"] <= 100 and 0 < stage["ThrottlingBurstLimit"] <= 200
    for setting in settings.values():
        # Execution logs and data traces would copy request bodies and headers into CloudWatch.
        assert setting.get("LoggingLevel", "OFF") == "OFF"
        assert setting.get("DataTraceEnabled", False) is False
        assert not setting.get("CachingEnabled", False)


def test_every_anonymous_route_has_a_method_throttle_tighter_than_the_stage(sam: dict[str, Any]) -> None:
    settings = method_settings(sam)
    stage = settings[("/*", "*")]
    unthrottled = sorted(route for route in anonymous_routes() if route not in settings)
    assert not unthrottled, f"anonymous routes without a MethodSettings entry on RestAPI: {unthrottled}"
    for route in anonymous_routes():
        setting = settings[route]
        assert 0 < setting["ThrottlingRateLimit"] < stage["ThrottlingRateLimit"], route
        assert 0 < setting["ThrottlingBurstLimit"] < stage["ThrottlingBurstLimit"], route
    # The stylesheet: one request per new visitor (the browser keeps it a year), a read.
    assert (
        settings[("/assets/{name}", "GET")]["ThrottlingRateLimit"]
        >= settings[("/privacy-notice", "GET")]["ThrottlingRateLimit"]
    )
    # Registration creates a login and sends mail: the tightest limit of all.
    registrations = settings[("/registrations", "POST")]
    assert registrations["ThrottlingRateLimit"] == min(settings[r]["ThrottlingRateLimit"] for r in anonymous_routes())


def test_method_throttles_name_only_declared_routes(sam: dict[str, Any]) -> None:
    declared = anonymous_routes() | signed_in_routes()
    stale = sorted(route for route in method_settings(sam) if route != ("/*", "*") and route not in declared)
    assert not stale, f"MethodSettings for routes the app does not declare: {stale}"


# --- WAF ----------------------------------------------------------------------------------

TRANSFORMS: dict[str, Callable[[str], str]] = {"NONE": lambda s: s, "URL_DECODE": unquote, "LOWERCASE": str.lower}


def matches(statement: dict[str, Any], method: str, uri_path: str) -> bool:
    """Evaluate a WAF statement (the kinds the web ACL uses) against one request."""
    ((kind, body),) = statement.items()
    if kind == "AndStatement":
        return all(matches(s, method, uri_path) for s in body["Statements"])
    if kind == "OrStatement":
        return any(matches(s, method, uri_path) for s in body["Statements"])
    if kind == "NotStatement":
        return not matches(body["Statement"], method, uri_path)
    if kind in ("RegexMatchStatement", "ByteMatchStatement"):
        ((field, _),) = body["FieldToMatch"].items()
        value = {"UriPath": uri_path, "Method": method}[field]
        for transformation in sorted(body["TextTransformations"], key=lambda t: t["Priority"]):
            value = TRANSFORMS[transformation["Type"]](value)
        if kind == "RegexMatchStatement":
            return re.search(body["RegexString"], value) is not None
        search, constraint = body["SearchString"], body["PositionalConstraint"]
        return {
            "EXACTLY": value == search,
            "STARTS_WITH": value.startswith(search),
            "ENDS_WITH": value.endswith(search),
            "CONTAINS": search in value,
        }[constraint]
    raise AssertionError(f"statement kind {kind} is not understood by this test")


def web_acl(sam: dict[str, Any]) -> dict[str, Any]:
    (acl,) = [r for r in sam["Resources"].values() if r.get("Type") == "AWS::WAFv2::WebACL"]
    return dict(acl["Properties"])


def blocking_rate_rules(sam: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [r for r in web_acl(sam)["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert all("Block" in r["Action"] for r in rules)
    return [r["Statement"]["RateBasedStatement"] for r in rules]


def rate_limits_for(sam: dict[str, Any], method: str, uri_path: str) -> list[int]:
    return [
        rule["Limit"]
        for rule in blocking_rate_rules(sam)
        if rule["AggregateKeyType"] == "IP" and matches(rule["ScopeDownStatement"], method, uri_path)
    ]


def test_every_anonymous_route_is_rate_limited_per_client_by_the_waf(sam: dict[str, Any]) -> None:
    uncovered = [
        (method, uri)
        for path, method in sorted(anonymous_routes())
        for uri in client_paths(sam, path)
        if not rate_limits_for(sam, method, uri)
    ]
    assert not uncovered, f"anonymous requests outside every WAF rate-based rule: {uncovered}"
    # Anonymous writes (registration, objection) get a tighter per-client limit than reads.
    writes = {min(rate_limits_for(sam, m, f"/{stage_name(sam)}{p}")) for p, m in anonymous_routes() if m == "POST"}
    reads = {min(rate_limits_for(sam, m, f"/{stage_name(sam)}{p}")) for p, m in anonymous_routes() if m == "GET"}
    assert max(writes) < min(reads)


def test_waf_rate_limits_leave_signed_in_routes_alone(sam: dict[str, Any]) -> None:
    # Staff and partners behind one office address must not share the anonymous budget.
    counted = [
        (method, path)
        for path, method in sorted(signed_in_routes())
        if rate_limits_for(sam, method, f"/{stage_name(sam)}{concrete(path)}")
    ]
    assert not counted, f"signed-in routes inside the anonymous rate limits: {counted}"
    assert ("/unsubscribe-links", "POST") in signed_in_routes()


def test_rate_limited_clients_get_429_in_the_apps_error_shape(sam: dict[str, Any]) -> None:
    acl = web_acl(sam)
    for rule in acl["Rules"]:
        if "RateBasedStatement" not in rule["Statement"]:
            continue
        response = rule["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 429
        body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        assert json.loads(body["Content"]) == {
            "error": {"code": "too_many_requests", "message": "Too many requests; retry later."}
        }


def test_web_acl_is_regional_on_the_api_stage_with_the_managed_common_rules(sam: dict[str, Any]) -> None:
    acl = web_acl(sam)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(managed)
    # Enforced, not only counted; the one rule counted instead is the common set's 8 KB body
    # limit, which a valid order (up to 100 items) can exceed: the app bounds bodies itself.
    assert all(rule["OverrideAction"] == {"None": {}} for rule in managed.values())
    counted = {
        o["Name"]: o["ActionToUse"]
        for rule in managed.values()
        for o in rule["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
    }
    assert counted == {"SizeRestrictions_BODY": {"Count": {}}}
    priorities = [r["Priority"] for r in acl["Rules"]]
    assert len(set(priorities)) == len(priorities)
    (association,) = [r for r in sam["Resources"].values() if r.get("Type") == "AWS::WAFv2::WebACLAssociation"]
    acl_id = next(k for k, v in sam["Resources"].items() if v.get("Type") == "AWS::WAFv2::WebACL")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    # SAM resolves ${RestAPI.Stage} to the stage it generates, so the association waits for it.
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}"
    }


def test_waf_keeps_counts_only_never_requests(sam: dict[str, Any]) -> None:
    # Sampled requests and WAF logs hold client addresses, headers (bearer tokens) and query
    # strings (unsubscribe tokens): only CloudWatch metrics (counts per rule) are kept.
    acl = web_acl(sam)
    for config in [acl["VisibilityConfig"], *(r["VisibilityConfig"] for r in acl["Rules"])]:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is False
    assert not [r for r in sam["Resources"].values() if r.get("Type") == "AWS::WAFv2::LoggingConfiguration"]

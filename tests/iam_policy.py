"""IAM's decision for one request against one identity policy, the subset our policies use.

No maintained Python library evaluates IAM policies offline (moto's `IAMPolicy`, the
nearest, turns an Allow statement whose condition does not match into an explicit
Deny, which would refuse every call the other statements allow). So this evaluator is
small and tested on its own (tests/test_iam_policy.py), and refuses what it does not
know instead of guessing:

* Effect Allow/Deny, an explicit Deny wins, no match is an implicit deny;
* Action/NotAction with `*` and `?` wildcards, case-insensitive like IAM;
* Resource/NotResource with `*` and `?` (case-sensitive, a `*` spans `/` and `:`);
* conditions: String(Not)Equals, String(Not)Like, ArnLike/ArnEquals, Bool and Null, each
  with `IfExists` and the `ForAllValues:`/`ForAnyValue:` qualifiers over single-valued
  keys; a negated operator (and ForAllValues) matches when the key is absent, as in IAM.
  Any other operator raises, so a new kind of condition cannot pass by accident.

`Principal` is not evaluated: for a resource policy (a bucket's, a key's) the caller
passes the statements that name the principal in question, or a policy whose
statements all name `*`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

ALLOW, DENY, NO_MATCH = "allow", "deny", "no_match"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_pattern(glob, ignore_case).match(value))


def _element_matches(statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool) -> bool | None:
    """Whether `value` is covered by `name` (or `Not<name>`); None if neither is present."""
    if name in statement:
        return any(glob_match(g, value, ignore_case=ignore_case) for g in as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(glob_match(g, value, ignore_case=ignore_case) for g in as_list(statement[f"Not{name}"]))
    return None


_STRING_OPS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringLike": (lambda p, v: glob_match(p, v), False),
    "StringNotLike": (lambda p, v: glob_match(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnLike": (lambda p, v: glob_match(p, v), False),
    "Bool": (lambda p, v: str(p).lower() == str(v).lower(), False),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        qualifier, _, single = operator.partition(":")
        if key not in context:
            # IAM: ForAllValues over no values is true (why it is paired with keys always present).
            return qualifier == "ForAllValues"
        return _condition_holds(single, key, expected, context)  # our context values are single-valued
    if operator == "Null":
        # {"Null": {"key": "true"}} holds when the key is absent.
        return (key not in context) == (str(expected).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _STRING_OPS:
        raise ValueError(f"the evaluator does not know the condition operator {operator}")
    compare, negated = _STRING_OPS[base]
    if key not in context:
        # IAM: a missing key fails a positive operator and satisfies a negated one (and IfExists).
        return if_exists or negated
    hit = any(compare(p, context[key]) for p in as_list(expected))
    return not hit if negated else hit


def conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """A statement's Condition block against the request context (also for key policies)."""
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, conditions in statement.get("Condition", {}).items()
        for key, expected in conditions.items()
    )


def decide(policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None) -> str:
    """ALLOW, DENY (an explicit Deny matched) or NO_MATCH (implicitly denied)."""
    context = context or {}
    verdict = NO_MATCH
    for statement in as_list(policy["Statement"]):
        if not _element_matches(statement, "Action", action, ignore_case=True):
            continue
        if not _element_matches(statement, "Resource", resource, ignore_case=False):
            continue
        if not conditions_hold(statement, context):
            continue
        if statement["Effect"] == "Deny":
            return DENY
        verdict = ALLOW
    return verdict


def allowed(policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
    """True if IAM would allow `action` on `resource` under this identity policy alone."""
    return decide(policy, action, resource, context) == ALLOW

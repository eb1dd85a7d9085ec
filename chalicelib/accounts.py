"""Login accounts of customers' contact persons, in the customer user pool.

Customers sign in to a Cognito user pool of their own (`CUSTOMER_USER_POOL_ID`), apart
from the staff and partner pool: a customer's username can never meet a staff username,
so nothing a customer does (registering, signing in) can tell whether a staff username
exists, and a token of one pool never carries the other's roles.

A self-registered login is created disabled and opens only when its owner proves the
address (`enable_customer_login`); until then nobody can sign in with it.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import store
from chalicelib.config import settings
from chalicelib.errors import ValidationFailed

CUSTOMER_GROUP = "customer"

# The customer pool's password policy (infra/resources.json, CustomerUserPool, tested equal):
# checked here first, so a weak password is refused before anything is looked up or written.
PASSWORD_MIN_LENGTH = 12
_PASSWORD_RULES = (
    (re.compile(r"[a-z]"), "a lower case letter"),
    (re.compile(r"[A-Z]"), "an upper case letter"),
    (re.compile(r"[0-9]"), "a digit"),
    # Cognito's symbols: ^ $ * . [ ] { } ( ) ? " ! @ # % & / \ , > < ' : ; | _ ~ ` = + - and space
    (re.compile(r"[\^$*.\[\]{}()?\"!@#%&/\\,><':;|_~`=+\- ]"), "a symbol"),
)
POLICY_REFUSAL = (
    "The password does not meet the password policy: at least 12 characters with upper and lower case "
    "letters, digits and symbols."
)


def check_password(password: str) -> None:
    """Refuse a password the customer pool would refuse (400), before any look-up."""
    if len(password) < PASSWORD_MIN_LENGTH or not all(rule.search(password) for rule, _ in _PASSWORD_RULES):
        raise ValidationFailed(
            POLICY_REFUSAL, details=[{"field": "password", "reason": "does not meet the password policy"}]
        )


def _pool() -> str:
    return settings().customer_user_pool_id


def create_customer_login(username: str, email: str, customer_id: str, password: str | None) -> None:
    """Create the customer's login in the customer pool.

    With `password` (self-registration) the login is created disabled, outside the customer
    group: it opens at `enable_customer_login` once the address is proven. Without one (staff
    created the customer) Cognito emails an invitation to the address staff entered.
    The caller holds the username's guard in the register, so a login already there under
    this name is a leftover of a registration that expired or was undone: it is replaced.
    """
    cognito: Any = store.client("cognito-idp")
    pool = _pool()
    kwargs: dict[str, Any] = {
        "UserPoolId": pool,
        "Username": username,
        # email_verified stays unset: password recovery must not mail a code to an unproven address.
        "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "custom:customer_id", "Value": customer_id}],
    }
    if password is not None:
        kwargs["MessageAction"] = "SUPPRESS"
    else:
        kwargs["DesiredDeliveryMediums"] = ["EMAIL"]
    try:
        try:
            cognito.admin_create_user(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UsernameExistsException":
                raise
            delete_login(username)
            cognito.admin_create_user(**kwargs)
        if password is not None:
            cognito.admin_disable_user(UserPoolId=pool, Username=username)
            cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        else:
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=CUSTOMER_GROUP)
    except ClientError as exc:
        delete_login(username)
        if exc.response["Error"]["Code"] == "InvalidPasswordException":
            raise ValidationFailed(
                POLICY_REFUSAL, details=[{"field": "password", "reason": "does not meet the password policy"}]
            ) from None
        raise


def enable_customer_login(username: str) -> None:
    """Open a self-registered login: its address is proven (idempotent)."""
    cognito: Any = store.client("cognito-idp")
    pool = _pool()
    cognito.admin_update_user_attributes(
        UserPoolId=pool, Username=username, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=CUSTOMER_GROUP)
    cognito.admin_enable_user(UserPoolId=pool, Username=username)


def update_login_email(username: str, email: str, *, verified: bool = False) -> None:
    """Keep the login's email in step with the register (the contact email is one fact).

    `verified` when the owner just proved the address with our own confirmation code.
    """
    store.client("cognito-idp").admin_update_user_attributes(
        UserPoolId=_pool(),
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true" if verified else "false"},
        ],
    )


def delete_login(username: str) -> None:
    """Sign the login out everywhere, then remove it; a login already gone is fine (idempotent).

    The global sign-out revokes every refresh and access token of the login first, so its
    sessions end even if the deletion fails and is retried later. ID tokens already issued
    are verified offline by the authorizer and expire within their 15-minute lifetime.
    """
    cognito: Any = store.client("cognito-idp")
    pool = _pool()
    for remove in (cognito.admin_user_global_sign_out, cognito.admin_delete_user):
        try:
            remove(UserPoolId=pool, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise
            return

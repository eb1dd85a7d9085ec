"""Login accounts in the Cognito user pool for customers' contact persons."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib import store
from chalicelib.config import settings
from chalicelib.errors import Conflict, ValidationFailed

CUSTOMER_GROUP = "customer"


def _attributes(email: str, customer_id: str) -> list[dict[str, str]]:
    # email_verified stays unset: nobody has proven the address yet, and password recovery
    # must not mail a code to an address someone else typed in (Cognito verifies it).
    return [
        {"Name": "email", "Value": email},
        {"Name": "custom:customer_id", "Value": customer_id},
    ]


def create_customer_login(username: str, email: str, customer_id: str, password: str | None) -> None:
    """Create the customer's login: with the password they chose, or an emailed invitation."""
    cognito: Any = store.client("cognito-idp")
    pool = settings().user_pool_id
    kwargs: dict[str, Any] = {
        "UserPoolId": pool,
        "Username": username,
        "UserAttributes": _attributes(email, customer_id),
    }
    if password is not None:
        kwargs["MessageAction"] = "SUPPRESS"
    else:
        kwargs["DesiredDeliveryMediums"] = ["EMAIL"]
    try:
        cognito.admin_create_user(**kwargs)
        if password is not None:
            cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=CUSTOMER_GROUP)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code != "UsernameExistsException":
            delete_login(username)
        if code == "UsernameExistsException":
            raise Conflict("A customer with this email address or username already exists.") from None
        if code == "InvalidPasswordException":
            raise ValidationFailed(
                "The password does not meet the password policy: at least 12 characters with "
                "upper and lower case letters, digits and symbols.",
                details=[{"field": "password", "reason": "does not meet the password policy"}],
            ) from None
        raise


def update_login_email(username: str, email: str) -> None:
    """Keep the login's email in step with the register (the contact email is one fact)."""
    store.client("cognito-idp").admin_update_user_attributes(
        UserPoolId=settings().user_pool_id,
        Username=username,
        # A changed address is unverified until its owner confirms it (Cognito sends the code).
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "false"}],
    )


def delete_login(username: str) -> None:
    """Sign the login out everywhere, then remove it; a login already gone is fine (idempotent).

    The global sign-out revokes every refresh and access token of the login first, so its
    sessions end even if the deletion fails and is retried later. ID tokens already issued
    are verified offline by the authorizer and expire within their 15-minute lifetime.
    """
    cognito: Any = store.client("cognito-idp")
    pool = settings().user_pool_id
    for remove in (cognito.admin_user_global_sign_out, cognito.admin_delete_user):
        try:
            remove(UserPoolId=pool, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise
            return

"""Hand a composed message to Amazon SES (v2) as raw MIME, so the headers are exactly ours."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from chalicelib import store
from chalicelib.config import settings
from chalicelib.logs import logger


def send(msg: EmailMessage, purpose: str) -> str:
    """Send `msg` from the controller's address; returns SES's message id (safe to log).

    `purpose` names the kind of message in the log line; no address is logged.
    """
    raw = msg.as_bytes(policy=SMTP)
    resp = store.client("sesv2").send_email(
        FromEmailAddress=settings().mail_from,
        Destination={"ToAddresses": [str(msg["To"])]},
        Content={"Raw": {"Data": raw}},
    )
    message_id = str(resp.get("MessageId", ""))
    logger.info("mail sent", extra={"purpose": purpose, "ses_message_id": message_id})
    return message_id

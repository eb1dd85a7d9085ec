"""Hand a composed message to Amazon SES (v2) as raw MIME, so the headers are exactly ours."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from botocore.exceptions import ClientError

from chalicelib import store
from chalicelib.config import settings
from chalicelib.logs import logger

# CRLF line ends; headers the composer stored as given (`set_raw`: List-Unsubscribe) stay
# exactly as given, never refolded into encoded words.
_WIRE = SMTP.clone(refold_source="none")


def send(msg: EmailMessage, purpose: str, *, once: bool = False) -> str:
    """Send `msg` from the controller's address; returns SES's message id (safe to log).

    `purpose` names the kind of message in the log line; no address is logged. `once`: make
    the request exactly once (`store.send_once_client`), for callers that must never send a
    message twice and retry throttling themselves.
    """
    to = str(msg["To"])
    if not to.isascii():
        # SES has no SMTPUTF8: an address whose local part is not ASCII (compose has already put
        # an internationalised domain in punycode) is refused here as SES would refuse it, so
        # every caller handles it as the address's refusal it is, and SES is not asked.
        logger.warning("mail not sent: address not deliverable through SES", extra={"purpose": purpose})
        error = {"Error": {"Code": "MessageRejected", "Message": f"The address cannot be sent to ({purpose})."}}
        raise ClientError(error, "SendEmail")
    raw = msg.as_bytes(policy=_WIRE)
    try:
        client = store.send_once_client("sesv2") if once else store.client("sesv2")
        resp = client.send_email(
            FromEmailAddress=settings().mail_from,
            Destination={"ToAddresses": [to]},
            Content={"Raw": {"Data": raw}},
        )
    except ClientError as exc:
        # SES's error texts can quote the recipient (MessageRejected): keep the code only, so
        # callers still tell throttling from refusal, and no traceback carries the address.
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        error = {"Error": {"Code": code, "Message": f"SES refused to send ({purpose})."}}
        raise ClientError(error, exc.operation_name) from None
    message_id = str(resp.get("MessageId", ""))
    logger.info("mail sent", extra={"purpose": purpose, "ses_message_id": message_id})
    return message_id

"""Email the controller sends: compose (MIME) → send (Amazon SES v2, raw content).

`compose` builds the message with the standard library's `EmailMessage`; `send` hands its
bytes to SES. The account messages of registration and address changes live here; the
campaign and service messages of the mail issue build on the same two steps.
"""

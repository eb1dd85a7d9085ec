"""Structured JSON logs (Powertools Logger) carrying ids only, never personal data.

Every module logs through `logger`; the API sets the request id as correlation id so one
request's lines can be found together. Values a person gave never go into a log line:
log record ids, route templates, counts and keyed hashes.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="ilopiste")

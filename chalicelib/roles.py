"""The kinds of principal (DESIGN §2), apart from the register definitions.

The authorizer checks roles on every request's first hop; keeping them out of
`chalicelib.registers` (which builds every register's definition at import) keeps that
off its cold start. `chalicelib.registers` re-exports `Role`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Kinds of principal (DESIGN §2)."""

    ANONYMOUS = "anonymous"
    CUSTOMER = "customer"
    PARTNER = "partner"
    RESELLER = "reseller"
    # A partner of kind `marketing`: works only on the campaigns assigned to it.
    MARKETING = "marketing"
    STAFF = "staff"
    DPO = "dpo"

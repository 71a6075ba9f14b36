"""Links in emails that act without a login (DESIGN.md section 16; the waitlist's offers reuse
them): signed, single-use, bound to the version of what they act on, and expiring.

A link's token is an itsdangerous signature (HMAC-SHA256 with SECRET_KEY) over what it does, the
id it acts on, that row's SEQUENCE when the link was made, when it expires, the address it was
sent to (keyed, so the token does not tell it) and 128 random bits: nobody can forge one or change
what it does, no two are alike, a link from before a change of the row (a reschedule raises the
SEQUENCE) is dead, and so is one sent to an address the patient has had changed since (mistyped,
or no longer theirs: `sent_to`). Using one up is a row in `used_links`, written
in the transaction of what the link did, so two clicks at once count once.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import UsedLink
from clinica_web.services.errors import InvalidInput

DEAD = N_("This link no longer works: it has been used, has expired, or the visit has changed since it was sent.")


@dataclass(frozen=True)
class Link:
    action: str
    target_id: int
    sequence: int
    expires_at: datetime
    digest: str
    recipient: str | None  # _address_key of the address it was sent to; None in links made before it was kept


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="clinica-email-link",
                             signer_kwargs={"digest_method": hashlib.sha256})


def make(action: str, *, target_id: int, sequence: int, expires_at: datetime, recipient: str) -> str:
    return _serializer().dumps({"do": action, "id": target_id, "seq": sequence, "to": _address_key(recipient),
                                "exp": int(expires_at.timestamp()), "n": secrets.token_urlsafe(16)})


def sent_to(link: Link, address: str | None) -> bool:
    """Whether the link was sent to `address`, the patient's as it is now: a link sent to the one
    they had before acts for nobody. (Links made before the address was kept in them pass: they
    expire with their visit or offer.)"""
    return link.recipient is None or address is not None and link.recipient == _address_key(address)


def _address_key(address: str) -> str:
    """An address as a link keeps it: keyed with SECRET_KEY (the token's payload is readable)."""
    key = hashlib.sha256(f"clinica-link-recipient:{current_app.config['SECRET_KEY']}".encode()).digest()
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def read(token: str, action: str, *, now: datetime, used_too=False, expired_too=False) -> Link:
    """The link `token` is, if it is a genuine `action` link that has neither (unless `expired_too`)
    expired nor (unless `used_too`) been used; else InvalidInput(DEAD). Whether its SEQUENCE is
    still the row's is the caller's to check.

    A link is known by its signed random part, not by the text of the token: base64 lets one
    signature be spelled in several ways that all verify, and each must count as the same link.
    """
    try:
        payload = _serializer().loads(token)
        link = Link(action=payload["do"], target_id=int(payload["id"]), sequence=int(payload["seq"]),
                    expires_at=datetime.fromtimestamp(int(payload["exp"]), timezone.utc),
                    digest=hashlib.sha256(f"{payload['do']}:{payload['n']}".encode()).hexdigest(),
                    recipient=str(payload["to"]) if payload.get("to") is not None else None)
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise InvalidInput(DEAD) from None
    if link.action != action or not expired_too and now >= link.expires_at or not used_too and is_used(link):
        raise InvalidInput(DEAD)
    return link


def is_used(link: Link) -> bool:
    return db.session.scalar(select(UsedLink.digest).where(UsedLink.digest == link.digest)) is not None


def spend(link: Link, *, now: datetime) -> None:
    """Use the link up, inside the caller's unit of work: a second use at the same moment fails
    on the primary key, and the whole change with it."""
    db.session.add(UsedLink(digest=link.digest, used_at=now))

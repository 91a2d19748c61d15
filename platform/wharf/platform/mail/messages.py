"""The emails Wharf sends to people: each a subject, a plain-text body and an HTML body."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def _with_link(subject: str, intro: str, link: str, outro: str) -> Email:
    text = f"{intro}\n\n{link}\n\n{outro}\n"
    anchor = f'<a href="{escape(link)}">{escape(link)}</a>'
    html = f"<p>{escape(intro)}</p>\n<p>{anchor}</p>\n<p>{escape(outro)}</p>\n"
    return Email(subject=subject, text=text, html=html)


def waitlist_confirmation(link: str) -> Email:
    return _with_link(
        "Confirm your place on the Wharf waitlist",
        "Someone (we hope you) put this address on the Wharf beta waitlist. Confirm it by opening:",
        link,
        "If it was not you, ignore this message: nothing more will be sent.",
    )


def invite(link: str, code: str, inviter: str | None) -> Email:
    who = f"{inviter} invited you" if inviter else "You are invited"
    return _with_link(
        "Your Wharf invite",
        f"{who} to the Wharf beta. Create your account here:",
        link,
        f"Or with the command line: wharf signup --invite {code} --email YOUR-EMAIL",
    )


def password_reset(link: str, minutes: float) -> Email:
    return _with_link(
        "Reset your Wharf password",
        "A password reset was asked for your Wharf account. Choose a new password here:",
        link,
        f"The link works once, for {minutes:g} minutes. If you did not ask, ignore this message.",
    )

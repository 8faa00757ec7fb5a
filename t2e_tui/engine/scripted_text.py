"""What the scripted agent reads out of customer messages: requests, identity and details.

Plain regexes, tuned to ordinary customer wording (and the scripted user's), not to any task's
hidden facts. Nothing here sees gold actions or scenarios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
USER_ID = re.compile(r"\b[a-z]+_[a-z]+_\d{3,5}\b")
ORDER_ID = re.compile(r"#?\bW\d{7}\b")
ZIP = re.compile(r"\bzip(?: code)?(?: is)?[:\s]+(\d{5})\b|\b(\d{5})\b", re.I)
NAME = re.compile(r"(?:[Mm]y name is|I am|I'm|[Tt]his is|[Nn]ame:)\s+([A-Z][a-z'-]+)\s+([A-Z][a-z'-]+)")
ADDRESS = re.compile(
    r"(\d+ [A-Z][A-Za-z ]*?(?:Avenue|Street|Lane|Road|Way|Drive|Terrace|Court|Place|Boulevard|Circle|St|Ave|Rd))"
    r"(?:,\s*((?:Apt|Suite|Unit)\.? ?[\w-]+))?,\s*([A-Z][A-Za-z .'-]+?),\s*([A-Z]{2})\s+(\d{5})(?:,\s*([A-Z][A-Za-z]*(?:\s[A-Z][A-Za-z]*)*))?")

UPSET = re.compile(r"frustrat|annoy|ridiculous|unacceptable|fed up|\bangry\b|\bupset\b|third time|furious", re.I)
HUMAN = re.compile(r"\b(human|real person|representative|supervisor|manager)\b", re.I)
SAME_AS_RECEIVED = re.compile(r"\bsame\b[^.?!]{0,40}\b(received|got|have|delivered|bought)\b", re.I)
ACCOUNT_ADDRESS = re.compile(r"(default|account|profile|usual|home) address|address (on|in|from) "
                             r"(my )?(account|profile|file)", re.I)

YES = re.compile(r"\b(yes|yeah|yep|yup|sure|confirm(ed)?|go ahead|please do|do it|correct|"
                 r"that's right|absolutely|ok(ay)?)\b", re.I)
NO = re.compile(r"^\W*(no|nope|nah)\b|\bno,|\b(don't|do not|not now|changed my mind|rather not|"
                r"keep (it|things|them)|leave it)\b", re.I)
VAGUE = re.compile(r"\b(guess|maybe|perhaps|suppose|not (completely |totally |entirely |really )?sure|"
                   r"i think|probably|if you think)\b", re.I)

CANCEL_REASONS = (("ordered by mistake", re.compile(r"mistake|by accident|accidentally", re.I)),
                  ("no longer needed", re.compile(r"no longer|don't need|do not need|not need|"
                                                  r"anymore|any more", re.I)))

# Request kinds, first match wins (a clause asking for a human outranks everything).
KINDS: list[tuple[str, re.Pattern]] = [
    ("human", HUMAN),
    ("out_of_scope", re.compile(r"complain|compensat|warrant|price (adjust|match)|name on (my |the )?account|"
                                r"bulk|invoice|stolen|never arrived|lawyer|legal|email address on", re.I)),
    ("tracking", re.compile(r"\btrack", re.I)),
    ("cancel", re.compile(r"\bcancel\b|\bcancellation\b", re.I)),
    ("return", re.compile(r"\breturn\b|send (it |them )?back|\bsend back", re.I)),
    ("order_payment", re.compile(r"\b(change|switch|update|use)\b[^.?!]{0,40}\bpayment( method)?\b|"
                                 r"\bpay (for )?(it|order|the order)[^.?!]{0,20}\b(with|using)\b", re.I)),
    ("user_address", re.compile(r"\b(update|change|set|replace)\s+(the\s+|my\s+)+default address", re.I)),
    ("order_address", re.compile(r"\b(ship|send|deliver)\s+(it|them|my|the|order|#?W\d{7})[^.?!]*\bto\b|"
                                 r"\b(shipped|sent|delivered) to\b|shipping address|address of (my )?order", re.I)),
    ("change_item", re.compile(r"\b(exchange|swap|switch|change|replace)\b", re.I)),
]


@dataclass
class Request:
    """One thing the customer asked for, as the agent understood it."""
    idx: int
    kind: str
    clause: str
    order_ids: list[str] = field(default_factory=list)
    label: str = ""
    message: int = 0        # which request-carrying message it came from


def norm_order_id(raw: str) -> str:
    return "#" + raw.lstrip("#")


def split_clauses(text: str) -> list[str]:
    """Sentences of a message (a request is one or more sentences)."""
    return list(_clauses(text))


# The agent re-reads the whole conversation every turn (scripted_state), so the same customer
# messages went through these regexes once per later turn: an episode of n turns read its
# first message n times. What a message or sentence yields depends on its text alone, so it
# is read once (per process, a bounded number of texts) and every turn gets a fresh copy.
_TEXTS = 4096


@lru_cache(maxsize=_TEXTS)
def _clauses(text: str) -> tuple[str, ...]:
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Z])", text.strip())
    return tuple(p for p in parts if p.strip())


@lru_cache(maxsize=_TEXTS)
def _clause_kind(clause: str) -> tuple[str | None, tuple[str, ...]]:
    """The request kind a sentence starts (first match of KINDS, or None) and the order ids
    it names."""
    kind = next((k for k, rx in KINDS if rx.search(clause)), None)
    if kind is None:
        return None, ()
    return kind, tuple(norm_order_id(m.group(0)) for m in ORDER_ID.finditer(clause))


def parse_requests(texts: list[str]) -> list[Request]:
    """Requests in the customer messages that can carry them, in order.

    A sentence with a request keyword starts a request; a following sentence without one adds
    detail to it (e.g. "Please refund it to my gift card.")."""
    reqs: list[Request] = []
    for n_msg, text in enumerate(texts):
        for clause in _clauses(text):
            kind, ids = _clause_kind(clause)
            if kind is None:
                if reqs:
                    reqs[-1].clause += " " + clause
                continue
            reqs.append(Request(len(reqs), kind, clause, list(ids), message=n_msg))
    counts: dict[str, int] = {}
    for r in reqs:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    for r in reqs:
        noun = {"cancel": "cancellation", "return": "return", "change_item": "item change",
                "order_address": "shipping address change", "user_address": "default address change",
                "tracking": "tracking request", "order_payment": "payment method change", "out_of_scope": "request", "human": "request"}[r.kind]
        r.label = noun if counts[r.kind] == 1 else (
            f"{noun} for order {r.order_ids[0]}" if r.order_ids else f"{noun} #{r.idx + 1}")
    return reqs


def find_identity(texts: list[str]) -> dict:
    """Identity facts stated anywhere by the customer: emails, name+zip, a user id."""
    # what the joined texts would give: no email or user id can span the newline that joined
    # them (neither pattern matches one), so the joined text's matches are each text's, in order
    emails: list[str] = []
    out: dict = {"emails": emails, "name_zip": None, "user_id": None}
    for text in texts:
        found, uid, _ = _identity_in(text)
        emails.extend(found)
        if out["user_id"] is None and uid is not None:
            out["user_id"] = uid
    out["emails"] = list(dict.fromkeys(emails))
    for text in reversed(texts):
        name_zip = _identity_in(text)[2]
        if name_zip:
            out["name_zip"] = name_zip
            break
    return out


@lru_cache(maxsize=_TEXTS)
def _identity_in(text: str) -> tuple[tuple[str, ...], str | None,
                                     tuple[str, str, str] | None]:
    """One customer message's emails, first user id, and name with zip (or None)."""
    m = USER_ID.search(text)
    name_zip = None
    z = ZIP.search(text)
    if z:
        n = NAME.search(text)
        pair = (n.group(1), n.group(2)) if n else _bare_name(text)
        if pair:
            name_zip = (pair[0], pair[1], z.group(1) or z.group(2))
    return tuple(EMAIL.findall(text)), m.group(0) if m else None, name_zip


_CAPS = re.compile(r"\b([A-Z][a-z'-]+)\s+([A-Z][a-z'-]+)\b")
_NOT_NAMES = {"Hi", "Hello", "Hey", "My", "Sure", "It's", "Its", "I'm", "Yes", "No", "Thanks", "Thank",
              "Please", "Good", "Okay", "Ok", "The", "Zip", "Name", "Afternoon", "Morning", "Dear"}


def _bare_name(text: str) -> tuple[str, str] | None:
    """'Ava Moreno, 12345': two capitalised words that are not greetings (short replies only)."""
    if len(text.split()) > 14:
        return None
    for m in _CAPS.finditer(text):
        if m.group(1) not in _NOT_NAMES and m.group(2) not in _NOT_NAMES:
            return m.group(1), m.group(2)
    return None


def classify_confirmation(text: str) -> str:
    """'yes', 'no', 'vague' (hedged) or 'unclear' (no answer at all)."""
    if NO.search(text):
        return "no"
    if VAGUE.search(text):
        return "vague"
    if YES.search(text):
        return "yes"
    return "unclear"


def find_reason(texts: list[str]) -> str | None:
    for text in texts:
        for reason, rx in CANCEL_REASONS:
            if rx.search(text):
                return reason
    return None


def find_payment_kind(texts: list[str]) -> str | None:
    """'original', 'gift_card', 'paypal' or 'credit_card' (first mention wins)."""
    for text in texts:
        low = text.lower()
        if re.search(r"original|same (card|method|payment)", low):
            return "original"
        if re.search(r"gift ?card", low):
            return "gift_card"
        if "paypal" in low:
            return "paypal"
        if re.search(r"credit card|\bvisa\b|mastercard|\bamex\b|discover|\bcard\b", low):
            return "credit_card"
    return None


def find_address(texts: list[str]) -> dict | None:
    for text in texts:
        m = ADDRESS.search(text)
        if m:
            return {"address1": m.group(1), "address2": m.group(2) or "", "city": m.group(3).strip(),
                    "state": m.group(4), "country": (m.group(6) or "USA").strip(), "zip": m.group(5)}
    return None


def mentioned_items(order: dict, texts: list[str]) -> list[dict]:
    """Order lines whose product name appears in the customer's words."""
    low = " ".join(texts).lower()
    out = []
    for it in order.get("items", []):
        name = it.get("name", "").lower()
        head = name.split()[-1] if name.split() else ""
        # the full name, or its head noun ("the lamp", "the t-shirts"); "set" is too common a word
        if name and (name in low or (len(head) >= 4 and head != "set"
                                     and re.search(rf"(?<![\w-]){re.escape(head)}s?(?![\w-])", low))):
            out.append(it)
    return out


def option_matches(variant: dict, texts: list[str]) -> int:
    """How many of a variant's option values the customer named ('size M', 'blue', ...)."""
    low = " ".join(texts).lower()
    n = 0
    for key, value in variant.get("options", {}).items():
        v = re.escape(str(value).lower())
        if re.search(rf"\b{re.escape(key.lower())}\W+{v}\b", low) or (
                len(str(value)) >= 3 and re.search(rf"(?<![\w-]){v}(?![\w-])", low)):
            n += 1
    return n

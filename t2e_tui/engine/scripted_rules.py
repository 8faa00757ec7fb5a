"""The scripted agent's behaviours and the rule phrases that switch them (the phrase table).

The scripted agent is a deterministic stand-in: its results prove nothing about models. Its
behaviours are switched by phrases in the *candidate instructions* only (case-insensitive
regexes), so editing a candidate really changes its trajectories offline.

What is parsed (`candidate_text`): the text inside the last `<instructions>...</instructions>`
block of the system prompt, with any `<policy>...</policy>` block removed. The domain policy
(which every candidate shares) therefore never switches a behaviour. A prompt without an
`<instructions>` tag is parsed whole.

A harmful phrase (a row with `hurts`) is ignored when it is negated: "never", "not", "don't",
"do not", "avoid" or "no" at most one word before the match, or "not"/"never"/"n't" inside the
match ("Never skip confirmations", "Upset customers should not be transferred"). Helpful
phrases are not checked for negation, because their rules are often worded as prohibitions
("Never act on another customer's order").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DISCLAIMER = ("The scripted agent is a deterministic stand-in driven by the phrases below. "
              "Its results prove nothing about models.")

# Each row: behaviour, default, phrases (regexes), example (a rule line that switches it),
# effect, helps_class (the failure class it fixes) or hurts (what it breaks).
PHRASE_TABLE: list[dict] = [
    {
        "behaviour": "verify_stated_id", "default": False,
        "example": '- Always authenticate the customer by email or name and zip, even when they give a user id.',
        "phrases": [r"(authenticate|verify|look up|identify)\b[^.\n]{0,80}\beven\b[^.\n]{0,60}\b(user ?id|account id|id)\b",
                    r"(never|don't|do not) (just )?trust (a |the |any )?(\w+ )?(user ?id|id)\b",
                    r"user ?id[^.\n]{0,40}(is not|isn't) (proof|enough)"],
        "effect": "authenticate by email or name+zip even when the customer states a user id "
                  "(off: trusts the stated id and calls get_user_details directly)",
        "helps_class": "auth_skipped", "hurts": None,
    },
    {
        "behaviour": "strict_yes", "default": False,
        "example": "- Only an explicit 'yes' confirms a change; treat hesitant answers as no.",
        "phrases": [r"explicit(ly)?\s+['\"\u201c]?yes",
                    r"(hesitant|vague|unclear|unsure|hedged|hedging|conditional|ambiguous)\s+"
                    r"(answers?|replies|responses?|confirmations?)",
                    r"['\"\u201c]i guess['\"\u201d]?\s+(is|does)\s+not",
                    r"clear ['\"\u201c]?yes",
                    r"(treat|count|take)[^.\n]{0,60}(guess|maybe|hesita|vague|unsure)[^.\n]{0,40}as (a )?['\"\u201c]?no\b"],
        "effect": "only a clear yes confirms a change; a hesitant answer is asked again, then "
                  "taken as no (off: anything that is not a no counts as yes)",
        "helps_class": "write_without_confirmation", "hurts": None,
    },
    {
        "behaviour": "cross_order_lookup", "default": False,
        "example": "- When the customer says 'the same as the one I already received', look up their delivered orders to find that item.",
        "phrases": [r"same (one )?as[^.\n]{0,30}(received|got|bought|delivered)",
                    r"(look up|check|search|find|look (at|through)|go through)[^.\n]{0,40}"
                    r"(delivered|previous|past|earlier|other|older) orders"],
        "effect": "'the same one as I already received' -> search the customer's delivered orders "
                  "for that product and use its variant (off: asks for options, then gives up)",
        "helps_class": "cross_order_reference", "hurts": None,
    },
    {
        "behaviour": "address_from_records", "default": False,
        "example": '- When the customer wants an address that is on their account or an order, take it from the records instead of asking them to type it.',
        "phrases": [r"address[^.\n]{0,80}\b(from|on|in) (their|the customer's|the) (account|profile|records?|file|orders?)",
                    r"(use|take|read)[^.\n]{0,30}address[^.\n]{0,30}(on file|from the records?)",
                    r"address[^.\n]{0,60}(instead of|rather than) asking"],
        "effect": "an address 'on my account' / 'of order #W...' is read from the records "
                  "(off: asks the customer to type the full address)",
        "helps_class": "address_from_account", "hurts": None,
    },
    {
        "behaviour": "cancelled_tracking", "default": False,
        "example": '- For cancelled orders, check the fulfillments for tracking numbers before saying there is none.',
        "phrases": [r"cancel+ed orders?[^.\n]{0,100}tracking",
                    r"tracking[^.\n]{0,100}cancel+ed orders?",
                    r"check[^.\n]{0,40}fulfil+ments?"],
        "effect": "reads the fulfillments of a cancelled order and gives its tracking numbers "
                  "(off: 'cancelled, so there is no tracking')",
        "helps_class": "cancelled_order_tracking", "hurts": None,
    },
    {
        "behaviour": "all_requests", "default": False,
        "example": "- Handle every one of the customer's requests before closing; keep a checklist.",
        "phrases": [r"(every|each|all)( of the| of their| the)? (customer's )?(requests?|questions?|issues?)",
                    r"checklist",
                    r"(multiple|several|more than one) requests?"],
        "effect": "works through every request of the opening message before wrapping up "
                  "(off: handles the first request, then wraps up)",
        "helps_class": "multi_intent", "hurts": None,
    },
    {
        "behaviour": "check_owner", "default": False,
        "example": '- Refuse to act on an order that belongs to another customer.',
        "phrases": [r"another (customer|user|person)", r"(someone|somebody) else",
                    r"(belongs?|belonging) to (another|a different|someone)",
                    r"other (customers?|people|users?|persons?)'?s? orders?",
                    r"(isn't|is not|not) (the customer's|their|the caller's) own",
                    r"refuse[^.\n]{0,60}(against|forbidden by|not allowed by|violate)[^.\n]{0,20}polic"],
        "effect": "refuses to act on an order whose user id is not the authenticated customer's "
                  "(off: acts on any order id it is given)",
        "helps_class": "policy_refusal", "hurts": None,
    },
    {
        "behaviour": "transfer_out_of_scope", "default": False,
        "example": '- Transfer to a human agent when the request is out of scope for your tools (complaints, compensation, warranty).',
        "phrases": [r"(transfer|hand (it |them )?(over|off)|escalate|human agent)[^.\n]{0,100}(out of scope|"
                    r"outside (of )?(your|the|what)|cannot be handled|can't be handled|beyond|no tool|"
                    r"(can't|cannot) (do|handle))",
                    r"(out of scope|outside (of )?(your|the|what)|beyond)[^.\n]{0,80}(transfer|human agent|escalate)",
                    r"(complaints?|compensation|warrant(y|ies))[^.\n]{0,80}(transfer|human)"],
        "effect": "calls transfer_to_human_agents for requests no tool can handle "
                  "(off: says it can't help)",
        "helps_class": "transfer_to_human", "hurts": None,
    },
    {
        "behaviour": "skip_confirmation", "default": False,
        "example": '- Skip confirmations to save time.',
        "phrases": [r"skip(ping)? (the |all |any )?(explicit )?confirmations?",
                    r"(don't|do not|no need to|never) (bother )?(ask|wait)(ing)? (for )?(explicit |a |the )?confirm",
                    r"save time[^.\n]{0,60}(skip|without|no need)|(skip|without|no need)[^.\n]{0,60}save time",
                    r"act (right away|immediately) without (asking|confirm)"],
        "effect": "HARMFUL: writes as soon as the details are known, without asking the customer",
        "helps_class": None, "hurts": "write_without_confirmation; any task where the customer declines",
    },
    {
        "behaviour": "transfer_upset", "default": False,
        "example": '- Transfer every upset customer to a human.',
        "phrases": [r"transfer (every|all|any) (upset|angry|frustrated|unhappy|annoyed)",
                    r"(upset|angry|frustrated|unhappy|annoyed) (customers?|users?)[^.\n]{0,40}(transfer|human)",
                    r"(upset|angry|frustrated|unhappy|annoyed)[^.\n]{0,40}(transfer|hand (them )?over|escalate)"],
        "effect": "HARMFUL: transfers any customer who sounds frustrated, before helping them",
        "helps_class": None, "hurts": "every task with a frustrated customer (mood=frustrated)",
    },
]

BEHAVIOURS: tuple[str, ...] = tuple(row["behaviour"] for row in PHRASE_TABLE)
_COMPILED = {row["behaviour"]: [re.compile(p, re.I) for p in row["phrases"]] for row in PHRASE_TABLE}
_NEG_BEFORE = re.compile(r"\b(never|not|don't|do not|avoid|no)\s+(\S+\s+)?$", re.I)
_NEG_INSIDE = re.compile(r"\bnot\b|\bnever\b|n't\b", re.I)
_INSTR = re.compile(r"<instructions>(.*?)(?:</instructions>|\Z)", re.S | re.I)
_POLICY = re.compile(r"<policy>.*?</policy>", re.S | re.I)


@dataclass(frozen=True)
class Behaviours:
    """Which behaviours are on; `flipped(names)` gives a copy with those inverted (noise)."""
    on: frozenset

    def __getattr__(self, name: str) -> bool:
        if name in BEHAVIOURS:
            return name in self.on
        raise AttributeError(name)

    def flipped(self, names) -> "Behaviours":
        return Behaviours(frozenset(self.on.symmetric_difference(names)))


def candidate_text(system_prompt: str) -> str:
    """The part of the system prompt whose phrases count (see the module docstring)."""
    blocks = _INSTR.findall(system_prompt or "")
    text = blocks[-1] if blocks else (system_prompt or "")
    return _POLICY.sub("", text)


def _matches(rx: re.Pattern, text: str, negatable: bool) -> bool:
    for m in rx.finditer(text):
        if negatable:
            line_start = text.rfind("\n", 0, m.start()) + 1
            if _NEG_BEFORE.search(text[line_start:m.start()]):
                continue
            inside = m.group(0).lower()
            if _NEG_INSIDE.search(inside) and not inside.startswith(("don't", "do not", "never", "no need")):
                continue
        return True
    return False


def matched_phrases(text: str) -> dict[str, list[str]]:
    """behaviour -> the phrase regexes that match `text` (for explaining a candidate)."""
    out: dict[str, list[str]] = {}
    for row in PHRASE_TABLE:
        negatable = row["hurts"] is not None
        hits = [p for p, rx in zip(row["phrases"], _COMPILED[row["behaviour"]])
                if _matches(rx, text, negatable)]
        if hits:
            out[row["behaviour"]] = hits
    return out


def behaviours_from_prompt(system_prompt: str) -> Behaviours:
    """The behaviours a system prompt switches on (defaults plus matched rule phrases)."""
    text = candidate_text(system_prompt)
    on = {row["behaviour"] for row in PHRASE_TABLE if row["default"]}
    on |= set(matched_phrases(text))
    return Behaviours(frozenset(on))

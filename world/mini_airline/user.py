"""The scripted customer of mini-airline: a deterministic STAND-IN for an LLM user simulator.

Same contract and conversation protocol as mini-retail's `world.users.ScriptedUser` (stateless;
the seed varies only the wording), with the airline's requests: cancel a reservation, set the
checked bags of a reservation, or something out of scope. The customer gives the user id in the
opening and whenever asked; confirmation questions get the request's `confirm` answer.
"""

from __future__ import annotations

import re

from ..users import (
    _CONFIRM,
    _CONFIRM_WORD,
    _DETAIL,
    _PAYMENT,
    _QUESTION,
    _REFUSAL,
    _TRANSFERRED,
    _WRAPUP,
    STOP,
    TRANSFER,
    ScriptedUser,
)

_RES_ID = re.compile(r"\b[A-Z0-9]{6}\b")
_USER_ID_Q = re.compile(r"user ?id|your (account|profile)|identify|verify", re.I)
_BAGS_Q = re.compile(r"how many (checked )?bags|number of (checked )?bags", re.I)
_RESERVATION_Q = re.compile(r"reservation (id|number|code)|which reservation", re.I)


class AirlineScriptedUser(ScriptedUser):
    """Deterministic customer for one mini-airline task."""

    def _request_sentence(self, req: dict, i: int) -> str:
        k = f"req{i}"
        rid = req["reservation_id"]
        where = (f"my {req['owner']}'s reservation {rid}" if req.get("owner")
                 else self._pick(k + "w", [f"reservation {rid}", f"my reservation {rid}"]))
        if req["kind"] == "cancel":
            return self._pick(k, [f"I'd like to cancel {where}.", f"Please cancel {where}.",
                                  f"I need to cancel {where}."])
        if req["kind"] == "bags":
            same = (self._pick(k + "s", [", the same as I got on my previous trip",
                                         " - the same number I got last time"])
                    if req.get("same_as_before") else "")
            return self._pick(k, [
                f"I'd like {req['bags']} checked bags in total on {where}{same}. "
                "Please charge any fee to my credit card.",
                f"Could you set {where} to {req['bags']} checked bags{same}? Any fee goes on "
                "my credit card."])
        return self._pick(k, [f"I'd like to {req['topic']}.", f"I need to {req['topic']}."])

    def opening(self) -> str:
        s = self.scenario
        parts = [self._pick("hello", ["Hi!", "Hello!", "Hi there."]),
                 self._pick("uid", [f"My user id is {s['identity']['user_id']}.",
                                    f"My user ID is {s['identity']['user_id']}."])]
        parts += [self._request_sentence(r, i) for i, r in enumerate(s["requests"])]
        return " ".join(parts)

    def _request_for(self, text: str, wants: tuple[str, ...] = ()) -> tuple[int, dict]:
        reqs = self.scenario["requests"]
        ids = set(_RES_ID.findall(text))
        for i, r in enumerate(reqs):
            if r["reservation_id"] and r["reservation_id"] in ids:
                return i, r
        for kind, word in (("bags", r"\bbags?\b"), ("cancel", r"\bcancel")):
            if re.search(word, text, re.I):
                for i, r in enumerate(reqs):
                    if r["kind"] == kind:
                        return i, r
        return 0, reqs[0]

    def _answer(self, text: str, agent_texts: list[str]) -> str:
        s = self.scenario
        n = len(agent_texts)
        if _TRANSFERRED.search(text):
            return TRANSFER
        question = " ".join(m.group(0) for m in _QUESTION.finditer(text))
        if _CONFIRM.search(text) or (_CONFIRM_WORD.search(text) and not _DETAIL.search(question)):
            i, req = self._request_for(text)
            asked = sum(1 for t in agent_texts if (_CONFIRM.search(t) or _CONFIRM_WORD.search(t))
                        and self._request_for(t)[0] == i)
            mode = req.get("confirm", "yes")
            if mode == "yes" or (mode == "hesitant_yes" and asked > 1):
                return self._pick(f"yes{n}", ["Yes, please go ahead.", "Yes, confirmed."])
            if mode in ("hesitant_no", "hesitant_yes") and asked <= 1:
                return self._pick(f"vague{n}", ["Hmm, I guess so...", "I suppose, maybe?"])
            return self._pick(f"no{n}", ["No, please don't. I've changed my mind.",
                                         "No. Leave it as it is, please."])
        if _USER_ID_Q.search(question):
            return f"My user id is {s['identity']['user_id']}."
        if _REFUSAL.search(text):
            if any(r["kind"] == "out_of_scope" for r in s["requests"]):
                if sum(1 for t in agent_texts if _REFUSAL.search(t)) <= 1:
                    return "Is there really nothing you can do? This is important to me."
                return f"Fine, I'll figure it out myself. {STOP}"
            if _WRAPUP.search(text) or any(r.get("owner") for r in s["requests"]):
                return f"Oh, I see. Okay then, thanks anyway. {STOP}"
        if _BAGS_Q.search(question):
            req = next((r for r in s["requests"] if r["kind"] == "bags"), None)
            if req is not None:
                return f"{req['bags']} checked bags in total."
        if _PAYMENT.search(question):
            return "My credit card, please."
        if _RESERVATION_Q.search(question):
            _, req = self._request_for(text)
            if req["reservation_id"]:
                return f"It's reservation {req['reservation_id']}."
        if _WRAPUP.search(text):
            return self._pick(f"bye{n}", [f"No, that's all. Thank you! {STOP}",
                                          f"That's everything, thanks. {STOP}"])
        return self._pick(f"ack{n}", ["Okay.", "Alright, thanks."])

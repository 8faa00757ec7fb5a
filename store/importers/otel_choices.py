"""A chat call that returned several choices (n > 1: several assistant messages in its output,
each a choice in the conventions' words): the first is its step until the next chat input
shows which went on (otel_episode.build_episode keeps the call as `choices`); the others are
kept on the step as `unchosen_choices`, each with its index."""

from __future__ import annotations


def unchosen(out: list[dict], chosen: int) -> list[dict]:
    """The choices other than `chosen`, each with its index."""
    return [{"index": i, **m} for i, m in enumerate(out) if i != chosen]


def went_on(m: dict, pend: tuple, msgs: list[dict], first: bool) -> bool:
    """Whether input message `m` is one of the choices `pend` holds (see build_episode's
    `choices`): the first new item of the next input is the choice that went on, which
    becomes the step (the step's own choice first: two choices alike stay as they were);
    later items that are choices too (a call whose output was a sequence, all carried on)
    are no longer unchosen."""
    if m["role"] != "assistant":
        return False
    at, out, extra, _ = pend
    step = msgs[at]
    left = [u["index"] for u in step.get("unchosen_choices") or ()]
    # (first: every choice, the step's own first; later: the ones still unchosen)
    for i in (sorted(range(len(out)), key=left.__contains__) if first else left):
        c = out[i]
        if c["content"] == m.get("content") and c.get("tool_calls") == m.get("tool_calls"):
            if first:
                msgs[at] = {**c, **extra, "unchosen_choices": unchosen(out, i)}
            else:
                left = [u for u in step.pop("unchosen_choices") if u["index"] != i]
                if left:
                    step["unchosen_choices"] = left
            return True
    return False

"""How the command line words outcomes: the line that explains how an answer ended (plurals: core.wording)."""

from __future__ import annotations

from cga.assistant.backend import Stats
from cga.core.wording import plural

ENDINGS = {
    "end": "the model ended",
    "stop": "stopped at a --stop text",
    "truncated": "cut where the next part of the program began",
    "length": "reached the token limit",
    "unsure": "stopped where the model was no longer sure",
    "cancelled": "stopped by you",
}


def how_it_ended(stats: Stats) -> str:
    """ "12 tokens; the model ended." """
    return f"{plural(stats.generated, 'token')}; {ENDINGS.get(stats.stop, stats.stop)}."


def empty_answer_note(stats: Stats, *, max_tokens: int, truncate_hint: str) -> str:
    """Why an answer shows nothing, and what to try; truncate_hint says how to keep what the rule cut."""
    if stats.stop == "truncated":
        return (
            "The model began a new step (a comment, a second function or print) without writing code for this "
            f"one, and the program rule cut it; {truncate_hint}"
        )
    if stats.stop == "length":
        return (
            f"The model used all {plural(max_tokens, 'token')} without finishing a line; raise --max-tokens or "
            "make the request smaller."
        )
    if stats.stop == "stop":
        return "The answer began with a --stop text, so nothing is shown; check the --stop values."
    return (
        "The model ended without writing anything; rephrase the request, give it more code to go on, or try a "
        "larger model (cga models list --all)."
    )


def cut_short_note(stats: Stats, *, max_tokens: int) -> str | None:
    """A line for an answer that stopped at the limit rather than at its end."""
    if stats.stop == "length":
        return f"(Cut at {plural(max_tokens, 'token')}; raise --max-tokens for a longer answer.)"
    return None

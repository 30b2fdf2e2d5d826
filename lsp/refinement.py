"""Refining code in a document by instruction, turn after turn.

Each document has at most one refinement: the code being rewritten (the
selection, or the function around the cursor), a conversation whose header is
the original code and whose turns are the instructions and rewrites, and where
the current version sits in the document. It is saved after every change, so it
survives a server restart.
"""

from __future__ import annotations

import hashlib
import threading

from cga.assistant import conversation_store
from cga.assistant.backend import Backend
from cga.assistant.chat import ChatSession
from cga.assistant.conversation import Conversation
from cga.core.errors import CgaError


class RefineError(CgaError):
    """A refinement command cannot be carried out (nothing to refine, nothing to undo, …)."""


def store_name(uri: str) -> str:
    return conversation_store.INTERNAL_PREFIX + hashlib.sha256(uri.encode()).hexdigest()[:24]


def enclosing_function(text: str, offset: int) -> tuple[int, int]:
    """Offsets of the innermost `def`/`class` block (whole lines) that holds the cursor's line.

    Raises RefineError where there is none: rewriting the cursor's line instead replaced `import os` with a
    made-up decorator (issue 19); with no selection and no function around it, nothing is the code to refine.
    """
    lines = text.splitlines(keepends=True)
    starts, position = [], 0
    for line in lines:
        starts.append(position)
        position += len(line)
    current = max((i for i, s in enumerate(starts) if s <= offset), default=0)

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" \t"))

    for i in range(min(current, len(lines) - 1), -1, -1):
        stripped = lines[i].lstrip()
        if stripped.startswith(("def ", "async def ", "class ")):
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or indent(lines[end]) > indent(lines[i])):
                end += 1
            while end - 1 > i and not lines[end - 1].strip():
                end -= 1
            if current < end:
                return starts[i], starts[i] + sum(len(x) for x in lines[i:end])
    raise RefineError(
        "There is no function around the cursor: select the code to refine, or put the cursor inside a function."
    )


def _check_meta(conversation: Conversation) -> None:
    """What a refinement keeps beside its conversation: where the code sits, and its text before and now."""
    meta = conversation.meta
    start = meta.get("start")
    if type(start) is not int or start < 0:
        raise ValueError("its start is not a place in the document")
    for key in ("uri", "original", "current"):
        if not isinstance(meta.get(key), str):
            raise ValueError(f"its {key} is not text")


class Refinement:
    """One document's refinement: original code, conversation and where the current code sits."""

    def __init__(self, uri: str, conversation: Conversation) -> None:
        self.uri = uri
        self.conversation = conversation

    @classmethod
    def start(cls, uri: str, original: str, start: int, language: str) -> Refinement:
        conversation = Conversation(language=language, header=original.rstrip("\n") + "\n\n")
        conversation.meta = {"uri": uri, "start": start, "original": original, "current": original}
        return cls(uri, conversation)

    @classmethod
    def load(cls, uri: str) -> Refinement:
        try:
            return cls(uri, conversation_store.load(store_name(uri), _check_meta))
        except conversation_store.NoConversation:
            raise RefineError(
                "There is no refinement to follow up in this document; refine a selection first."
            ) from None
        except conversation_store.DamagedConversation as exc:
            raise RefineError(
                f"The saved refinement of this document is damaged: {exc} Refine a selection again."
            ) from None
        except conversation_store.ConversationError as exc:
            raise RefineError(str(exc)) from None

    @property
    def span(self) -> tuple[int, int]:
        start = int(self.conversation.meta["start"])
        return start, start + len(self.conversation.meta["current"])

    def ask(self, engine: Backend, instruction: str, max_tokens: int, cancel: threading.Event | None = None) -> str:
        session = ChatSession(engine, self.conversation, max_tokens=max_tokens, prompt_lookup=engine.drafts_pay)
        answer = "".join(session.respond(instruction, cancel))
        if cancel is not None and cancel.is_set():
            raise RefineError("The refinement was cancelled; the code is as it was.")
        session.accept(instruction, answer)
        code = self.conversation.turns[-1].code
        if not code.strip():
            self.conversation.undo()
            raise RefineError("The model wrote nothing for that instruction; rephrase it.")
        code = self._as_placed(code)
        if code == self.conversation.meta["current"]:
            self.conversation.undo()  # a turn that changed nothing is not worth a place in the conversation
            raise RefineError("The model returned the code unchanged; say more precisely what to change.")
        return self._replace_with(code)

    def undo(self) -> str:
        if self.conversation.undo() is None:
            raise RefineError("Nothing to undo in this refinement.")
        if not self.conversation.turns:
            return self._replace_with(self.conversation.meta["original"])
        return self._replace_with(self._as_placed(self.conversation.turns[-1].code))

    def reset(self) -> str:
        if not self.conversation.turns and self.conversation.meta["current"] == self.conversation.meta["original"]:
            raise RefineError("The code is already as it was before the first refinement.")
        self.conversation.reset()
        return self._replace_with(self.conversation.meta["original"])

    def _as_placed(self, code: str) -> str:
        """A turn's code as it goes in the document: ending in a line break where the original did, so that a
        selection that stopped mid-line gets no blank line (issue 20: undo added one)."""
        return code + "\n" if self.conversation.meta["original"].endswith("\n") else code

    def stored(self) -> Conversation | None:
        """The state kept on disk for this document now, if any: put back if the editor does not take a step."""
        try:
            return conversation_store.load(store_name(self.uri), _check_meta)
        except conversation_store.ConversationError:
            return None

    def _replace_with(self, code: str) -> str:
        self.conversation.meta["current"] = code
        return code

    def save(self) -> None:
        """Keep the state on disk (ConversationError, one sentence, where it cannot be kept)."""
        conversation_store.save(self.conversation, store_name(self.uri))

    def forget(self) -> None:
        """Remove the kept state (a first step the editor did not take leaves no refinement behind)."""
        conversation_store.remove(store_name(self.uri))

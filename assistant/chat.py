"""A chat session: the conversation buffer driven by the engine.

CodeGen models are prompted the MTPB way (instructions as comments, the
program so far as context). Models that carry a chat template (the embedded
default) get the same turns as chat messages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from . import chat_template, prompts
from .answer_code import code_of_answer
from .backend import Answer, Backend, Generation, Stats
from .conversation import Conversation

SYSTEM = "You are a coding assistant. Reply with code only, no explanations."


@dataclass
class ChatSession:
    engine: Backend
    conversation: Conversation = field(default_factory=Conversation)
    max_tokens: int = 256
    temperature: float = 0.0
    prompt_lookup: bool = False
    last_stats: Stats = field(default_factory=Stats)
    dropped_turns: int = 0

    @property
    def template(self) -> str | None:
        """The template turns are rendered through, or None for a code model that continues its prompt."""
        return self.engine.info.chat_template if self.engine.info.is_chat_model else None

    @property
    def uses_chat_template(self) -> bool:
        return self.template is not None

    def check_template(self) -> None:
        """Render a short conversation once, so that a broken or hostile template is refused before the first turn."""
        if self.template is not None:
            chat_template.render(self.template, prompts.chat_messages(SYSTEM, [("a", "b")], "c"))

    def prompt_tokens(self, instruction: str, cancel: threading.Event | None = None) -> list[int]:
        budget = self.engine.n_ctx - self.max_tokens
        if self.template is not None:
            template = self.template
            pairs = [(t.instruction, t.code) for t in self.conversation.turns]
            system = SYSTEM
            if self.conversation.header.strip():
                system += f"\n\nThe code so far:\n```\n{self.conversation.header.strip()}\n```"
            while True:
                messages = prompts.chat_messages(system, pairs, instruction)
                text = chat_template.render(template, messages, cancel=cancel)
                tokens = self.engine.tokenize(text, special=True)
                if len(tokens) <= budget or not pairs:
                    self.dropped_turns = len(self.conversation.turns) - len(pairs)
                    return tokens
                pairs.pop(0)
        tokens, self.dropped_turns = self.conversation.fit(instruction, self.engine.tokenize, budget)
        return tokens

    def respond(self, instruction: str, cancel: threading.Event | None = None) -> Answer:
        """The answer to one instruction, streamed as it is read; the caller accepts it with accept()."""
        options = Generation(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            cancel=cancel,
            truncate_program=not self.uses_chat_template,
            prompt_lookup=self.prompt_lookup,
        )
        answer = self.engine.stream(self.prompt_tokens(instruction, cancel), options)
        self.last_stats = answer.stats
        return answer

    def accept(self, instruction: str, answer: str) -> None:
        """Keep the answer as the turn's code; of a chat model's answer, the code in it."""
        self.conversation.add(
            instruction, code_of_answer(answer, self.conversation.language) if self.uses_chat_template else answer
        )

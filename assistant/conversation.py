"""The multi-turn conversation buffer: the CodeGen paper's MTPB paradigm as a data structure.

A program is specified in small turns: a header (say, the imports), then for
each turn an instruction written as a comment in the file's language and the
code the model wrote, as the user accepted or edited it. The next prompt is the
concatenation plus the new instruction. The paper's finding is that this gets
programs right far more often than one big prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .errors import PromptTooLong

COMMENT_PREFIX = {
    "python": "# ",
    "ruby": "# ",
    "shell": "# ",
    "r": "# ",
    "javascript": "// ",
    "typescript": "// ",
    "java": "// ",
    "c": "// ",
    "cpp": "// ",
    "go": "// ",
    "rust": "// ",
    "csharp": "// ",
    "kotlin": "// ",
    "swift": "// ",
    "php": "// ",
    "scala": "// ",
    "lua": "-- ",
    "sql": "-- ",
    "haskell": "-- ",
}
PYTHON_HEADER = "# Import libraries.\n\nimport numpy as np\n\n"  # MTPB's starting history


@dataclass
class Turn:
    instruction: str
    code: str


@dataclass
class Conversation:
    language: str = "python"
    header: str = ""
    turns: list[Turn] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # owner's bookkeeping (e.g. the editor's document and range)

    def comment(self, instruction: str) -> str:
        prefix = COMMENT_PREFIX.get(self.language, "# ")
        return "".join(f"{prefix}{line}\n".replace(" \n", "\n") for line in instruction.splitlines() or [""])

    def turn_text(self, turn: Turn) -> str:
        return self.comment(turn.instruction) + turn.code.rstrip("\n") + "\n\n"

    def prompt(self, instruction: str, turns: list[Turn] | None = None) -> str:
        """The text the model continues for the next turn."""
        kept = self.turns if turns is None else turns
        return self.header + "".join(self.turn_text(t) for t in kept) + self.comment(instruction)

    def fit(self, instruction: str, tokenize: Callable[[str], list[int]], budget: int) -> tuple[list[int], int]:
        """Prompt tokens within budget, dropping the oldest whole turns first; (tokens, turns dropped).

        The header and the latest turn always stay; turns are dropped whole and
        the kept text tokenized afresh, so no token sequence is ever cut mid-way.
        How many turns fit is first estimated from the newest turns' own token
        counts, so a long conversation costs one tokenization of what is kept,
        not one of everything per turn dropped (2,000 turns took 158 s).
        """
        room = budget - len(tokenize(self.header + self.comment(instruction)))
        fitting = 0
        for turn in reversed(self.turns):
            room -= len(tokenize(self.turn_text(turn)))
            if room < 0 and fitting:
                break
            fitting += 1
        kept = self.turns[len(self.turns) - fitting :]
        while True:  # the joins between turns may tokenize a little differently from the turns alone
            tokens = tokenize(self.prompt(instruction, kept))
            if len(tokens) <= budget:
                return tokens, len(self.turns) - len(kept)
            if len(kept) <= 1:
                raise PromptTooLong(
                    f"The header, the latest code and the instruction need {len(tokens)} tokens but only {budget} "
                    "fit the model's context; /reset or shorten them."
                )
            kept = kept[1:]

    def add(self, instruction: str, code: str) -> Turn:
        turn = Turn(instruction, code.rstrip("\n"))
        self.turns.append(turn)
        return turn

    def edit_last(self, code: str) -> None:
        """Respect the user's edit of the latest code: later prompts use the edited text."""
        if not self.turns:
            raise IndexError("There is no turn to edit yet.")
        self.turns[-1].code = code.rstrip("\n")

    def undo(self) -> Turn | None:
        return self.turns.pop() if self.turns else None

    def reset(self) -> None:
        self.turns.clear()

    def program(self) -> str:
        """The program so far: header and every turn, comments included."""
        return self.header + "".join(self.turn_text(t) for t in self.turns)

    def to_dict(self) -> dict:
        return {"version": 1, **asdict(self)}

    @classmethod
    def from_dict(cls, data: object) -> Conversation:
        """A saved conversation, every field checked (ValueError says which is wrong): files on disk get cut
        short, edited by hand or replaced."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a saved conversation (version 1)")
        turns = data.get("turns", [])
        if not isinstance(turns, list) or not all(
            isinstance(t, dict) and isinstance(t.get("instruction"), str) and isinstance(t.get("code"), str)
            for t in turns
        ):
            raise ValueError("turns must be a list of objects with an instruction and code, both text")
        for key in ("language", "header"):
            if not isinstance(data.get(key, ""), str):
                raise ValueError(f"{key} must be text")
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError("meta must be an object")
        return cls(
            language=data.get("language", "python"),
            header=data.get("header", ""),
            turns=[Turn(t["instruction"], t["code"]) for t in turns],
            meta=meta,
        )

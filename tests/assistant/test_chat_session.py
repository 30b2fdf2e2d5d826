"""The chat's rules over a scripted backend: prompts per model kind, the paper's truncation, fitting the context.

tests/assistant/test_conversation.py and tests/cli/test_chat.py run the same session on real models.
"""

from __future__ import annotations

import pytest

from cga.assistant.chat import ChatSession
from cga.assistant.conversation import PYTHON_HEADER, Conversation
from cga.assistant.errors import PromptTooLong
from tests.fake_backend import FakeBackend

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure

TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_a_codegen_turn_is_a_comment_and_the_answer_is_cut_where_the_paper_cuts():
    backend = FakeBackend("x = [1, 2, 3]\nprint(x)\n# Next, the model goes on\nprint('junk')\n", codegen=True)
    session = ChatSession(backend, Conversation(header=PYTHON_HEADER), max_tokens=200)
    answer = session.respond("Make a list of 1, 2 and 3 and print it.")
    text = answer.text()
    assert backend.prompts == [PYTHON_HEADER + "# Make a list of 1, 2 and 3 and print it.\n"]
    assert text == "x = [1, 2, 3]\nprint(x)\n" and answer.stats.stop == "truncated"
    session.accept("Make a list of 1, 2 and 3 and print it.", text)
    session.respond("Sum it.").text()
    assert backend.prompts[1].endswith("print(x)\n\n# Sum it.\n")


def test_a_chat_model_gets_messages_and_its_code_block_is_the_turn():
    backend = FakeBackend(
        "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.", chat_template=TEMPLATE
    )
    session = ChatSession(backend, Conversation(), max_tokens=200)
    text = session.respond("Add two numbers.").text()
    assert backend.prompts[0].startswith("<|system|>You are a coding assistant.")
    assert backend.prompts[0].endswith("<|user|>Add two numbers.<|end|><|assistant|>")
    assert "# Next" not in text and text.endswith("Done.")  # not cut as a program: chat answers are prose too
    session.accept("Add two numbers.", text)
    assert session.conversation.turns[-1].code == "def add(a, b):\n    return a + b\n".rstrip("\n")


def test_the_oldest_turns_make_way_when_the_context_is_full():
    backend = FakeBackend("y = 2\n", n_ctx=200, codegen=True)
    session = ChatSession(backend, Conversation(header="import os\n\n"), max_tokens=64)
    for n in range(6):
        session.accept(f"Step {n}.", "value = " + "1" * 20)
    session.respond("Step 6.").text()
    assert session.dropped_turns > 0 and len(backend.prompts[0]) <= 200 - 64
    assert backend.prompts[0].startswith("import os\n\n") and backend.prompts[0].endswith("# Step 6.\n")


def test_a_header_that_does_not_fit_is_one_sentence():
    session = ChatSession(FakeBackend("", n_ctx=100, codegen=True), Conversation(header="x = 1\n" * 40), max_tokens=64)
    with pytest.raises(PromptTooLong, match="/reset or shorten them"):
        session.respond("Go on.")

"""The conversation buffer: MTPB prompts, the token budget, edits, undo, and saves that never half-write."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys

import pytest

from cga.assistant import conversation_store
from cga.assistant.chat import ChatSession
from cga.assistant.conversation import PYTHON_HEADER, Conversation
from cga.assistant.errors import PromptTooLong


def test_prompt_is_the_mtpb_concatenation():
    conv = Conversation(header=PYTHON_HEADER)
    conv.add("Assign the list [3, 1, 2] to a variable named 'xs'.", "xs = [3, 1, 2]\n")
    conv.add("Sort 'xs' in place.", "xs.sort()")
    assert conv.prompt("Print 'xs'.") == (
        "# Import libraries.\n\nimport numpy as np\n\n"
        "# Assign the list [3, 1, 2] to a variable named 'xs'.\nxs = [3, 1, 2]\n\n"
        "# Sort 'xs' in place.\nxs.sort()\n\n"
        "# Print 'xs'.\n"
    )


def test_comment_style_follows_the_language():
    assert Conversation(language="rust").comment("two\nlines") == "// two\n// lines\n"
    assert Conversation(language="sql").comment("count rows") == "-- count rows\n"


def test_user_edits_are_respected():
    conv = Conversation()
    conv.add("make a list", "xs = [1, 2]")
    conv.edit_last("xs = [1, 2, 3]  # edited\n")
    assert "xs = [1, 2, 3]  # edited\n" in conv.prompt("next")
    assert "xs = [1, 2]\n" not in conv.prompt("next")


def test_undo_and_reset_keep_the_header():
    conv = Conversation(header="import os\n\n")
    conv.add("a", "a = 1")
    conv.add("b", "b = 2")
    assert conv.undo().instruction == "b"
    assert conv.program() == "import os\n\n# a\na = 1\n\n"
    conv.reset()
    assert conv.program() == "import os\n\n" and conv.undo() is None


def words(text: str) -> list[int]:
    """A stand-in tokenizer where every whitespace-separated word is one token."""
    return list(range(len(text.split())))


def test_budget_drops_oldest_whole_turns_first():
    conv = Conversation(header="import os\n\n")
    for i in range(10):
        conv.add(f"step {i}", f"x{i} = {i} + {i}")
    tokens, dropped = conv.fit("final step", words, budget=30)
    assert len(tokens) <= 30 and dropped > 0
    kept = conv.prompt("final step", conv.turns[dropped:])
    assert kept.startswith("import os\n\n# step") and "x9 = 9 + 9" in kept
    assert f"# step {dropped - 1}\n" not in kept and f"# step {dropped}\n" in kept
    assert len(words(kept)) == len(tokens)


def test_fitting_a_long_conversation_tokenizes_what_is_kept_not_everything_per_dropped_turn():
    conv = Conversation(header="import os\n\n")
    for i in range(2000):
        conv.add(f"step {i}", f"x{i} = {i} + {i}")
    read: list[int] = []

    def counting(text: str) -> list[int]:
        read.append(len(text))
        return words(text)

    tokens, dropped = conv.fit("final step", counting, budget=60)
    assert len(tokens) <= 60 and 2000 - dropped >= 5  # as many turns kept as fit: 5 of 9 tokens each
    assert len(words(conv.prompt("final step", conv.turns[dropped - 1 :]))) > 60  # and no more
    assert sum(read) < 10 * len(conv.prompt("final step", conv.turns[dropped:]))  # the old way: 2,000 × the whole


def test_budget_too_small_for_the_latest_turn():
    conv = Conversation(header="import os\n\n")
    conv.add("one", "a = 1 " * 50)
    with pytest.raises(PromptTooLong, match="/reset"):
        conv.fit("next", words, budget=20)


def test_save_and_load_round_trip():
    conv = Conversation(language="python", header="import re\n\n")
    conv.add("match digits", "pattern = re.compile(r'\\d+')  # é, 🚀")
    path = conversation_store.save(conv, "round-trip")
    assert json.loads(path.read_text())["version"] == 1
    loaded = conversation_store.load("round-trip")
    assert loaded == conv


def test_bad_names_and_files_are_refused(isolated_home):
    with pytest.raises(conversation_store.ConversationError, match="not a usable name"):
        conversation_store.save(Conversation(), "../escape")
    with pytest.raises(conversation_store.ConversationError, match="No saved conversation named 'nope'"):
        conversation_store.load("nope")
    conversation_store.conversations_dir().mkdir(parents=True)
    (conversation_store.conversations_dir() / "broken.json").write_text("{not json")
    with pytest.raises(
        conversation_store.ConversationError, match="broken.json is damaged .*kept aside as broken.json.damaged-"
    ):
        conversation_store.load("broken")


SAVE_BIG = """
import sys
from cga.assistant import conversation_store
from cga.assistant.conversation import Conversation
conv = Conversation()
conv.add("a huge turn", "x = 1\\n" * 200_000)
try:
    conversation_store.save(conv, "kept")
except conversation_store.ConversationError as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_full_disk_leaves_the_previous_save_intact(isolated_home):
    conv = Conversation()
    conv.add("small", "y = 2")
    path = conversation_store.save(conv, "kept")
    before = path.read_bytes()

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run([sys.executable, "-c", SAVE_BIG], capture_output=True, text=True, preexec_fn=small_disk)
    assert result.returncode == 3, result.stderr
    assert "previous save is intact" in result.stdout
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["kept.json"]


def test_codegen_chat_prompts_in_mtpb_form(codegen2):
    session = ChatSession(codegen2, Conversation(header=PYTHON_HEADER), max_tokens=16)
    answer = "".join(session.respond("Assign 5 to a variable named 'n'."))
    session.accept("Assign 5 to a variable named 'n'.", answer)
    tokens = session.prompt_tokens("Print 'n'.")
    text = codegen2.text_of(tokens)
    assert text.startswith(PYTHON_HEADER + "# Assign 5 to a variable named 'n'.\n")
    assert text.endswith("# Print 'n'.\n")


def test_chat_template_model_gets_messages(smollm):
    session = ChatSession(smollm, Conversation(), max_tokens=48)
    assert session.uses_chat_template
    answer = "".join(session.respond("Write a Python function that adds two numbers."))
    session.accept("Write a Python function that adds two numbers.", answer)
    text = smollm.llm.detokenize(session.prompt_tokens("Now make it multiply."), special=True).decode()
    assert "adds two numbers" in text and "Now make it multiply." in text and "<|im_start|>" in text
    assert "```" not in session.conversation.turns[0].code

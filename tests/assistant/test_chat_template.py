"""A model's chat template is code from its file: rendered as transformers renders it, within time and size."""

from __future__ import annotations

import resource
import threading
import time

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from cga.assistant.chat_template import MAX_SECONDS, render
from cga.assistant.errors import ChatTemplateError
from cga.assistant.model_choice import embedded_default
from cga.core.model_info import read_model_info
from tests.gguf_edit import T, with_metadata
from tests.run_cli import run_cga

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Sort a list."},
    {"role": "assistant", "content": "sorted(xs)"},
    {"role": "user", "content": "In place."},
]


def test_a_real_template_renders_as_llama_cpp_python_renders_it():
    template = read_model_info(embedded_default()).chat_template
    theirs = Jinja2ChatFormatter(template, eos_token="", bos_token="")(messages=MESSAGES).prompt
    assert render(template, MESSAGES) == theirs and theirs.endswith("<|im_start|>assistant\n")


HOSTILE = {
    "nested loops that run for hours": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "nested loops that print gigabytes": "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}"
    "{% endfor %}{% endfor %}",
    "a string a billion long": "{{ 'x' * 10**9 }}",
    "a number with thirty million digits": "{{ 2 ** 100000000 }}",
    "a filter asked for a billion columns": "{{ 'a'|center(10**9) }}",
    "a namespace doubled forty times": "{% set ns = namespace(x='a') %}{% for i in range(40) %}"
    "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}",
    "a reach for Python's internals": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "a mutation of the messages": "{{ messages.append(1) }}",
    "its own refusal": "{{ raise_exception('Conversation roles must alternate') }}",
    "a syntax error": "{% for %}",
    "endless recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "a division by zero": "{{ 1 / 0 }}",
}


@pytest.mark.parametrize("what", HOSTILE)
def test_a_hostile_template_is_one_sentence_within_its_budget(what):
    start = time.monotonic()
    with pytest.raises(ChatTemplateError, match="^The model's chat template") as raised:
        render(HOSTILE[what], MESSAGES)
    assert time.monotonic() - start < MAX_SECONDS + 1
    assert "Traceback" not in str(raised.value) and len(str(raised.value)) < 400


def test_a_cancelled_rendering_stops_at_once():
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(ChatTemplateError, match="cancelled"):
        render(HOSTILE["nested loops that run for hours"], MESSAGES, cancel=cancel)
    assert time.monotonic() - start < MAX_SECONDS / 2


@pytest.mark.parametrize(
    "what", ["nested loops that run for hours", "its own refusal", "a syntax error", "a string a billion long"]
)
def test_chat_with_a_hostile_template_says_so_and_exits(tmp_path, isolated_home, what):
    model = with_metadata(
        embedded_default(), tmp_path / "hostile.gguf", {"tokenizer.chat_template": (T.STRING, HOSTILE[what])}
    )
    # A child's peak memory: llama-cpp-python alone compiled the billion-character string at load (4 GB).
    chat = run_cga(
        "chat",
        "--model",
        model,
        "-n",
        "8",
        input="Write hello world.\n",
        timeout=60,
        preexec=lambda: resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)),
    )
    assert chat.returncode == 1, chat.stderr
    assert chat.stderr.splitlines()[-1].startswith("Error: The model's chat template"), chat.stderr
    assert "Traceback" not in chat.stderr

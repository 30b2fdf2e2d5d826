"""The GGUF's embedded tokenizer gives transformers' ids and the text back byte for byte."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import gguf
import pytest

from cga.convert.pipeline import convert
from cga.convert.verify import codegen25_tiktoken
from cga.convert.vocab import byte_encoder
from cga.core.native import load_model

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = [
    "textwrap.py",
    "difflib.py",
    "argparse.py",
    "json/encoder.py",
    "csv.py",
    "shlex.py",
    "tokenize.py",
    "inspect.py",
    "string.py",
    "heapq.py",
]
HARD_CASES = [
    " " * 40 + "x = 1\n",  # a run longer than the longest whitespace token (31)
    "def f():\n\treturn 1\n\t\t\t\tpass\n" + "\t" * 12 + "deep\n",
    "if a:\n  \t  mixed = True\n    \t\tb = 2\n",
    "line one\r\nline two\r\n\r\n    indented\r\n",
    "café = 'naïve'\nπ = 3.14159\n变量 = '中文字符串'\n",
    "emoji = '🚀🔥👩‍💻'  # ✨ sparkles\n",
    "# " + "*" * 70 + "\n# " + "-" * 64 + "\n# " + "=" * 79 + "\n",
    "x  =  1   ;    y     =      2\n",
    "",
    "\n\n\n   \n",
]


def corpus() -> list[str]:
    texts = [(STDLIB / name).read_text(encoding="utf-8") for name in FILES]
    assert sum(map(len, texts)) > 300_000
    return texts + HARD_CASES


def gguf_pieces(path: Path) -> list[bytes]:
    """Each token's bytes, decoded from the file itself (not llama-cpp-python's detokenizer)."""
    reader = gguf.GGUFReader(path)
    tokens = reader.get_field(gguf.Keys.Tokenizer.LIST).contents()
    types = reader.get_field(gguf.Keys.Tokenizer.TOKEN_TYPE).contents()
    decode = {c: b for b, c in byte_encoder().items()}
    pieces = []
    for text, kind in zip(tokens, types, strict=True):
        if kind == gguf.TokenType.NORMAL:
            pieces.append(bytes(decode[c] for c in text))
        else:
            pieces.append(text.encode("utf-8"))
    return pieces


@pytest.fixture(scope="module")
def codegen1_gguf(codegen1, tmp_path_factory):
    return convert(codegen1.path, tmp_path_factory.mktemp("tok") / "c1.gguf", "q8_0").path


@pytest.fixture(scope="module")
def codegen25_gguf(codegen25, tmp_path_factory):
    return convert(codegen25.path, tmp_path_factory.mktemp("tok") / "c25.gguf", "q8_0").path


def test_codegen1_ids_match_transformers(codegen1, codegen1_gguf):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(codegen1.path))
    llm = load_model(codegen1_gguf, n_ctx=64)
    for text in corpus():
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == reference(text)["input_ids"], text[:60]


def test_whitespace_runs_are_single_tokens(codegen1_gguf):
    llm = load_model(codegen1_gguf, n_ctx=64)
    assert llm.tokenize(b"    return", add_bos=False, special=False) == [50284, 7783]
    assert llm.tokenize(b"\t\tx", add_bos=False, special=False)[0] == 50294


def test_codegen25_ids_match_tiktoken(codegen25_gguf):
    reference = codegen25_tiktoken()
    llm = load_model(codegen25_gguf, n_ctx=64)
    for text in corpus():
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == reference.encode(text), text[:60]


def test_codegen25_infill_test_vector(codegen25_gguf):
    """The published vector: prefix<mask_1>suffix<|endoftext|><sep><mask_1>."""
    llm = load_model(codegen25_gguf, n_ctx=64)
    ids = llm.tokenize(b"prefix<mask_1>suffix<|endoftext|><sep><mask_1>", add_bos=False, special=True)
    assert ids == [40290, 51199, 37333, 844, 50256, 50317, 51199]


@pytest.mark.parametrize("which", ["codegen1_gguf", "codegen25_gguf"])
def test_pieces_give_the_text_back_byte_for_byte(request, which):
    path = request.getfixturevalue(which)
    pieces = gguf_pieces(path)
    llm = load_model(path, n_ctx=64)
    for text in corpus():
        ids = llm.tokenize(text.encode(), add_bos=False, special=False)
        assert b"".join(pieces[i] for i in ids) == text.encode("utf-8")

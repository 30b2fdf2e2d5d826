"""Every public CodeGen checkpoint: what it is, where it lives, what it can do.

Sizes and layouts are from codegen-facts.md; parameter counts are the paper's
nominal sizes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    hub_id: str
    family: str
    params_b: float  # billions
    languages: str
    infill: bool
    mp_num: int | None  # CodeGen qkv blocks; None for CodeGen2.5 (Llama)
    license: str

    def file_gb(self, quant: str) -> float:
        """The GGUF's size at a type (bits per weight as llama.cpp's types average them)."""
        bits = {"f32": 32, "f16": 16, "q8_0": 8.5, "q5_k_m": 5.7, "q4_k_m": 4.9, "q4_0": 4.5}[quant]
        return self.params_b * bits / 8

    def memory_gb(self, quant: str) -> float:
        """Rough RAM for the weights at a type, plus 20 % for context and runtime."""
        return round(self.file_gb(quant) * 1.2, 1)


_CODEGEN1_DATA = {
    "nl": "natural language (the Pile)",
    "multi": "C, C++, Go, Java, JavaScript, Python",
    "mono": "Python",
}
_CODEGEN1_SIZES = {"350M": 0.35, "2B": 2.7, "6B": 6.1, "16B": 16.1}

CATALOG: tuple[CatalogEntry, ...] = (
    *(
        CatalogEntry(
            f"codegen-{size}-{data}",
            f"Salesforce/codegen-{size}-{data}",
            "codegen1",
            params,
            _CODEGEN1_DATA[data],
            False,
            4,
            "bsd-3-clause",
        )
        for size, params in _CODEGEN1_SIZES.items()
        for data in _CODEGEN1_DATA
    ),
    CatalogEntry("codegen2-1B", "Salesforce/codegen2-1B", "codegen2", 1.0, "The Stack (many)", True, 8, "apache-2.0"),
    CatalogEntry(
        "codegen2-3_7B", "Salesforce/codegen2-3_7B", "codegen2", 3.7, "The Stack (many)", True, 8, "apache-2.0"
    ),
    CatalogEntry("codegen2-7B", "Salesforce/codegen2-7B", "codegen2", 7.0, "The Stack (many)", True, 4, "apache-2.0"),
    CatalogEntry(
        "codegen2-16B", "Salesforce/codegen2-16B", "codegen2", 16.0, "The Stack (many)", True, 4, "apache-2.0"
    ),
    CatalogEntry(
        "codegen25-7b-multi",
        "Salesforce/codegen25-7b-multi",
        "codegen25",
        7.0,
        "The Stack (many)",
        True,
        None,
        "apache-2.0",
    ),
    CatalogEntry(
        "codegen25-7b-mono", "Salesforce/codegen25-7b-mono", "codegen25", 7.0, "Python", True, None, "apache-2.0"
    ),
    CatalogEntry(
        "codegen25-7b-instruct",
        "Salesforce/codegen25-7b-instruct",
        "codegen25",
        7.0,
        "Python",
        True,
        None,
        "research only",
    ),
    *(
        CatalogEntry(f"nsql-{size}", f"NumbersStation/nsql-{size}", "codegen1", params, "SQL", False, 4, "bsd-3-clause")
        for size, params in (("350M", 0.35), ("2B", 2.7), ("6B", 6.1))
    ),
)


def lookup(name: str) -> CatalogEntry | None:
    return next((e for e in CATALOG if e.name.lower() == name.lower()), None)


def known(name: str) -> CatalogEntry:
    """An entry the code names itself (a ranking, a default): a missing one is our mistake, not the user's."""
    entry = lookup(name)
    if entry is None:
        raise KeyError(f"{name} is not in the catalog")
    return entry


def closest(name: str) -> list[str]:
    return difflib.get_close_matches(name, [e.name for e in CATALOG], n=3, cutoff=0.6)

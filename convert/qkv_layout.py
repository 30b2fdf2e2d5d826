"""CodeGen's fused attention weights, and how they become llama.cpp's.

CodeGen stores Q, K and V in one `qkv_proj` matrix [3E, E] whose rows are cut
into `mp_num` blocks, a leftover of TPU model parallelism. Block c holds the
query, *value* and key rows (in that order, L = E/mp_num rows each) of heads
c·hp … c·hp+hp−1, where hp = n_head/mp_num.

llama.cpp's `phi2` graph wants the rows as [Q; K; V], each head-major, and
applies NEOX rope (pairs i, i+rd/2) where CodeGen applies GPT-J rope (pairs
2i, 2i+1). Permuting the first `rotary_dim` dims of every Q and K head so that
new[i] = old[2i] and new[i + rd/2] = old[2i+1] makes NEOX rope compute GPT-J
rope exactly; q·k is unchanged because both sides move alike, and V and the
dims past rotary_dim are not rotated, so they stay as they are.
"""

from __future__ import annotations

import numpy as np


def split_qkv(qkv: np.ndarray, mp_num: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V as [E, E] each, rows head-major, from a fused CodeGen qkv_proj."""
    three_e, e = qkv.shape
    blocks = qkv.reshape(mp_num, 3, three_e // (3 * mp_num), e)
    query, value, key = (blocks[:, i].reshape(e, e) for i in range(3))
    return query, key, value


def fuse_qkv(query: np.ndarray, key: np.ndarray, value: np.ndarray, mp_num: int) -> np.ndarray:
    """The inverse of split_qkv: CodeGen's blocked [3E, E] layout for mp_num blocks."""
    e = query.shape[0]
    parts = [m.reshape(mp_num, 1, e // mp_num, -1) for m in (query, value, key)]
    return np.concatenate(parts, axis=1).reshape(3 * e, -1)


def gptj_to_neox(rows: np.ndarray, n_head: int, rotary_dim: int) -> np.ndarray:
    """Reorder each head's rotary dims so NEOX rope computes GPT-J rope."""
    head_dim = rows.shape[0] // n_head
    order = np.concatenate([np.arange(0, rotary_dim, 2), np.arange(1, rotary_dim, 2), np.arange(rotary_dim, head_dim)])
    return rows.reshape(n_head, head_dim, -1)[:, order].reshape(rows.shape)


def codegen_qkv_to_phi2(qkv: np.ndarray, mp_num: int, n_head: int, rotary_dim: int) -> np.ndarray:
    """CodeGen's qkv_proj re-laid as phi2's attn_qkv: [Q; K; V], NEOX-ordered rope dims."""
    query, key, value = split_qkv(qkv, mp_num)
    query = gptj_to_neox(query, n_head, rotary_dim)
    key = gptj_to_neox(key, n_head, rotary_dim)
    return np.concatenate([query, key, value], axis=0)


def llama_rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """HF Llama's rotate-half Q/K rows in the interleaved order llama.cpp's rope expects."""
    return rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)

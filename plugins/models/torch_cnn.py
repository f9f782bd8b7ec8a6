"""The ``torch-cnn`` model: a small Eraslan et al. (2019) style CNN on one-hot DNA.

Conv1d(4, F, k) -> ReLU -> MaxPool(4) -> Conv1d(F, F, 5) -> ReLU -> MaxPool(pool2) -> flatten ->
Dropout -> Linear(hidden) -> ReLU -> Linear(2). The positional pooling lets the model see which motif
comes first; the hidden layer lets it combine motifs non-additively (``pool2=0, hidden=0`` gives the
position-free global-max-pool variant). One-hot input is built per mini-batch from the ``uint8`` codes, so
memory stays bounded by the batch size whatever the number of sequences. On the CPU, prediction
computes the first block (convolution, norm, ReLU, max-pool) from the codes by table lookup
(:mod:`motifprobe.engine.onehot_conv`, ``table_conv``): no one-hot tensor, about 4x less time in
that block, the same probabilities to float32 rounding. torch is imported only inside functions:
importing this module (and the engine) stays cheap.
"""
from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.metrics import auroc
from motifprobe.engine.models import SequenceModel
from motifprobe.engine.sequences import one_hot
from motifprobe.engine.model_files import bad_param

PLUGIN = "torch-cnn"
WEIGHTS = "model.safetensors"
MONITORS = ("auroc", "accuracy", "loss")
NORMS = ("group", "batch", "none")


def epoch_indices(labels: np.ndarray, balance: bool, rng: np.random.Generator) -> np.ndarray:
    """Training indices for one epoch.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer class labels (N,).
    balance : bool
        False: a permutation of ``0..N-1``. True: ``N`` indices drawn with replacement with
        weight ``1 / class_count``, so every class is drawn equally often on average.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``int64`` indices of length N.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not balance or n == 0:
        return rng.permutation(n).astype(np.int64)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return rng.choice(n, size=n, replace=True, p=weights / weights.sum()).astype(np.int64)


def early_stop_point(scores: list[float], patience: int, min_epochs: int, maximize: bool = True) -> tuple[int, int, bool]:
    """Where early stopping ends on per-epoch validation scores.

    Parameters
    ----------
    scores : list of float
        The monitored validation metric, one per epoch run so far (NaN is never an improvement).
    patience : int
        Stop after this many epochs without improvement (0 = never stop).
    min_epochs : int
        Never stop before this epoch.
    maximize : bool
        True for AUROC/accuracy, False for loss.

    Returns
    -------
    (epochs, best_epoch, stopped)
        Epochs run (``len(scores)`` unless it stopped), the 1-based best epoch (0 when none) and
        whether patience ended training.
    """
    best, best_epoch, since = None, 0, 0
    for epoch, score in enumerate(scores, 1):
        if np.isnan(score):
            score = -np.inf if maximize else np.inf
        if best is None or (score > best if maximize else score < best):
            best, best_epoch, since = score, epoch, 0
            continue
        since += 1
        if patience > 0 and since >= patience and epoch >= min_epochs:
            return epoch, best_epoch, True
    return len(scores), best_epoch, False


def _build_net(params: dict[str, Any], seq_length: int):
    from torch import nn

    f, k, pool2 = int(params["n_filters"]), int(params["kernel_size"]), int(params["pool2"])
    if pool2 <= 0:
        # Global max pool: position-free, so the model cannot see which motif comes first.
        head = [nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Dropout(float(params["dropout"])), nn.Linear(f, 2)]
    else:
        # Max pool then flatten: the linear layer sees where each feature fired (order, distance).
        n_out = (seq_length // 4) // pool2
        hidden = int(params["hidden"])
        if hidden > 0:
            # A hidden layer lets the readout combine motifs non-additively (AND in logit space).
            head = [nn.MaxPool1d(pool2), nn.Flatten(), nn.Dropout(float(params["dropout"])),
                    nn.Linear(f * n_out, hidden), nn.ReLU(), nn.Linear(hidden, 2)]
        else:
            head = [nn.MaxPool1d(pool2), nn.Flatten(), nn.Dropout(float(params["dropout"])), nn.Linear(f * n_out, 2)]
    # Batch norm after each convolution: without it the positional head sits on a loss plateau
    # for several epochs on presence data and early stopping ends training at the baseline.
    kind = params["norm"]
    if kind not in NORMS:
        raise MotifprobeError(f"unknown norm {kind!r}; allowed: {', '.join(NORMS)}")
    norm = {"batch": lambda: nn.BatchNorm1d(f), "group": lambda: nn.GroupNorm(4, f), "none": nn.Identity}[kind]
    return nn.Sequential(
        nn.Conv1d(4, f, k, padding="same"), norm(), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(f, f, int(params["kernel_size2"]), padding="same"), norm(), nn.ReLU(), *head)


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Use ``n`` torch threads inside the block (0 = leave torch's setting alone)."""
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


GPU_CHUNK = 4096
"""Sequences per forward pass on a GPU (at least; ``predict_batch_size`` when larger)."""


def device_one_hot(codes):
    """One-hot float32 (n, 4, L) of a uint8 code tensor, on the tensor's own device (N -> zeros)."""
    import torch

    return torch.nn.functional.one_hot(codes.long(), 5)[..., :4].permute(0, 2, 1).float().contiguous()


def first_block_tables(net) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """The table-lookup form of ``net``'s first block (Conv1d(4, F, k, padding="same") -> batch
    norm or none -> ReLU -> MaxPool1d): (tables, bias, k, pool), batch norm folded into the
    weights; None when the block is any other shape (e.g. group norm: not per position)."""
    import torch
    from torch import nn

    from motifprobe.engine.onehot_conv import chunk_tables

    if len(net) < 5:
        return None
    conv, norm, act, pool = net[0], net[1], net[2], net[3]
    if not (isinstance(conv, nn.Conv1d) and conv.in_channels == 4 and conv.padding == "same"
            and conv.stride == (1,) and conv.dilation == (1,) and conv.groups == 1 and conv.bias is not None
            and isinstance(act, nn.ReLU) and isinstance(pool, nn.MaxPool1d)
            and pool.kernel_size == pool.stride and pool.padding == 0 and pool.dilation == 1 and not pool.ceil_mode):
        return None
    weight = conv.weight.detach().double().cpu().numpy()
    bias = conv.bias.detach().double().cpu().numpy()
    if isinstance(norm, nn.BatchNorm1d) and not norm.training and norm.running_mean is not None:
        mean = norm.running_mean.detach().double()
        gamma = norm.weight.detach().double() if norm.affine else torch.ones_like(mean)
        beta = norm.bias.detach().double() if norm.affine else torch.zeros_like(mean)
        scale = (gamma * (norm.running_var.detach().double() + norm.eps).rsqrt()).cpu().numpy()
        weight = weight * scale[:, None, None]
        bias = (bias - mean.cpu().numpy()) * scale + beta.cpu().numpy()
    elif not isinstance(norm, nn.Identity):
        return None
    return chunk_tables(weight), bias.astype(np.float32), int(conv.kernel_size[0]), int(pool.kernel_size)


def _first_block_tensors(net) -> list:
    """The tensors the table form of ``net``'s first block is built from (conv and norm)."""
    modules = net._modules  # direct: Sequential.__getitem__ and named_parameters cost ~0.2 ms per batch
    conv, norm = modules["0"], modules["1"]
    return [*conv._parameters.values(), *norm._parameters.values(), *norm._buffers.values()]


def _batch(codes: np.ndarray):
    import torch

    return torch.from_numpy(one_hot(codes))


class TorchCNN(SequenceModel):
    """Two-layer 1-D CNN with a positional readout, trained with Adam and cross-entropy.

    Parameters
    ----------
    **params
        Declared in :attr:`parameters` (``motifprobe plugins torch-cnn`` lists them).

    Attributes
    ----------
    net_ : torch.nn.Sequential
        The trained network (best validation epoch when ``val`` was given).
    history_ : list of dict
        Per-epoch ``train_loss`` and, with validation data, ``val_loss``, ``val_accuracy``, ``val_auroc``.
    best_epoch_ : int
        1-based epoch whose weights were kept.
    n_epochs_ : int
        Epochs actually run (fewer than ``epochs`` after early stopping).
    stopped_early_ : bool
        True when patience ended training before ``epochs``.
    seq_length_ : int
        Sequence length seen in training.
    threads_ : int
        torch CPU threads used by ``fit`` (weights depend on it; same seed and threads, same bytes).
    """

    name = PLUGIN
    binary = True
    parameters = (
        Param("epochs", int, 30, "maximum number of training epochs", low=1),
        Param("lr", float, 3e-3, "Adam learning rate", low=0.0, low_open=True),
        Param("dropout", float, 0.2, "dropout rate before the final linear layer", low=0.0, high=1.0, high_open=True),
        Param("early_stop", int, 8, "patience: stop after this many epochs without validation improvement (0 = off)",
              low=0),
        Param("monitor", str, "auroc", "validation metric for early stopping", choices=MONITORS),
        Param("balance", bool, False, "draw training batches with class-balanced weighted sampling"),
        Param("batch_size", int, 128, "training mini-batch size", low=1),
        Param("predict_batch_size", int, 128, "sequences per forward pass in predict_proba (128 was fastest on 2 CPU "
              "cores)", low=1),
        Param("n_filters", int, 32, "filters in each convolution layer", low=1),
        Param("kernel_size", int, 15, "width of the first-layer convolution filters (at most the sequence length)",
              low=1),
        Param("kernel_size2", int, 5, "width of the second-layer convolution filters (in pooled positions)", low=1),
        Param("pool2", int, 4, "second max-pool window before the linear layer (0 = global max pool, position-free)",
              low=0),
        Param("hidden", int, 32, "units of a ReLU hidden layer before the output (0 = none: conv features -> linear)",
              low=0),
        Param("norm", str, "none", "normalization after each convolution", choices=NORMS),
        Param("min_epochs", int, 10, "early stopping never ends training before this epoch (the loss often plateaus "
              "first)", low=1),
        Param("lr_schedule", str, "none", "learning-rate schedule: plateau (multiply lr by lr_factor after lr_patience "
              "epochs without validation improvement) or none", choices=("plateau", "none")),
        Param("lr_factor", float, 0.5, "plateau schedule: factor applied to the learning rate", low=0.0, high=1.0,
              low_open=True, high_open=True),
        Param("lr_patience", int, 2, "plateau schedule: epochs without validation improvement before the lr drops",
              low=0),
        Param("table_conv", bool, True, "CPU prediction: the first convolution block by table lookup from the "
              "codes (same result to float32 rounding, several times faster); false: torch's modules on one-hot"),
        Param("num_threads", int, 2, "torch CPU threads during fit/predict; weights depend on it (0 = torch default: "
              "all cores)", low=0),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # declared parameters are checked and coerced there
        p = self.params
        if p["norm"] == "group" and int(p["n_filters"]) % 4:
            raise bad_param(PLUGIN, "n_filters", p["n_filters"], "a multiple of 4 with norm=group")

    def check_length(self, seq_length: int) -> None:
        """Refuse sequences too short for the architecture (one line naming the parameter)."""
        p = self.params
        if seq_length < 4:
            raise MotifprobeError(f"{PLUGIN} needs sequences of length 4 or more, got {seq_length}")
        if int(p["kernel_size"]) > seq_length:
            raise bad_param(PLUGIN, "kernel_size", p["kernel_size"], f"at most the sequence length, {seq_length}")
        if int(p["pool2"]) > 0 and (seq_length // 4) // int(p["pool2"]) < 1:
            raise bad_param(PLUGIN, "pool2", p["pool2"], f"0 or at most {seq_length // 4} for sequences of "
                            f"length {seq_length}")

    # -- training ----------------------------------------------------------------------------
    def _evaluate(self, codes: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        step = self.predict_chunk
        with self._predict_context():  # unchecked: a diverged epoch scores NaN (never the best), it does not fail
            probs = np.concatenate([self._predict_proba(codes[lo:lo + step]) for lo in range(0, len(codes), step)])
        probs = probs.astype(np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        p_true = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
        return {"val_loss": float(-np.log(p_true).mean()),
                "val_accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
                "val_auroc": auroc(labels, probs[:, 1])}

    def _fit(self, codes, labels, val, seed, progress) -> None:
        """Train on codes (N, L) and 0/1 labels; early-stop on ``val`` by ``monitor``."""
        import torch

        self.check_length(self.seq_length_)
        self.device_ = "cpu"  # training runs on the CPU (same seed and threads, same bytes); set_device after
        p = self.params
        rng = np.random.default_rng(seed)
        torch_seed = int(seed) if seed is not None else int(rng.integers(2**31))
        epochs, bs, patience = int(p["epochs"]), int(p["batch_size"]), int(p["early_stop"])
        maximize = p["monitor"] != "loss"
        self.history_: list[dict[str, float]] = []
        self.stopped_early_ = False
        best_state, scores = None, []
        with torch.random.fork_rng(devices=[]), _threads(int(p["num_threads"])):
            torch.manual_seed(torch_seed)
            self.threads_ = int(torch.get_num_threads())
            self.net_ = _build_net(p, self.seq_length_)
            optimizer = torch.optim.Adam(self.net_.parameters(), lr=float(p["lr"]))
            scheduler = None
            if p["lr_schedule"] == "plateau" and val is not None:
                scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    optimizer, mode="max" if maximize else "min", factor=float(p["lr_factor"]),
                    patience=int(p["lr_patience"]))
            loss_fn = torch.nn.CrossEntropyLoss()
            for epoch in range(1, epochs + 1):
                self.net_.train()
                order = epoch_indices(labels, bool(p["balance"]), rng)
                total, seen = 0.0, 0
                for lo in range(0, len(order), bs):
                    idx = order[lo:lo + bs]
                    x, y = _batch(codes[idx]), torch.from_numpy(labels[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(self.net_(x), y)
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * len(idx)
                    seen += len(idx)
                record = {"epoch": epoch, "train_loss": total / max(seen, 1),
                          "lr": float(optimizer.param_groups[0]["lr"])}
                if val is not None:
                    record.update(self._evaluate(*val))
                self.history_.append(record)
                if progress is not None:
                    progress(total=epochs, **record)
                if val is None:
                    continue
                scores.append(record["val_" + p["monitor"]])
                # Training often sits on a loss plateau for a few epochs before it takes off (min_epochs).
                _, best, stop = early_stop_point(scores, patience, int(p["min_epochs"]), maximize)
                if best == epoch:
                    best_state = copy.deepcopy(self.net_.state_dict())
                    self.best_epoch_ = epoch
                if stop:
                    self.stopped_early_ = True
                    break
                if scheduler is not None:
                    scheduler.step(scores[-1] if np.isfinite(scores[-1]) else (-np.inf if maximize else np.inf))
        self.n_epochs_ = len(self.history_)
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        else:
            self.best_epoch_ = self.n_epochs_
        self.net_.eval()

    # -- prediction ----------------------------------------------------------------------------
    @property
    def predict_chunk(self) -> int:
        """``predict_batch_size`` on the CPU; on a GPU at least :data:`GPU_CHUNK` (small batches
        would leave it idle between launches)."""
        size = int(self.params["predict_batch_size"])
        return size if getattr(self, "device_", "cpu") == "cpu" else max(size, GPU_CHUNK)

    @contextlib.contextmanager
    def _predict_context(self) -> Iterator[None]:
        import torch

        self.net_.eval()
        with torch.inference_mode(), _threads(int(self.params["num_threads"])):  # once per call: costly to switch
            yield

    @property
    def predict_streams(self) -> int:
        """On the CPU, ``num_threads`` single-threaded streams (faster than one stream of that many
        threads: no thread barriers inside each small layer); on a GPU, one."""
        return 1 if getattr(self, "device_", "cpu") != "cpu" else max(1, int(self.params["num_threads"]) or 1)

    @contextlib.contextmanager
    def _stream_context(self) -> Iterator[None]:
        import torch

        self.net_.eval()
        torch.set_num_threads(1)  # this pool thread's own OpenMP setting: the caller's is untouched
        with torch.inference_mode():
            yield

    def _predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Softmax class probabilities (n, 2)."""
        import torch

        device = getattr(self, "device_", "cpu")
        if device == "cpu":
            block = self._table_block() if self.params["table_conv"] else None
            if block is None:
                return torch.softmax(self.net_(_batch(codes)), dim=1).numpy()
            from motifprobe.engine.onehot_conv import conv_pool_relu

            first, rest = block
            return torch.softmax(rest(torch.from_numpy(conv_pool_relu(codes, *first))), dim=1).numpy()
        # To the GPU as uint8 codes from pinned memory (16x fewer bytes than float32 one-hot,
        # copied asynchronously), one-hot built there.
        x = torch.from_numpy(np.ascontiguousarray(codes)).pin_memory().to(device, non_blocking=True)
        return torch.softmax(self.net_(device_one_hot(x)), dim=1).cpu().numpy()

    def _table_block(self) -> tuple | None:
        """(:func:`first_block_tables` of ``net_``, the modules after its first block), or None when
        the first block has no table form; rebuilt when ``net_``, any of its first block's tensors,
        or their contents (each write bumps a tensor's version) change (a few ms)."""
        net = self.net_
        tensors = _first_block_tensors(net)
        key = (net, net._modules["1"].training, *(id(t) for t in tensors if t is not None),
               *(t._version for t in tensors if t is not None))
        cached = self.__dict__.get("_table_cache")
        if cached is None or cached[0] != key:
            first = first_block_tables(net)
            # the tensors stay referenced with the key, so their ids cannot be reused by others
            cached = (key, None if first is None else (first, net[4:]), tensors)
            self._table_cache = cached  # one tuple assigned at once: safe for concurrent streams
        return cached[1]

    def set_device(self, device: str = "auto") -> str:
        """Predict on ``device`` (``auto``: cuda when torch sees a GPU); training always runs on the CPU."""
        from motifprobe.engine.models import torch_device

        self.device_ = torch_device(device)
        if "net_" in self.__dict__:
            self.net_.to(self.device_)
        return self.device_

    # -- persistence ---------------------------------------------------------------------------
    def _save_weights(self, directory: Path) -> list[str]:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in self.net_.state_dict().items()}, str(directory / WEIGHTS))
        return [WEIGHTS]

    def _load_weights(self, directory: Path, config: dict[str, Any]) -> None:
        import torch
        from safetensors.torch import load_file

        self.check_length(self.seq_length_)
        state = load_file(str(directory / WEIGHTS))
        if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
            raise ValueError("the weights hold non-finite values")
        with torch.device("meta"):  # shapes only: a config edited to a huge net allocates nothing
            expected = {k: tuple(v.shape) for k, v in _build_net(self.params, self.seq_length_).state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if found != expected:
            wrong = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
            raise ValueError(f"the weights do not fit the config's architecture ({', '.join(wrong[:3])})")
        self.net_ = _build_net(self.params, self.seq_length_)
        self.net_.load_state_dict(state, strict=True)
        self.net_.eval()
        self.history_ = getattr(self, "history_", [])


@hookimpl
def register_models(register):
    register("torch-cnn", TorchCNN, aliases=("cnn",))

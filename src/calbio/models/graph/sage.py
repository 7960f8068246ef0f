"""``sage``: a GraphSAGE link predictor on the training graph (PyTorch Geometric, optional extra).

Node features are the L2-normalised embedding rows; two (``layers``) ``SAGEConv`` layers with mean
aggregation turn them into node vectors ``h``, and a pair scores ``h_a . h_b``. GraphSAGE adds a
root term (each node's own features) to the neighbour mean, so an entity without training pairs
still gets a vector from its own features: the model scores cold-start entities.

Training is full-batch and leakage-aware. Every epoch a fresh ``supervision_fraction`` of the
training pairs is removed from the message-passing graph and used as positive targets (a model
never reads the edge it predicts); sampled non-edges (half uniform, half degree-proportional) are
the negatives; and the message edges of a ``node_dropout`` fraction of entities are dropped, so
the model also learns to score entities it sees without neighbours (cold start). Seeded, CPU.

``torch_geometric`` is imported only when a model is fitted or loaded: ``pip install
calbio[graph]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from calbio.core.errors import CalbioInputError
from calbio.core.graph import degrees, in_sorted, known_keys, pair_keys
from calbio.core.options import (
    OptionSpec,
    at_least,
    check_options,
    fraction,
    non_negative,
    positive,
    spec_table,
)
from calbio.core.seeds import child_seed, seed_or_default, stream
from calbio.data.types import Embeddings, MappedPairs
from calbio.models.base import AssociationModelBase
from calbio.models.cal.estimator import store_params
from calbio.models.persistence import load_module_arrays, module_arrays
from calbio.models.registry import register_model
from calbio.scoring import l2_normalize


def _encoder(dim: int, hidden: int, out: int, layers: int, dropout: float) -> torch.nn.Module:
    """A stack of SAGEConv layers (mean aggregation, ReLU between layers)."""
    try:
        from torch_geometric.nn import SAGEConv
    except ModuleNotFoundError:
        raise CalbioInputError(
            "model 'sage' needs PyTorch Geometric: pip install 'calbio[graph]'"
        ) from None

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [dim] + [hidden] * (layers - 1) + [out]
            self.convs = torch.nn.ModuleList(
                SAGEConv(sizes[i], sizes[i + 1], aggr="mean") for i in range(layers)
            )

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            for i, conv in enumerate(self.convs):
                x = conv(x, edge_index)
                if i < len(self.convs) - 1:
                    x = torch.nn.functional.dropout(torch.relu(x), dropout, self.training)
            return x

    return Encoder()


def _undirected(e: np.ndarray) -> torch.Tensor:
    """(2, 2m) edge_index with both directions of the (m, 2) pairs."""
    t = torch.from_numpy(np.ascontiguousarray(e, dtype=np.int64))
    return torch.cat([t.T, t.flip(1).T], dim=1)


# GraphSAGE's parameters, declared once (default, check, help); not offered on the CLI.
def _spec(*args: Any, **kwargs: Any) -> OptionSpec:
    return OptionSpec(*args, **kwargs, cli=False)


SAGE_SPECS: dict[str, OptionSpec] = spec_table(
    [
        _spec("hidden", int, 128, "Hidden width of the SAGEConv layers", at_least(1)),
        _spec("out", int, 64, "Output (embedding) width", at_least(1)),
        _spec("layers", int, 2, "SAGEConv layers", at_least(1)),
        _spec("epochs", int, 150, "Full-graph training epochs", at_least(1)),
        _spec("lr", float, 0.01, "Adam learning rate", positive()),
        _spec("weight_decay", float, 0.0, "Adam weight decay", non_negative()),
        _spec("dropout", float, 0.1, "Feature dropout", fraction(low_open=False)),
        _spec("supervision_fraction", float, 0.3, "Share of edges used as targets", fraction()),
        _spec("node_dropout", float, 0.1, "Share of nodes dropped", fraction(low_open=False)),
        _spec("n_negatives", int, 1, "Negatives per target edge", at_least(1)),
        _spec("threads", int, 1, "torch CPU threads", at_least(1), optional=True),
    ]
)


@register_model("sage")
class SAGE(AssociationModelBase):
    """GraphSAGE link predictor: SAGEConv encoder over the training graph, dot-product decoder."""

    uses_graph: ClassVar[bool] = True
    cold_start: ClassVar[bool] = True

    def __init__(
        self,
        *,
        hidden: int = 128,
        out: int = 64,
        layers: int = 2,
        epochs: int = 150,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        dropout: float = 0.1,
        supervision_fraction: float = 0.3,
        node_dropout: float = 0.1,
        n_negatives: int = 1,
        threads: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        store_params(self, locals())

    def check_params(self) -> None:
        """Validate every parameter against :data:`SAGE_SPECS` before any input is read."""
        check_options(SAGE_SPECS, {n: getattr(self, n) for n in SAGE_SPECS}, skip_unset=False)

    def _build(self, dim: int) -> torch.nn.Module:
        return _encoder(dim, self.hidden, self.out, self.layers, self.dropout)

    def _fit(
        self,
        emb: Embeddings,
        mapped: MappedPairs,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> None:
        t0 = time.perf_counter()
        seed = seed_or_default(self.random_state)
        threads_before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            self._train(emb, mapped, seed, progress)
        finally:
            torch.set_num_threads(threads_before)
        self.fit_seconds_ = time.perf_counter() - t0

    def _train(
        self,
        emb: Embeddings,
        mapped: MappedPairs,
        seed: int,
        progress: Callable[[int, int, float], None] | None,
    ) -> None:
        torch.manual_seed(child_seed(seed, "init"))
        rng = stream(seed, "sage/sampling")
        n = len(emb)
        E = l2_normalize(emb.X)
        x = torch.from_numpy(E)
        e = np.asarray(mapped.idx, dtype=np.int64).reshape(-1, 2)
        deg = degrees(e, n).astype(np.float64)
        universe = np.flatnonzero(deg > 0)
        p_deg = deg[universe] / deg[universe].sum()
        known = known_keys(e, n)
        enc = self._build(E.shape[1])
        opt = torch.optim.Adam(enc.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n_sup = max(1, int(round(self.supervision_fraction * len(e))))
        losses = []
        for epoch in range(self.epochs):
            t_ep = time.perf_counter()
            enc.train()
            perm = rng.permutation(len(e))
            sup, msg = e[perm[:n_sup]], e[perm[n_sup:]]
            dropped = rng.random(n) < self.node_dropout
            msg = msg[~(dropped[msg[:, 0]] | dropped[msg[:, 1]])]
            k = n_sup * self.n_negatives
            anchors = np.repeat(sup, self.n_negatives, axis=0)[
                np.arange(k), rng.integers(0, 2, size=k)
            ]
            partner = np.where(
                rng.random(k) < 0.5,
                rng.choice(universe, size=k),
                rng.choice(universe, size=k, p=p_deg),
            )
            neg = np.stack([anchors, partner], axis=1)
            nk = pair_keys(neg, n)
            neg = neg[(neg[:, 0] != neg[:, 1]) & ~in_sorted(nk, known)]  # known: sorted keys
            h = enc(x, _undirected(msg))
            pairs = torch.from_numpy(np.concatenate([sup, neg]))
            logits = (h[pairs[:, 0]] * h[pairs[:, 1]]).sum(dim=1)
            target = torch.cat([torch.ones(len(sup)), torch.zeros(len(neg))])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if progress is not None:
                progress(epoch + 1, self.epochs, time.perf_counter() - t_ep)
        self.module_ = enc
        self.embedding_ = E
        self.loss_ = losses
        self.node_vectors_ = self.embed(e)

    def embed(self, train_idx: np.ndarray) -> np.ndarray:
        """Node vectors of the fitted encoder run over another graph (GraphSAGE is inductive)."""
        if not hasattr(self, "module_"):
            self._check_fitted()
        e = np.asarray(train_idx, dtype=np.int64).reshape(-1, 2)
        if e.size and (e.min() < 0 or e.max() >= len(self.embedding_)):
            raise CalbioInputError("pair indices out of range of the model's entities")
        self.module_.eval()
        with torch.no_grad():
            h = self.module_(torch.from_numpy(self.embedding_), _undirected(e))
        return h.numpy().astype(np.float32)

    def __sklearn_is_fitted__(self) -> bool:
        """True once ``fit`` or ``load`` has run."""
        return hasattr(self, "node_vectors_")

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(h, h)``: the score is the inner product of the GraphSAGE node vectors."""
        self._check_fitted()
        return self.node_vectors_, self.node_vectors_

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        h = self.node_vectors_
        return np.einsum("ij,ij->i", h[idx[:, 0]], h[idx[:, 1]], dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = module_arrays(self.module_)
        arrays["node_vectors"] = self.node_vectors_
        arrays["embedding"] = self.embedding_
        state = {
            "dim": int(self.embedding_.shape[1]),
            "loss": [float(v) for v in self.loss_],
            "fit_seconds": float(self.fit_seconds_),
        }
        return arrays, state

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.module_ = load_module_arrays(self._build(int(state["dim"])), arrays)
        self.node_vectors_ = arrays["node_vectors"]
        self.embedding_ = arrays["embedding"]
        self.loss_ = list(state["loss"])
        self.fit_seconds_ = float(state["fit_seconds"])

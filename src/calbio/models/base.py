"""The one interface every association model implements, and the sklearn-style base class.

A model is fitted on an embedding table plus known pairs (row indices into that table) and then
scores any pair of the table's entities; higher means more likely associated. Evaluation,
retrieval and persistence only ever see this interface (:class:`AssociationModel`), so CAL, the
graph shortcuts, the GNN, the hybrid and a user's own class are compared on equal terms.

:class:`AssociationModelBase` gives a subclass everything but the science:

* scikit-learn's estimator contract (``get_params``/``set_params``/``clone``; ``__init__`` only
  stores parameters; a method called before ``fit`` raises ``NotFittedError``);
* input coercion at the door (files/frames/arrays -> ``Embeddings``/``MappedPairs``);
* ``score_pairs`` on names or indices (through the one door for pairs,
  :func:`calbio.data.coerce.as_mapped_pairs`), ``score_rows`` (dense blocks, for filtered
  ranking);
* the one ranking of partners: ``rank_partners`` (every other entity of one entity, best
  first), ``query`` (its first rows) and ``partner_ranks`` (the rank of given pairs);
* ``save``/``load`` through :mod:`calbio.models.persistence` (safetensors + JSON, no pickle).

A subclass implements ``_fit(emb, mapped)``, ``_score_idx(idx)`` and, to be saved,
``_get_state()`` / ``_set_state(arrays, state)``. Where the score is an inner product
``left[a] . right[b]`` it also returns the factors from ``score_vectors()``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from calbio.core.errors import CalbioInputError
from calbio.data.coerce import EmbeddingsLike, PairsLike, as_embeddings, as_mapped_pairs
from calbio.data.types import Embeddings, MappedPairs

if TYPE_CHECKING:
    from calbio.data.identifiers import IdTablesLike

# The trainer's per-epoch callback ``progress(epoch, n_epochs, loss)``, or None.
Progress = Callable[[int, int, float], None] | None
# Dense elements materialised per block when a model without factors scores a row block.
_ROW_BLOCK_ELEMS = 4_000_000
# Pairs per block when ranking pairs against all entities (partner_ranks).
_RANK_BLOCK = 1024


@runtime_checkable
class AssociationModel(Protocol):
    """What evaluation, retrieval and persistence need from a model."""

    def fit(self, embeddings: Any, pairs: Any) -> AssociationModel:
        """Fit on an embedding table and known pairs; returns self."""
        ...

    def score_pairs(self, pairs: Any) -> np.ndarray:
        """Scores (float64) of pairs given as names or an (m, 2) int array of rows."""
        ...

    def score_rows(self, queries: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
        """Dense (len(queries), len(candidates)) score matrix over table rows."""
        ...

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Factors ``(left, right)`` when score(a, b) = left[a] . right[b], else None."""
        ...


class AssociationModelBase(BaseEstimator):
    """Base class: sklearn contract, input coercion, row scoring, query and persistence.

    Class attributes a subclass may set:

    * ``uses_graph``: scores depend on the training graph (an entity with no training pairs
      gets no information from it); evaluation then also reports warm/cold pairs separately.
    * ``cold_start``: the model can score an entity that has no training pairs. Graph
      heuristics set this False and are not scored on cold-start test sets.
    """

    uses_graph: ClassVar[bool] = False
    cold_start: ClassVar[bool] = True
    registry_name: ClassVar[str | None] = None

    # ------------------------------------------------------------------ contract
    def fit(
        self,
        embeddings: EmbeddingsLike | np.ndarray,
        pairs: PairsLike,
        *,
        min_mapped: float | None = None,
        progress: Progress = None,
        id_tables: IdTablesLike = None,
    ) -> AssociationModelBase:
        """Check every parameter, coerce the inputs once, then fit on the known pairs; returns self.

        ``id_tables``: an ``IdResolver`` (or tables folder) converting pair identifiers.
        """
        self._prepare_fit()  # before any input is read
        emb = as_embeddings(embeddings)
        mapped = as_mapped_pairs(pairs, emb, min_mapped, id_tables)
        if len(mapped) < 2:
            raise CalbioInputError("fewer than 2 pairs to train on", getattr(pairs, "source", None))
        if progress is None and getattr(self, "verbose", False):
            from calbio.core.logs import LogProgress, logger

            logger.info(
                "fitting %s on %d pairs over %d entities",
                type(self).__name__,
                len(mapped),
                len(emb),
            )
            progress = LogProgress()
        self._fit(emb, mapped, progress=progress)
        self.names_ = np.asarray(emb.names, dtype=object)
        self.n_entities_ = len(emb)
        self.train_pairs_ = mapped.idx.copy()
        self.mapping_stats_ = dict(mapped.stats)
        self.sources_ = {
            "embeddings": {"path": emb.source, "sha256": emb.sha256},
            "pairs": {
                "path": getattr(pairs, "source", ""),
                "sha256": getattr(pairs, "sha256", None),
            },
        }
        return self

    def check_params(self) -> None:
        """Validate every parameter, reading no data (models with parameters override this)."""

    def _prepare_fit(self) -> None:
        """The first step of :meth:`fit`, before any input is read: check the parameters."""
        self.check_params()

    def _fit(self, emb: Embeddings, mapped: MappedPairs, progress: Progress = None) -> None:
        raise NotImplementedError

    def _score_idx(self, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(left, right)`` with score(a, b) = left[a] . right[b], or None if not factorised."""
        return None

    # ------------------------------------------------------------------ fitted state
    def __sklearn_is_fitted__(self) -> bool:
        """True once ``fit`` or ``load`` has run."""
        return hasattr(self, "names_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"this {type(self).__name__} instance is not fitted yet; call fit() or load()"
            )

    # ------------------------------------------------------------------ scoring
    def pair_index(self, pairs: PairsLike, id_tables: IdTablesLike = None) -> np.ndarray:
        """Resolve pairs (names or rows) to an (m, 2) int64 array of this model's rows.

        Through the one door, :func:`calbio.data.coerce.as_mapped_pairs`: rows are checked and
        kept in order; names are matched (and deduplicated) as in ``fit``.
        """
        self._check_fitted()
        return as_mapped_pairs(pairs, self.entity_table(), 0.0, id_tables).idx

    def score_pairs(self, pairs: PairsLike) -> np.ndarray:
        """Association scores (float64) for pairs of fitted entities (names or row indices)."""
        idx = self.pair_index(pairs)
        return np.asarray(self._score_idx(idx), dtype=np.float64)

    def score_rows(self, queries: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
        """Dense (len(queries), len(candidates)) scores; candidates default to all entities."""
        self._check_fitted()
        q = np.asarray(queries, dtype=np.int64).ravel()
        c = (
            np.arange(self.n_entities_, dtype=np.int64)
            if candidates is None
            else np.asarray(candidates, dtype=np.int64).ravel()
        )
        vec = self.score_vectors()
        if vec is not None:
            left, right = vec
            return np.asarray(left[q] @ right[c].T, dtype=np.float64)
        out = np.empty((len(q), len(c)), dtype=np.float64)
        block = max(1, _ROW_BLOCK_ELEMS // max(len(c), 1))
        for s in range(0, len(q), block):
            qb = q[s : s + block]
            grid = np.stack([np.repeat(qb, len(c)), np.tile(c, len(qb))], axis=1)
            out[s : s + len(qb)] = self._score_idx(grid).reshape(len(qb), len(c))
        return out

    # ------------------------------------------------------------------ entities
    def entity_table(self) -> Embeddings:
        """The fitted entity index as an ``Embeddings`` (names only matter for lookups)."""
        self._check_fitted()
        X = getattr(self, "embedding_", None)
        if X is None:
            X = np.ones((self.n_entities_, 1), np.float32)
        return Embeddings(self.names_, X, source="model")

    def index_of(self, name: str, id_tables: IdTablesLike = None) -> int:
        """Row of an entity: exact, case-insensitive, then (with identifier tables) converted."""
        from calbio.data.matching import (
            case_candidates,
            describe_case_ambiguous,
            resolve_identifiers,
        )

        self._check_fitted()
        table = self.entity_table()
        rows, _ = resolve_identifiers(np.array([name], dtype=object), table, id_tables)
        if rows[0] >= 0:
            return int(rows[0])
        amb = case_candidates(np.array([name], dtype=object), table)
        if amb:
            raise CalbioInputError(describe_case_ambiguous(str(name), amb[str(name)]))
        raise CalbioInputError(f"entity {name!r} is not in the model's entity index")

    def training_partners(self, i: int) -> np.ndarray:
        """Rows paired with row ``i`` in the training pairs."""
        tr = self.train_pairs_
        return np.concatenate([tr[tr[:, 0] == i, 1], tr[tr[:, 1] == i, 0]])

    def _row(self, entity: str | int | np.integer, id_tables: IdTablesLike = None) -> int:
        """Row of an entity given by name (matched as in :meth:`index_of`) or by row."""
        if isinstance(entity, int | np.integer) and not isinstance(entity, bool):
            self._check_fitted()
            if not 0 <= int(entity) < self.n_entities_:
                raise CalbioInputError(f"entity row {int(entity)} is out of range")
            return int(entity)
        return self.index_of(str(entity), id_tables)

    def rank_partners(self, entity: str | int, id_tables: IdTablesLike = None) -> pd.DataFrame:
        """Every other entity as a partner of ``entity``, best first: the one ranking.

        Columns: ``rank`` (1 = best among all other entities; equal scores keep row order),
        ``partner``, ``association``, ``cosine`` (when the model has an embedding) and
        ``training_pair``. ``entity``: a name (matched as in :meth:`index_of`) or a row.
        """
        i = self._row(entity, id_tables)
        row = self.score_rows(np.array([i]))[0].astype(np.float64)
        row[i] = -np.inf  # an entity is not its own partner
        order = np.argsort(-row, kind="stable")[: len(row) - 1]
        table = {
            "rank": np.arange(1, len(order) + 1),
            "partner": self.names_[order],
            "association": row[order],
        }
        E = getattr(self, "embedding_", None)
        if E is not None:
            table["cosine"] = (E[order] @ E[i]).astype(np.float64)
        table["training_pair"] = np.isin(order, self.training_partners(i))
        return pd.DataFrame(table)

    def query(self, name: str, top: int = 20, id_tables: IdTablesLike = None) -> pd.DataFrame:
        """The ``top`` best partners of one entity (:meth:`rank_partners`, first rows)."""
        from calbio.core.options import check_top

        check_top(top)
        return self.rank_partners(name, id_tables).head(top)

    def partner_ranks(
        self, pairs: PairsLike, vectors: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Rank (1 = best) of b among all partners of a, for each pair (a, b).

        The query itself is excluded and ties count in the pair's favour (1 + the number of
        entities scoring strictly higher). ``vectors``: other factors ``(left, right)`` to rank
        by (CAL's other score kinds), default the model's own scores. Blocks of pairs x all
        entities; the n x n matrix never exists.
        """
        idx = self.pair_index(pairs)
        if vectors is None:
            rows_of = self.score_rows
        else:
            left, right = vectors

            def rows_of(q: np.ndarray) -> np.ndarray:
                return left[q] @ right.T

        q, other = idx[:, 0], idx[:, 1]
        out = np.empty(len(q), dtype=np.int64)
        for start in range(0, len(q), _RANK_BLOCK):
            qs, os_ = q[start : start + _RANK_BLOCK], other[start : start + _RANK_BLOCK]
            rows = np.array(rows_of(qs), dtype=np.float64)  # (block, n)
            at = np.arange(rows.shape[0])
            rows[at, qs] = -np.inf
            out[start : start + len(qs)] = 1 + (rows > rows[at, os_][:, None]).sum(axis=1)
        return out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted arrays (saved as safetensors) and JSON-able fitted values of the subclass."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    def save(
        self,
        path: str | Path,
        *,
        force: bool = False,
        extra_metadata: dict | None = None,
        extra_files: dict[str, Any] | None = None,
    ) -> Path:
        """Write a model directory (safetensors + JSON + readable CSV tables; no pickle)."""
        from calbio.models.persistence import save_model

        return save_model(
            self, path, force=force, extra_metadata=extra_metadata, extra_files=extra_files
        )

    @classmethod
    def load(cls, path: str | Path) -> AssociationModelBase:
        """Load a model directory written by :meth:`save` (checks format, shapes, finiteness)."""
        from calbio.models.persistence import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise CalbioInputError(
                f"model directory holds a {type(model).__name__}, not a {cls.__name__}", path
            )
        return model

"""Public datasets fetched with checksums: ``fetch(name)`` returns a verified local path."""

from calbio.datasets.registry import (
    REGISTRY,
    Dataset,
    FetchResult,
    fetch,
    get_dataset,
    install,
    list_datasets,
    resolve_data_dir,
)

__all__ = [
    "REGISTRY",
    "Dataset",
    "FetchResult",
    "fetch",
    "get_dataset",
    "install",
    "list_datasets",
    "resolve_data_dir",
]

"""Registry of public datasets and a hash-checked, cached fetch built on pooch.

Every file is first fetched by pooch into a staging folder inside the cache, hashed, and
only moved into the cache when its hash matches: the registry's ``known_hash``, or for
entries without one the sha256 recorded in the cache's ``calbio-fetch.json`` manifest on
the first download (trust on first use). A mismatching file never enters the cache.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calbio.core.errors import CalbioInputError
from calbio.core.io import write_json_atomic

MANIFEST = "calbio-fetch.json"
ENV_VAR = "CALBIO_DATA_DIR"
TOFU = "recorded on first download (trust on first use)"


@dataclass(frozen=True)
class Dataset:
    """One public file: where it lives, how to check it, and how to cite it."""

    name: str
    filename: str
    url: str
    known_hash: str | None  # "md5:..." / "sha256:..."; None = trust on first use
    size_bytes: int | None
    licence: str
    citation: str
    description: str
    usage: str | None = None
    companions: tuple[str, ...] = ()  # datasets fetched along with this one


@dataclass(frozen=True)
class FetchResult:
    """What ``install`` did: the local path, its sha256, and how it was checked."""

    path: Path
    sha256: str
    status: str  # "cached" | "installed"
    checked_against: str  # the hash the file was compared with, or TOFU on first download
    source: str | None  # URL it came from (None when served from the cache)


_STRING_CITATION = (
    "Szklarczyk D et al. (2023) The STRING database in 2023. Nucleic Acids Res 51:D638-D646"
)
_STRING_USE = (
    "calbio evaluate EMB 9606.protein.links.detailed.v12.0.txt.gz "
    "--protein-info 9606.protein.info.v12.0.txt.gz --min-score combined_score=900"
)

_ID_USE = (
    "calbio evaluate EMB PAIRS --id-tables DIR (DIR: the folder these files are in), or "
    "export CALBIO_ID_TABLES=DIR"
)

REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="replogle2022-k562-essential",
            filename="K562_essential_normalized_bulk_01.h5ad",
            url="https://ndownloader.figshare.com/files/35780870",
            known_hash="md5:30496767641cd2e660ee6ecb5baee132",
            size_bytes=79_766_954,
            licence="CC BY 4.0",
            citation="Replogle JM et al. (2022) Mapping information-rich genotype-phenotype "
            "landscapes with genome-scale Perturb-seq. Cell 185:2559-2575",
            description="K562 essential-gene CRISPRi Perturb-seq, normalized pseudobulk "
            "(figshare article 20029387, file 35780870); the paper's embedding. The md5 is as "
            "recorded by third parties; figshare's metadata could not be reached to confirm it.",
        ),
        Dataset(
            name="string-v12-human-links",
            filename="9606.protein.links.detailed.v12.0.txt.gz",
            url="https://stringdb-downloads.org/download/protein.links.detailed.v12.0/"
            "9606.protein.links.detailed.v12.0.txt.gz",
            known_hash=None,
            size_bytes=None,
            licence="CC BY 4.0",
            citation=_STRING_CITATION,
            description="STRING v12 human protein links with evidence channels "
            "(protein1 protein2 ... combined_score, ids 9606.ENSP...).",
            usage=_STRING_USE,
        ),
        Dataset(
            name="string-v12-human-info",
            filename="9606.protein.info.v12.0.txt.gz",
            url="https://stringdb-downloads.org/download/protein.info.v12.0/"
            "9606.protein.info.v12.0.txt.gz",
            known_hash=None,
            size_bytes=None,
            licence="CC BY 4.0",
            citation=_STRING_CITATION,
            description="STRING v12 human protein info: maps 9606.ENSP... ids to gene names "
            "(column preferred_name).",
            usage=_STRING_USE,
        ),
        Dataset(
            name="gene-info",
            filename="Homo_sapiens.gene_info.gz",
            url="https://ftp.ncbi.nlm.nih.gov/gene/DATA/GENE_INFO/Mammalia/"
            "Homo_sapiens.gene_info.gz",
            known_hash=None,  # rebuilt daily by NCBI: no fixed checksum exists
            size_bytes=None,
            licence="public domain (NCBI)",
            citation="Brown GR et al. (2015) Gene: a gene-centered information resource at "
            "NCBI. Nucleic Acids Res 43:D36-D42",
            description="NCBI Gene, human: GeneID, current symbol, Synonyms (previous symbols, "
            "aliases), dbXrefs (Ensembl gene ids). calbio's identifier table; fetching it also "
            "fetches gene-uniprot.",
            usage=_ID_USE,
            companions=("gene-uniprot",),
        ),
        Dataset(
            name="gene-uniprot",
            filename="HUMAN_9606_idmapping_selected.tab.gz",
            url="https://ftp.uniprot.org/pub/databases/uniprot/current_release/knowledgebase/"
            "idmapping/by_organism/HUMAN_9606_idmapping_selected.tab.gz",
            known_hash=None,  # changes with every UniProt release
            size_bytes=None,
            licence="CC BY 4.0",
            citation="The UniProt Consortium (2023) UniProt: the Universal Protein "
            "Knowledgebase in 2023. Nucleic Acids Res 51:D523-D531",
            description="UniProt id mapping, human: accession (column 1) to NCBI GeneID "
            "(column 3); converts UniProt-keyed files (hu.MAP, CORUM, IntAct).",
            usage=_ID_USE,
        ),
    )
}


def with_companions(names: list[str]) -> list[str]:
    """``names`` followed by the datasets each one brings along, without repeats."""
    out: list[str] = []
    for name in names:
        for n in (name, *get_dataset(name).companions):
            if n not in out:
                out.append(n)
    return out


def list_datasets() -> list[Dataset]:
    """All registered datasets, in registry order."""
    return list(REGISTRY.values())


def get_dataset(name: str) -> Dataset:
    """Look a dataset up by name; unknown names are one clear error."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise CalbioInputError(
            f"unknown dataset {name!r}; known: {known} (see `calbio fetch --list`)"
        ) from None


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Cache folder: ``data_dir``, else $CALBIO_DATA_DIR, else the user data dir."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("calbio"))


def read_manifest(root: Path) -> dict[str, Any]:
    """The cache's manifest: per file name, its sha256, source and when it was fetched."""
    path = root / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise CalbioInputError(
            "fetch manifest is unreadable; delete it to start over", path
        ) from None
    return files


def _file_hash(path: Path, known_hash: str) -> str:
    """Hex digest of ``path`` with the algorithm named in ``known_hash`` ("alg:hex")."""
    import pooch

    return pooch.file_hash(str(path), alg=pooch.hashes.hash_algorithm(known_hash))


def _matches(path: Path, known_hash: str) -> bool:
    return _file_hash(path, known_hash).lower() == known_hash.split(":")[-1].lower()


def _local_path(url: str) -> Path:
    """The file a ``file://`` URL points at."""
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))


def _copy_local(url: str, output_file: str, pooch: Any = None) -> None:
    """A pooch downloader for ``file://`` URLs (pooch itself speaks http, ftp, sftp, doi)."""
    shutil.copyfile(_local_path(url), output_file)


def _source_url(ds: Dataset, mirror: str | Path | None) -> str:
    if mirror is None:
        if ds.url.startswith("file:") and not _local_path(ds.url).is_file():
            raise CalbioInputError(f"no such file for dataset {ds.name!r}", _local_path(ds.url))
        return ds.url
    mirror = Path(mirror).expanduser()
    if not mirror.is_dir():
        raise CalbioInputError("mirror is not a directory", mirror)
    src = mirror / ds.filename
    if not src.is_file():
        raise CalbioInputError(f"mirror has no {ds.filename} (for {ds.name!r})", mirror)
    return src.resolve().as_uri()


def _download(url: str, staging: Path, filename: str) -> Path:
    """Fetch ``url`` into ``staging/filename`` with pooch; network trouble is one clear line."""
    import pooch
    import requests

    downloader = _copy_local if url.startswith("file:") else None
    log = pooch.get_logger()
    level = log.level
    log.setLevel(logging.WARNING)  # pooch's info lines would suggest trusting an unchecked hash
    try:
        got = pooch.retrieve(
            url, known_hash=None, fname=filename, path=staging, downloader=downloader
        )
    except requests.exceptions.RequestException as exc:
        raise CalbioInputError(
            f"download failed ({type(exc).__name__}); without network, install from a local "
            "copy with --mirror DIR",
            url,
        ) from None
    except ValueError as exc:  # pooch: unsupported protocol
        raise CalbioInputError(str(exc), url) from None
    finally:
        log.setLevel(level)
    return Path(got)


def install(
    name: str, *, mirror: str | Path | None = None, data_dir: str | Path | None = None
) -> FetchResult:
    """Fetch ``name`` into the cache (or reuse a verified cached copy) and say how."""
    import pooch

    ds = get_dataset(name)
    root = resolve_data_dir(data_dir)
    target = root / ds.filename
    files = read_manifest(root)
    record = files.get(ds.filename)
    recorded = f"sha256:{record['sha256']}" if record and record.get("sha256") else None
    expected = ds.known_hash or recorded
    if target.is_file() and expected:
        if _matches(target, expected):
            sha = record["sha256"] if recorded else pooch.file_hash(str(target))
            return FetchResult(target, sha, "cached", expected, None)
        target.unlink()  # a cached copy that fails its check is never left to be read

    url = _source_url(ds, mirror)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as tmp:
        staged = _download(url, Path(tmp), ds.filename)
        if expected is not None:
            actual = _file_hash(staged, expected)
            if actual.lower() != expected.split(":")[-1].lower():
                alg = expected.split(":")[0] if ":" in expected else "sha256"
                raise CalbioInputError(
                    f"failed its hash check for {ds.name!r}: expected {expected}, got "
                    f"{alg}:{actual}; rejected, nothing installed in {root}",
                    _local_path(url) if url.startswith("file:") else url,
                )
        sha = pooch.file_hash(str(staged))
        os.replace(staged, target)
    files[ds.filename] = {
        "dataset": ds.name,
        "sha256": sha,
        "size_bytes": target.stat().st_size,
        "checked_against": expected or TOFU,
        "source": url,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_atomic(root / MANIFEST, {"format": "calbio-fetch/1", "files": files})
    return FetchResult(target, sha, "installed", expected or TOFU, url)


def fetch(
    name: str, *, mirror: str | Path | None = None, data_dir: str | Path | None = None
) -> Path:
    """Local path of dataset ``name``, fetched and hash-checked on first use."""
    return install(name, mirror=mirror, data_dir=data_dir).path

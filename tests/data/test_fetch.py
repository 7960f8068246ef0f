"""`calbio fetch`: hash-checked installs from a local mirror or file:// URL, never from network."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from calbio.core.errors import CalbioInputError
from calbio.data.fetch import MANIFEST, REGISTRY, TOFU, Dataset, fetch, install, list_datasets

PAYLOAD = b"protein1 protein2 combined_score\n9606.ENSP1 9606.ENSP2 950\n"


def _entry(name: str, filename: str, known_hash: str | None, url: str) -> Dataset:
    return Dataset(
        name=name,
        filename=filename,
        url=url,
        known_hash=known_hash,
        size_bytes=len(PAYLOAD),
        licence="CC0",
        citation="test",
        description="tiny test file",
    )


@pytest.fixture
def mirror(tmp_path, monkeypatch) -> Path:
    """A mirror holding two tiny files, registered as a hashed and a trust-on-first-use entry."""
    d = tmp_path / "mirror"
    d.mkdir()
    (d / "tiny.txt").write_bytes(PAYLOAD)
    (d / "tofu.txt").write_bytes(PAYLOAD)
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    offline = "https://calbio.invalid/never"  # a download attempt would fail the test
    monkeypatch.setitem(REGISTRY, "tiny", _entry("tiny", "tiny.txt", f"md5:{md5}", offline))
    monkeypatch.setitem(REGISTRY, "tofu", _entry("tofu", "tofu.txt", None, offline))
    monkeypatch.setenv("CALBIO_DATA_DIR", str(tmp_path / "env-cache"))
    return d


def test_install_from_mirror_then_reuse_cache(mirror, tmp_path) -> None:
    cache = tmp_path / "cache"
    res = install("tiny", mirror=mirror, data_dir=cache)
    assert res.status == "installed" and res.path == cache / "tiny.txt"
    assert res.path.read_bytes() == PAYLOAD
    assert res.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    inode = res.path.stat().st_ino
    (mirror / "tiny.txt").unlink()  # a second fetch must not need the source again
    again = install("tiny", mirror=mirror, data_dir=cache)
    assert again.status == "cached" and again.path.stat().st_ino == inode
    assert fetch("tiny", data_dir=cache) == res.path
    manifest = json.loads((cache / MANIFEST).read_text())
    assert manifest["files"]["tiny.txt"]["sha256"] == res.sha256
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no staging left


def test_tampered_mirror_file_is_rejected_and_not_cached(mirror, tmp_path) -> None:
    (mirror / "tiny.txt").write_bytes(PAYLOAD + b"tampered\n")
    cache = tmp_path / "cache"
    with pytest.raises(CalbioInputError) as err:
        fetch("tiny", mirror=mirror, data_dir=cache)
    msg = str(err.value)
    assert "tiny.txt" in msg and "expected md5:" in msg and "got md5:" in msg
    assert "\n" not in msg
    assert not (cache / "tiny.txt").exists()
    assert [p.name for p in cache.iterdir()] == []  # no staging folder, no manifest


def test_corrupted_cached_copy_is_refetched(mirror, tmp_path) -> None:
    cache = tmp_path / "cache"
    path = fetch("tiny", mirror=mirror, data_dir=cache)
    path.write_bytes(b"bit rot")
    res = install("tiny", mirror=mirror, data_dir=cache)
    assert res.status == "installed" and path.read_bytes() == PAYLOAD


def test_trust_on_first_use_records_then_verifies(mirror, tmp_path) -> None:
    cache = tmp_path / "cache"
    first = install("tofu", mirror=mirror, data_dir=cache)
    assert first.checked_against == TOFU
    rec = json.loads((cache / MANIFEST).read_text())["files"]["tofu.txt"]
    assert rec["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    # the cached copy is damaged and the source changed: the recorded hash rejects the new file
    (cache / "tofu.txt").write_bytes(b"damaged")
    (mirror / "tofu.txt").write_bytes(b"a different upstream file\n")
    with pytest.raises(CalbioInputError, match=f"expected sha256:{rec['sha256']}"):
        fetch("tofu", mirror=mirror, data_dir=cache)
    assert not (cache / "tofu.txt").exists()


def test_file_url_source(mirror, tmp_path, monkeypatch) -> None:
    src = (mirror / "tiny.txt").resolve()
    entry = REGISTRY["tiny"]
    monkeypatch.setitem(REGISTRY, "tiny", Dataset(**{**entry.__dict__, "url": src.as_uri()}))
    path = fetch("tiny", data_dir=tmp_path / "cache")
    assert path.read_bytes() == PAYLOAD


def test_env_data_dir_and_dir_option(mirror, tmp_path, cli) -> None:
    assert fetch("tiny", mirror=mirror).parent == tmp_path / "env-cache"
    code, out, err = cli(["fetch", "tofu", "--mirror", mirror, "--dir", tmp_path / "d"])
    assert code == 0, err
    assert out.strip() == str(tmp_path / "d" / "tofu.txt")
    assert hashlib.sha256(PAYLOAD).hexdigest() in err and "trust on first use" in err


def test_cli_list_and_errors(mirror, tmp_path, cli) -> None:
    code, out, _ = cli(["fetch", "--list"])
    assert code == 0
    for name in ("replogle2022-k562-essential", "string-v12-human-links", "string-v12-human-info"):
        assert name in out
    assert TOFU in out and "md5:30496767641cd2e660ee6ecb5baee132" in out
    code, out, err = cli(["fetch", "no-such-data"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "unknown dataset 'no-such-data'" in err
    (mirror / "tiny.txt").write_bytes(b"tampered")
    code, out, err = cli(["fetch", "tiny", "--mirror", mirror])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "hash check" in err


def test_registry_entries_are_complete() -> None:
    names = [d.name for d in list_datasets()]
    assert len(names) == len(set(names)) >= 3
    for d in list_datasets():
        assert d.url.startswith("https://") and d.licence and d.citation
        assert d.known_hash is None or d.known_hash.split(":")[0] in {"md5", "sha256"}

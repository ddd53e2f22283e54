"""Every dataset from its publisher: the readers of `coursekit.data.archives`, tested
through the real download path.

Each test builds a small archive in the official layout (the same folder and file
names, the same quirks: aclImdb's `<id>_<rating>.txt` and `unsup/`, UCI's semicolons
and decimal commas, 1-bit BMPs in `<digit>/` folders), serves it from an HTTP server
on 127.0.0.1, points a copy of the real manifest at it (`served_from`), and checks
what a chapter would load. Where the mirror holds the publisher's bytes (PTB, the
names, the airline tweets), the real files are served against the real manifest, so
the pinned checksums themselves are tested.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from coursekit import cli, data
from coursekit.data import ChecksumError, DataError
from helpers import LocalServer, hermetic_env, server  # noqa: F401 (fixtures)

_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NO_MIRROR = not _SHARED_DATA.is_dir()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _pinned(official: data.OfficialSource, index: int, body: bytes) -> data.OfficialSource:
    """``official`` with file ``index`` pinned to ``body`` (a toy archive)."""
    return official.with_file(index, md5=hashlib.md5(body).hexdigest(), sha256="",
                              bytes=len(body))


# ---------------------------------------------------------------------------
# IMDB: aclImdb_v1.tar.gz
# ---------------------------------------------------------------------------


def _aclimdb(reviews: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in {"aclImdb/README": "about", **reviews}.items():
            payload = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_imdb_archive_becomes_the_mirrors_table(server: LocalServer, tmp_path: Path) -> None:
    body = _aclimdb({
        "aclImdb/train/pos/10_7.txt": "Fine.<br />Really.",
        "aclImdb/train/pos/2_9.txt": "Brilliant, \"quoted\", café",
        "aclImdb/train/neg/3_1.txt": "Awful",
        "aclImdb/train/unsup/0_0.txt": "no label",  # skipped, as in the mirror
        "aclImdb/test/neg/0_4.txt": "Dull",
        "aclImdb/test/pos/1_8.txt": "Good",
        "aclImdb/imdb.vocab": "a\nb",
    })
    server.routes["aclImdb_v1.tar.gz"] = body
    real = data.load_manifest("imdb")
    official = dataclasses.replace(_pinned(real.official.served_from(server.url()), 0, body),
                                   splits={"train": 3, "test": 2})
    manifest = dataclasses.replace(real, official=official)
    tables = data.load_table("imdb", manifest=manifest, data_dir=tmp_path, mirror="")
    assert tables["train"].to_dict("list") == {
        "id": [2, 10, 3], "rating": [9, 7, 1], "label": [1, 1, 0],
        "text": ["Brilliant, \"quoted\", café", "Fine.<br />Really.", "Awful"]}
    assert tables["test"]["label"].tolist() == [1, 0]
    assert (tmp_path / "imdb" / "aclImdb_v1.tar.gz").read_bytes() == body


def test_imdb_official_splits_are_the_archives_25000(tmp_path: Path) -> None:
    manifest = data.load_manifest("imdb")
    assert manifest.split_sizes("official") == {"train": 25000, "test": 25000}
    assert manifest.split_sizes("mirror") == {"train": 24996, "test": 24996}
    assert manifest.official.checksum == ("md5", "7c2ac02c03563afcf9b574c7e56c153a")


def test_an_archive_with_fewer_reviews_than_the_manifest_says_is_refused(
    server: LocalServer, tmp_path: Path
) -> None:
    body = _aclimdb({"aclImdb/train/pos/0_9.txt": "a", "aclImdb/test/neg/0_1.txt": "b"})
    server.routes["aclImdb_v1.tar.gz"] = body
    real = data.load_manifest("imdb")
    manifest = dataclasses.replace(
        real, official=_pinned(real.official.served_from(server.url()), 0, body))
    with pytest.raises(DataError, match=r"rows per split \{'train': 1, 'test': 1\}.*"
                                        r"'train': 25000"):
        data.load_table("imdb", manifest=manifest, data_dir=tmp_path, mirror="")


# ---------------------------------------------------------------------------
# PTB, makemore's names, the tutorial's names, the airline tweets: the real bytes
# ---------------------------------------------------------------------------


def _mirror_text(path: str) -> bytes:
    return gzip.decompress((_SHARED_DATA / path).read_bytes())


@pytest.mark.skipif(NO_MIRROR, reason="no shared/data mirror here")
def test_ptb_files_match_torchtexts_md5s(server: LocalServer, tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        server.routes[f"ptb.{split}.txt"] = _mirror_text(f"ptb/ptb.{split}.txt.gz")
    real = data.load_manifest("ptb")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    tables = data.load_table("ptb", manifest=manifest, data_dir=tmp_path, mirror="")
    assert {k: len(v) for k, v in tables.items()} == {"train": 42068, "valid": 3370,
                                                      "test": 3761}
    assert sorted(p.name for p in (tmp_path / "ptb").iterdir()) == [
        "ptb.test.txt", "ptb.train.txt", "ptb.valid.txt"]


def _tutorial_zip(changed: str = "", eng_fra: bytes = b"Go.\tVa !\nHi.\tSalut !\n") -> bytes:
    folder = _SHARED_DATA / "names" / "by_language"
    members = {f"data/names/{f.name}": f.read_bytes() for f in sorted(folder.iterdir())}
    if changed:
        members[f"data/names/{changed}"] += b"Nobody\n"
    return _zip({**members, "data/eng-fra.txt": eng_fra})


@pytest.mark.skipif(NO_MIRROR, reason="no shared/data mirror here")
def test_tutorial_zip_and_makemore_give_the_names(server: LocalServer, tmp_path: Path) -> None:
    server.routes["data.zip"] = _tutorial_zip()
    server.routes["names.txt"] = (_SHARED_DATA / "names" / "makemore_names.txt").read_bytes()
    real = data.load_manifest("names")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    official = data.load_table("names", manifest=manifest, data_dir=tmp_path, mirror="")
    mirrored = data.load_table("names", data_dir=tmp_path / "m", mirror=str(_SHARED_DATA))
    for split in real.splits:
        pd.testing.assert_frame_equal(official[split], mirrored[split])
    # eng_fra reads the same zip, already downloaded: no second request
    eng_fra = data.load_manifest("eng_fra")
    eng_fra = dataclasses.replace(eng_fra, official=dataclasses.replace(
        eng_fra.official.served_from(server.url()), splits={"all": 2}))
    pairs = data.load_table("eng_fra", manifest=eng_fra, data_dir=tmp_path, mirror="")["all"]
    assert pairs["text"].tolist() == ["Go.\tVa !", "Hi.\tSalut !"]
    assert server.hits["data.zip"] == 1


@pytest.mark.skipif(NO_MIRROR, reason="no shared/data mirror here")
def test_a_tutorial_zip_with_an_altered_member_is_refused_and_deleted(
    server: LocalServer, tmp_path: Path
) -> None:
    server.routes["data.zip"] = _tutorial_zip(changed="Korean.txt")
    real = data.load_manifest("names")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    with pytest.raises(ChecksumError, match=r"data/names/Korean.txt: sha256 .*deleted"):
        data.load_table("names", manifest=manifest, data_dir=tmp_path, mirror="")
    assert not list((tmp_path / "pytorch_tutorial").iterdir())


@pytest.mark.skipif(NO_MIRROR, reason="no shared/data mirror here")
def test_airline_tweets_from_the_pinned_public_copy(server: LocalServer, tmp_path: Path) -> None:
    server.routes["Tweets.csv"] = _mirror_text("twitter_airline_sentiment/Tweets.csv.gz")
    real = data.load_manifest("twitter_airline_sentiment")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    tweets = data.load_table("twitter_airline_sentiment", manifest=manifest,
                             data_dir=tmp_path, mirror="")["all"]
    assert tweets["airline_sentiment"].value_counts().to_dict() == {
        "negative": 9178, "neutral": 3099, "positive": 2363}


# ---------------------------------------------------------------------------
# GloVe: glove.6B.zip, a subset of glove.6B.50d.txt
# ---------------------------------------------------------------------------


def test_glove_zip_keeps_the_first_words_and_the_named_ones(
    server: LocalServer, tmp_path: Path
) -> None:
    lines = [f"w{i} {i}.5 -0.25" for i in range(8)] + ['" 0.125 1', "null 2 3"]
    body = _zip({"glove.6B.50d.txt": "\n".join(lines) + "\n", "glove.6B.100d.txt": "x 1\n"})
    server.routes["glove.6B.zip"] = body
    real = data.load_manifest("glove_6B_50d_subset")
    official = _pinned(real.official.served_from(server.url()), 0, body).with_file(
        options={"member": "glove.6B.50d.txt", "first": 3, "also": ["null", "w6"]})
    manifest = dataclasses.replace(real, official=official, splits={"vectors": 5})
    frame = data.load_table("glove_6B_50d_subset", manifest=manifest, data_dir=tmp_path,
                            mirror="")["vectors"]
    assert frame.index.tolist() == ["w0", "w1", "w2", "w6", "null"]
    assert frame.loc["null"].tolist() == [2.0, 3.0] and frame.loc["w6"].tolist() == [6.5, -0.25]


def test_a_glove_download_that_is_not_the_published_file_is_refused(
    server: LocalServer, tmp_path: Path
) -> None:
    server.routes["glove.6B.zip"] = _zip({"glove.6B.50d.txt": "a 1\n"})
    real = data.load_manifest("glove_6B_50d_subset")  # the real md5 and size
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    with pytest.raises(ChecksumError, match="056ea991adb4740ac6bf1b6d9b50408b"):
        data.load_table("glove_6B_50d_subset", manifest=manifest, data_dir=tmp_path, mirror="")
    assert not list((tmp_path / "glove_6B_50d_subset").iterdir())


# ---------------------------------------------------------------------------
# UCI electricity: LD2011_2014.txt.zip, 15-minute readings of 370 clients
# ---------------------------------------------------------------------------


def test_uci_readings_become_one_clients_hourly_sums(server: LocalServer, tmp_path: Path) -> None:
    text = "\n".join([
        '"";"MT_001";"MT_200";"MT_370"',
        '"2011-01-01 00:15:00";0;1,5;9',
        '"2011-01-01 00:30:00";0;2,25;9',
        '"2011-01-01 00:45:00";0;1000,5;9',
        '"2011-01-01 01:00:00";0;4;9',   # stamped 01:00: counts in hour 1
        '"2011-01-01 01:15:00";0;0,5;9',
        '"2011-01-01 01:30:00";0;0;9',
        '"2011-01-01 01:45:00";0;0;9',
        '"2011-01-01 02:00:00";0;7,75;9',  # the last reading, alone in its hour
    ]) + "\n"
    server.routes["LD2011_2014.txt.zip"] = _zip({"LD2011_2014.txt": text})
    real = data.load_manifest("electricity_load_subset")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()),
                                   splits={"all": 3})
    table = data.load_table("electricity_load_subset", manifest=manifest, data_dir=tmp_path,
                            mirror="")["all"]
    assert table.to_dict("list") == {"date": ["2011-01-01"] * 3, "hour": [0, 1, 2],
                                     "MT_200": [1004.25, 4.5, 7.75]}
    assert list(table.columns) == list(pd.read_csv(io.StringIO("date,hour,MT_200\n")).columns)


def test_a_damaged_zip_that_no_checksum_covers_is_refused_and_deleted(
    server: LocalServer, tmp_path: Path
) -> None:
    body = _zip({"LD2011_2014.txt": '"";"MT_200"\n"2011-01-01 00:15:00";1,5\n' * 50})
    damaged = bytearray(body)
    damaged[60] ^= 0xFF  # inside the compressed member: its CRC no longer matches
    server.routes["LD2011_2014.txt.zip"] = bytes(damaged)
    real = data.load_manifest("electricity_load_subset")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    with pytest.raises(ChecksumError, match="damaged|not a complete archive"):
        data.load_table("electricity_load_subset", manifest=manifest, data_dir=tmp_path,
                        mirror="")
    assert not list((tmp_path / "electricity_load_subset").iterdir())


def test_electricity_zip_without_the_client_says_so(server: LocalServer, tmp_path: Path) -> None:
    server.routes["LD2011_2014.txt.zip"] = _zip({"LD2011_2014.txt": '"";"MT_001"\n"x";1\n'})
    real = data.load_manifest("electricity_load_subset")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    with pytest.raises(DataError, match="has no column 'MT_200'"):
        data.load_table("electricity_load_subset", manifest=manifest, data_dir=tmp_path,
                        mirror="")


# ---------------------------------------------------------------------------
# Gurmukhi digits: train.zip and val.zip of 1-bit BMPs
# ---------------------------------------------------------------------------


def _bmp(rng: np.random.Generator) -> bytes:
    image = Image.fromarray(rng.integers(0, 2, (32, 32), dtype=np.uint8) * 255).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="BMP")
    return buffer.getvalue()


def _gurmukhi(tmp_path: Path, server: LocalServer) -> tuple[data.Manifest, dict]:
    rng = np.random.default_rng(0)
    expected = {}
    for split, per_class in (("train", 2), ("val", 1)):
        members = {f"{split}/{d}/{n}.bmp": _bmp(rng) for d in (1, 0) for n in (10, 9)[:per_class]}
        server.routes[f"{split}.zip"] = _zip({f"{split}/": b"", **members})
        order = sorted(members, key=lambda m: (int(m.split("/")[1]), int(Path(m).stem)))
        images = np.stack([np.asarray(Image.open(io.BytesIO(members[m])).convert("L"))
                           for m in order])[:, None]
        expected[split] = (images, [int(m.split("/")[1]) for m in order])
    real = data.load_manifest("gurmukhi_digits")
    official = dataclasses.replace(real.official.served_from(server.url()), decoded_sha256={
        s: hashlib.sha256(x.tobytes()).hexdigest() for s, (x, _) in expected.items()})
    manifest = dataclasses.replace(real, official=official, mirror=None,
                                   splits={"train": 4, "val": 2})
    return manifest, expected


def test_gurmukhi_zips_decode_by_digit_then_file_number(
    server: LocalServer, tmp_path: Path
) -> None:
    manifest, expected = _gurmukhi(tmp_path, server)
    splits = data.load_images("gurmukhi_digits", manifest=manifest, data_dir=tmp_path)
    for split, (images, labels) in expected.items():
        assert splits[split].images.numpy().tobytes() == images.tobytes()
        assert splits[split].labels.tolist() == labels
    assert set(np.unique(splits["train"].images.numpy())) <= {0, 255}


def test_gurmukhi_images_that_differ_from_the_pinned_ones_are_refused(
    server: LocalServer, tmp_path: Path
) -> None:
    manifest, _ = _gurmukhi(tmp_path, server)
    wrong = dataclasses.replace(manifest, official=dataclasses.replace(
        manifest.official, decoded_sha256={"train": "0" * 64}))
    with pytest.raises(ChecksumError, match="train images .* not the files the manifest "
                                            "pins; the download was deleted"):
        data.fetch("gurmukhi_digits", manifest=wrong, data_dir=tmp_path)
    assert not list((tmp_path / "gurmukhi_digits").glob("*.zip"))
    assert not (tmp_path / "gurmukhi_digits" / "decoded").exists()


@pytest.mark.skipif(NO_MIRROR, reason="no shared/data mirror here")
def test_the_pinned_gurmukhi_digests_are_the_mirrors_arrays(tmp_path: Path) -> None:
    splits = data.load_images("gurmukhi_digits", data_dir=tmp_path, mirror=str(_SHARED_DATA))
    pinned = data.load_manifest("gurmukhi_digits").official.decoded_sha256
    for split, expected in pinned.items():
        assert hashlib.sha256(splits[split].images.numpy().tobytes()).hexdigest() == expected


# ---------------------------------------------------------------------------
# Every manifest, and the data commands
# ---------------------------------------------------------------------------


def test_every_dataset_has_a_readable_official_source_that_is_verified_or_says_why() -> None:
    for name in data.list_datasets():
        official = data.load_manifest(name).official
        assert official is not None, name
        for item in official.files:
            assert data.formats.can_read(official.format_of(item)), (name, item.url)
            assert item.url.startswith("https://") or "cs231n" in item.url, item.url
            pinned = item.checksum or item.member_sha256 or official.decoded_sha256
            assert pinned or len(item.unverified) > 80, (name, item.url)


def test_status_says_where_each_download_comes_from_and_how_large() -> None:
    rows = {row["name"]: row["download"] for row in data.status()}
    assert rows["imdb"] == "ai.stanford.edu, 84.1 MB"
    assert rows["ptb"] == "raw.githubusercontent.com, 6.0 MB"
    assert rows["electricity_load_subset"] == "archive.ics.uci.edu, size not published"
    assert rows["names"] == "download.pytorch.org, raw.githubusercontent.com, size not published"


def test_fetch_all_gets_every_dataset_and_a_bad_call_says_how(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    source = (data.manifests_dir() / "tinyshakespeare.yaml").read_text()
    text = b"First Citizen:\nBefore we proceed\n"
    real_url = data.load_manifest("tinyshakespeare").official.url
    (manifests / "tinyshakespeare.yaml").write_text(
        source.replace(real_url, server.url("input.txt"))
              .replace("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                       hashlib.sha256(text).hexdigest())
              .replace("bytes: 1115394", f"bytes: {len(text)}")
              .replace("all: 32777", "all: 2"))
    server.routes["input.txt"] = text
    monkeypatch.setenv("COURSEKIT_MANIFESTS", str(manifests))
    assert cli.main(["data", "fetch", "--all"]) == 0
    assert "tinyshakespeare: ready, rows per split {'all': 2}" in capsys.readouterr().out
    assert cli.main(["data", "fetch"]) == 2
    assert "give one dataset name or --all" in capsys.readouterr().err

"""Tests of coursekit.data on small generated datasets, served from 127.0.0.1.

No test touches the internet. The official sources are a real .tar.gz in the
CIFAR-10 python format (20 train + 10 test random images) and a hand-made zip
in the layout of tiny-imagenet-200.zip (3 classes, 15 JPEGs), served by a local
HTTP server; the mirror is a real folder of packed-JPEG .npz files. Tests at
the end read the real data of the course's shared/data folder and are skipped
where that folder is absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit import data
from helpers import LocalServer, hermetic_env, server  # noqa: F401 (fixtures)
from coursekit.data import formats
from coursekit.data.download import check_file
from coursekit.data import (
    ChecksumError,
    DataError,
    DatasetNotFoundError,
    ImageSplit,
    MirrorFile,
    MirrorSource,
)

# Read before the autouse fixture below clears the variable.
_ENV_MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR", "")
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

NUM_TRAIN, NUM_TEST = 20, 10  # the toy dataset: 5 train batches of 4 images
TARBALL = "cifar-10-python.tar.gz"


# ---------------------------------------------------------------------------
# Fixtures: a hermetic environment, a toy tarball, a toy mirror, a server
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy() -> dict:
    """A CIFAR-10 python tarball (bytes, md5) and the arrays it holds."""
    rng = np.random.default_rng(0)
    arrays = {
        "train": (_random_images(rng, NUM_TRAIN), rng.integers(0, 10, NUM_TRAIN)),
        "test": (_random_images(rng, NUM_TEST), rng.integers(0, 10, NUM_TEST)),
    }
    tarball = _cifar_tarball(arrays)
    return {"bytes": tarball, "md5": hashlib.md5(tarball).hexdigest(), "arrays": arrays}


@pytest.fixture(scope="module")
def toy_mirror(tmp_path_factory: pytest.TempPathFactory, toy: dict) -> dict:
    """A mirror folder in jpeg_npz format, with the reference decoding of each JPEG."""
    root = tmp_path_factory.mktemp("mirror")
    files, expected = [], {}
    for split, (images, labels) in toy["arrays"].items():
        item, decoded = _write_jpeg_npz(root, f"cifar10/toy_{split}_jpeg.npz", split,
                                        images, labels)
        files.append(item)
        expected[split] = (decoded, labels)
    source = MirrorSource(format="jpeg_npz", files=tuple(files), note="toy")
    return {"root": root, "source": source, "expected": expected}


# ---------------------------------------------------------------------------
# Builders of toy data
# ---------------------------------------------------------------------------


def _random_images(rng: np.random.Generator, num: int) -> np.ndarray:
    return rng.integers(0, 256, (num, 3, 32, 32), dtype=np.uint8)  # (N, C, H, W)


def _cifar_tarball(arrays: dict, extra: dict[str, bytes] | None = None) -> bytes:
    """A .tar.gz laid out like the official cifar-10-python.tar.gz.

    The pickles name numpy 1.x's `numpy.core.multiarray`, as the official ones
    do; `extra` adds or replaces members (name -> raw bytes).
    """
    (train_x, train_y), (test_x, test_y) = arrays["train"], arrays["test"]
    batches = {  # 5 training batches of 4 images each
        f"data_batch_{k + 1}": (train_x[4 * k : 4 * k + 4], train_y[4 * k : 4 * k + 4])
        for k in range(5)
    }
    batches["test_batch"] = (test_x, test_y)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (images, labels) in batches.items():
            batch = {b"batch_label": name.encode(), b"labels": labels.tolist(),
                     b"data": images.reshape(len(images), 3072)}  # channel-major rows
            payload = pickle.dumps(batch, protocol=2).replace(
                b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            _add_member(tar, f"cifar-10-batches-py/{name}", payload)
        for name, payload in (extra or {"readme.html": b"<html></html>"}).items():
            _add_member(tar, f"cifar-10-batches-py/{name}", payload)
    return buffer.getvalue()


def _add_member(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _write_jpeg_npz(
    root: Path, rel_path: str, split: str, images: np.ndarray, labels: np.ndarray,
    grey: tuple[int, ...] = (),
) -> tuple[MirrorFile, np.ndarray]:
    """Pack images as JPEGs like shared/data; return the file and their decoding."""
    blobs, decoded = [], []
    for i, image in enumerate(images):
        pil = Image.fromarray(image.transpose(1, 2, 0))  # (C, H, W) -> (H, W, C)
        pil = pil.convert("L") if i in grey else pil
        out = io.BytesIO()
        pil.save(out, format="JPEG", quality=90)
        blobs.append(out.getvalue())
        reference = Image.open(io.BytesIO(blobs[-1])).convert("RGB")
        decoded.append(np.asarray(reference).transpose(2, 0, 1))
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    path = root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    jpeg = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, jpeg=jpeg, offsets=offsets, y=labels.astype(np.uint8))
    item = MirrorFile(path=rel_path, split=split, bytes=path.stat().st_size,
                      sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    return item, np.stack(decoded)


def _toy_manifest(
    toy: dict, url: str, mirror: MirrorSource | None = None
) -> data.Manifest:
    """The cifar10 manifest pointed at the toy data: 20 train, 10 test images."""
    real = data.load_manifest("cifar10")
    official = real.official.with_file(url=url, md5=toy["md5"], bytes=len(toy["bytes"]))
    return dataclasses.replace(real, splits={"train": NUM_TRAIN, "test": NUM_TEST},
                               official=official, mirror=mirror)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{TARBALL}"


def _assert_splits_equal(splits: dict[str, ImageSplit], expected: dict) -> None:
    assert list(splits) == list(expected)
    for name, (images, labels) in expected.items():
        assert splits[name].images.dtype == torch.uint8
        assert splits[name].labels.dtype == torch.int64
        assert torch.equal(splits[name].images, torch.from_numpy(np.asarray(images)))
        assert splits[name].labels.tolist() == np.asarray(labels).tolist()


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# Manifests
# ---------------------------------------------------------------------------


def test_cifar10_manifest_lists_classes_splits_and_sources() -> None:
    manifest = data.load_manifest("cifar10")
    assert "cifar10" in data.list_datasets()
    assert manifest.classes[0] == "airplane" and manifest.classes[-1] == "truck"
    assert len(manifest.classes) == 10
    assert manifest.splits == {"train": 50000, "test": 10000}
    assert manifest.official.checksum == ("md5", "c58f30108f718f92721af3b95e74349a")
    assert manifest.official.bytes == 170498071
    assert {f.split for f in manifest.mirror.files} == {"train", "test"}


def test_tiny_imagenet_manifests_share_the_official_zip_and_its_class_order() -> None:
    full = data.load_manifest("tiny_imagenet")
    assert full.splits == {"train": 100000, "val": 10000}
    assert full.image_shape == (3, 64, 64) and len(set(full.classes)) == 200
    assert full.classes[:2] == ("goldfish", "European fire salamander")
    assert {f.split for f in full.mirror.files} == {"train", "val"}
    subset10 = data.load_manifest("tiny_imagenet_subset10")
    assert subset10.splits == {"train": 5000, "val": 500}
    assert subset10.image_shape == (3, 64, 64)
    assert subset10.classes[:2] == ("goldfish", "black stork")
    assert len(subset10.classes) == 10 and subset10.classes[-1] == "ice lolly"
    assert subset10.classes == full.classes[::20]  # classes 0, 20, ..., 180
    assert {f.split for f in subset10.mirror.files} == {"train", "val"}
    for manifest in (full, subset10):  # one official zip, read by a converter
        assert manifest.official.checksum == ("md5", "90528d7ca1a48142e341f4ef8d21d0de")
        assert manifest.official.bytes == 248100043
        assert manifest.official.path == "tiny_imagenet/tiny-imagenet-200.zip"
        assert formats.can_read(manifest.official.format)
    assert full.official.select == ()
    assert len(subset10.official.select) == 10 and subset10.official.select[0] == "n01443537"
    assert list(subset10.official.select) == sorted(subset10.official.select)


def test_manifest_select_must_give_one_class_id_per_class(
    tmp_path: Path, monkeypatch
) -> None:
    text = (data.load_manifest("tiny_imagenet_subset10").source_file.read_text()
            .replace("n07615774]", "n07615774, n07720875]"))
    (tmp_path / "tiny_imagenet_subset10.yaml").write_text(text)
    monkeypatch.setenv("COURSEKIT_MANIFESTS", str(tmp_path))
    with pytest.raises(DataError, match="select keeps 11 classes but classes lists 10"):
        data.load_manifest("tiny_imagenet_subset10")


def test_unknown_dataset_lists_known_names() -> None:
    known = r"Unknown dataset 'cifar11'.*Known datasets: .*cifar10"
    with pytest.raises(DataError, match=known):
        data.load_manifest("cifar11")


def test_manifest_with_unknown_key_names_it(tmp_path: Path, monkeypatch) -> None:
    text = (data.load_manifest("cifar10").source_file.read_text()
            .replace("classes:", "clases:"))
    (tmp_path / "cifar10.yaml").write_text(text)
    monkeypatch.setenv("COURSEKIT_MANIFESTS", str(tmp_path))
    with pytest.raises(DataError, match=r"unknown keys \['clases'\]"):
        data.load_manifest("cifar10")


# ---------------------------------------------------------------------------
# The official source: download, verify, convert, cache
# ---------------------------------------------------------------------------


def test_official_tarball_is_downloaded_verified_and_converted(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    server.routes[TARBALL] = toy["bytes"]
    manifest = _toy_manifest(toy, server.url(TARBALL))
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path)
    _assert_splits_equal(splits, toy["arrays"])
    assert splits["train"].classes[0] == "airplane"
    assert len(splits["train"]) == NUM_TRAIN
    assert _files_under(tmp_path / "cifar10") == [
        TARBALL, "decoded/stamp.json",
        "decoded/test_images.npy", "decoded/test_labels.npy",
        "decoded/train_images.npy", "decoded/train_labels.npy",
    ]


def test_second_load_reads_the_decoded_cache(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    server.routes[TARBALL] = toy["bytes"]
    manifest = _toy_manifest(toy, server.url(TARBALL))
    data.load_images("cifar10", manifest=manifest, data_dir=tmp_path)
    (tmp_path / "cifar10" / TARBALL).unlink()  # the source is gone...
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path)
    assert server.hits[TARBALL] == 1  # ...and was not downloaded again
    _assert_splits_equal(splits, toy["arrays"])


def test_wrong_bytes_raise_checksum_error_and_leave_no_file(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    wrong = bytes(len(toy["bytes"]))  # right size, wrong content
    server.routes[TARBALL] = wrong
    manifest = _toy_manifest(toy, server.url(TARBALL))
    with pytest.raises(ChecksumError, match=TARBALL) as info:
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)
    assert toy["md5"] in str(info.value)
    assert hashlib.md5(wrong).hexdigest() in str(info.value)
    assert _files_under(tmp_path) == []


def test_download_cut_short_is_not_kept_and_a_retry_succeeds(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    server.routes[TARBALL] = toy["bytes"]
    server.truncate.add(TARBALL)
    manifest = _toy_manifest(toy, server.url(TARBALL))
    with pytest.raises(DatasetNotFoundError, match="connection closed after"):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)
    assert _files_under(tmp_path) == []  # neither a .part nor a final file
    server.truncate.clear()
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path)
    _assert_splits_equal(splits, toy["arrays"])


def test_leftover_part_file_is_never_used(toy: dict, tmp_path: Path) -> None:
    part = tmp_path / "cifar10" / f"{TARBALL}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(toy["bytes"])  # complete and correct, but only a .part
    manifest = _toy_manifest(toy, _closed_port_url())
    with pytest.raises(DatasetNotFoundError):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)
    assert not part.exists()


def test_pickle_that_would_run_code_is_refused(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    evil = pickle.dumps(eval, protocol=2)  # any global but numpy's is refused
    tarball = _cifar_tarball(toy["arrays"], extra={"test_batch": evil})
    server.routes[TARBALL] = tarball
    manifest = _toy_manifest(toy, server.url(TARBALL))
    manifest = dataclasses.replace(manifest, official=manifest.official.with_file(
        md5=hashlib.md5(tarball).hexdigest(), bytes=len(tarball)))
    with pytest.raises(DataError, match=r"refused to load \w+\.eval"):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)


# ---------------------------------------------------------------------------
# Tiny ImageNet: the official zip, hand-made in its layout
# ---------------------------------------------------------------------------

TINY_ZIP = "tiny-imagenet-200.zip"
TINY_WNIDS = ["n03000003", "n01000001", "n02000002"]  # as wnids.txt lists them: unsorted
TINY_TRAIN_K = [10, 0, 2]  # image numbers, stored in this order: sorted as numbers
TINY_VAL = ["n02000002", "n03000003", "n01000001", "n02000002", "n03000003", "n01000001"]


def _tiny_jpeg(rng: np.random.Generator, grey: bool = False) -> bytes:
    pil = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    out = io.BytesIO()
    (pil.convert("L") if grey else pil).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _tiny_zip(members: dict[str, bytes], drop: str = "") -> bytes:
    """A zip holding `members` under tiny-imagenet-200/ (less `drop`); JPEGs deflated,
    wnids.txt stored as it is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tiny-imagenet-200/", b"")
        for name, payload in members.items():
            stored = zipfile.ZIP_STORED if name == "wnids.txt" else None
            if name != drop:
                archive.writestr(f"tiny-imagenet-200/{name}", payload, compress_type=stored)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tiny_toy() -> dict:
    """The members of a tiny-imagenet-200.zip (3 classes, 3 train and 2 val images
    each, a test/ and box files to ignore) and the arrays it must give."""
    rng = np.random.default_rng(2)
    members = {"wnids.txt": "\n".join(TINY_WNIDS).encode() + b"\n",
               "words.txt": b"".join(f"{w}\tthing {w}, other name\n".encode()
                                     for w in [*TINY_WNIDS, "n09999999"])}
    for wnid in TINY_WNIDS:
        members[f"train/{wnid}/{wnid}_boxes.txt"] = b""
        for k in TINY_TRAIN_K:
            grey = wnid == TINY_WNIDS[0] and k == 2
            members[f"train/{wnid}/images/{wnid}_{k}.JPEG"] = _tiny_jpeg(rng, grey)
    lines = []
    for i, wnid in enumerate(TINY_VAL):
        members[f"val/images/val_{i}.JPEG"] = _tiny_jpeg(rng)
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t5\t60\t62\n")
    members["val/val_annotations.txt"] = "".join(lines).encode()
    members["test/images/test_0.JPEG"] = _tiny_jpeg(rng)
    body = _tiny_zip(members)
    return {"members": members, "bytes": body, "md5": hashlib.md5(body).hexdigest()}


def _tiny_expected(members: dict[str, bytes], select: list[str] | None = None) -> dict:
    """What the zip must give: (images, labels, file names) per split, built by hand."""
    classes = select or sorted(TINY_WNIDS)

    def decode(name: str) -> np.ndarray:
        rgb = Image.open(io.BytesIO(members[name])).convert("RGB")
        return np.asarray(rgb).transpose(2, 0, 1)

    train = [(y, f"{w}_{k}.JPEG", f"train/{w}/images/{w}_{k}.JPEG")
             for y, w in enumerate(classes) for k in sorted(TINY_TRAIN_K)]
    val = [(classes.index(w), f"val_{i}.JPEG", f"val/images/val_{i}.JPEG")
           for i, w in enumerate(TINY_VAL) if w in classes]
    if select:
        val.sort(key=lambda item: item[0])  # grouped by class, as the subset mirror is
    return {split: (np.stack([decode(m) for *_, m in rows]),
                    np.array([y for y, *_ in rows]), [f for _, f, _ in rows])
            for split, rows in (("train", train), ("val", val))}


def _tiny_manifest(url: str, body: bytes, select: list[str] | None = None) -> data.Manifest:
    """The tiny_imagenet manifest pointed at a hand-made zip on a local server."""
    real = data.load_manifest("tiny_imagenet")
    classes = select or sorted(TINY_WNIDS)
    official = dataclasses.replace(
        real.official.with_file(url=url, bytes=len(body), md5=hashlib.md5(body).hexdigest()),
        select=tuple(select or ()))
    return dataclasses.replace(
        real, classes=tuple(f"thing {w}" for w in classes), mirror=None, official=official,
        splits={"train": 3 * len(classes), "val": TINY_VAL.count(classes[0]) * len(classes)})


def test_official_tiny_imagenet_zip_is_downloaded_verified_and_converted(
    server: LocalServer, tiny_toy: dict, tmp_path: Path
) -> None:
    server.routes[TINY_ZIP] = tiny_toy["bytes"]
    manifest = _tiny_manifest(server.url(TINY_ZIP), tiny_toy["bytes"])
    splits = data.load_images("tiny_imagenet", manifest=manifest, data_dir=tmp_path)
    expected = _tiny_expected(tiny_toy["members"])
    _assert_splits_equal(splits, {s: arrays[:2] for s, arrays in expected.items()})
    assert splits["train"].labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert splits["val"].labels.tolist() == [1, 2, 0, 1, 2, 0]  # val_annotations order
    grey = splits["train"].images[7]  # n03000003_2: a greyscale JPEG, loaded as RGB
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[0], grey[2])
    assert splits["val"].classes == ["thing n01000001", "thing n02000002", "thing n03000003"]
    assert _files_under(tmp_path / "tiny_imagenet") == [
        "decoded/stamp.json", "decoded/train_images.npy", "decoded/train_labels.npy",
        "decoded/val_images.npy", "decoded/val_labels.npy", TINY_ZIP]
    (tmp_path / "tiny_imagenet" / TINY_ZIP).unlink()  # the cache is enough now
    again = data.load_images("tiny_imagenet", manifest=manifest, data_dir=tmp_path)
    assert torch.equal(again["val"].images, splits["val"].images)
    assert server.hits[TINY_ZIP] == 1


def test_official_tiny_imagenet_zip_keeps_selected_classes_in_their_order(
    server: LocalServer, tiny_toy: dict, tmp_path: Path
) -> None:
    server.routes[TINY_ZIP] = tiny_toy["bytes"]
    select = ["n03000003", "n01000001"]  # as a subset manifest lists them
    manifest = _tiny_manifest(server.url(TINY_ZIP), tiny_toy["bytes"], select)
    splits = data.load_images("tiny_imagenet", manifest=manifest, data_dir=tmp_path)
    expected = _tiny_expected(tiny_toy["members"], select)
    _assert_splits_equal(splits, {s: arrays[:2] for s, arrays in expected.items()})
    assert splits["train"].labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert splits["val"].labels.tolist() == [0, 0, 1, 1]  # grouped by class
    stamp = data.cache.read_stamp(tmp_path / "tiny_imagenet" / "decoded")
    assert stamp["files"]["select"] == "n03000003,n01000001"


def test_tiny_imagenet_zip_packs_like_the_mirror(tiny_toy: dict, tmp_path: Path) -> None:
    zip_path = tmp_path / TINY_ZIP
    zip_path.write_bytes(tiny_toy["bytes"])
    expected = _tiny_expected(tiny_toy["members"])
    packed = formats.pack_tiny_imagenet_zip(zip_path, ["train", "val"])
    for split, arrays in packed.items():
        assert sorted(arrays) == ["file_name", "jpeg", "offsets", "y"]
        assert arrays["y"].dtype == np.uint8 and arrays["offsets"].dtype == np.int64
        names = arrays["file_name"].tolist()
        assert names == expected[split][2]
        jpeg, offsets = arrays["jpeg"].tobytes(), arrays["offsets"]
        member = "train/{0}/images/{1}" if split == "train" else "val/images/{1}"
        for i, name in enumerate(names):  # the original bytes, unchanged
            original = tiny_toy["members"][member.format(name.split("_")[0], name)]
            assert jpeg[offsets[i]:offsets[i + 1]] == original
        path = tmp_path / f"{split}_jpeg.npz"  # as the mirror stores it
        np.savez(path, **arrays)
        (images, labels), = formats.decode("jpeg_npz", path, [split]).values()
        assert np.array_equal(images, expected[split][0])
        assert labels.tolist() == expected[split][1].tolist()
    with pytest.raises(DataError, match=r"'select' must name distinct wnids.*n07777777"):
        formats.decode("tiny_imagenet_zip", zip_path, ["train"], select=["n07777777"])
    with pytest.raises(DataError, match="format 'jpeg_npz' cannot keep only some classes"):
        formats.decode("jpeg_npz", tmp_path / "val_jpeg.npz", ["val"], select=["n01000001"])


def test_real_checksum_refuses_a_zip_that_is_not_the_official_one(
    server: LocalServer, tiny_toy: dict, tmp_path: Path
) -> None:
    server.routes[TINY_ZIP] = tiny_toy["bytes"]
    real = data.load_manifest("tiny_imagenet")  # the official md5 and size
    manifest = dataclasses.replace(real, mirror=None,
                                   official=real.official.with_file(url=server.url(TINY_ZIP)))
    with pytest.raises(ChecksumError, match="90528d7ca1a48142e341f4ef8d21d0de"):
        data.fetch("tiny_imagenet", manifest=manifest, data_dir=tmp_path)
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize("damage, message", [
    ("truncated", r"cannot be read as a zip: BadZipFile: .* It is not the official "
                  r"tiny-imagenet-200.zip: delete it and fetch the data again"),
    ("no_wnids", r"has no tiny-imagenet-200/wnids.txt. It is not the official"),
    ("no_annotations", r"lacks tiny-imagenet-200/val/val_annotations.txt. It is not"),
    ("no_val_image", r"lacks tiny-imagenet-200/val/images/val_4.JPEG \(listed in val/"),
    ("unknown_wnid", r"val_annotations.txt line 2 is not '<file> TAB <wnid of wnids.txt>"),
    ("bad_jpeg", r"image 1 \(val_1.JPEG\) cannot be decoded"),
    ("bad_crc", r"BadZipFile: Bad CRC-32 for file 'tiny-imagenet-200/wnids.txt'"),
])
def test_corrupt_tiny_imagenet_zip_is_refused_and_nothing_is_decoded(
    damage: str, message: str, server: LocalServer, tiny_toy: dict, tmp_path: Path
) -> None:
    """A zip that matches its checksum but not the layout: one clear error, no cache."""
    members = dict(tiny_toy["members"])
    if damage == "unknown_wnid":
        members["val/val_annotations.txt"] = members["val/val_annotations.txt"].replace(
            b"val_1.JPEG\tn03000003", b"val_1.JPEG\tn07777777")
    if damage == "bad_jpeg":
        members["val/images/val_1.JPEG"] = b"\xff\xd8 not a JPEG after all"
    drop = {"no_wnids": "wnids.txt", "no_annotations": "val/val_annotations.txt",
            "no_val_image": "val/images/val_4.JPEG"}.get(damage, "")
    body = _tiny_zip(members, drop=drop)
    if damage == "truncated":
        body = body[: len(body) // 2]
    if damage == "bad_crc":  # flip one byte of wnids.txt, stored uncompressed
        body = body.replace(b"n01000001\nn02", b"n01000001\nm02", 1)
    server.routes[TINY_ZIP] = body
    manifest = _tiny_manifest(server.url(TINY_ZIP), body)
    with pytest.raises(DataError, match=message):
        data.load_images("tiny_imagenet", manifest=manifest, data_dir=tmp_path)
    assert _files_under(tmp_path) == [f"tiny_imagenet/{TINY_ZIP}"]  # verified, kept


# ---------------------------------------------------------------------------
# Lookup order and errors
# ---------------------------------------------------------------------------


def test_corrupt_file_in_data_dir_is_removed_and_the_mirror_is_used(
    toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    corrupt = tmp_path / "cifar10" / TARBALL
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"not a tarball")
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path,
                              mirror=str(toy_mirror["root"]))
    assert not corrupt.exists()
    _assert_splits_equal(splits, toy_mirror["expected"])


def test_a_wrong_file_that_cannot_be_removed_stops_the_lookup(
    toy: dict, toy_mirror: dict, tmp_path: Path, monkeypatch
) -> None:
    corrupt = tmp_path / "cifar10" / TARBALL
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"not a tarball")
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])

    def refuse(self, missing_ok=False):
        raise PermissionError("read-only")
    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(ChecksumError, match="cannot be removed .*delete it and run again"):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path,
                   mirror=str(toy_mirror["root"]))


def test_nothing_found_says_what_was_tried_and_how_to_fix_it(
    toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    url = _closed_port_url()
    manifest = _toy_manifest(toy, url, mirror=toy_mirror["source"])
    with pytest.raises(DatasetNotFoundError) as info:
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)
    message = str(info.value)
    for needed in ("'cifar10'", f"{tmp_path / 'cifar10' / TARBALL}: missing",
                   "mirror: unset", f"official URL {url}: cannot connect",
                   "COURSEKIT_DATA_MIRROR", "put the official file",
                   "coursekit data fetch cifar10"):
        assert needed in message


def test_missing_mirror_folder_is_reported(
    toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])
    with pytest.raises(DatasetNotFoundError, match=r"mirror .*nowhere: path missing"):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path,
                   mirror=str(tmp_path / "nowhere"))


def test_source_that_disagrees_with_the_manifest_counts_is_an_error(
    server: LocalServer, toy: dict, tmp_path: Path
) -> None:
    server.routes[TARBALL] = toy["bytes"]
    manifest = dataclasses.replace(_toy_manifest(toy, server.url(TARBALL)),
                                   splits={"train": 50000, "test": NUM_TEST})
    with pytest.raises(DataError, match=r"train has images \(20, 3, 32, 32\)"):
        data.fetch("cifar10", manifest=manifest, data_dir=tmp_path)


# ---------------------------------------------------------------------------
# The mirror: a folder read in place, or a URL
# ---------------------------------------------------------------------------


def test_mirror_folder_is_decoded_in_place(
    toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path,
                              mirror=str(toy_mirror["root"]))
    _assert_splits_equal(splits, toy_mirror["expected"])
    files = _files_under(tmp_path / "cifar10")
    assert all(f.startswith("decoded/") for f in files)  # read in place, not copied


def test_mirror_url_is_downloaded_into_the_data_dir(
    server: LocalServer, toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    for item in toy_mirror["source"].files:
        server.routes[item.path] = (toy_mirror["root"] / item.path).read_bytes()
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path,
                              mirror=server.url())
    _assert_splits_equal(splits, toy_mirror["expected"])
    for item in toy_mirror["source"].files:
        assert (tmp_path / item.path).read_bytes() == server.routes[item.path]


def test_failing_mirror_url_falls_through_to_the_official_url(
    server: LocalServer, toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    server.routes[TARBALL] = toy["bytes"]  # but no mirror files: 404
    manifest = _toy_manifest(toy, server.url(TARBALL), mirror=toy_mirror["source"])
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path,
                              mirror=server.url("mirror/"))
    _assert_splits_equal(splits, toy["arrays"])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape"])
def test_damaged_decoded_cache_is_rebuilt(
    damage: str, toy: dict, toy_mirror: dict, tmp_path: Path
) -> None:
    manifest = _toy_manifest(toy, _closed_port_url(), mirror=toy_mirror["source"])
    kwargs = dict(manifest=manifest, data_dir=tmp_path, mirror=str(toy_mirror["root"]))
    folder = data.fetch("cifar10", **kwargs)
    target = folder / "train_images.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "garbage":
        target.write_bytes(b"\x00" * 100)
    else:
        np.save(target, np.zeros((NUM_TRAIN, 3, 8, 8), np.uint8))
    _assert_splits_equal(data.load_images("cifar10", **kwargs), toy_mirror["expected"])


def _write_toy_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """A Tiny-ImageNet-like dataset "toy": a manifest folder and a mirror folder.

    Splits train and val of 6 images 16x16, 2 classes; image 0 is greyscale.
    """
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 3)
    files = []
    for split in ("train", "val"):
        images = rng.integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
        item, _ = _write_jpeg_npz(tmp_path / "mirror", f"toy/{split}.npz", split,
                                  images, labels, grey=(0,))
        files.append(f"    - {{path: {item.path}, split: {split}, "
                     f"sha256: {item.sha256}, bytes: {item.bytes}}}")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "toy.yaml").write_text("\n".join([
        "name: toy", "title: Toy", "description: d", "license: l", "citation: c",
        "prepare: p", "classes: [goldfish, teapot]", "splits: {train: 6, val: 6}",
        "image_shape: [3, 16, 16]", "mirror:", "  format: jpeg_npz", "  files:", *files,
    ]))
    return manifests, tmp_path / "mirror"


def test_generic_manifest_file_with_val_split_and_greyscale_jpegs(
    tmp_path: Path, monkeypatch
) -> None:
    """A Tiny-ImageNet-like dataset needs only a manifest file, no code."""
    manifests, mirror = _write_toy_dataset(tmp_path)
    monkeypatch.setenv("COURSEKIT_MANIFESTS", str(manifests))
    assert data.list_datasets() == ["toy"]
    splits = data.load_images("toy", data_dir=tmp_path / "data", mirror=str(mirror))
    assert list(splits) == ["train", "val"]
    grey = splits["val"].images[0]
    assert grey.shape == (3, 16, 16) and torch.equal(grey[0], grey[2])
    assert splits["val"].classes == ["goldfish", "teapot"]


def test_status_reports_where_each_dataset_is(tmp_path: Path, monkeypatch) -> None:
    manifests, mirror = _write_toy_dataset(tmp_path)
    monkeypatch.setenv("COURSEKIT_MANIFESTS", str(manifests))
    root = tmp_path / "data"

    def where(**kwargs: str) -> tuple[str, str]:
        (row,) = data.status(data_dir=root, **kwargs)
        assert row["name"] == "toy" and row["title"] == "Toy"
        return row["where"], row["path"]

    assert where() == ("missing", str(root / "toy"))
    assert where(mirror=str(mirror)) == ("mirror", str(mirror))
    assert where(mirror="http://127.0.0.1:1/")[0] == "mirror"
    data.fetch("toy", data_dir=root, mirror=str(mirror))
    assert where() == ("decoded cache", str(root / "toy" / "decoded"))


# ---------------------------------------------------------------------------
# Stratified splits
# ---------------------------------------------------------------------------


def _labelled_split() -> ImageSplit:
    """100 images whose first pixel is their index; classes 40/30/20/10."""
    labels = torch.tensor([0] * 40 + [1] * 30 + [2] * 20 + [3] * 10)
    images = torch.zeros(100, 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(100, dtype=torch.uint8)
    return ImageSplit(images, labels, ["a", "b", "c", "d"])


def test_split_off_is_stratified_disjoint_and_deterministic() -> None:
    split = _labelled_split()
    rest, holdout = data.split_off(split, 20, seed=0)
    assert torch.bincount(holdout.labels).tolist() == [8, 6, 4, 2]
    ids_rest = set(rest.images[:, 0, 0, 0].tolist())
    ids_holdout = set(holdout.images[:, 0, 0, 0].tolist())
    assert not ids_rest & ids_holdout and len(ids_rest | ids_holdout) == 100
    assert torch.equal(holdout.labels, split.labels[holdout.images[:, 0, 0, 0].long()])
    again = data.split_off(split, 20, seed=0)[1]
    other = data.split_off(split, 20, seed=1)[1]
    assert torch.equal(again.images, holdout.images)
    assert not torch.equal(other.images, holdout.images)


def test_subset_is_stratified_and_split_off_checks_its_size() -> None:
    split = _labelled_split()
    small = data.subset(split, 10, seed=0)
    assert torch.bincount(small.labels).tolist() == [4, 3, 2, 1]
    assert data.subset(split, 100, seed=0) is split
    with pytest.raises(ValueError, match="Cannot split off 2 of 100"):
        data.split_off(split, 2, seed=0)


# ---------------------------------------------------------------------------
# The real mirror (skipped where the course's shared/data folder is absent)
# ---------------------------------------------------------------------------


def _mirror_holding(path: str) -> Path | None:
    """The real mirror (the env's, else ../shared/data) if it holds ``path``."""
    for candidate in (_ENV_MIRROR, _SHARED_DATA):
        if candidate and (Path(candidate) / path).is_file():
            return Path(candidate)
    return None


def _real_mirror() -> Path | None:
    return _mirror_holding("cifar10/cifar10_test_jpeg.npz")


TINY_IMAGENET_MIRROR = _mirror_holding("tiny_imagenet_subset10/tiny_imagenet10_val_jpeg.npz")
GURMUKHI_MIRROR = _mirror_holding("gurmukhi_digits/gurmukhi_digits.npz")
IMDB_MIRROR = _mirror_holding("imdb/imdb_test.csv.gz")


@pytest.mark.skipif(_real_mirror() is None, reason="no shared/data mirror here")
def test_real_cifar10_test_split_from_the_mirror(tmp_path: Path) -> None:
    real = data.load_manifest("cifar10")
    test_only = tuple(f for f in real.mirror.files if f.split == "test")
    mirror = dataclasses.replace(real.mirror, files=test_only)
    manifest = dataclasses.replace(real, splits={"test": 10000}, mirror=mirror)
    splits = data.load_images("cifar10", manifest=manifest, data_dir=tmp_path,
                              mirror=str(_real_mirror()))
    test = splits["test"]
    assert test.images.shape == (10000, 3, 32, 32) and test.images.dtype == torch.uint8
    assert torch.bincount(test.labels).tolist() == [1000] * 10


@pytest.mark.skipif(TINY_IMAGENET_MIRROR is None, reason="no shared/data mirror here")
def test_real_tiny_imagenet_subset_from_the_mirror(tmp_path: Path) -> None:
    splits = data.load_images("tiny_imagenet_subset10", data_dir=tmp_path,
                              mirror=str(TINY_IMAGENET_MIRROR))
    assert list(splits) == ["train", "val"]
    for split, num in [("train", 5000), ("val", 500)]:
        images, labels = splits[split].images, splits[split].labels
        assert images.shape == (num, 3, 64, 64) and images.dtype == torch.uint8
        assert torch.bincount(labels).tolist() == [num // 10] * 10
    assert splits["val"].classes[8] == "teapot"


@pytest.mark.skipif(TINY_IMAGENET_MIRROR is None, reason="no shared/data mirror here")
def test_train_val_test_of_named_classes_hold_out_validation_from_train(
    tmp_path: Path
) -> None:
    splits = data.train_val_test("tiny_imagenet_subset10", classes="teapot, goldfish",
                                 num_val=100, seed=0, test="val", data_dir=tmp_path,
                                 mirror=str(TINY_IMAGENET_MIRROR))
    sizes = {name: torch.bincount(split.labels).tolist() for name, split in splits.items()}
    assert sizes == {"train": [450, 450], "val": [50, 50], "test": [50, 50]}
    assert splits["test"].classes == ["teapot", "goldfish"]
    with pytest.raises(ValueError, match="no class 'tea pot'"):
        data.train_val_test("tiny_imagenet_subset10", classes="tea pot", num_val=10,
                            seed=0, test="val", data_dir=tmp_path,
                            mirror=str(TINY_IMAGENET_MIRROR))


def test_no_validation_images_held_out_means_validating_on_the_test_split(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _labelled_split()
    test = ImageSplit(pool.images[:4], pool.labels[:4], pool.classes)
    monkeypatch.setattr("coursekit.data.images.load_images",
                        lambda name, **kwargs: {"train": pool, "test": test})
    splits = data.train_val_test("any", num_val=0, seed=0)
    assert splits["train"] is pool and splits["val"] is splits["test"] is test


TINY_IMAGENET_FULL_MIRROR = _mirror_holding("tiny_imagenet/tiny_imagenet_val_jpeg.npz")


def _tiny_imagenet_wnids(mirror: Path) -> list[dict]:
    """The classes of shared/data/tiny_imagenet/MANIFEST.json: index, wnid, words."""
    return json.loads((mirror / "tiny_imagenet" / "MANIFEST.json").read_text())["classes"]


@pytest.mark.skipif(TINY_IMAGENET_FULL_MIRROR is None, reason="no shared/data mirror here")
def test_real_tiny_imagenet_from_the_mirror(tmp_path: Path) -> None:
    """Val decoded through load_images; train's 100,000 checked without decoding them."""
    mirror, real = TINY_IMAGENET_FULL_MIRROR, data.load_manifest("tiny_imagenet")
    val_file, = [f for f in real.mirror.files if f.split == "val"]
    manifest = dataclasses.replace(real, splits={"val": 10000}, mirror=dataclasses.replace(
        real.mirror, files=(val_file,)))
    val = data.load_images("tiny_imagenet", manifest=manifest, data_dir=tmp_path,
                           mirror=str(mirror))["val"]
    assert val.images.shape == (10000, 3, 64, 64) and val.images.dtype == torch.uint8
    assert torch.bincount(val.labels, minlength=200).tolist() == [50] * 200
    assert len(val.classes) == 200 and val.classes[8] == "black widow"
    train_file, = [f for f in real.mirror.files if f.split == "train"]
    path = mirror / train_file.path
    assert check_file(path, ("sha256", train_file.sha256), train_file.bytes) is None
    with np.load(path) as packed:
        labels, offsets, names = packed["y"], packed["offsets"], packed["file_name"].tolist()
    assert len(offsets) == 100001 and np.bincount(labels).tolist() == [500] * 200
    listed = _tiny_imagenet_wnids(mirror)  # classes: words.txt's first name per wnid
    assert [c["words"].split(",")[0] for c in listed] == list(real.classes)
    wnids = [c["wnid"] for c in listed]
    assert wnids == sorted(wnids)  # label = position in the sorted wnids
    keys = [(int(y), int(name[:-5].split("_")[1])) for y, name in zip(labels, names)]
    assert keys == sorted(keys)  # by label, then image number: the converter's order
    assert all(name.startswith(wnids[y] + "_") for y, name in zip(labels, names))


@pytest.mark.skipif(TINY_IMAGENET_FULL_MIRROR is None or TINY_IMAGENET_MIRROR is None,
                    reason="no shared/data mirror here")
def test_official_converter_reproduces_the_mirror_files(tmp_path: Path) -> None:
    """A zip in the official layout, rebuilt from the mirror's JPEGs (all 10,000 val,
    the training images of the subset's 10 classes, shuffled), packs exactly as the
    mirror's files: the full val split, and both splits of the 10-class subset."""
    mirror, rng = TINY_IMAGENET_FULL_MIRROR, np.random.default_rng(0)
    listed = _tiny_imagenet_wnids(mirror)
    wnids = [c["wnid"] for c in listed]
    select = data.load_manifest("tiny_imagenet_subset10").official.select
    full = {}
    for split in ("train", "val"):
        with np.load(mirror / f"tiny_imagenet/tiny_imagenet_{split}_jpeg.npz") as packed:
            full[split] = {key: packed[key] for key in packed.files}
    zip_path, top = tmp_path / TINY_ZIP, "tiny-imagenet-200/"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(top + "wnids.txt", "".join(w + "\n" for w in rng.permutation(wnids)))
        archive.writestr(top + "words.txt", "".join(f"{c['wnid']}\t{c['words']}\n"
                                                    for c in listed))
        annotations = []
        for split, packed in full.items():
            jpeg, offsets, names = packed["jpeg"], packed["offsets"], packed["file_name"]
            for i in rng.permutation(len(names)):
                wnid, name = wnids[packed["y"][i]], names[i]
                if split == "val":
                    annotations.append(f"{name}\t{wnid}\t0\t0\t63\t63\n")
                    member = f"val/images/{name}"
                elif wnid in select:
                    member = f"train/{wnid}/images/{name}"
                else:
                    continue
                archive.writestr(top + member, jpeg[offsets[i]:offsets[i + 1]].tobytes())
        order = np.argsort([int(line[4:].split(".")[0]) for line in annotations])
        archive.writestr(top + "val/val_annotations.txt",
                         "".join(annotations[i] for i in order))
    _assert_packed_equal(formats.pack_tiny_imagenet_zip(zip_path, ["val"])["val"], full["val"])
    subset = formats.pack_tiny_imagenet_zip(zip_path, select=select)
    for split, name in (("train", "tiny_imagenet10_train_jpeg"),
                        ("val", "tiny_imagenet10_val_jpeg")):
        with np.load(TINY_IMAGENET_MIRROR / f"tiny_imagenet_subset10/{name}.npz") as packed:
            _assert_packed_equal(subset[split], packed)


def _assert_packed_equal(packed: dict, reference) -> None:  # noqa: ANN001 (an NpzFile)
    for key in ("jpeg", "offsets", "y", "file_name"):
        assert packed[key].dtype == reference[key].dtype, key
        assert np.array_equal(packed[key], reference[key]), key


def test_select_classes_relabels_in_the_given_order():
    images = torch.zeros(6, 1, 2, 2, dtype=torch.uint8)
    split = data.ImageSplit(images, torch.tensor([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])
    picked = data.select_classes(split, ["c", "a"])
    assert picked.classes == ["c", "a"]
    assert picked.labels.tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="no class 'd'.*a, b, c"):
        data.select_classes(split, ["a", "d"])


@pytest.mark.skipif(GURMUKHI_MIRROR is None, reason="no shared/data mirror here")
def test_real_gurmukhi_digits_both_splits_from_one_mirror_file(tmp_path: Path) -> None:
    splits = data.load_images("gurmukhi_digits", data_dir=tmp_path,
                              mirror=str(GURMUKHI_MIRROR))
    assert splits["train"].images.shape == (1000, 1, 32, 32)
    assert splits["val"].images.shape == (178, 1, 32, 32)
    assert torch.bincount(splits["train"].labels).tolist() == [100] * 10
    assert set(splits["val"].images.unique().tolist()) == {0, 255}


def test_image_npz_decodes_gray_and_colour_and_refuses_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=np.zeros((3, 4, 5), np.uint8), y_train=np.arange(3),
             x_val=np.ones((2, 4, 5, 3), np.uint8), y_val=np.arange(2))
    arrays = formats.decode("image_npz", path, ["train", "val"])
    assert arrays["train"][0].shape == (3, 1, 4, 5)
    assert arrays["val"][0].shape == (2, 3, 4, 5) and arrays["val"][1].dtype == np.int64
    with pytest.raises(DataError, match="not an image_npz file.*x_test"):
        formats.decode("image_npz", path, ["test"])


def test_to_grayscale_uses_luma_weights() -> None:
    images = torch.zeros(2, 3, 1, 1, dtype=torch.uint8)
    images[0, 0] = 255          # pure red
    images[1, 1] = 255          # pure green
    split = data.ImageSplit(images, torch.tensor([0, 1]), ["a", "b"])
    gray = data.to_grayscale(split)
    assert gray.images.flatten().tolist() == [76, 150]   # 0.299 and 0.587 of 255
    assert data.to_grayscale(gray) is gray


@pytest.mark.skipif(IMDB_MIRROR is None, reason="no shared/data mirror here")
def test_real_imdb_table_and_an_unreadable_format(tmp_path: Path) -> None:
    tables = data.load_table("imdb", data_dir=tmp_path, mirror=str(IMDB_MIRROR))
    assert {k: len(v) for k, v in tables.items()} == {"train": 24996, "test": 24996}
    assert list(tables["test"].columns) == ["id", "rating", "label", "text"]
    real = data.load_manifest("imdb")
    odd = dataclasses.replace(real, mirror=dataclasses.replace(real.mirror,
                                                               format="jpeg_npz"))
    with pytest.raises(DataError, match="cannot read as a table.*COURSEKIT_DATA_MIRROR"):
        data.load_table("imdb", manifest=odd, data_dir=tmp_path, mirror=str(IMDB_MIRROR))


def test_an_official_archive_that_cannot_be_converted_is_not_downloaded(
    tmp_path: Path,
) -> None:
    real = data.load_manifest("imdb")
    manifest = dataclasses.replace(real, official=dataclasses.replace(
        real.official, format="some_future_format"))
    with pytest.raises(DatasetNotFoundError) as caught:
        data.load_table("imdb", manifest=manifest, data_dir=tmp_path, mirror="")
    message = str(caught.value)
    assert "not downloaded, coursekit cannot convert its format (some_future_format)" in message
    assert "data dir" in message and "aclImdb_v1.tar.gz" not in message.split("official URL")[0]
    assert "put the official file" not in message and "COURSEKIT_DATA_MIRROR" in message
    assert not (tmp_path / "imdb" / "aclImdb_v1.tar.gz").exists()


GLOVE_MIRROR = _mirror_holding("glove_6B_50d_subset/glove.6B.50d.top5k.txt.gz")
TWEETS_MIRROR = _mirror_holding("twitter_airline_sentiment/Tweets.csv.gz")


@pytest.mark.skipif(GLOVE_MIRROR is None or TWEETS_MIRROR is None,
                    reason="no shared/data mirror here")
def test_real_glove_vectors_and_airline_tweets(tmp_path: Path) -> None:
    glove = data.load_table("glove_6B_50d_subset", data_dir=tmp_path,
                            mirror=str(GLOVE_MIRROR))["vectors"]
    assert glove.shape == (5050, 50) and glove.index[:3].tolist() == ["the", ",", "."]
    tweets = data.load_table("twitter_airline_sentiment", data_dir=tmp_path,
                             mirror=str(TWEETS_MIRROR))["all"]
    assert tweets["airline_sentiment"].value_counts().to_dict() == {
        "negative": 9178, "neutral": 3099, "positive": 2363}


def test_glove_text_keeps_odd_words_and_refuses_other_files(tmp_path: Path) -> None:
    import gzip
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(b'null 0.5 1\n" -1 2.5\nnan 3 4\n'))
    frame = formats.READERS["glove_txt_gz"](path, ["vectors"])["vectors"]
    assert frame.index.tolist() == ["null", '"', "nan"]
    assert frame.loc["nan"].tolist() == [3.0, 4.0]
    path.write_bytes(gzip.compress(b"id,text\n1,hello\n"))
    with pytest.raises(DataError, match=r"vectors.txt.gz \(gzipped\) is not GloVe text"):
        formats.READERS["glove_txt_gz"](path, ["vectors"])


def test_a_dataset_without_an_official_source_is_not_sent_to_fetch(tmp_path: Path) -> None:
    manifest = dataclasses.replace(data.load_manifest("eng_fra"), official=None)
    with pytest.raises(DatasetNotFoundError) as caught:
        data.load_table("eng_fra", manifest=manifest, data_dir=tmp_path, mirror="")
    message = str(caught.value)
    assert "official URL: none in the manifest" in message
    assert "coursekit data fetch" not in message
    assert f"copy the files listed under 'mirror' in its manifest" in message
    assert "eng_fra/fra.txt.gz" in message


SHAKESPEARE_MIRROR = _mirror_holding("tinyshakespeare/input.txt.gz")
PTB_MIRROR = _mirror_holding("ptb/ptb.train.txt.gz")


@pytest.mark.skipif(SHAKESPEARE_MIRROR is None or PTB_MIRROR is None,
                    reason="no shared/data mirror here")
def test_real_ptb_and_shakespeare_official_text_fetched_from_a_server(
    server: LocalServer, tmp_path: Path
) -> None:
    ptb = data.load_table("ptb", data_dir=tmp_path, mirror=str(PTB_MIRROR))
    assert {k: len(v) for k, v in ptb.items()} == {"train": 42068, "valid": 3370, "test": 3761}
    # The official source is the plain text file: served here, checked, read.
    import gzip
    text = gzip.decompress((SHAKESPEARE_MIRROR / "tinyshakespeare/input.txt.gz").read_bytes())
    server.routes["input.txt"] = text
    real = data.load_manifest("tinyshakespeare")
    manifest = dataclasses.replace(real, official=real.official.served_from(server.url()))
    lines = data.load_table("tinyshakespeare", manifest=manifest, data_dir=tmp_path,
                            mirror="")["all"]["text"]
    assert len(lines) == 32777 and lines[0] == "First Citizen:"
    assert (tmp_path / "tinyshakespeare" / "input.txt").stat().st_size == 1115394

"""`dafw data check`: counts, drops, unreadable files, duplicates, JSON and exit status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from dafw.cli.data_cmd import data
from tests.fixtures_data import Seeds, make_ck48, make_class_tree, make_fer_csv, make_fer_folders


@click.group()
def cli() -> None:
    """Stand-in for the dafw group."""


cli.add_command(data)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["data", "check", *args], catch_exceptions=False)


def run_json(*args: str) -> tuple[Result, dict]:
    result = run(*args, "--json")
    return result, json.loads(result.stdout)


@pytest.fixture
def fer_root(tmp_path: Path) -> Path:
    """FER2013 folders with one duplicate inside train and one across train and test."""
    root = tmp_path / "fer"
    counts = {"train": {"angry": 3, "happy": 2}, "test": {"happy": 2, "sad": 1}}
    make_fer_folders(root, counts, Seeds())
    train_angry = sorted((root / "train" / "angry").iterdir())
    shutil.copy(train_angry[0], root / "train" / "happy" / "Training_900001.jpg")
    shutil.copy(train_angry[1], root / "test" / "sad" / "PrivateTest_900002.jpg")
    return root


def test_counts_per_split_and_class(fer_root: Path) -> None:
    result, payload = run_json("--dataset", "fer2013", "--root", str(fer_root))
    assert result.exit_code == 0
    report = payload["datasets"][0]["report"]
    assert report["counts"]["train"]["angry"] == 3
    assert report["counts"]["train"]["happy"] == 3
    assert report["counts"]["test"]["sad"] == 2
    assert report["missing_classes"]["test"] == ["angry", "disgust", "fear", "surprise", "neutral"]


def test_duplicates_within_and_across_splits(fer_root: Path) -> None:
    _, payload = run_json("--dataset", "fer2013", "--root", str(fer_root))
    duplicates = payload["duplicates"]
    assert duplicates["groups"] == 2
    assert duplicates["images"] == 4
    within = {item["place"]: item["groups"] for item in duplicates["within_split"]}
    assert within == {"fer2013/train": 1}
    across = {tuple(item["places"]): item["groups"] for item in duplicates["across_splits"]}
    assert across[("fer2013/private_test", "fer2013/train")] == 1
    assert across[("fer2013/test", "fer2013/train")] == 1
    assert ("fer2013/public_test", "fer2013/train") not in across


def test_unreadable_file_exits_one(fer_root: Path) -> None:
    broken = fer_root / "test" / "happy" / "PublicTest_1.jpg"
    broken.write_bytes(b"not a jpeg")
    result, payload = run_json("--dataset", "fer2013", "--root", str(fer_root))
    assert result.exit_code == 1
    unreadable = payload["datasets"][0]["unreadable"]
    assert list(unreadable) == [str(broken)]
    assert "cannot decode image" in unreadable[str(broken)]


def test_no_decode_skips_corrupt_detection(fer_root: Path) -> None:
    (fer_root / "test" / "happy" / "PublicTest_1.jpg").write_bytes(b"not a jpeg")
    result, payload = run_json("--dataset", "fer2013", "--root", str(fer_root), "--no-decode")
    assert result.exit_code == 0
    assert payload["decoded"] is False


def test_dropped_items_and_params(tmp_path: Path) -> None:
    make_ck48(
        tmp_path, {"anger": ["S010_001_00000001"], "contempt": ["S011_001_00000001"]}, Seeds()
    )
    result, payload = run_json(
        "--dataset",
        "ckplus",
        "--root",
        str(tmp_path),
        "--param",
        "test_fraction=0.5",
        "--param",
        "seed=3",
    )
    assert result.exit_code == 0
    report = payload["datasets"][0]["report"]
    assert report["dropped"] == {"contempt (extra_classes='drop')": 1}
    assert any("seed=3" in note for note in report["notes"])


def test_text_output_has_tables(fer_root: Path) -> None:
    result = run("--dataset", "fer2013", "--root", str(fer_root))
    assert result.exit_code == 0
    assert "angry" in result.stdout
    assert "2 groups of identical images (4 images)" in result.stdout
    assert "(same split)" in result.stdout


def test_csv_duplicates_hash_pixels(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    make_fer_csv(path, [(0, "Training"), (3, "PublicTest")], Seeds())
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1].replace(",Training", ",PrivateTest")]) + "\n")
    _, payload = run_json("--dataset", "fer2013", "--root", str(tmp_path))
    assert payload["duplicates"]["groups"] == 1
    keys = [m["key"] for m in payload["duplicates"]["group_list"][0]["members"]]
    assert [key.rsplit("#", 1)[1] for key in keys] == ["row=0", "row=2"]


def test_missing_root_exits_two(tmp_path: Path) -> None:
    result, payload = run_json("--dataset", "jaffe", "--root", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "does not exist" in payload["datasets"][0]["error"]


def test_unknown_dataset_exits_two(tmp_path: Path) -> None:
    result = run("--dataset", "fer2031", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert "did you mean 'fer2013'" in result.stdout


def test_invalid_param_exits_two(tmp_path: Path) -> None:
    result = run("--dataset", "ckplus", "--root", str(tmp_path), "--param", "last_frames=zero")
    assert result.exit_code == 2
    assert "last_frames" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--dataset", "jaffe"],
        ["recipe.toml", "--dataset", "jaffe", "--root", "x"],
        ["--dataset", "jaffe", "--root", "x", "--param", "novalue"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["data", "check", *args])
    assert result.exit_code == 2
    assert "Error" in result.output


RECIPE = """
name = "check"
[model.backbone]
type = "small_cnn"
[data.source]
type = "image_folder"
root = "source"
[[data.targets]]
type = "image_folder"
name = "faces"
root = "target"
adapt_split = "all"
test_split = "all"
[[data.targets]]
type = "digits"
name = "numbers"
"""


def test_recipe_checks_source_and_targets(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path / "source" / "train", {"happy": 2, "sad": 1}, seeds)
    make_class_tree(tmp_path / "target", {"happy": 1}, seeds)
    shutil.copy(
        tmp_path / "source" / "train" / "sad" / "img_000.png",
        tmp_path / "target" / "happy" / "copy.png",
    )
    recipe = tmp_path / "check.toml"
    recipe.write_text(RECIPE)

    result, payload = run_json(str(recipe), "--data-root", str(tmp_path))
    labels = [item["label"] for item in payload["datasets"]]
    assert labels == ["source", "faces", "numbers"]
    assert payload["datasets"][0]["roles"] == {"train": "source"}
    assert payload["datasets"][1]["roles"] == {"all": "adapt+test"}
    assert payload["datasets"][1]["class_mismatch"] is None
    assert "only in numbers: 0, 1" in payload["datasets"][2]["class_mismatch"]
    across = {
        tuple(item["places"]): item["groups"] for item in payload["duplicates"]["across_splits"]
    }
    assert across == {("faces/all", "source/train"): 1}
    assert result.exit_code == 2

"""`resizer labels`: end to end through the real CLI, and its exit codes.

The acceptance test draws coloured boxes, stores the picture under each EXIF orientation, runs
`resizer resize` in every mode, rewrites the labels with `resizer labels`, and finds each box
again in the resized pixels by its colour.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from labels_scene import BOXES, UPRIGHT_SIZE, locate, save_scene, stored_boxes, stored_scene
from PIL import Image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODES = {
    "fill": ["--size", "96x96", "--mode", "fill"],
    "pad": ["--size", "96x96", "--mode", "pad", "--pad-color", "#808080"],
    "fit": ["--size", "96x96"],
    "stretch": ["--size", "100x90", "--mode", "stretch"],
    "shorter-crop": ["--shorter", "80", "--crop", "72x72"],
}
ORIENTATIONS = range(1, 9)


def resizer(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "resizer", *(str(arg) for arg in args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def coco_document(frame: str) -> dict:
    """COCO labels of the scene for every orientation, on upright or on stored pixels."""
    images, annotations = [], []
    for orientation in ORIENTATIONS:
        if frame == "upright":
            boxes, size = BOXES, UPRIGHT_SIZE
        else:
            boxes, size = stored_boxes(orientation), stored_scene(orientation).size
        images.append(
            {
                "id": orientation,
                "file_name": f"o{orientation}.jpg",
                "width": size[0],
                "height": size[1],
            }
        )
        for index, (colour, (left, top, right, bottom)) in enumerate(boxes.items()):
            annotations.append(
                {"id": orientation * 10 + index, "image_id": orientation, "category_id": 1,
                 "bbox": [left, top, right - left, bottom - top], "colour": list(colour)}
            )  # fmt: skip
    return {"images": images, "annotations": annotations, "categories": [{"id": 1}]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """OUT folder of a real `resizer resize` run per mode, over the 8 oriented scenes."""
    root = tmp_path_factory.mktemp("scenes")
    for orientation in ORIENTATIONS:
        save_scene(root / "src" / f"o{orientation}.jpg", orientation)
    outs = {}
    for mode, options in MODES.items():
        outs[mode] = root / mode
        done = resizer("resize", root / "src", "-o", outs[mode], *options, "--jobs", "1")
        assert done.returncode == 0, done.stderr
    return outs


def edge_errors(out: Path, file_name: str, boxes: list[tuple[tuple, tuple]]) -> float:
    """Worst distance between a rewritten box edge and the edge found in the pixels."""
    pixels = np.asarray(Image.open(out / file_name).convert("RGB"))
    worst = 0.0
    for colour, expected in boxes:
        found = locate(pixels, colour, expected)
        worst = max(worst, *(abs(a - b) for a, b in zip(found, expected, strict=True)))
    return worst


@pytest.mark.parametrize("frame", ["upright", "stored"])
@pytest.mark.parametrize("mode", list(MODES))
def test_coco_boxes_are_found_again_in_the_resized_pixels(runs, tmp_path, mode, frame):
    coco_api = pytest.importorskip("pycocotools.coco", reason="pycocotools is in the test extra")
    source = tmp_path / "in.json"
    source.write_text(json.dumps(coco_document(frame)))
    target = tmp_path / "new" / "out.json"
    done = resizer("labels", "coco", source, "-m", runs[mode], "-o", target,
                   "--labels-orientation", frame)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "8 images, 40 labels kept" in done.stderr
    api = coco_api.COCO(str(target))
    for orientation in ORIENTATIONS:
        image = api.loadImgs(orientation)[0]
        with Image.open(runs[mode] / image["file_name"]) as output:
            assert output.size == (image["width"], image["height"])
        boxes = [
            (tuple(a["colour"]), (a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                  a["bbox"][1] + a["bbox"][3]))
            for a in api.loadAnns(api.getAnnIds(imgIds=[orientation]))
        ]  # fmt: skip
        assert edge_errors(runs[mode], image["file_name"], boxes) <= 0.5, (mode, orientation)


@pytest.mark.parametrize("mode", ["fill", "shorter-crop", "pad"])
def test_yolo_and_voc_boxes_are_found_again(runs, tmp_path, run_cli, mode):
    colours = list(BOXES)
    for orientation in ORIENTATIONS:
        lines, objects = [], []
        for index, (left, top, right, bottom) in enumerate(BOXES.values()):
            width, height = UPRIGHT_SIZE
            lines.append(f"{index} {(left + right) / 2 / width} {(top + bottom) / 2 / height} "
                         f"{(right - left) / width} {(bottom - top) / height}")  # fmt: skip
            objects.append(f"<object><name>{index}</name><bndbox><xmin>{left + 1}</xmin>"
                           f"<ymin>{top + 1}</ymin><xmax>{right}</xmax><ymax>{bottom}</ymax>"
                           "</bndbox></object>")  # fmt: skip
        (tmp_path / "yolo" / f"o{orientation}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "yolo" / f"o{orientation}.txt").write_text("\n".join(lines) + "\n")
        (tmp_path / "voc" / f"o{orientation}.xml").parent.mkdir(exist_ok=True)
        (tmp_path / "voc" / f"o{orientation}.xml").write_text(
            f"<annotation><size><width>{UPRIGHT_SIZE[0]}</width><height>{UPRIGHT_SIZE[1]}"
            f"</height></size>{''.join(objects)}</annotation>"
        )
    for kind in ("yolo", "voc"):
        manifest = runs[mode] / "manifest.jsonl"
        target = tmp_path / f"{kind}-out"
        done = run_cli("labels", kind, tmp_path / kind, "-m", manifest, "-o", target,
                       "--labels-orientation", "upright")  # fmt: skip
        assert done.exit_code == 0, done.output
    for orientation in ORIENTATIONS:
        name = f"o{orientation}.jpg"
        with Image.open(runs[mode] / name) as output:
            width, height = output.size
        yolo_boxes = []
        for line in (tmp_path / "yolo-out" / f"o{orientation}.txt").read_text().splitlines():
            index, cx, cy, w, h = line.split()
            cx, cy, w, h = (
                float(cx) * width,
                float(cy) * height,
                float(w) * width,
                float(h) * height,
            )
            yolo_boxes.append(
                (colours[int(index)], (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
            )
        assert edge_errors(runs[mode], name, yolo_boxes) <= 0.5
        root = ET_parse(tmp_path / "voc-out" / f"o{orientation}.xml")
        voc_boxes = [
            (colours[int(obj.findtext("name"))],
             (int(obj.findtext("bndbox/xmin")) - 1, int(obj.findtext("bndbox/ymin")) - 1,
              int(obj.findtext("bndbox/xmax")), int(obj.findtext("bndbox/ymax"))))
            for obj in root.iter("object")
        ]  # fmt: skip
        assert len(voc_boxes) == len(yolo_boxes) == 5
        # VOC stores whole pixels: rounding adds up to half a pixel.
        assert edge_errors(runs[mode], name, voc_boxes) <= 1.0


def ET_parse(path: Path):
    return ET.parse(path).getroot()


@pytest.fixture
def small_run(tmp_path, run_cli) -> Path:
    """OUT of a run over a plain image, one stored under orientation 6, and a broken file."""
    src = tmp_path / "src"
    save_scene(src / "cat" / "plain.jpg", 1)
    save_scene(src / "cat" / "turned.jpg", 6)
    (src / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    done = run_cli("resize", src, "-o", out, "--size", "120x120", "--format", "png", "-j", "1")
    assert done.exit_code == 1  # the broken file
    return out


def write_yolo(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("0 0.5 0.5 0.5 0.5\n")


def test_undecidable_orientation_is_a_usage_error_naming_the_files(small_run, tmp_path, run_cli):
    write_yolo(tmp_path / "labels", "cat/plain.txt", "cat/turned.txt")
    done = run_cli("labels", "yolo", tmp_path / "labels", "-m", small_run, "-o", tmp_path / "new")
    assert done.exit_code == 2
    assert "cat/turned.txt" in done.stderr and "--labels-orientation" in done.stderr
    assert "cat/plain.txt" not in done.stderr.split("(")[1]
    assert not (tmp_path / "new").exists()


def test_files_without_an_output_fail_alone_and_others_are_written(small_run, tmp_path, run_cli):
    labels = tmp_path / "labels"
    write_yolo(labels, "cat/plain.txt", "cat/broken.txt", "cat/nothing.txt")
    (labels / "classes.txt").write_text("thing\n")
    new = tmp_path / "new"
    done = run_cli(
        "labels", "yolo", labels, "-m", small_run / "manifest.jsonl", "-o", new, "--json"
    )
    assert done.exit_code == 1
    assert "cat/nothing.txt: no image with this name in the manifest" in done.stderr
    assert "cat/broken.txt: cat/broken.jpg: no output geometry" in done.stderr
    assert sorted(p.relative_to(new).as_posix() for p in new.rglob("*")) == [
        "cat", "cat/plain.txt", "classes.txt"
    ]  # fmt: skip
    assert (new / "classes.txt").read_text() == "thing\n"
    summary = json.loads(done.stdout)
    assert (summary["images"], summary["kept"], len(summary["failed"])) == (1, 1, 2)


def test_output_must_be_a_new_location_and_inputs_must_be_readable(small_run, tmp_path, run_cli):
    write_yolo(tmp_path / "labels", "cat/plain.txt")
    done = run_cli(
        "labels", "yolo", tmp_path / "labels", "-m", small_run, "-o", tmp_path / "labels"
    )
    assert done.exit_code == 2 and "new location" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = run_cli("labels", "coco", bad, "-m", small_run, "-o", tmp_path / "x.json")
    assert done.exit_code == 2 and "cannot read COCO file" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("labels", "coco", bad, "-m", tmp_path / "missing", "-o", tmp_path / "x.json")
    assert done.exit_code == 2


def test_csv_manifest_and_voc_size_decide_the_turned_image(tmp_path, run_cli):
    src = tmp_path / "src"
    save_scene(src / "turned.jpg", 6)
    out = tmp_path / "out"
    done = run_cli("resize", src, "-o", out, "--size", "80x80", "--manifest", tmp_path / "m.csv")
    assert done.exit_code == 0, done.output
    stored = stored_scene(6).size  # labelled on the stored pixels, and the file says so
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "turned.xml").write_text(
        f"<annotation><size><width>{stored[0]}</width><height>{stored[1]}</height></size>"
        "<object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>160</xmax>"
        "<ymax>240</ymax></bndbox></object></annotation>"
    )
    done = run_cli(
        "labels", "voc", tmp_path / "voc", "-m", tmp_path / "m.csv", "-o", tmp_path / "v"
    )
    assert done.exit_code == 0, done.output
    root = ET_parse(tmp_path / "v" / "turned.xml")
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("80", "53")

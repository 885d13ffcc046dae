"""YOLO txt rewriting: normalised boxes, segments, keypoints; unchanged where nothing moves."""

from __future__ import annotations

import pytest

from resizer.labels import Transform, yolo
from resizer.labels.common import Judge, Options, Summary
from resizer.labels.transform import LabelError


def judge_for(transform: Transform, frame="upright", **options) -> Judge:
    return Judge(transform, frame, Options(**options), Summary())


STRETCH = Transform((200, 100), 1, (64, 64), (0, 0, 64, 64), (0, 0), (64, 64))
FIT = Transform((200, 100), 1, (100, 50), (0, 0, 100, 50), (0, 0), (100, 50))
# 200x100 -> 100x50, middle 50x50 kept.
FILL = Transform((200, 100), 1, (100, 50), (25, 0, 75, 50), (0, 0), (50, 50))
# 200x100 -> 100x50 on a 100x100 canvas.
PAD = Transform((200, 100), 1, (100, 50), (0, 0, 100, 50), (0, 25), (100, 100))
TEXT = "0 0.5 0.5 0.2 0.4\n# a comment\n\n3 0.123457 0.2 0.1 0.1 0.87\n"


@pytest.mark.parametrize("transform", [STRETCH, FIT], ids=["stretch", "fit"])
def test_lines_are_unchanged_where_boxes_do_not_move(transform):
    judge = judge_for(transform)
    assert yolo.rewrite(TEXT, judge) == TEXT
    assert (judge.summary.kept, judge.summary.clipped) == (2, 0)


def test_pad_and_fill_move_and_clip_boxes_extra_columns_kept():
    assert yolo.rewrite("0 0.5 0.5 0.2 0.4 0.9\n", judge_for(PAD)) == "0 0.5 0.5 0.2 0.2 0.9\n"
    judge = judge_for(FILL)
    # x from 0.3 to 0.5 of 200 = 60..100 px -> 30..50 resized -> 5..25 out of 50.
    # x from 0.05 to 0.25 = 10..50 -> 5..25 -> -20..0: dropped; 0.2..0.4 -> -5..15: clipped.
    text = "1 0.4 0.5 0.2 0.4\n2 0.15 0.5 0.2 0.4\n4 0.3 0.5 0.2 0.4\n"
    assert yolo.rewrite(text, judge) == "1 0.3 0.5 0.4 0.4\n4 0.15 0.5 0.3 0.4\n"
    assert (judge.summary.kept, judge.summary.clipped, judge.summary.dropped) == (2, 1, 1)


def test_stored_frame_turns_the_box():
    # Orientation 6, 100x200 upright = 200x100 stored; stored (x, y) is upright (100 - y, x).
    turned = Transform((100, 200), 6, (100, 200), (0, 0, 100, 200), (0, 0), (100, 200))
    line = "0 0.1 0.25 0.2 0.5\n"  # stored x 0..40, y 0..50
    assert yolo.rewrite(line, judge_for(turned, "stored")) == "0 0.75 0.1 0.5 0.2\n"
    assert yolo.rewrite(line, judge_for(turned, "upright")) == line


def test_segments_are_clipped_polygons():
    judge = judge_for(FILL)
    # Square x 0.2..0.5, y 0.2..0.6 of 200x100 -> x 40..100 -> 20..50 resized -> -5..25 out.
    text = "5 0.2 0.2 0.5 0.2 0.5 0.6 0.2 0.6\n"
    (line,) = yolo.rewrite(text, judge, task="segment").splitlines()
    cls, *values = line.split()
    points = sorted(zip(map(float, values[0::2]), map(float, values[1::2]), strict=True))
    assert cls == "5" and points == [(0, 0.2), (0, 0.6), (0.5, 0.2), (0.5, 0.6)]
    assert judge.summary.clipped == 1


def test_pose_keypoints_cut_away_become_zero_and_invisible_stay():
    text = "0 0.5 0.5 1 1 0.5 0.5 2 0.05 0.5 2 0.9 0.9 0\n"
    out = yolo.rewrite(text, judge_for(FILL), task="pose")
    assert out == "0 0.5 0.5 1 1 0.5 0.5 2 0 0 0 0.9 0.9 0\n"
    out = yolo.rewrite("0 0.5 0.5 1 1 0.5 0.5 0.05 0.5\n", judge_for(FILL), "pose", kpt_dims=2)
    assert out == "0 0.5 0.5 1 1 0.5 0.5 0 0\n"


def test_malformed_lines_name_the_line():
    with pytest.raises(LabelError, match="line 2"):
        yolo.rewrite("0 0.5 0.5 0.1 0.1\n0 0.5 oops 0.1 0.1\n", judge_for(FIT))
    with pytest.raises(LabelError, match="line 1: keypoints need 3"):
        yolo.rewrite("0 0.5 0.5 0.1 0.1 0.2\n", judge_for(FIT), task="pose")

"""The 12-bit IB dataset generator against the published file (tests/data/var_u.mat, 1 kB, MIT-licensed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from repro.data import DataRef, build, load
from repro.data.ib12 import VERTICES, labels, patterns

REFERENCE = Path(__file__).resolve().parent / "data" / "var_u.mat"  # see tests/data/README.md
REFERENCE_SHA256 = "0ba9551878a855396a8de0cbaae620788ede1e7b1eb2b8373bbe017d5ea02036"


def test_generator_structure():
    x, y = patterns(), labels(patterns())
    assert x.shape == (4096, 12) and x[1].tolist() == [0] * 11 + [1] and x[-1].tolist() == [1] * 12
    assert len({tuple(r) for r in x}) == 4096
    assert y.sum() == 2118
    # a regular icosahedron: unit vectors, 5 neighbours each at u·v = 1/√5, one antipode each
    np.testing.assert_allclose(np.linalg.norm(VERTICES, axis=1), 1.0)
    dots = VERTICES @ VERTICES.T
    assert all(np.sum(np.isclose(row, 1 / 5**0.5)) == 5 and np.sum(np.isclose(row, -1)) == 1 for row in dots)
    # labels: 0 whenever at most 4 bits are set, 1 whenever at least 8 are (a fact of the published file)
    k = x.sum(1)
    assert y[k <= 4].sum() == 0 and y[k >= 8].all()


def test_labels_are_rotation_invariant():
    """The function depends on the pattern only through k and |S|: an icosahedral rotation that permutes
    the vertices permutes bits without changing any label."""
    # the rotation by 2π/3 about (1, 1, 1) maps the vertex set onto itself
    rot = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=float)
    moved = VERTICES @ rot.T
    perm = [int(np.argmin(np.linalg.norm(VERTICES - v, axis=1))) for v in moved]
    assert sorted(perm) == list(range(12))
    x = patterns()
    y = labels(x)
    x_rot = np.zeros_like(x)
    x_rot[:, perm] = x
    np.testing.assert_array_equal(labels(x_rot), y)


def test_family_builds_the_file(tmp_path):
    ref = DataRef("ib12")
    build(ref, tmp_path)
    d = load(ref, tmp_path, build_missing=False)
    np.testing.assert_array_equal(d["x"], patterns())
    np.testing.assert_array_equal(d["y"], labels(patterns()))
    with pytest.raises(ValueError, match="no parameters"):
        build(DataRef("ib12", {"n": 1}), tmp_path)


def test_generator_matches_the_published_file():
    from scipy.io import loadmat

    assert hashlib.sha256(REFERENCE.read_bytes()).hexdigest() == REFERENCE_SHA256
    m = loadmat(REFERENCE)
    np.testing.assert_array_equal(patterns(), m["F"].astype(np.uint8))
    np.testing.assert_array_equal(labels(patterns()), m["y"].ravel().astype(np.int64))

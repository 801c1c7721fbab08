"""The parallel-beam ray transform of square images, its adjoint, and filtered back-projection.

Geometry (as ODL's `parallel_beam_geometry`, used by Adler & Öktem 2018): the image is the square [-1, 1]² on a
size × size pixel grid; `angles` directions θ_i = π i / angles over [0, π); for each, `detectors` parallel rays at
signed distances s_j from the centre, spaced one pixel apart and covering the image's diagonal. A ray's value is
the line integral ∫ x(s θ + t θ⊥) dt of the bilinearly interpolated image, by the midpoint rule with step
`oversample` samples per pixel. The transform is a sparse matrix [angles · detectors, size²] (64 × 64 at 30 angles:
2730 rays, about 0.7 M non-zeros), so K and Kᵀ are exact adjoints by construction.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch


def _csr_quietly(make):
    """Build a CSR tensor without torch's "beta state" warning (scoped here, not for the whole process)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return make()


OVERSAMPLE = 4  # line-integral samples per pixel length


def detectors_for(size: int) -> int:
    """Enough rays, one pixel apart, to cover the image's diagonal (an odd count: one through the centre)."""
    n = math.ceil(size * math.sqrt(2))
    return n if n % 2 else n + 1


class _Linear(torch.autograd.Function):
    """m @ x with the gradient mt @ g from the stored transpose: autograd would transpose and re-sort the sparse
    matrix on every backward pass (two thirds of a learned primal-dual step on the CPU)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, m: torch.Tensor, mt: torch.Tensor) -> torch.Tensor:
        ctx.mt = mt
        return m @ x

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return ctx.mt @ g, None, None


@dataclass
class RayTransform:
    """K [rays, size²] as a sparse CSR matrix (float64 when built), its transpose, and the geometry."""

    size: int
    angles: int
    detectors: int
    matrix: torch.Tensor  # sparse CSR [angles * detectors, size * size]
    matrix_t: torch.Tensor  # sparse CSR of the transpose
    scale: float = 1.0  # K = scale · (the line-integral matrix); see `normalised`

    @property
    def pixel(self) -> float:
        return 2.0 / self.size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """K x: images [..., size, size] to sinograms [..., angles, detectors]."""
        lead = x.shape[:-2]
        flat = x.reshape(-1, self.size * self.size).T
        return _Linear.apply(flat, self.matrix, self.matrix_t).T.reshape(*lead, self.angles, self.detectors)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Kᵀ y: sinograms [..., angles, detectors] to images [..., size, size] (back-projection)."""
        lead = y.shape[:-2]
        flat = y.reshape(-1, self.angles * self.detectors).T
        return _Linear.apply(flat, self.matrix_t, self.matrix).T.reshape(*lead, self.size, self.size)

    def to(self, device=None, dtype=None) -> RayTransform:
        def move(m):
            return m.to(device=device, dtype=dtype)

        return RayTransform(self.size, self.angles, self.detectors, move(self.matrix), move(self.matrix_t), self.scale)


def ray_transform(size: int, angles: int, detectors: int | None = None) -> RayTransform:
    """The line-integral matrix (unnormalised: a ray through a pixel of value 1 gains its chord length)."""
    det = detectors_for(size) if detectors is None else detectors
    h = 2.0 / size
    theta = torch.arange(angles, dtype=torch.float64) * math.pi / angles
    s = (torch.arange(det, dtype=torch.float64) - (det - 1) / 2) * h
    half = math.sqrt(2.0)  # rays span the image's diagonal
    n_t = int(math.ceil(2 * half / h * OVERSAMPLE))
    dt = 2 * half / n_t
    t = -half + dt * (torch.arange(n_t, dtype=torch.float64) + 0.5)
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    px = s[None, :, None] * cos - t[None, None, :] * sin  # [angles, det, n_t] world coordinates
    py = s[None, :, None] * sin + t[None, None, :] * cos
    # pixel (row r, column c) has its centre at x = -1 + (c + 0.5) h, y = 1 - (r + 0.5) h
    fc = (px + 1) / h - 0.5
    fr = (1 - py) / h - 0.5
    c0, r0 = torch.floor(fc), torch.floor(fr)
    wc, wr = fc - c0, fr - r0
    ray = torch.arange(angles * det).reshape(angles, det, 1).expand_as(px)
    rows, cols, vals = [], [], []
    for dr, dc, w in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc), (1, 0, wr * (1 - wc)), (1, 1, wr * wc)):
        r, c = r0 + dr, c0 + dc
        ok = (r >= 0) & (r < size) & (c >= 0) & (c < size) & (w > 0)
        rows.append(ray[ok])
        cols.append((r[ok] * size + c[ok]).long())
        vals.append(w[ok] * dt)
    idx = torch.stack([torch.cat(rows), torch.cat(cols)])
    coo = torch.sparse_coo_tensor(idx, torch.cat(vals), (angles * det, size * size), check_invariants=False).coalesce()
    return RayTransform(
        size, angles, det, _csr_quietly(coo.to_sparse_csr), _csr_quietly(lambda: coo.t().coalesce().to_sparse_csr())
    )


def operator_norm(op: RayTransform, iterations: int = 100) -> float:
    """||K||₂ by the power method on KᵀK from a fixed start."""
    x = torch.ones(op.size, op.size, dtype=op.matrix.dtype)
    for _ in range(iterations):
        x = op.adjoint(op(x))
        x = x / x.norm()
    return float(op(x).norm())


def _scaled(m: torch.Tensor, factor: float) -> torch.Tensor:
    return _csr_quietly(
        lambda: torch.sparse_csr_tensor(
            m.crow_indices(), m.col_indices(), m.values() * factor, m.shape, check_invariants=False
        )
    )


def normalised(op: RayTransform) -> RayTransform:
    """K / ||K||₂, as the authors' code does "for scale invariance" (ODL's power_method_opnorm)."""
    norm = operator_norm(op)
    return RayTransform(
        op.size, op.angles, op.detectors, _scaled(op.matrix, 1 / norm), _scaled(op.matrix_t, 1 / norm), op.scale / norm
    )


def fbp(op: RayTransform, y: torch.Tensor, cutoff: float = 1.0) -> torch.Tensor:
    """Filtered back-projection of sinograms [..., angles, detectors]: the ramp filter |ν| times a Hann window
    reaching zero at `cutoff` × the Nyquist frequency, applied along the detector axis (zero-padded FFT), then
    back-projected. For the unnormalised transform, f(x) = ∫_0^π q_θ(x·θ) dθ ≈ (π / angles) Σ_θ q_θ(x·θ), and
    Kᵀ spreads each ray over the pixels it crosses with weight ≈ the pixel size (one pixel's share of a ray one
    pixel wide), hence the division by `op.pixel`; a normalised K (scale c) has its data and Kᵀ both scaled by c."""
    n = op.detectors
    pad = 2 ** math.ceil(math.log2(2 * n))
    nu = torch.fft.rfftfreq(pad, d=op.pixel).to(y.dtype)  # cycles per unit length
    nyquist = 0.5 / op.pixel
    window = torch.where(
        nu <= cutoff * nyquist, 0.5 + 0.5 * torch.cos(math.pi * nu / (cutoff * nyquist)), torch.zeros_like(nu)
    )
    filtered = torch.fft.irfft(torch.fft.rfft(y, n=pad) * (nu * window), n=pad)[..., :n]
    return op.adjoint(filtered) * (math.pi / op.angles) / op.pixel / op.scale**2

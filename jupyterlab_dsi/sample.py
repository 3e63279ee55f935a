"""A synthetic 2-D shell-implosion ensemble for demos and tests.

This is **not** hydrodynamics. It is a cheap closed-form toy that reproduces the qualitative
structure of the dynamic-radiography data in seed 000 (Sec. 2.1, 3, App. A), so that the
distance plots mean something:

* Geometry: a uniform cylindrical grid ``(R, z)`` with ``R`` in ``[0, 1]`` and ``z`` in
  ``[-1, 1]``; fronts are described in polar coordinates ``(r, theta)`` of that plane, with
  ``theta`` the angle from the ``+z`` axis, as cosine series ``f(theta) = sum_k a_k cos(k theta)``.
* A shell converges at a fixed piston speed. Its inner edge ``e(theta, t)`` carries a seeded
  perturbation (mode shape ``profile``, amplitude ``s1``) that grows as the shell converges.
  A shock runs ahead of it into the gas (``s < e``) with the planar piston-shock speed
  ``u_s = a + sqrt(a^2 + cs^2)``, ``a = (gamma + 1) u_p / 4``.
* Density: unshocked gas (``rho_gas``) inside ``s``; gas compressed by the Rankine-Hugoniot
  ratio for the shock Mach number ``u_s / cs`` (rising a little toward the edge) between ``s``
  and ``e``; a dense shell (``s2``, compressed as it converges) from ``e`` to
  ``e + thickness``; vacuum (exactly 0) outside. Interfaces are tanh steps under a cell wide.
* The stored ``shock`` and ``edge`` are the cosine coefficients plus small "extraction" noise.

Consequences, by construction (checked in ``tests/test_sample.py``): ``cs`` moves the shock
strongly; ``mrg`` (a numerical nuisance setting) changes almost nothing; ``rho_gas`` and ``s2``
change the density but not the fronts, and the shell perturbation (``profile``, ``s1``) changes
the density much more than the coefficients, so similar features do not imply similar density
(the degeneracy of seed 000 fig. 7); the edge moves alike in every run, so edge distances are
small and dominated by noise. The converse (similar density implies similar features) holds
only as a tendency here, more weakly than in seed 000.

Each simulation gets one combination of the categorical levels in :data:`PARAMETERS` (3645 in
all, drawn without replacement while any are unused) plus a small random jitter, so no two
simulations are identical; everything follows from ``seed``.
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
import re
import secrets
from collections.abc import Callable

import numpy as np

# Ordered levels of the seven categorical initial conditions. Names follow seed 000 where it
# names them (cs, mrg, profile, s1); the meanings are this toy's.
PARAMETERS: dict[str, list] = {
    "cs": [0.1, 0.2, 0.3, 0.4, 0.5],  # sound speed of the gas: sets the shock speed
    "mrg": [0.5, 1.0, 2.0],  # numerical nuisance (interface smearing): nearly no effect
    "profile": [0, 1, 2],  # perturbation mode shape: cos 2θ, cos 4θ, mixed cos 2θ + cos 6θ
    "s1": [0.0, 0.005, 0.01],  # initial perturbation amplitude of the shell edge
    "s2": [6.0, 8.0, 10.0],  # initial shell density: changes density, not the fronts
    "gamma": [1.3, 1.4, 1.67],  # adiabatic index: shock speed and compression ratio
    "rho_gas": [0.75, 1.5, 2.25],  # gas fill density: changes density, not the fronts
}

CSV_NAME = "simulations.csv"
SIMS_DIR = "sims"

R_MAX = 1.0  # domain: R in [0, R_MAX], z in [-Z_MAX, Z_MAX]
Z_MAX = 1.0
T_END = 40.0  # µs; time[i] = T_END (i + 1) / steps, so 40 steps are 1, 2, ..., 40 µs
EDGE0 = 0.85  # initial edge radius
U_PISTON = 0.25  # edge speed, in radius per T_END
THICK0 = 0.05  # initial shell thickness
WIDTH = 0.012  # tanh half-width of interfaces (about 0.4 cells on the default grid)
VACUUM_CUT = 2.5  # past the shell's outer radius + VACUUM_CUT * WIDTH the density is exactly 0
MODES = 7  # fronts hold cos modes 0..6; stored coefficients are truncated or zero-padded
SHAPES = {  # unit-norm mode shape per profile level: {k: coefficient of cos k theta}
    0: {2: 1.0},
    1: {4: 1.0},
    2: {2: 0.6, 6: 0.8},
}
# Per-simulation jitter, kept small so that the levels stay the dominant effect.
JITTER = 0.004  # relative, on the piston and shock speeds (start radius: a fifth of it)
DENSITY_JITTER = 0.01  # relative, on gas and shell densities, shell thickness, interface width
ROUGHNESS = 0.0005  # untargeted edge perturbation per mode (before growth)
SHOCK_SHAPE = 0.03  # shock shape per mode, relative to the shock-edge gap
RAMP = 0.5  # compressed gas is (1 + RAMP) times denser at the edge than just behind the shock
FEATURE_NOISE = 0.0015  # "extraction" noise per coefficient per step, on shock and edge


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _combinations(rng: np.random.Generator, sims: int) -> np.ndarray:
    """Level indices ``(sims, 7)``: distinct combinations until all are used, then repeats."""
    sizes = [len(levels) for levels in PARAMETERS.values()]
    total = int(np.prod(sizes))
    flat = []
    while len(flat) < sims:  # each pass is one full permutation, so no repeat within a pass
        need = min(sims - len(flat), total)
        flat.extend(rng.permutation(total)[:need].tolist())
    return np.stack(np.unravel_index(np.asarray(flat), sizes), axis=1)


class _Grid:
    """Polar view of the cylindrical grid and the cos basis, shared by all simulations."""

    def __init__(self, grid: tuple[int, int], steps: int, n_coeffs: int) -> None:
        nr, nz = grid
        self.r = (np.arange(nr) + 0.5) * (R_MAX / nr)
        self.z = -Z_MAX + (np.arange(nz) + 0.5) * (2 * Z_MAX / nz)
        self.time = T_END * np.arange(1, steps + 1) / steps
        self.tau = self.time / T_END
        rr, zz = np.meshgrid(self.r, self.z, indexing="ij")
        # The fields are built in float32 (their stored type): tanh is ~5x faster than in float64.
        self.rad = np.hypot(rr, zz).astype(np.float32)
        theta = np.arctan2(rr, zz)  # angle from +z, in [0, pi]
        self.basis = np.cos(np.arange(MODES)[:, None, None] * theta).astype(np.float32)
        self.n_coeffs = n_coeffs

    def on_grid(self, coeffs: np.ndarray) -> np.ndarray:
        """Front radius ``(T, NR, NZ)`` from coefficients ``(T, MODES)``."""
        # Not tensordot: this product is tiny, and BLAS threads spinning on a busy machine
        # made it ten times slower than numpy's own loop.
        return np.einsum("tk,kij->tij", coeffs.astype(np.float32), self.basis, optimize=False)


def _step(x: np.ndarray, width: float) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x * (1.0 / width)))  # python floats keep x's float32


def _simulate(g: _Grid, levels: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cs, mrg, profile = levels["cs"], levels["mrg"], levels["profile"]
    s1, s2, gamma, rho_gas = levels["s1"], levels["s2"], levels["gamma"], levels["rho_gas"]
    tau = g.tau[:, None]  # (T, 1)
    j = rng.normal(size=8)
    rough = rng.normal(scale=ROUGHNESS, size=MODES)
    q = rng.normal(scale=SHOCK_SHAPE, size=MODES)
    log_mrg = np.log2(mrg)

    # Edge: piston-driven convergence; the perturbation grows as the shell converges
    # (Bell-Plesset-like), so differences between simulations grow with time.
    u_p = U_PISTON * (1 + JITTER * j[0])
    e0 = EDGE0 * (1 + 0.2 * JITTER * j[1])
    e_mean = e0 - u_p * tau  # (T, 1)
    shape = np.zeros(MODES)
    for k, amp in SHAPES[int(profile)].items():
        shape[k] = amp
    edge = (e0 / e_mean) ** 2 * (s1 * shape + rough)  # (T, MODES)
    edge[:, 0] = e_mean[:, 0]

    # Shock: planar piston-shock speed; mrg moves it by a negligible 0.1 % per octave.
    a = (gamma + 1) * u_p / 4
    u_s = (a + np.sqrt(a * a + cs * cs)) * (1 + JITTER * j[2]) * (1 + 0.001 * log_mrg)
    gap = (u_s - u_p) * tau  # (T, 1), > 0 since u_s > (gamma + 1) u_p / 2 > u_p
    q[0] = 1.0
    shock = edge - gap * q  # s = e - gap (1 + q(theta)) stays inside e since |q(theta)| << 1

    # Densities: Rankine-Hugoniot compression for Mach u_s / cs; shell compresses as it converges.
    mach2 = (u_s / cs) ** 2
    compression = (gamma + 1) * mach2 / ((gamma - 1) * mach2 + 2)
    rho_g = float(rho_gas * (1 + DENSITY_JITTER * j[3]))
    rho_c = float(rho_g * compression)
    conv = (e0 / e_mean)[:, :, None].astype(np.float32)  # (T, 1, 1): shell thickens, densifies
    rho_sh = float(s2 * (1 + DENSITY_JITTER * j[4])) * conv
    thick = float(THICK0 * (1 + DENSITY_JITTER * j[5])) * conv
    width = float(WIDTH * (1 + 0.03 * log_mrg) * (1 + DENSITY_JITTER * j[6]))  # mrg: +-3 %

    e_grid = g.on_grid(edge)
    s_grid = g.on_grid(shock)
    x_out = g.rad - (e_grid + thick)
    # Behind a converging shock the gas keeps compressing: ramp up by RAMP toward the edge.
    ramp = np.clip((g.rad - s_grid) / (e_grid - s_grid), 0.0, 1.0)
    rho = rho_g + (rho_c * (1.0 + RAMP * ramp) - rho_g) * _step(g.rad - s_grid, width)
    rho = rho + (rho_sh - rho) * _step(g.rad - e_grid, width)  # convex blends keep rho >= 0
    rho = rho * _step(-x_out, width)
    rho[x_out > VACUUM_CUT * width] = 0.0  # vacuum is exactly empty, not a tanh tail

    # Features: truncated/padded to n_coeffs, plus extraction noise drawn last.
    k = g.n_coeffs
    feats = {}
    for name, coeffs in (("shock", shock), ("edge", edge)):
        out = np.zeros((len(g.time), k))
        n = min(k, MODES)
        out[:, :n] = coeffs[:, :n]
        feats[name] = out + rng.normal(scale=FEATURE_NOISE, size=out.shape)
    return {
        "r": g.r,
        "z": g.z,
        "time": g.time,
        "density": rho,
        "shock": feats["shock"],
        "edge": feats["edge"],
    }


def _atomic_write(
    path: pathlib.Path, write: Callable[[io.BufferedWriter], None], overwrite: bool = True
) -> None:
    """Write through a temp file in the same folder and rename, so a reader never sees half.

    With ``overwrite=False`` the temp file is hard-linked into place, which fails rather than
    replace a file that appeared meanwhile.
    """
    # A unique name opened with "x" (not mkstemp) so the file gets the umask's usual mode.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            write(fh)
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ValueError(f"{path} already exists; refusing to overwrite an ensemble") from None
        except OSError:  # no hard links here: fall back to check-then-rename
            if path.exists():
                raise ValueError(f"{path} already exists; refusing to overwrite an ensemble") from None
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Where the model is defined for a continuous parameter (it divides by cs, takes log2(mrg), needs
# gamma > 1 for a finite compression, and blends densities convexly only when they are >= 0).
_DOMAIN: dict[str, tuple[str, Callable[[float], bool]]] = {
    "cs": ("> 0", lambda v: v > 0),
    "mrg": ("> 0", lambda v: v > 0),
    "gamma": ("> 1", lambda v: v > 1),
    "s2": (">= 0", lambda v: v >= 0),
    "rho_gas": (">= 0", lambda v: v >= 0),
    "s1": ("finite", lambda v: True),
}
LEVEL_PARAMETERS = ("profile",)  # used as an index (a mode shape), not as a number


def read_params(path: str | os.PathLike) -> tuple[list[dict], list[str], list[list[str]]]:
    """Parameter values per row of a CSV (e.g. proposals), plus its other columns and their cells.

    Every name in :data:`PARAMETERS` must be a column; continuous values must be finite numbers
    inside the model's domain; ``profile`` must be one of its levels. ValueError, one line, else.
    """
    path = pathlib.Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read --params {path}: {exc}") from None
    if not table or not any(cell.strip() for cell in table[0]):
        raise ValueError(f"{path}: empty, expected a header with the parameters {', '.join(PARAMETERS)}")
    header = [cell.strip() for cell in table[0]]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ValueError(f"{path}: duplicate column {dup[0]!r}")
    missing = [name for name in PARAMETERS if name not in header]
    if missing:
        raise ValueError(f"{path}: missing parameter column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)} (the model needs {', '.join(PARAMETERS)})")
    for reserved in ("sim_id", "path"):
        if reserved in header:
            raise ValueError(f"{path}: column {reserved!r} is written by sample; rename or drop it")
    extra = [h for h in header if h not in PARAMETERS]
    where = {h: k for k, h in enumerate(header)}
    body = [row for row in table[1:] if any(cell.strip() for cell in row)]
    if not body:
        raise ValueError(f"{path}: no rows; one simulation is run per row")
    given, extra_rows = [], []
    for number, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, row {number}: {len(row)} cells, the header has {len(header)}")
        values = {}
        for name in PARAMETERS:
            cell = row[where[name]].strip()
            try:
                value = float(cell)
            except ValueError:
                value = float("nan")
            if not np.isfinite(value):
                raise ValueError(f"{path}, row {number}: {name} = {cell!r} is not a finite number")
            if name in LEVEL_PARAMETERS:
                levels = PARAMETERS[name]
                if value not in levels:
                    raise ValueError(f"{path}, row {number}: {name} = {cell!r} is not a level; "
                                     f"{name} selects a mode shape, one of {', '.join(map(str, levels))}")
                value = int(value)
            else:
                rule, ok = _DOMAIN[name]
                if not ok(value):
                    raise ValueError(f"{path}, row {number}: {name} = {cell!r}; the model needs {name} {rule}")
            values[name] = value
        given.append(values)
        extra_rows.append([row[where[h]] for h in extra])
    return given, extra, extra_rows


def write_sample(
    out_dir: str | os.PathLike,
    sims: int = 1000,
    steps: int = 40,
    grid: tuple[int, int] = (32, 64),
    seed: int = 0,
    n_coeffs: int = 8,
    progress: Callable[[int, int], None] | None = None,
    params: str | os.PathLike | None = None,
    prefix: str | None = None,
) -> pathlib.Path:
    """Write a synthetic ensemble of ``sims`` simulations into ``out_dir``; return the CSV path.

    Writes ``sims/simNNNNN.npz`` (one per simulation, atomically) and then ``simulations.csv``
    (``sim_id,path,<parameters>``, paths relative to the CSV). Deterministic for ``seed``.
    Refuses (ValueError) to write into a folder that already holds a ``simulations.csv``.

    With ``params`` (a CSV such as ``jupyter dsi propose`` writes), the parameter values are
    read from it instead of drawn: one simulation per row (``sims`` is ignored), continuous
    parameters used as given, ``profile`` one of its levels; its other columns (``proposal_id``,
    ``component``) are kept as columns of ``simulations.csv``. Ids are ``{prefix}NNNNN``
    (``prefix`` defaults to ``sim``, or ``prop`` with ``params``), so they do not collide with
    a drawn ensemble's. The noise still follows ``seed``.
    """
    if prefix is None:
        prefix = "sim" if params is None else "prop"
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"prefix must be letters, digits, '_' or '-' and start with a letter, got {prefix!r}")
    given: list[dict] | None = None
    extra: list[str] = []
    extra_rows: list[list[str]] = []
    if params is not None:
        given, extra, extra_rows = read_params(params)
        sims = len(given)
    sims = _check_int("sims", sims, 1)
    steps = _check_int("steps", steps, 2)
    n_coeffs = _check_int("n_coeffs", n_coeffs, 1)
    seed = _check_int("seed", seed, 0)
    try:
        nr, nz = grid
    except (TypeError, ValueError):
        raise ValueError(f"grid must be a pair (NR, NZ), got {grid!r}") from None
    nr = _check_int("grid NR", nr, 4)
    nz = _check_int("grid NZ", nz, 4)

    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    csv_path = out / CSV_NAME
    if csv_path.exists():
        raise ValueError(f"{csv_path} already exists; refusing to overwrite an ensemble")
    sims_dir = out / SIMS_DIR
    sims_dir.mkdir(parents=True, exist_ok=True)

    # One independent stream for the design and one per simulation: a simulation's jitter
    # depends only on (seed, index), not on how the others were drawn.
    seeds = np.random.SeedSequence(seed).spawn(sims + 1)
    names = list(PARAMETERS)
    if given is None:
        design = _combinations(np.random.default_rng(seeds[0]), sims)
        given = [{name: PARAMETERS[name][idx] for name, idx in zip(names, design[i])} for i in range(sims)]
        extra_rows = [[] for _ in range(sims)]
    g = _Grid((nr, nz), steps, n_coeffs)
    digits = max(5, len(str(sims - 1)))

    rows = []
    for i in range(sims):
        levels = given[i]
        arrays = _simulate(g, levels, np.random.default_rng(seeds[i + 1]))
        sim_id = f"{prefix}{i:0{digits}d}"
        rel = f"{SIMS_DIR}/{sim_id}.npz"
        _atomic_write(out / rel, lambda fh: np.savez_compressed(fh, **arrays))
        rows.append([sim_id, rel, *(levels[name] for name in names), *extra_rows[i]])
        if progress is not None:
            progress(i + 1, sims)

    # The CSV goes last: if anything above fails, no CSV points at missing files.
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["sim_id", "path", *names, *extra])
    writer.writerows(rows)
    _atomic_write(csv_path, lambda fh: fh.write(text.getvalue().encode()), overwrite=False)
    return csv_path


__all__ = ["PARAMETERS", "read_params", "write_sample"]

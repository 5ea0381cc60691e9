"""The arithmetic of closeness: calibration against a fixed background, cut-offs, feedback.

Pure numpy, no I/O. A raw cosine means different things for different topics (a broad topic
sits close to many papers, a narrow one to few), so each topic's cosine is turned into a
z-score: how many standard deviations above its mean over a fixed *background* sample of
papers. The background never changes with the batch, so whether a paper is close depends on
the topic and the paper only: the preview, the dry run and the send agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Settings:
    """The few global numbers of closeness, chosen on the dev set (bench/RESULTS.md)."""

    k: float = 2.0  # default cut-off: background mean + k standard deviations
    per_step: float = 0.35  # how far one step narrower (+) or broader (-) moves k
    floor: float = 0.15  # below this cosine a paper is never close, whatever its z-score
    alpha: float = 1.0  # Rocchio: weight of the topic itself
    beta: float = 0.75  # Rocchio: weight of the mean of the liked papers
    gamma: float = 0.25  # Rocchio: weight of the mean of the rejected papers
    feedback_shift: float = 1.0  # k lowers by this once a profile has liked papers (see below)
    held_back: float = 0.80  # cosine to a rejected paper above which a paper is held back
    min_std: float = 0.02  # a background spread never taken smaller than this


DEFAULT = Settings()


def unit(rows: Matrix) -> Matrix:
    """Rows scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    scaled: Matrix = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled


def cutoff(step: int, liked: bool = False, settings: Settings = DEFAULT) -> float:
    """The z-score a paper must reach at this closeness setting (monotonic in ``step``).

    A vector moved toward liked papers sits among papers, not words: its background spread
    grows and on-topic papers score fewer deviations above it (measured on the dev set: the
    remaining relevant papers fell from z 2-3 to 1.5-2.3), so the cut-off comes down with it.
    """
    return settings.k + settings.per_step * step - (settings.feedback_shift if liked else 0.0)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Each query's cosine mean and spread over the background (one entry per query)."""

    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]


def calibrate(queries: Matrix, background: Matrix, settings: Settings = DEFAULT) -> Calibration:
    """The background statistics of each query row: one (queries x background) product."""
    sims = queries @ background.T
    std = np.maximum(sims.std(axis=1), settings.min_std)
    return Calibration(sims.mean(axis=1).astype(np.float32), std.astype(np.float32))


def zscores(cosines: Matrix, calibration: Calibration) -> Matrix:
    """Cosines (queries x papers) as standard deviations above each query's background."""
    z = (cosines - calibration.mean[:, None]) / calibration.std[:, None]
    return z.astype(np.float32)


def close_mask(
    cosines: Matrix, z: Matrix, cuts: npt.NDArray[np.float32], settings: Settings = DEFAULT
) -> Bools:
    """Which papers each query finds close: z at or above its cut-off, cosine above the
    floor."""
    close: Bools = (z >= cuts[:, None]) & (cosines >= settings.floor)
    return close


def rocchio(query: Matrix, liked: Matrix, rejected: Matrix, settings: Settings = DEFAULT) -> Matrix:
    """The query moved toward what was liked and away from what was not (a unit vector)."""
    moved = settings.alpha * query.astype(np.float32)
    if len(liked):
        moved = moved + settings.beta * liked.mean(axis=0)
    if len(rejected):
        moved = moved - settings.gamma * rejected.mean(axis=0)
    row: Matrix = unit(moved[None, :])[0]
    return row


def near_any(rejected: Matrix, papers: Matrix, settings: Settings = DEFAULT) -> Bools:
    """Papers whose cosine to any rejected paper reaches the held-back threshold."""
    if not len(rejected) or not len(papers):
        return np.zeros(len(papers), dtype=bool)
    near: Bools = (papers @ rejected.T).max(axis=1) >= settings.held_back
    return near


def fuse(z: Matrix, word_hits: Bools, bonus: float) -> Matrix:
    """One score from meaning and words: a paper the words also find gains ``bonus``
    standard deviations, so words lower the cut-off instead of replacing it."""
    return (z + bonus * word_hits.astype(np.float32)).astype(np.float32)


def bitsets(rows: Bools) -> list[int]:
    """Each row of booleans as a bitset, packed in one pass over the matrix."""
    packed = np.packbits(rows, axis=-1, bitorder="little")
    width, data = packed.shape[-1], packed.tobytes()
    return [int.from_bytes(data[i * width : (i + 1) * width], "little") for i in range(len(rows))]


def bitset(flags: Bools) -> int:
    """A row of booleans as the matcher's bitset (bit i for papers[i])."""
    packed = np.packbits(flags.astype(np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")

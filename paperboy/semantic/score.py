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

    k: float = 1.7  # default cut-off: this many background standard deviations
    per_step: float = 0.35  # how far one step narrower (+) or broader (-) moves the cut-off
    floor: float = 0.15  # below this cosine a paper is never close, whatever its z-score
    meaning_weight: float = 0.5  # about: z = this x meaning + the rest x BM25 of its words
    phrase_weight: float = 0.5  # each half: this x mean of its phrases + the rest x whole text
    k_liked: float = 2.5  # the cut-off once a profile has liked papers (see ``cutoff``)
    k_more: float = 4.0  # the cut-off of "close to the papers it liked" (see ``cutoff``)
    near_liked: float = 1.0  # weight of the z-score of the cosine to the closest liked paper
    held_back: float = 0.80  # cosine to a rejected paper above which a paper is held back
    min_std: float = 0.02  # a background spread never taken smaller than this
    # Blind feedback (see ``expanded``): an about: text's vector moves toward the mean of the
    # background papers it scores at least ``expand_z`` on (the best one at least, at most
    # ``expand_max``), by ``expand_weight`` (0 turns it off).
    expand_z: float = 2.0
    expand_weight: float = 1.0
    expand_max: int = 30
    word_bonus: float = 0.75  # fused with words: a word hit adds this many sd (``fuse``)
    # ~hints (``hinted``): a want with hints needs ``k_hinted`` (not ``k``), and a paper gains
    # ``hint_bonus`` x the share of the hints' weight (IDF over the background) it contains.
    k_hinted: float = 2.85
    hint_bonus: float = 1.75


DEFAULT = Settings()


def unit(rows: Matrix) -> Matrix:
    """Rows scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    scaled: Matrix = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled


def cutoff(
    step: int,
    liked: bool = False,
    settings: Settings = DEFAULT,
    more: bool = False,
    hinted: bool = False,
) -> float:
    """The score a paper must reach at this closeness setting (monotonic in ``step``).

    Once a profile has liked papers its score gains the z-score of the cosine to the closest
    of them (``near_liked``), so a paper needs more evidence in all: ``k_liked`` instead of
    ``k``. ``more`` is the want "close to the papers it liked" that the matcher adds beside the
    profile's own atoms (OR): with no topic to agree, it needs ``k_more``, so that only papers
    very like a liked one join (at ``k_liked`` it added many off-topic papers: feedback F1 on
    the dev set 0.35 -> 0.43, clicks on one half scored on the other 0.56 -> 0.63).
    A want with ~hints needs ``k_hinted - k`` more (what its hints give back, ``hinted``).
    """
    base = settings.k_more if more else settings.k_liked if liked else settings.k
    raised = settings.k_hinted - settings.k if hinted else 0.0
    return base + raised + settings.per_step * step


@dataclass(frozen=True, slots=True)
class Calibration:
    """Each query's cosine mean and spread over the background (one entry per query)."""

    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]


def calibrate(queries: Matrix, background: Matrix, settings: Settings = DEFAULT) -> Calibration:
    """The background statistics of each query row: one (queries x background) product."""
    return spread(queries @ background.T, settings)


def spread(sims: Matrix, settings: Settings = DEFAULT) -> Calibration:
    """Mean and spread of each row of scores over the background (queries x background)."""
    std = np.maximum(sims.std(axis=1), settings.min_std)
    return Calibration(sims.mean(axis=1).astype(np.float32), std.astype(np.float32))


def zscores(cosines: Matrix, calibration: Calibration) -> Matrix:
    """Cosines (queries x papers) as standard deviations above each query's background."""
    z = (cosines - calibration.mean[:, None]) / calibration.std[:, None]
    return z.astype(np.float32, copy=False)  # no copy of a float32 batch


def zscores_in_place(cosines: Matrix, calibration: Calibration) -> Matrix:
    """``zscores(cosines, calibration)`` written over ``cosines`` (a float32 batch's matrix,
    read no more): the same two operations, no second matrix."""
    kinds = (cosines.dtype, calibration.mean.dtype, calibration.std.dtype)
    if any(kind != np.float32 for kind in kinds):  # other types: the same arithmetic as before
        return zscores(cosines, calibration)
    cosines -= calibration.mean[:, None]
    cosines /= calibration.std[:, None]
    return cosines


def close_mask(
    cosines: Matrix, z: Matrix, cuts: npt.NDArray[np.float32], settings: Settings = DEFAULT
) -> Bools:
    """Which papers each query finds close: z at or above its cut-off, cosine above the
    floor."""
    close: Bools = (z >= cuts[:, None]) & (cosines >= settings.floor)
    return close


def mixed(whole: Matrix, parts: Matrix, weight: float) -> Matrix:
    """``weight`` x the mean of the parts' rows (axis 0) + the rest x the whole row."""
    if not len(parts):
        return whole
    out: Matrix = ((1 - weight) * whole + weight * parts.mean(axis=0)).astype(np.float32)
    return out


def nearest(examples: Matrix, papers: Matrix) -> Matrix:
    """Each paper's cosine to the closest example (zeros when there is none)."""
    if not len(examples):
        return np.zeros(len(papers), dtype=np.float32)
    best: Matrix = (papers @ examples.T).max(axis=1).astype(np.float32)
    return best


def near_any(rejected: Matrix, papers: Matrix, settings: Settings = DEFAULT) -> Bools:
    """Papers whose cosine to any rejected paper reaches the held-back threshold."""
    if not len(rejected) or not len(papers):
        return np.zeros(len(papers), dtype=bool)
    near: Bools = (papers @ rejected.T).max(axis=1) >= settings.held_back
    return near


def expanded(
    whole: Matrix, background: Matrix, scores: Matrix, settings: Settings = DEFAULT
) -> Matrix:
    """Blind pseudo-relevance feedback: each topic row of ``whole`` moved toward the mean of
    the background papers it scores highest (``scores``: topics x background, the want's own
    z-score mix), ``unit(row + expand_weight x unit(mean))``.

    The papers taken are those at or above ``expand_z`` (the best one when none is, at most
    ``expand_max``): the background's own matches. A broad topic's text sits between its
    papers; their mean pulls it toward what they share, so its papers score higher against the
    same background and the cut-off can be lower. It depends on the background only, never on
    the batch (the moved row is computed once per want). Dev set: about: alone 0.672 -> 0.714 at
    k 1.7 (split-half 0.570 -> 0.59; bench/RESULTS.md, round 5)."""
    if not len(whole) or settings.expand_weight <= 0:
        return whole
    n = scores.shape[1]
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[None, :].repeat(len(scores), 0), axis=1)
    taken = np.clip((scores >= settings.expand_z).sum(axis=1), 1, settings.expand_max)
    chosen = (ranks < taken[:, None]).astype(np.float32)
    centroids = unit(chosen @ background / taken[:, None].astype(np.float32))
    return unit(whole + settings.expand_weight * centroids)


def hinted(
    index: npt.NDArray[np.intp], share: Matrix, hits: Bools, settings: Settings = DEFAULT
) -> Matrix:
    """What ~hints add to each want's score: ``hint_bonus`` x the share of its hints' weight
    found in each paper (``hits``: distinct hints x papers; ``index`` and ``share``: wants x
    most hints of one, which hint and its share of the want's weight, each row's shares
    summing to 1, padding 0). With the higher cut-off (``k_hinted``), a paper with every hint
    needs z >= k_hinted - hint_bonus (1.1), one with none z >= k_hinted (2.85): the words move
    the bar, they are not required. Dev set, the naive words as hints through the Matcher:
    0.714 (about: alone) -> 0.766 (bench/RESULTS.md, round 6)."""
    added = np.zeros((len(index), hits.shape[1]), dtype=np.float32)
    for j in range(index.shape[1]):  # a want has a few hints: a few gathers, no dense product
        added += share[:, j, None] * hits[index[:, j]]
    added *= settings.hint_bonus
    return added


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

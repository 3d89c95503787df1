"""Seeded, label-stratified splits (iterative multi-label stratification, Sechidis et al. 2011):
the same folds from Python, C++ (the C ABI) and `vindr split`; an independent Python
implementation of the paper's algorithm with the documented SplitMix64 tie-breaking as an exact
oracle; label balance against the `iterative-stratification` package and a random split."""
from __future__ import annotations

import csv
import io
import pathlib
import subprocess

import numpy as np
import pytest

import vindr
from test_abi import build
from test_annotations import kaggle_train_csv  # noqa: F401  (shared fixture)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"
MASK = (1 << 64) - 1


# -- an independent implementation of the documented algorithm ----------------------------------

class SplitMix64:
    """Steele, Lea and Flood 2014 (Vigna's constants); below(n) = high 64 bits of next() * n."""

    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return (self.next() * n) >> 64


def test_splitmix64_reference_values():
    # The published first outputs for seed 1234567 (Vigna's splitmix64.c).
    r = SplitMix64(1234567)
    assert [r.next() for _ in range(5)] == [6457827717110365317, 3203168211198807973, 9817491932198370423,
                                            4593380528125082431, 16408922859458223821]


def reference_split(ids: list[str], labels: np.ndarray, proportions: list[float], seed: int) -> dict[str, int]:
    """Algorithm 1 of Sechidis et al.: images in image_id order, shuffled by Fisher-Yates; the
    rarest remaining label first; each of its images to the fold wanting the label most, then
    wanting images most, then a SplitMix64 draw; unlabeled images to the fold wanting images most."""
    rng = SplitMix64(seed)
    by_id = sorted(range(len(ids)), key=lambda i: ids[i].encode())
    y = labels[by_id].astype(bool)
    n, k = len(ids), len(proportions)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    want = [r * float(n) for r in proportions]
    want_label = [[r * float(t) for t in y.sum(axis=0)] for r in proportions]
    fold = [-1] * n

    def pick(c):
        return c[0] if len(c) == 1 else c[rng.below(len(c))]

    def best(c, value):
        top = max(value(j) for j in c)
        return [j for j in c if value(j) == top]

    def give(i, j):
        fold[i] = j
        want[j] -= 1
        for l in np.flatnonzero(y[i]):
            want_label[j][l] -= 1

    while min(fold) < 0:
        open_ = np.array([f < 0 for f in fold])
        remaining = y[open_].sum(axis=0)
        present = [l for l in range(y.shape[1]) if remaining[l] > 0]
        if not present:
            for i in order:
                if fold[i] < 0:
                    give(i, pick(best(range(k), lambda j: want[j])))
            break
        fewest = min(remaining[l] for l in present)
        label = pick([l for l in present if remaining[l] == fewest])
        for i in order:
            if fold[i] < 0 and y[i, label]:
                by_label = best(range(k), lambda j: want_label[j][label])
                give(i, pick(best(by_label, lambda j: want[j])))
    return {ids[by_id[p]]: fold[p] for p in range(n)}


# -- data ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[pathlib.Path]:
    d = tmp_path_factory.mktemp("sample")
    vindr.write_sample(d, train=40, test=4, size=64, seed=3)
    return [d / "annotations" / "annotations_train.csv", d / "annotations" / "image_labels_train.csv"]


def synthetic_labels(n: int, seed: int) -> np.ndarray:
    """(n, 28) 0/1 labels with prevalences from 0.2% to 30% and correlated through a shared
    latent severity; "No finding" where nothing else holds, a few rows with no label at all."""
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.002, 0.3, 27)
    severity = rng.random(n)
    y = (rng.random((n, 27)) < prevalence * (0.4 + 1.2 * severity[:, None])).astype(np.uint8)
    none = y.sum(axis=1) == 0
    finding = none & (rng.random(n) > 0.02)
    return np.concatenate([y, finding[:, None].astype(np.uint8)], axis=1)


def write_consensus_labels(path: pathlib.Path, ids: list[str], y: np.ndarray) -> pathlib.Path:
    """An image_labels_test.csv (consensus, one row per image) holding `y`."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id"] + [label.name for label in vindr.LABELS])
        for image_id, row in zip(ids, y):
            w.writerow([image_id] + [int(v) for v in row])
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 1200
    ids = [f"{rng.integers(1 << 60):016x}" for _ in range(n)]
    y = synthetic_labels(n, 9)
    return write_consensus_labels(tmp_path_factory.mktemp("synthetic") / "labels.csv", ids, y)


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "split", *map(str, args)], capture_output=True, text=True)


def parse_csv(text: str) -> dict[str, int]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["image_id", "fold"]
    return {r[0]: int(r[1]) for r in rows[1:]}


# -- folds --------------------------------------------------------------------------------------

@pytest.mark.parametrize("folds,validation", [(5, None), (2, None), (None, 0.25)])
def test_partition_and_the_reference_algorithm(sample, synthetic, folds, validation):
    for paths in (sample, [synthetic]):
        ann = vindr.Annotations(*paths)
        got = ann.split(folds=folds, validation=validation, seed=11)
        assert list(got) == sorted(ann.image_ids) and len(got) == len(ann)
        k = folds or 2
        assert set(got.values()) == set(range(k))  # disjoint by construction (one fold per image), none empty
        proportions = [1 / k] * k if folds else [1 - validation, validation]
        assert got == reference_split(ann.image_ids, ann.labels(), proportions, 11)


def test_same_seed_same_folds_from_python_cpp_and_the_cli(tmp_path, sample, synthetic):
    ann = vindr.Annotations(*sample)
    want = ann.split(folds=4, seed=2026)
    assert ann.split(folds=4, seed=2026) == want
    args = [a for p in sample for a in ("--annotations", p)]
    out = cli(*args, "--folds", 4, "--seed", 2026, "-o", tmp_path / "folds.csv")
    assert out.returncode == 0, out.stderr
    assert parse_csv((tmp_path / "folds.csv").read_text()) == want
    # Seeds use all 64 bits, the same in every layer.
    big = 2**64 - 5
    out = cli("--annotations", synthetic, "--validation", 0.2, "--seed", big)
    assert out.returncode == 0, out.stderr
    syn = vindr.Annotations(synthetic)
    assert parse_csv(out.stdout) == syn.split(validation=0.2, seed=big)

    exe = build(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    for folds, validation, seed, index in ((0, 0.2, big, syn), (7, 0, 1, syn)):
        out = subprocess.run([str(exe), "split", str(synthetic), str(folds), repr(validation), str(seed)],
                             capture_output=True, text=True, check=True).stdout.split()
        py = index.split(folds=folds or None, validation=validation or None, seed=seed)
        assert [int(v) for v in out] == [py[i] for i in index.image_ids]


def test_seeds_differ_and_file_order_does_not_matter(tmp_path, synthetic):
    ann = vindr.Annotations(synthetic)
    a, b = ann.split(folds=5, seed=1), ann.split(folds=5, seed=2)
    assert sum(a[i] != b[i] for i in a) > len(a) // 4
    lines = synthetic.read_text().splitlines(keepends=True)
    shuffled = tmp_path / "shuffled.csv"
    rest = lines[1:]
    np.random.default_rng(0).shuffle(rest)
    shuffled.write_text(lines[0] + "".join(rest))
    other = vindr.Annotations(shuffled)
    assert other.image_ids != ann.image_ids
    assert other.split(folds=5, seed=1) == a


def loaded_ids(dataset) -> list[str]:
    loader = vindr.Loader(dataset, 32, batch_size=8, shuffle=False, workers=1)
    return [t["image_id"] for batch in loader for t in batch.targets]


def test_dataset_split_gives_one_dataset_per_fold(tmp_path):
    vindr.write_sample(tmp_path, train=24, test=0, size=64, seed=4)
    csvs = [tmp_path / "annotations" / "annotations_train.csv", tmp_path / "annotations" / "image_labels_train.csv"]
    ann = vindr.Annotations(*csvs)
    dataset = vindr.Dataset(tmp_path, ann, global_min_votes=1)
    want = ann.split(folds=3, seed=8, min_votes=1)
    parts = dataset.split(folds=3, seed=8)
    assert [len(p) for p in parts] == [sum(f == j for f in want.values()) for j in range(3)]
    for j, part in enumerate(parts):
        assert sorted(loaded_ids(part)) == [i for i, f in want.items() if f == j]
    train, val = dataset.split(validation=0.25, seed=8)
    assert sorted(loaded_ids(train) + loaded_ids(val)) == sorted(ann.image_ids)
    assert set(loaded_ids(val)) == {i for i, f in ann.split(validation=0.25, seed=8, min_votes=1).items() if f == 1}
    # An image without its DICOM: left out of its fold and listed there with missing="skip".
    gone = ann.image_ids[5]
    next(tmp_path.rglob(f"{gone}.dicom")).unlink()
    parts = vindr.Dataset(tmp_path, ann, global_min_votes=1, missing="skip").split(folds=3, seed=8)
    assert [p.skipped for p in parts] == [[gone] if want[gone] == j else [] for j in range(3)]
    assert sum(len(p) for p in parts) == len(ann) - 1
    # C++: Samples::select of each fold of Annotations::split (majority labels, min_votes 2).
    exe = build(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    out = subprocess.run([str(exe), "split_dataset", str(tmp_path), str(csvs[0]), "3", "8"], capture_output=True,
                         text=True, check=True).stdout.split()
    majority = vindr.Annotations(csvs[0]).split(folds=3, seed=8)
    assert [int(v) for v in out] == [sum(f == j and i != gone for i, f in majority.items()) for j in range(3)]


# -- balance ------------------------------------------------------------------------------------

def deviation(y: np.ndarray, fold: np.ndarray, proportions) -> float:
    """Mean over folds and present labels of |label count in the fold - its desired share|."""
    y = y[:, y.sum(axis=0) > 0].astype(float)
    total = y.sum(axis=0)
    return float(np.mean([np.abs(y[fold == j].sum(axis=0) - r * total) for j, r in enumerate(proportions)]))


def oracle_folds(y: np.ndarray, folds, validation, seed: int) -> np.ndarray:
    iterstrat = pytest.importorskip("iterstrat.ml_stratifiers")
    out = np.zeros(len(y), dtype=int)
    x = np.zeros((len(y), 1))
    if folds:
        splits = iterstrat.MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y)
        for j, (_, test) in enumerate(splits):
            out[test] = j
    else:
        _, test = next(iterstrat.MultilabelStratifiedShuffleSplit(n_splits=1, test_size=validation,
                                                                   random_state=seed).split(x, y))
        out[test] = 1
    return out


def random_folds(n: int, proportions, seed: int) -> np.ndarray:
    cut = np.round(np.cumsum(proportions) * n).astype(int)
    return np.searchsorted(cut, np.random.default_rng(seed).permutation(n), side="right")


@pytest.mark.parametrize("folds,validation", [(5, None), (None, 0.2)])
def test_label_balance_against_iterative_stratification_and_random(synthetic, folds, validation):
    ann = vindr.Annotations(synthetic)
    ids, y = ann.image_ids, ann.labels()
    proportions = [1 / folds] * folds if folds else [1 - validation, validation]
    seeds = range(5)
    ours, oracle, rand = [], [], []
    for s in seeds:
        got = ann.split(folds=folds, validation=validation, seed=s)
        ours.append(deviation(y, np.array([got[i] for i in ids]), proportions))
        oracle.append(deviation(y, oracle_folds(y, folds, validation, s), proportions))
        rand.append(deviation(y, random_folds(len(y), proportions, s), proportions))
    assert np.mean(ours) <= 1.5 * np.mean(oracle), (ours, oracle)
    assert np.mean(ours) < 0.35 * np.mean(rand), (ours, rand)
    # Fold sizes near their shares too.
    got = ann.split(folds=folds, validation=validation, seed=0)
    sizes = np.bincount(list(got.values()), minlength=len(proportions))
    assert np.all(np.abs(sizes - np.array(proportions) * len(y)) <= 0.02 * len(y)), sizes


def test_label_balance_on_the_vinbigdata_training_labels(kaggle_train_csv):
    """15,000 images, three readers each, majority-vote labels: every label with at least 5
    images per fold lands within 10% (and 3 images) of its share in every fold."""
    ann = vindr.Annotations(kaggle_train_csv)
    ids, y = ann.image_ids, ann.labels()
    got = ann.split(folds=5, seed=42)
    fold = np.array([got[i] for i in ids])
    ours = deviation(y, fold, [0.2] * 5)
    assert ours <= 1.5 * deviation(y, oracle_folds(y, 5, None, 42), [0.2] * 5)
    assert ours < 0.35 * deviation(y, random_folds(len(y), [0.2] * 5, 42), [0.2] * 5)
    total = y.sum(axis=0)
    for j in range(5):
        count = y[fold == j].sum(axis=0)
        big = total >= 25
        assert np.all(np.abs(count - total / 5)[big] <= np.maximum(0.1 * total[big] / 5, 3)), (j, count, total)


# -- arguments ----------------------------------------------------------------------------------

def test_bad_arguments_name_the_argument(sample):
    ann = vindr.Annotations(*sample)
    cases = [(dict(folds=1), "folds must be at least 2, got 1"),
             (dict(folds=len(ann) + 1), f"folds {len(ann) + 1} exceeds the number of images ({len(ann)})"),
             (dict(validation=1.0), "validation must be a fraction in (0, 1), got 1.0"),
             (dict(validation=float("nan")), "validation must be a fraction in (0, 1)"),
             (dict(folds=3, validation=0.2), "give exactly one of folds"),
             (dict(), "give exactly one of folds"),
             (dict(folds=3, min_votes=0), "min_votes must be at least 1")]
    for kwargs, message in cases:
        with pytest.raises(vindr.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
            ann.split(**kwargs)
    with pytest.raises(vindr.InvalidArgumentError, match="folds must be an integer"):
        ann.split(folds=-2)
    with pytest.raises(vindr.InvalidArgumentError, match="seed must be an integer"):
        ann.split(folds=3, seed=-1)
    args = [a for p in sample for a in ("--annotations", p)]
    for extra, message in ((["--folds", "1"], "folds must be at least 2, got 1"),
                           (["--validation", "0"], "validation must be a fraction in (0, 1), got 0.0"),
                           (["--folds", "3", "--validation", "0.2"], "give exactly one of --folds and --validation"),
                           ([], "give exactly one of --folds and --validation")):
        out = cli(*args, *extra)
        assert out.returncode == 64 and message in out.stderr, (extra, out.stderr)
    out = cli(*args, "--folds", len(ann) + 1)
    assert out.returncode == 1 and "exceeds the number of images" in out.stderr, out.stderr

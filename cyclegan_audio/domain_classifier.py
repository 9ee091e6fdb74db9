"""A small, deterministic domain classifier: which of two training domains does audio sound like?

Features are fixed (no learned front end, nothing to download): per ~1 s segment,
the log-mel spectral shape (level-normalised), its variation over time, MFCC
statistics and a loudness contour. A standardised logistic regression is fitted
on segments of the two training domains. The target-style share of a signal is
the fraction of its non-silent segments assigned to the target domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import load, resample
from .errors import CycleGanAudioError

CLASSIFIER_SAMPLE_RATE = 16000
SEGMENT_S = 1.0
N_FFT = 1024
HOP_LENGTH = 256
N_MELS = 40
N_MFCC = 20
SILENCE_DBFS = -60.0  # segments quieter than this (RMS) are neither domain and are skipped
DOMAINS = ("A", "B")


def segment_features(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of each non-silent ``SEGMENT_S`` segment of ``y``: (n_segments, n_features).

    Level-normalised so a louder or quieter copy of the same sound gives nearly
    the same features (translations are loudness-matched to their input).
    A trailing part shorter than half a segment is dropped.
    """
    import librosa

    y = resample(np.asarray(y, dtype=np.float32), sample_rate, CLASSIFIER_SAMPLE_RATE)
    seg = int(SEGMENT_S * CLASSIFIER_SAMPLE_RATE)
    starts = range(0, max(0, y.size - seg // 2) + 1, seg) if y.size >= seg // 2 else []
    rows = []
    for start in starts:
        chunk = y[start : start + seg]
        if chunk.size < seg // 2:
            continue
        rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
        if rms <= 0 or 20.0 * np.log10(rms) < SILENCE_DBFS:
            continue
        mel = librosa.feature.melspectrogram(
            y=chunk / (rms * 10.0),
            sr=CLASSIFIER_SAMPLE_RATE,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            n_mels=N_MELS,
            power=2.0,
        )
        mel_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)  # (N_MELS, T)
        shape = mel_db.mean(axis=1)
        shape = shape - shape.max()
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)[1:]  # drop c0 (level)
        frame_db = librosa.power_to_db(mel.sum(axis=0), ref=float(mel.sum(axis=0).max()) + 1e-20)
        flatness = librosa.feature.spectral_flatness(y=chunk, n_fft=N_FFT, hop_length=HOP_LENGTH)[0]
        contour = [
            frame_db.mean(),
            frame_db.std(),
            np.mean(np.diff(frame_db)) if frame_db.size > 1 else 0.0,
            np.mean(np.abs(np.diff(frame_db))) if frame_db.size > 1 else 0.0,
            np.mean(frame_db > -10.0),
            np.log10(flatness.mean() + 1e-10),
        ]
        rows.append(
            np.concatenate(
                [shape, mel_db.std(axis=1), mfcc.mean(axis=1), mfcc.std(axis=1), contour]
            )
        )
    n_features = 2 * N_MELS + 2 * (N_MFCC - 1) + 6
    return np.asarray(rows, dtype=np.float64).reshape(-1, n_features)


@dataclass
class DomainClassifier:
    """Logistic regression on `segment_features`; label 0 = domain A, 1 = domain B."""

    model: object = None
    n_segments: dict[str, int] = field(default_factory=dict)
    holdout_accuracy: float = float("nan")  # fitted on even files, scored on odd ones

    def fit(
        self, features_a: Sequence[np.ndarray], features_b: Sequence[np.ndarray], seed: int = 0
    ):
        """Fit on per-file feature arrays of each domain (lists of (n_seg, n_feat))."""
        x_a = np.concatenate(list(features_a)) if features_a else np.zeros((0, 0))
        x_b = np.concatenate(list(features_b)) if features_b else np.zeros((0, 0))
        if len(x_a) == 0 or len(x_b) == 0:
            raise CycleGanAudioError(
                "domain classifier: each training domain needs non-silent audio"
            )
        self.n_segments = {"A": int(len(x_a)), "B": int(len(x_b))}
        # Held-out check by file, so a classifier that only memorises clips shows it.
        if len(features_a) >= 2 and len(features_b) >= 2:
            fit_a, fit_b = features_a[::2], features_b[::2]
            test_a, test_b = features_a[1::2], features_b[1::2]
            probe = _fit(np.concatenate(fit_a), np.concatenate(fit_b), seed)
            x_t = np.concatenate(list(test_a) + list(test_b))
            y_t = np.r_[np.zeros(sum(len(f) for f in test_a)), np.ones(sum(len(f) for f in test_b))]
            if len(x_t):
                self.holdout_accuracy = float(np.mean(probe.predict(x_t) == y_t))
        self.model = _fit(x_a, x_b, seed)
        return self

    def probability_b(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        """P(domain B) per non-silent segment of ``y``: (n_segments,)."""
        if self.model is None:
            raise RuntimeError("DomainClassifier.fit must be called first")
        x = segment_features(y, sample_rate)
        if len(x) == 0:
            return np.zeros(0)
        return self.model.predict_proba(x)[:, 1]

    def target_share(self, y: np.ndarray, sample_rate: int, target: str) -> float:
        """Fraction of the non-silent segments of ``y`` classified as ``target`` ("A" or "B").

        A signal with no non-silent segment scores 0 (it does not sound like the target).
        """
        p_b = self.probability_b(y, sample_rate)
        if p_b.size == 0:
            return 0.0
        is_b = p_b >= 0.5
        return float(np.mean(is_b if target == "B" else ~is_b))


def _fit(x_a: np.ndarray, x_b: np.ndarray, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([x_a, x_b])
    y = np.r_[np.zeros(len(x_a)), np.ones(len(x_b))]
    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, random_state=seed)
    )
    return clf.fit(x, y)


def train_domain_classifier(
    files_a: Sequence[str | Path],
    files_b: Sequence[str | Path],
    *,
    seed: int = 0,
    progress: bool = False,
) -> DomainClassifier:
    """Fit a `DomainClassifier` on two lists of training audio files (read at their own rate)."""
    from tqdm import tqdm

    feats: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    jobs = [("A", f) for f in files_a] + [("B", f) for f in files_b]
    for domain, path in tqdm(jobs, desc="classifier features", unit="file", disable=not progress):
        y = load(path, CLASSIFIER_SAMPLE_RATE)
        feats[domain].append(segment_features(y, CLASSIFIER_SAMPLE_RATE))
    return DomainClassifier().fit(feats["A"], feats["B"], seed=seed)

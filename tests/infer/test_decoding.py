import numpy as np

from actline.infer.decoding import (
    Decoding,
    decode,
    median_smooth,
    merge_short,
    runs,
    step_bounds,
    viterbi,
)


def _probs(labels, k=3, p=0.8):
    out = np.full((len(labels), k), (1 - p) / (k - 1))
    out[np.arange(len(labels)), labels] = p
    return out


def test_viterbi_needs_sustained_evidence_to_switch():
    labels = [0] * 6 + [1] + [0] * 6 + [2] * 6
    prob = _probs(labels)
    assert np.array_equal(viterbi(prob, 0.0), prob.argmax(1))  # no penalty: frame-wise argmax
    path = viterbi(prob, switch_penalty=4.0)  # one step of 0.8 vs 0.1 is worth log 8 = 2.1 < 2 * 4
    assert path.tolist() == [0] * 13 + [2] * 6


def test_viterbi_matches_brute_force_on_small_cases():
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(20):
        prob = rng.dirichlet(np.ones(3), size=5)
        lp = np.log(prob)

        def score(path):
            return sum(lp[t, c] for t, c in enumerate(path)) - 1.3 * sum(a != b for a, b in zip(path, path[1:]))

        best = max(itertools.product(range(3), repeat=5), key=score)
        assert np.isclose(score(viterbi(prob, 1.3)), score(best))


def test_median_and_minimum_duration():
    prob = _probs([0, 0, 1, 0, 0, 2, 2, 2, 2])
    assert median_smooth(prob, 3).argmax(1).tolist() == [0, 0, 0, 0, 0, 2, 2, 2, 2]
    times = np.stack([np.arange(9.0), np.arange(9.0) + 1], 1)  # 1 s steps
    bounds = step_bounds(times)
    assert bounds.tolist() == list(range(10))
    merged = merge_short(np.array([0, 0, 0, 1, 2, 2, 2, 2, 2]), prob, bounds, min_s=2.0)
    assert runs(merged) == [(0, 4, 0), (4, 9, 2)]  # step 3 favours class 0 over class 2
    assert decode(prob, times, Decoding(median=1, switch_penalty=0, min_segment_s=0)).tolist() == prob.argmax(1).tolist()


def test_step_bounds_with_overlapping_chunks():
    times = np.array([[0, 2], [1, 3], [2, 4]], float)  # 2 s chunks every 1 s
    assert step_bounds(times).tolist() == [0, 1.5, 2.5, 4]

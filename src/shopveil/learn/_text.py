"""Item-to-item similarity from public catalogue text (descriptions, titles, genres).

TF-IDF over words and word pairs, cosine similarity, the ``neighbours`` most similar
items kept per item. The catalogue is public, so this costs no privacy budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from shopveil._core.extras import from_extra

__all__ = ["text_neighbours", "tfidf"]


def tfidf(texts: Sequence[str], *, pairs: bool = True) -> sparse.csr_matrix | None:
    """TF-IDF rows of ``texts`` (words, and word pairs with ``pairs``), words seen in two
    texts or more; None when no word links two texts."""
    with from_extra("ml"):
        from sklearn.feature_extraction.text import TfidfVectorizer

    if not any(t.strip() for t in texts):
        return None
    ngrams = (1, 2) if pairs else (1, 1)
    vectorizer = TfidfVectorizer(ngram_range=ngrams, min_df=2, sublinear_tf=True)
    try:
        return sparse.csr_matrix(vectorizer.fit_transform(list(texts)))
    except ValueError:  # every word occurs once: nothing links two items
        return None


def text_neighbours(texts: Sequence[str], *, neighbours: int = 50) -> sparse.csr_matrix:
    """An items × items sparse matrix of cosine similarities, top ``neighbours`` per row.

    The diagonal is zero: an item is not its own neighbour.
    """
    n = len(texts)
    vectors = tfidf(texts)
    if vectors is None:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    similarity = np.asarray((vectors @ vectors.T).todense(), dtype=np.float32)
    np.fill_diagonal(similarity, 0.0)
    k = min(neighbours, n - 1)
    if k < 1:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    values = similarity[rows, top.ravel()]
    keep = values > 0
    return sparse.csr_matrix(
        (values[keep], (rows[keep], top.ravel()[keep])), shape=(n, n), dtype=np.float32
    )

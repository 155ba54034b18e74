"""Offline evaluations that print JSON metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from copilot.errors import InvalidInput
from copilot.retrieve import Mode, Retriever


def _read_rows(path: Path, parse: Callable[[dict[str, Any]], dict[str, Any]], expected: str) -> list[dict[str, Any]]:
    """Parse each non-blank JSONL line; a bad one is an error naming the file, the line and the expected shape."""
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(parse(json.loads(line)))
        except (json.JSONDecodeError, KeyError, AssertionError, TypeError) as exc:
            raise InvalidInput(f"{path.name}:{lineno}: expected {expected}", field="data") from exc
    return rows


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Rows `{"query", "relevant_ids": [id or [copies of one text], ...], "lang"?, "corpus"?}`; each entry of
    `relevant_ids` is one relevant item, found when any of its ids is shown (copies of one text count once)."""
    def parse(row: dict[str, Any]) -> dict[str, Any]:
        assert isinstance(row["query"], str) and row["query"].strip()
        assert isinstance(row["relevant_ids"], list) and row["relevant_ids"]
        groups = [[g] if isinstance(g, str) else list(g) for g in row["relevant_ids"]]
        assert all(g and all(isinstance(x, str) for x in g) for g in groups)
        return {**row, "groups": groups}

    return _read_rows(path, parse, '{"query": str, "relevant_ids": [str or [str, ...], ...]}')


def rank_metrics(shown: list[set[str]], groups: list[list[str]], *, k: int = 10) -> dict[str, float]:
    """recall@5, reciprocal rank and nDCG@k (binary gains) of one ranked list. `shown[i]` holds the ids the i-th
    hit stands for (itself and the copies collapsed into it); a relevant group counts once, at its first hit."""
    import math

    first: dict[int, int] = {}
    for rank, ids in enumerate(shown[:k]):
        for g, group in enumerate(groups):
            if g not in first and ids & set(group):
                first[g] = rank
    recall = sum(r < 5 for r in first.values()) / len(groups)
    rr = 1.0 / (min(first.values()) + 1) if first else 0.0
    dcg = sum(1.0 / math.log2(r + 2) for r in first.values())
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(groups), k)))
    return {"recall_at_5": recall, "mrr": rr, "ndcg_at_10": dcg / idcg}


def _metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    n = len(rows)
    keys = ("recall_at_5", "mrr", "ndcg_at_10")
    return {**{key: round(sum(r[key] for r in rows) / n, 4) if n else 0.0 for key in keys}, "n": n}


def evaluate_retrieval(retriever: Retriever, brand: str | dict[str, str], queries: list[dict[str, Any]], *,
                       mode: Mode = "hybrid", k: int = 10) -> dict[str, Any]:
    """Recall@5, MRR@k and nDCG@k, overall, per query language and per corpus. `brand` is one brand id, or a map
    from each row's `corpus` to the brand holding it."""
    groups_of: dict[str, dict[str, list[dict[str, float]]]] = {"by_lang": {}, "by_corpus": {}}
    scored: list[dict[str, float]] = []
    for q in queries:
        target = brand if isinstance(brand, str) else brand[q["corpus"]]
        hits = retriever.search(target, q["query"], limit=k, mode=mode)
        groups = q.get("groups") or [[x] for x in q["relevant_ids"]]
        row = rank_metrics([{h.id, *h.duplicate_ids} for h in hits], groups, k=k)
        scored.append(row)
        groups_of["by_lang"].setdefault(q.get("lang", "unknown"), []).append(row)
        groups_of["by_corpus"].setdefault(q.get("corpus", "unknown"), []).append(row)
    return {**_metrics(scored), "mode": mode,
            **{name: {key: _metrics(v) for key, v in sorted(g.items())} for name, g in groups_of.items()}}


def compare_retrieval(retriever: Retriever, brand: str | dict[str, str], queries: list[dict[str, Any]], *,
                      modes: list[str] | None = None, fusions: list[str] | None = None) -> dict[str, Any]:
    """Every mode (and every hybrid fusion) side by side, with the best single ranking as the baseline: for each
    metric, the hybrid's margin over max(lexical, dense), overall and per query language. The single rankings are
    measured without the relevance floor (their strongest form); the hybrid as the product runs it."""
    from copilot.retrieve import FUSIONS

    modes = modes or ["lexical", "dense", "hybrid"]
    chosen, floor = retriever.fusion, retriever.floor
    results: dict[str, Any] = {}
    try:
        for mode in modes:
            retriever.floor = floor if mode == "hybrid" else False
            for fusion in (fusions or list(FUSIONS)) if mode == "hybrid" else [chosen]:
                retriever.fusion = fusion  # type: ignore[assignment]
                name = f"hybrid:{fusion}" if mode == "hybrid" else mode
                results[name] = evaluate_retrieval(retriever, brand, queries, mode=mode)  # type: ignore[arg-type]
    finally:
        retriever.fusion, retriever.floor = chosen, floor
    default = results.get(f"hybrid:{chosen}") or next(iter(results.values()))
    out: dict[str, Any] = {**default, "default_fusion": chosen, "by_mode": results}  # top level: the default
    if "lexical" in results and "dense" in results:
        out["margin_over_best_single"] = {name: _margins(r, results["lexical"], results["dense"])
                                          for name, r in results.items() if name.startswith("hybrid")}
    return out


def _margins(hybrid: dict[str, Any], lexical: dict[str, Any], dense: dict[str, Any]) -> dict[str, Any]:
    keys = ("recall_at_5", "mrr", "ndcg_at_10")
    out: dict[str, Any] = {k: round(hybrid[k] - max(lexical[k], dense[k]), 4) for k in keys}
    out["by_lang"] = {lang: {k: round(v[k] - max(lexical["by_lang"][lang][k], dense["by_lang"][lang][k]), 4)
                             for k in keys} for lang, v in hybrid["by_lang"].items()}
    return out


def read_labelled(path: Path) -> list[dict[str, Any]]:
    """Rows `{"text", "label": drift|ok|spam|ham, "lang"?}`; spam counts as drift and ham as ok."""
    def parse(row: dict[str, Any]) -> dict[str, Any]:
        label = {"spam": "drift", "ham": "ok"}.get(row["label"], row["label"])
        assert label in ("drift", "ok") and isinstance(row["text"], str)
        return {"text": row["text"], "y": label == "drift", "lang": row.get("lang") or "unknown",
                "charter": row.get("charter")}

    return _read_rows(path, parse, '{"text": str, "label": drift|ok|spam|ham}')


def binary_metrics(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    """precision, recall, f1, false_positive_rate and n of (truth, prediction) pairs."""
    tp = sum(y and p for y, p in pairs)
    fp = sum(p and not y for y, p in pairs)
    fn = sum(y and not p for y, p in pairs)
    tn = sum(not y and not p for y, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else 0.0, "n": len(pairs)}


def evaluate_drift(rows: list[dict[str, Any]], *, charter: Any = None,
                   charters: dict[str, Any] | None = None, profile: str | None = None) -> dict[str, Any]:
    """The rules engine on labelled texts: a text is predicted drift when its verdict is not `ok`. A row that
    names its own charter (`"charter": slug`) is checked against `charters[slug]`."""
    from copilot.features.drift import check_text

    pairs, by_lang = [], {}  # type: ignore[var-annotated]
    for row in rows:
        own = (charters or {}).get(row.get("charter") or "", charter)
        predicted = check_text(row["text"], charter=own, lang=row["lang"] if row["lang"] in ("fr", "en") else None,
                               with_rewrite=False, profile=profile).verdict != "ok"
        pairs.append((row["y"], predicted))
        by_lang.setdefault(row["lang"], []).append((row["y"], predicted))
    return {**binary_metrics(pairs), "engine": "rules", "profile": profile, "positive": "verdict watch or drift",
            "by_lang": {lang: binary_metrics(v) for lang, v in sorted(by_lang.items())}}


def tfidf_baseline(rows: list[dict[str, Any]], *, folds: int = 5) -> dict[str, Any]:
    """Supervised comparison: TF-IDF + logistic regression, stratified k-fold cross-validated on the same rows."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
    except ImportError:
        return {"available": False, "reason": "scikit-learn is a dev dependency (pip install -e '.[dev]')"}
    texts = [r["text"] for r in rows]
    ys = [int(r["y"]) for r in rows]
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1),
                          LogisticRegression(max_iter=2000, class_weight="balanced"))
    k = min(folds, min(ys.count(0), ys.count(1)))
    if k < 2:
        return {"available": False, "reason": "too few rows of each label to cross-validate"}
    predicted = cross_val_predict(model, texts, ys, cv=StratifiedKFold(n_splits=k, shuffle=True, random_state=0))
    return {"available": True, "model": f"tfidf(1-2 grams)+logistic regression, {k}-fold CV",
            **binary_metrics([(bool(y), bool(p)) for y, p in zip(ys, predicted)])}


def _ndcg(ranking: list[str], gains: dict[str, float], k: int = 10) -> float:
    import math

    dcg = sum(gains.get(m, 0.0) / math.log2(i + 2) for i, m in enumerate(ranking[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return round(dcg / idcg, 4) if idcg else 0.0


def _precision(ranking: list[str], gains: dict[str, float], k: int = 10) -> float:
    truth = [m for m, _ in sorted(gains.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]
    return round(len(set(ranking[:k]) & set(truth)) / k, 4)


def evaluate_spotlight(messages: Path, users: Path, truth: Path, *, data_dir: Path) -> dict[str, Any]:
    """Spotlight ranking over the whole file against help_edges gains (rows + 2 per accepted one), next to a
    message-count baseline with the same exclusions (staff, bots, opt-outs)."""
    import numpy as np

    from copilot.embed import HashEmbedder
    from copilot.features.spotlight import eligibility, member_stats, rank
    from copilot.ingest import parse_file
    from copilot.runtime import Copilot
    from copilot.settings import Settings

    class NoVectors:
        def upsert(self, *a: Any, **k: Any) -> None: ...
        def delete(self, *a: Any, **k: Any) -> None: ...
        def ping(self) -> None: ...

    # A private SQLite file in the temp dir: an evaluation never touches the configured database.
    copilot = Copilot(Settings(env="test", data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'eval.db'}"),  # type: ignore[call-arg]
                      embedder=HashEmbedder(), index=NoVectors())  # type: ignore[arg-type]
    try:
        copilot.store.create_brand("eval", "eval", "en")
        for path in (users, messages):
            report = copilot.ingestor.ingest("eval", parse_file(path, "jsonl"))
            if report.error_count:
                raise InvalidInput(f"{path.name}: {report.errors[0].location}: {report.errors[0].message}",
                                   field="data")
        snap = copilot.snapshots.get("eval")
        lo, hi = float(snap.created.min()), float(snap.created.max()) + 1
        stats = member_stats(snap, lo, hi)
        eligible, _ = eligibility(snap, copilot.store.members_by_key("eval"), set())
        ranked = rank(snap, stats, member_stats(snap, lo - 1, lo), eligible=eligible,
                      newcomers=np.zeros(len(snap.authors), bool), limit=10, variety=False)
        top = [snap.authors[i][1] for i, _, _ in ranked]
        counts = stats.messages * eligible
        baseline = [snap.authors[i][1] for i in np.argsort(-counts, kind="stable")[:10] if counts[i] > 0]
    finally:
        copilot.close()
    gains: dict[str, float] = {}
    for line in truth.read_text(encoding="utf-8").splitlines():
        if line.strip():
            edge = json.loads(line)
            gains[edge["helper_id"]] = gains.get(edge["helper_id"], 0.0) + 1 + 2 * bool(edge.get("accepted"))
    return {"ndcg_at_10": _ndcg(top, gains), "precision_at_10": _precision(top, gains), "top": top,
            "baseline_ndcg_at_10": _ndcg(baseline, gains), "baseline_precision_at_10": _precision(baseline, gains),
            "baseline_top": baseline, "members_with_gain": len(gains)}


def read_typing(path: Path) -> list[dict[str, Any]]:
    """Rows of a hand-labelled chat: `{"id", "author_id", "thread_id", "reply_to", "created_at", "text",
    "label": {"is_question", "thanks_to", "accepted"}}` (plus optional channel, author_name)."""
    def parse(row: dict[str, Any]) -> dict[str, Any]:
        assert isinstance(row["text"], str) and isinstance(row["label"]["is_question"], bool)
        assert isinstance(row["label"].get("thanks_to", []), list)
        return row

    return _read_rows(path, parse, '{"id", "author_id", "thread_id", "reply_to", "created_at", "text", '
                                   '"label": {"is_question": bool, "thanks_to": [ids], "accepted": bool}}')


def evaluate_typing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision and recall of question detection (thread starts and replies alike), of thanks attribution
    (each (thanks message, credited member) pair) and of inferred accepted answers, on a labelled chat."""
    from copilot.ingest.conversation import is_question, names_of, thanked, type_threads
    from copilot.types import MessageRecord

    people = {str(r["author_id"]): names_of(str(r["author_id"]), r.get("author_name")) for r in rows}
    records = [MessageRecord(source="chat", source_id=str(r["id"]), channel=r.get("channel"),
                             author=str(r["author_id"]), author_name=r.get("author_name"), created_at=r["created_at"],
                             text=r["text"], reply_to=str(r["reply_to"]) if r.get("reply_to") else None,
                             thread=str(r.get("thread_id") or r["id"])) for r in rows]
    typed = {m.source_id: m for m in type_threads(records, people)}
    by_id = {m.source_id: m for m in records}
    questions = [(bool(r["label"]["is_question"]), is_question(r["text"])) for r in rows]
    truth_pairs = {(str(r["id"]), str(t)) for r in rows for t in r["label"].get("thanks_to") or []}
    predicted_pairs = set()
    for r in rows:
        m = typed[str(r["id"])]
        thread = [x for x in records if x.thread == m.thread and x.created_at <= m.created_at and x.source_id != m.source_id]
        earlier = [(x.author, x.source_id) for x in sorted(thread, key=lambda x: x.created_at)]
        predicted_pairs |= {(m.source_id, t) for t in thanked(m.text, author=m.author, earlier=earlier, people=people)}
    accepted = [(bool(r["label"].get("accepted")), bool(typed[str(r["id"])].is_solution)) for r in rows]
    tp = len(truth_pairs & predicted_pairs)
    thanks = {"precision": round(tp / len(predicted_pairs), 4) if predicted_pairs else 0.0,
              "recall": round(tp / len(truth_pairs), 4) if truth_pairs else 0.0,
              "pairs_labelled": len(truth_pairs), "pairs_predicted": len(predicted_pairs)}
    return {"messages": len(rows), "threads": len({m.thread for m in by_id.values()}),
            "questions": binary_metrics(questions), "thanks_attribution": thanks,
            "accepted_answers": binary_metrics(accepted)}

"""Command line: serve, demo, brands, ingest, search, charter parse, eval, keys, openapi.

Known errors (a brand that does not exist, a store that does not answer, a file the parser refuses) print one line
saying what to do, without a traceback; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import functools
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar
from urllib.parse import urlencode

import typer

from copilot.settings import DEV_ADMIN_KEY, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Community manager copilot.")
charter_app = typer.Typer(no_args_is_help=True, help="Charter tools.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations that print JSON metrics.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
brands_app = typer.Typer(no_args_is_help=True, help="Brands.")
app.add_typer(charter_app, name="charter")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.add_typer(brands_app, name="brands")
F = TypeVar("F", bound=Callable[..., Any])


def _runtime():  # type: ignore[no-untyped-def]
    from copilot.runtime import Copilot

    return Copilot(get_settings())


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _with_fix(exc: Exception) -> str:
    """A known error as one line, with what to do about it."""
    from copilot.errors import NotFound, ServiceUnavailable

    detail = getattr(exc, "detail", str(exc))
    if isinstance(exc, NotFound) and detail.startswith("brand '"):
        brand = detail.split("'")[1]
        return (f"{detail}. Create it with `copilot brands create {brand} --name \"…\"`, or import history into a "
                f"new brand with `copilot ingest FILE --brand {brand} --create`; `copilot brands list` shows them.")
    if isinstance(exc, ServiceUnavailable):
        return f"{detail}. Is the database (COPILOT_DATABASE_URL) or the Chroma server (COPILOT_CHROMA_URL) up?"
    field = getattr(exc, "field", None)
    return detail + (f" (field: {field})" if field else "")


def friendly(command: F) -> F:
    """Known errors of a command end it with one line and exit code 2 instead of a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from copilot.errors import CopilotError

        try:
            return command(*args, **kwargs)
        except CopilotError as exc:
            _fail(_with_fix(exc))

    return run  # type: ignore[return-value]


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr fed with the number of records processed so far."""
    with typer.progressbar(length=0, label=label, show_pos=True, file=sys.stderr) as bar:
        last = [0]

        def advance(n: int) -> None:
            bar.update(n - last[0])
            last[0] = n

        yield advance


@app.command()
@friendly
def serve(with_sample: bool = typer.Option(False, help="load the sample brand in knowledge/ first"),
          host: Optional[str] = None, port: Optional[int] = None) -> None:
    """Run the API (uvicorn)."""
    import uvicorn

    from copilot.api.app import create_app
    from copilot.sample import SAMPLE_BRAND, SAMPLE_QUERIES, load_sample

    settings = get_settings()
    runtime = _runtime()
    if with_sample:
        with _progress(f"sample brand '{SAMPLE_BRAND}'") as advance:
            summary = load_sample(runtime, progress=advance)
        typer.echo(f"sample brand '{SAMPLE_BRAND}' loaded: {_counts(summary['messages'])}")
    h, p = host or settings.host, port or settings.port
    # A real admin key is a secret: the examples name the variable, never its value.
    key = DEV_ADMIN_KEY if settings.admin_key.get_secret_value() == DEV_ADMIN_KEY else "$COPILOT_ADMIN_KEY"
    auth = f'"Authorization: Bearer {key}"'
    base = f"http://{h}:{p}/v1/brands/{SAMPLE_BRAND}"
    query = urlencode({"q": SAMPLE_QUERIES[0]})
    typer.echo(f"\nDocs: http://{h}:{p}/docs (every operation, tried from the browser)\nTry:\n"
               f"  curl -s -H {auth} '{base}/search?{query}'\n"
               f"  curl -s -H {auth} '{base}/charter'\n"
               f"  curl -s -H {auth} '{base}/members?role=staff'\n"
               "Your own brand: the README's quickstart (six calls).\n")
    uvicorn.run(create_app(settings, copilot=runtime), host=h, port=p, log_level="info")


def _counts(counts: dict[str, int]) -> str:
    """`{"inserted": 3, "updated": 0, …}` -> `3 inserted, 0 updated, …`."""
    return ", ".join(f"{n} {what}" for what, n in counts.items())


@app.command()
@friendly
def demo() -> None:
    """A short tour of the sample brand."""
    from copilot.sample import SAMPLE_BRAND, SAMPLE_PROMO_POST, SAMPLE_QUERIES, SAMPLE_RITUAL, load_sample

    runtime = _runtime()
    with _progress(f"loading the sample brand '{SAMPLE_BRAND}'") as advance:
        summary = load_sample(runtime, progress=advance)
    charter = runtime.charter(SAMPLE_BRAND)
    passages = len(charter.passages)  # the charter is searchable too: its passages are stored beside the history
    typer.echo(f"# {charter.title} — {SAMPLE_BRAND}")
    typer.echo(f"history: {runtime.store.count_messages(SAMPLE_BRAND) - passages} messages "
               f"(this load: {_counts(summary['messages'])}), plus the charter's {passages} passages")
    typer.echo(f"values: {', '.join(v.text for v in charter.values)}")
    typer.echo(f"rituals: {', '.join(f'{r.name} ({r.cadence})' for r in charter.rituals)}")
    typer.echo(f"promotion: at most {charter.promotion_policy.max_promotional_share} of brand posts\n")
    for query in SAMPLE_QUERIES:
        typer.echo(f"search: {query}")
        for hit in runtime.retriever.search(SAMPLE_BRAND, query, limit=3):
            typer.echo(f"  [{hit.kind}] {hit.id} {hit.author_name or ''}: {hit.snippet[:110]}")
    from copilot.features.rituals import RitualRequest

    typer.echo("\ndrafting a ritual post…", err=True)
    draft = runtime.rituals.draft(SAMPLE_BRAND, RitualRequest(ritual=SAMPLE_RITUAL, variants=1), actor="demo")
    engine = draft.payload["engine"] + (" (degraded: " + draft.payload["degraded_reason"] + ")"
                                        if draft.payload.get("degraded") else "")
    typer.echo(f"\nritual draft ({engine}), saved for review as {draft.id}:\n# {draft.title}\n{draft.body}")
    typer.echo(f"citations: {', '.join(draft.payload['citations'])}; guards ok: {draft.payload['guards']['ok']}")
    check = runtime.drift.check(SAMPLE_BRAND, SAMPLE_PROMO_POST)
    typer.echo(f"\ndrift check of a promotional post: {check['verdict']} ({check['score']}), "
               f"flags: {', '.join(sorted({f['type'] for f in check['flags']}))}\nrewrite: {check['rewrite']}")
    report = runtime.drift.report(SAMPLE_BRAND, window_days=90)
    typer.echo(f"feed audit (90 days): {report['brand_posts']} brand posts, promotional share {report['promo_share']:.0%} "
               f"(charter max {report['max_promotional_share']}), {report['unacknowledged']} member contributions "
               "left without a reply or reaction")
    runtime.close()


@brands_app.command("create")
@friendly
def brands_create(brand: str = typer.Argument(..., help="the brand's id: a lower-case slug, e.g. acme"),
                  name: str = typer.Option(..., help="the brand's display name"),
                  language: str = typer.Option("fr", help="fr or en: the default language of drafts")) -> None:
    """Create a brand."""
    from copilot.api.schemas import BrandIn
    from pydantic import ValidationError

    try:
        BrandIn(id=brand, name=name, language=language)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']} (ids are lower-case slugs of 3-40 "
              "characters: letters, digits, dashes)")
    runtime = _runtime()
    row = runtime.store.create_brand(brand, name, language)
    typer.echo(f"brand '{row.id}' created. Next: `copilot keys create --brand {row.id} --actor editor --scope draft "
               f"--scope review`, then a charter and history (README, quickstart).")
    runtime.close()


@brands_app.command("list")
@friendly
def brands_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every brand in the store."""
    runtime = _runtime()
    rows = runtime.store.list_brands()
    if as_json:
        typer.echo(json.dumps([{"id": b.id, "name": b.name, "language": b.language,
                                "messages": runtime.store.count_messages(b.id)} for b in rows], ensure_ascii=False))
    elif not rows:
        typer.echo("no brand yet: `copilot brands create ID --name NAME`")
    for b in [] if as_json else rows:
        typer.echo(f"{b.id}\t{b.language}\t{runtime.store.count_messages(b.id)} stored\t{b.name}")
    runtime.close()


@app.command()
@friendly
def ingest(files: list[Path] = typer.Argument(..., exists=True, help="files to import, in order"),
           brand: str = typer.Option(..., "--brand", "-b"),
           format: Optional[str] = typer.Option(None, "--format", "-f",
                                                help="jsonl, slack, discord, stackexchange, markdown (detected when omitted)"),
           create: bool = typer.Option(False, help="create the brand if it does not exist")) -> None:
    """Import history files into a brand, with a progress bar."""
    from copilot.errors import CopilotError

    runtime = _runtime()
    if create and runtime.store.find_brand(brand) is None:
        runtime.store.create_brand(brand, brand, "fr")
    totals: dict[str, object] = {}
    for path in files:
        with _progress(path.name) as progress:
            try:
                report = runtime.ingest_file(brand, path, format, progress=progress)
            except CopilotError as exc:
                _fail(f"{path}: {_with_fix(exc)}")
        totals[path.name] = report.as_dict()
    typer.echo(json.dumps(totals, indent=2, ensure_ascii=False))
    runtime.close()


@app.command()
@friendly
def search(query: str, brand: str = typer.Option(..., "--brand", "-b"), limit: int = 10,
           mode: str = typer.Option("hybrid", help="hybrid, lexical or dense"),
           kind: Optional[str] = None, channel: Optional[str] = None, author: Optional[str] = None,
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Hybrid search in a brand's history and charter."""
    from copilot.errors import CopilotError

    runtime = _runtime()
    runtime.store.get_brand(brand)
    try:
        hits = runtime.retriever.search(brand, query, limit=limit, mode=mode,  # type: ignore[arg-type]
                                        filters={"kind": kind, "channel": channel, "author": author})
    except CopilotError as exc:
        _fail(_with_fix(exc))
    if as_json:
        typer.echo(json.dumps([{"id": h.id, "source": h.source, "kind": h.kind, "score": h.score,
                                "snippet": h.snippet, "matched_terms": h.matched_terms,
                                "dense_similarity": h.dense_similarity, "duplicate_ids": h.duplicate_ids,
                                "context_id": h.context_id}
                               for h in hits], indent=2, ensure_ascii=False))
    else:
        for h in hits:
            copies = f" (+{h.duplicates} same)" if h.duplicates else ""
            typer.echo(f"{h.score:.4f}  [{h.kind}] {h.id}{copies}  {h.snippet[:120]}")
    runtime.close()


@charter_app.command("parse")
def charter_parse(file: Path = typer.Argument(..., exists=True, dir_okay=False),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Parse a charter and print what was understood (and what was not)."""
    from copilot.errors import CopilotError
    from copilot.ingest.charter import parse_charter

    try:
        charter = parse_charter(file.read_bytes().decode("utf-8"), filename=file.name)
    except UnicodeDecodeError as exc:
        _fail(f"{file} is not UTF-8 text: {exc}")
    except CopilotError as exc:
        _fail(f"{file}: {exc.detail}" + (f" (field: {exc.field})" if exc.field else ""))
    if as_json:
        typer.echo(charter.model_dump_json(indent=2))
        return
    typer.echo(f"{charter.title or file.name}: languages={charter.languages} register={charter.register}")
    for label, items in (("vision", charter.vision), ("values", charter.values), ("tone", charter.tone)):
        typer.echo(f"{label}: {len(items)}")
    typer.echo(f"preferred terms: {len(charter.preferred_terms)}, banned: {len(charter.banned_terms)}, "
               f"rituals: {len(charter.rituals)}, promotion share: {charter.promotion_policy.max_promotional_share}")
    for u in charter.unparsed:
        typer.echo(f"not understood: {u.section} — {u.reason}")


@eval_app.command("retrieval")
@friendly
def eval_retrieval(data: Path = typer.Option(..., exists=True, dir_okay=False),
                   brand: list[str] = typer.Option(..., "--brand", "-b",
                                                   help="the brand, or CORPUS=BRAND for each corpus the rows name"),
                   mode: str = typer.Option("hybrid", help="hybrid, lexical, dense or all"),
                   fusion: str = typer.Option("score", help="hybrid fusion: score, union, weighted_rrf, rrf or all"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """Recall@5, MRR and nDCG@10 of labelled queries against loaded brands, per language and corpus."""
    from copilot.evals import compare_retrieval, read_queries
    from copilot.retrieve import FUSIONS

    if fusion not in (*FUSIONS, "all"):
        raise typer.BadParameter(f"unknown fusion '{fusion}': use one of {', '.join(FUSIONS)} or all",
                                 param_hint="--fusion")
    pairs = [b.split("=", 1) for b in brand]
    target: str | dict[str, str] = dict(pairs) if all(len(p) == 2 for p in pairs) else brand[0]  # type: ignore[arg-type]
    runtime = _runtime()
    try:
        for name in (target.values() if isinstance(target, dict) else [target]):
            runtime.store.get_brand(name)  # a missing brand says how to load it, before any query runs
        queries = read_queries(data)
        out = compare_retrieval(runtime.retriever, target, queries, modes=None if mode == "all" else [mode],
                                fusions=None if fusion == "all" else [fusion])
    except KeyError as exc:  # a missing brand (CopilotError) is told by @friendly, with how to create it
        _fail(f"no --brand CORPUS=BRAND for corpus {exc}")
    typer.echo(json.dumps(out, indent=2 if not as_json else None))
    runtime.close()


@eval_app.command("drift")
def eval_drift(data: Path = typer.Option(..., exists=True, dir_okay=False),
               charter: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                                      help="a charter (Markdown, YAML or JSON) to check against"),
               charters_dir: Optional[Path] = typer.Option(None, exists=True, file_okay=False,
                                                           help="a folder of charters <slug>.md|yaml|json for rows "
                                                                "that name their own charter"),
               profile: Optional[str] = typer.Option(None, help="'sms': add the SMS-spam vocabulary profile (corpus "
                                                                "evaluations only; never used by the product)"),
               baseline: bool = typer.Option(True, help="also run the TF-IDF + logistic regression baseline"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Precision, recall, F1 and false-positive rate of the rules engine on labelled texts."""
    from copilot.errors import CopilotError
    from copilot.evals import evaluate_drift, read_labelled, tfidf_baseline
    from copilot.ingest.charter import parse_charter

    try:
        rows = read_labelled(data)
        parsed = parse_charter(charter.read_text(encoding="utf-8"), filename=charter.name) if charter else None
        own = {p.name.split(".")[0]: parse_charter(p.read_text(encoding="utf-8"), filename=p.name)
               for p in sorted(charters_dir.iterdir()) if p.suffix in (".md", ".yaml", ".yml", ".json")
               and not p.name.endswith(".expected.json") and p.name != "README.md"} if charters_dir else None
    except CopilotError as exc:
        _fail(exc.detail)
    out = evaluate_drift(rows, charter=parsed, charters=own, profile=profile)
    if baseline:
        out["baseline"] = tfidf_baseline(rows)
    typer.echo(json.dumps(out, indent=None if as_json else 2))


@eval_app.command("spotlight")
def eval_spotlight(messages: Path = typer.Option(..., exists=True, dir_okay=False),
                   users: Path = typer.Option(..., exists=True, dir_okay=False),
                   truth: Path = typer.Option(..., exists=True, dir_okay=False),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """NDCG@10 and precision@10 of spotlight against help_edges, with the message-count baseline."""
    import tempfile

    from copilot.errors import CopilotError
    from copilot.evals import evaluate_spotlight

    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = evaluate_spotlight(messages, users, truth, data_dir=Path(tmp))
        except CopilotError as exc:
            _fail(exc.detail)
    typer.echo(json.dumps(out, indent=None if as_json else 2))


@eval_app.command("typing")
def eval_typing(data: Path = typer.Option(..., exists=True, dir_okay=False),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Question detection, thanks attribution and accepted answers against a hand-labelled chat file."""
    from copilot.errors import CopilotError
    from copilot.evals import evaluate_typing, read_typing

    try:
        out = evaluate_typing(read_typing(data))
    except CopilotError as exc:
        _fail(exc.detail)
    typer.echo(json.dumps(out, indent=None if as_json else 2))


@keys_app.command("create")
@friendly
def keys_create(brand: str = typer.Option(..., "--brand", "-b"), actor: str = typer.Option(...),
                scope: list[str] = typer.Option(["read"], help="read, draft, review, admin")) -> None:
    """Create an API key for a brand and print it once."""
    bad = sorted(set(scope) - {"read", "draft", "review", "admin"})
    if bad:
        _fail(f"unknown scope(s): {', '.join(bad)}")
    runtime = _runtime()
    runtime.store.get_brand(brand)
    _, secret = runtime.store.create_key(brand, actor, scope)
    typer.echo(secret)


@app.command("scrub-vector-files")
@friendly
def scrub_vector_files(path: Path = typer.Argument(..., exists=True, file_okay=False,
                                                   help="a Chroma persist directory (holds chroma.sqlite3)")) -> None:
    """Zero the unused capacity of a Chroma directory's HNSW segments (on a Chroma server's host, server stopped)."""
    from copilot.index_files import scrub_segments, segments

    found = segments(path)
    typer.echo(f"{len(found)} HNSW segment(s): {scrub_segments(found):,} bytes zeroed")


@app.command()
def openapi() -> None:
    """Print the OpenAPI contract as YAML (what openapi.yaml must equal)."""
    from copilot.contract import openapi_yaml

    sys.stdout.write(openapi_yaml())


if __name__ == "__main__":
    app()

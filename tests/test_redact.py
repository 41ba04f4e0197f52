"""Redactor behaviour: what is removed, what is kept, placeholders, report; and the quality bar on the corpus."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bashgym.factory.redact import Redactor
from bashgym.factory.redact_eval import leaked, score

CORPUS_DIR = Path(__file__).parent / "fixtures" / "redaction"

# Fake values, built from pieces so no scanner mistakes this file for a leak.
GH = "ghp_" + "Ab1Cd2Ef3Gh4" * 3
OPENAI = "sk-proj-" + "Zx9Yw8Vu7Ts6" * 4
AWS_ID = "AKIA" + "Q2W3E4R5T6Y7U2I3"
AWS_SECRET = "wJ9rXUtnF+MI/K7MDENG/bPxRfiCYz3Kq8Lm2Np4"


def load_corpus() -> list[dict]:
    return [json.loads(line) for line in (CORPUS_DIR / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return load_corpus()


def test_corpus_is_regenerated_byte_for_byte_by_its_script():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.dumps(module.build()) == (CORPUS_DIR / "corpus.jsonl").read_text(encoding="utf-8")


def test_corpus_has_enough_planted_values_and_lookalikes(corpus):
    assert sum(len(d["secrets"]) for d in corpus) >= 200
    assert sum(len(d["keep"]) for d in corpus) >= 100
    assert len({d["context"] for d in corpus}) >= 15


def test_recall_and_precision_on_corpus_meet_the_bar(corpus):
    result = score(corpus, Redactor().redact_text)
    print(f"recall {result['recall']:.3f} ({result['removed']}/{result['planted']}), "
          f"precision {result['precision']:.3f} ({result['kept']}/{result['lookalikes']} look-alikes, "
          f"{result['clean_unchanged']}/{result['clean_docs']} clean docs unchanged)")
    assert result["recall"] >= 0.99, result["missed"]
    assert result["precision"] >= 0.95, result["wiped"]
    assert result["clean_unchanged"] == result["clean_docs"]


def test_detect_secrets_disabled_still_meets_recall(corpus):
    # the base install may lack detect-secrets; our own rules must carry the bar alone
    assert score(corpus, Redactor(use_detect_secrets=False).redact_text)["recall"] >= 0.99


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"export GITHUB_TOKEN={GH}", GH),
        (f'client = OpenAI(api_key="{OPENAI}")', OPENAI),
        (f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
        ("DATABASE_URL=postgres://app:Qw3rty!9x@db.corp.io:5432/app", "Qw3rty!9x"),
        ("curl -H 'Authorization: Bearer abcDEF123456ghiJKL789mno' https://api.x.io", "abcDEF123456ghiJKL789mno"),
        ("mysql -u root -pS3cr3tP4ss -h db shop", "S3cr3tP4ss"),
        ('{"password": "correct-horse-42"}', "correct-horse-42"),
        ("POSTGRES_PASSWORD: Falcon88!xyz", "Falcon88!xyz"),
        ("Server=db;Database=app;User Id=sa;Password=Sa_Pass123;", "Sa_Pass123"),
    ],
    ids=["export", "python-kwarg", "aws-credentials", "url-password", "bearer", "mysql-p", "json-key",
         "yaml-env", "ado-connection-string"],
)
def test_secret_is_removed(text, secret):
    out = Redactor().redact_text(text)
    assert secret not in out
    assert "<SECRET_1>" in out


def test_private_key_body_is_removed_and_armour_kept():
    body = "\n".join(["MIIEowIBAAKCAQEA" + "q1W2e3R4t5Y6u7I8" * 3] * 4)
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    out = Redactor().redact_text(text)
    assert out.startswith("-----BEGIN RSA PRIVATE KEY-----") and "-----END RSA PRIVATE KEY-----" in out
    assert not leaked(body, out)


def test_json_escaped_private_key_in_service_account_is_removed():
    body = "\\n".join(["MIIEvQIBADANBgkq" + "hkiG9w0BAQEFAASC" * 3] * 3)
    text = f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"}}'
    assert not leaked(body, Redactor().redact_text(text))


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f2a9c1e4b5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request_id=123e4567-e89b-12d3-a456-426614174000",
        "OPENAI_API_KEY=YOUR_API_KEY",
        "export GITHUB_TOKEN=<your-github-token>",
        "password = os.environ['DB_PASSWORD']",
        "max_tokens: 4096",
        "upstream git@github.com:acme/api.git (fetch)",
        "serving on 127.0.0.1:8080 and 192.168.1.20, dns 8.8.8.8",
        "Co-Authored-By: Claude <noreply@anthropic.com>",
        "pip install requests==2.31.0 and version 1.2.3.4",
        "![img](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
        '"integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXGOQGg9+mdMzsLHtGzYmE5Bt7pQ=="',
    ],
    ids=["commit", "docker-digest", "uuid", "placeholder", "angle-placeholder", "env-lookup", "max-tokens",
         "ssh-remote", "private-ips", "bot-email", "versions", "base64-image", "npm-integrity"],
)
def test_lookalike_is_kept(text):
    assert Redactor().redact_text(text) == text


def test_same_secret_gets_same_placeholder_across_texts_and_repeats_in_text():
    r = Redactor()
    first = r.redact_text(f"GITHUB_TOKEN={GH}")
    second = r.redact_text(f"git push https://x:{GH}@github.com/a/b.git; echo {GH}")
    other = r.redact_text("token: Other9Secret!x")
    assert first == "GITHUB_TOKEN=<SECRET_1>"
    assert second.count("<SECRET_1>") == 2 and GH not in second
    assert "<SECRET_2>" in other


def test_personal_data_uses_typed_placeholders():
    r = Redactor()
    out = r.redact_text(
        "mail maria.garcia@gmail.com or call +1 (415) 555-0132 from 54.213.7.19\n"
        "Author: Maria Garcia <maria.garcia@gmail.com>\n"
    )
    assert out == "mail <EMAIL_1> or call <PHONE_1> from <IP_1>\nAuthor: <NAME_1> <<EMAIL_1>>\n"


def test_home_paths_and_user_names_become_user():
    r = Redactor(user_names=["jdoe", "Jane Doe"], home="/srv/people/jdoe")
    out = r.redact_text(
        "open /home/jdoe/.bashrc, /Users/jdoe/x, C:\\Users\\jdoe\\y and /srv/people/jdoe/z; signed Jane Doe (jdoe)"
    )
    assert out == (
        "open /home/<USER>/.bashrc, /Users/<USER>/x, C:\\Users\\<USER>\\y and /home/<USER>/z; signed <USER> (<USER>)"
    )


def test_other_users_home_paths_are_removed_without_being_named():
    assert Redactor().redact_text("File \"/home/kowalski/app.py\", line 3") == 'File "/home/<USER>/app.py", line 3'


def test_redact_obj_recurses_and_reports_locations():
    r = Redactor()
    obj = {"messages": [{"role": "user", "content": f"use {GH}"}, {"role": "tool", "content": "ok", "n": 3}],
           "meta": {"email": "olga.petrova@fastmail.fm"}}
    out = r.redact_obj(obj)
    assert out["messages"][0]["content"] == "use <SECRET_1>"
    assert out["messages"][1] == {"role": "tool", "content": "ok", "n": 3}
    assert out["meta"]["email"] == "<EMAIL_1>"
    report = r.report()
    assert report["total"] == 2
    assert report["counts"] == {"email": 1, "github_token": 1}
    assert {"kind": "github_token", "location": "$.messages[0].content:1"} in report["locations"]
    assert [f.kind for f in r.findings] == ["github_token", "email"]
    assert GH not in json.dumps(report)


def test_extra_patterns_are_applied():
    r = Redactor(extra_patterns=[("employee_id", r"EMP-\d{6}"), r"ticket=(?P<secret>\w+)"])
    assert r.redact_text("EMP-123456 ticket=abc123") == "<SECRET_1> ticket=<SECRET_2>"
    assert r.report()["counts"] == {"custom_2": 1, "employee_id": 1}


def test_clean_prose_and_code_are_untouched():
    text = (
        "The tokenizer splits text into tokens. Set your password in Settings.\n"
        "def login(user, password):\n    token = issue_token(user)\n    return token\n"
        "total 48 drwxr-xr-x 5 root root 4096 Nov 25 10:02 .\n"
    )
    r = Redactor()
    assert r.redact_text(text) == text
    assert r.report()["total"] == 0


def test_heldout_shapes_not_in_the_generator_are_removed_and_lookalikes_kept():
    # hand-written: Azure connection strings, Slack webhooks, PyPI/Discord/Twilio tokens, compose env, JSON-escaped
    # SSH keys, JWT cookies, git log emails, international phones, Sentry DSNs, Windows home paths
    docs = [json.loads(line) for line in (CORPUS_DIR / "heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    result = score(docs, Redactor().redact_text)
    assert result["planted"] >= 20
    assert result["missed"] == []
    assert result["wiped"] == []


# --- issue 19: cards, phones, encoded values, Hugging Face tokens; the held-out recall corpus -------------------

def load_recall(split: str) -> list[dict]:
    path = CORPUS_DIR / f"recall_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_recall_corpus_is_regenerated_byte_for_byte_by_its_script():
    spec = importlib.util.spec_from_file_location("make_recall_corpus", CORPUS_DIR / "make_recall_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for split in ("dev", "test", "test2", "test3"):
        assert module.dumps(module.build(split)) == (CORPUS_DIR / f"recall_{split}.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("split", ["dev", "test", "test2", "test3"])
def test_recall_and_keep_on_the_recall_corpus_meet_the_bar(split):
    # test, test2 and test3 were held out when first measured (see make_recall_corpus.py); now regression guards
    docs = load_recall(split)
    result = score(docs, Redactor().redact_text)
    rates = {k: round(v["recall"], 3) for k, v in result["by_category"].items() if "recall" in v}
    print(split, f"recall {result['recall']:.3f} keep {result['precision']:.3f}", rates)
    assert result["planted"] >= 400
    assert {"payment_card", "phone", "percent_encoded", "base64_wrapped", "hf_token"} <= set(rates)
    assert result["recall"] >= 0.99, result["missed"]
    assert result["precision"] >= 0.95, result["wiped"]
    assert result["clean_unchanged"] == result["clean_docs"]  # real transcript lines come out unchanged
    assert min(rates.values()) >= 0.95, rates


def test_redacted_transcript_lines_stay_valid_json():
    # capture-time redaction rewrites raw JSONL lines: a value after an escaped newline must not eat the escape
    for doc in load_recall("dev"):
        if doc["context"].endswith("+transcript"):
            json.loads(Redactor().redact_text(doc["text"]))


# Luhn-valid numbers that are no published test card (built with tests/fixtures/redaction/make_recall_corpus.py)
VISA = "4000123456789017"


@pytest.mark.parametrize(
    "text, card",
    [
        (f"card_number={VISA}", VISA),
        ("charged 4000 1234 5678 9017 twice", "4000 1234 5678 9017"),
        ("pan: 4000-1234-5678-9017.", "4000-1234-5678-9017"),
        ("amex 3412 345678 90127 on file", "3412 345678 90127"),
        (f'"{VISA}",12.5', VISA),
        (f"$ cat pans.txt\\n{VISA}\\n", VISA),  # inside a JSON-escaped transcript line
    ],
    ids=["bare", "spaces", "dashes", "amex-grouping", "csv", "escaped-line"],
)
def test_payment_card_is_removed(text, card):
    out = Redactor().redact_text(text)
    assert card not in out and "<CARD_1>" in out


@pytest.mark.parametrize(
    "text",
    [
        "Use Stripe's test card 4242 4242 4242 4242 or 4000 0000 0000 9995 in test mode.",
        "order 4000123456789011 (fails the Luhn check)",
        "started_ns=1798478816655353777 discord id 300827202070953424 at 1732528931123",
        "version 4.0.1234.5678; build 20251125143200",
    ],
    ids=["test-cards-in-docs", "luhn-invalid", "ids-and-timestamps", "versions"],
)
def test_card_lookalike_is_kept(text):
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize(
    "phone",
    ["+33 6 12 34 56 78", "+44 (0)20 7946 0958", "+91 98765 43210", "0049 30 12345678", "+81 90-1234-5678",
     "+1-826-874-1234", "+5491158086769", "(826) 874-1234"],
)
def test_international_phone_is_removed(phone):
    out = Redactor().redact_text(f"call me on {phone} tomorrow or tel:{phone}")
    assert out == "call me on <PHONE_1> tomorrow or tel:<PHONE_1>"


def test_phone_after_key_and_in_query_is_removed():
    out = Redactor().redact_text("PHONE=+33612345678\nGET /sms?to=%2B33612345678&text=hi")
    assert "33612345678" not in out and out.count("<PHONE_1>") == 2


def test_phone_lookalikes_are_kept():
    text = "@@ -120,7 +120,9 @@ 3 files changed, 120 insertions(+)\ntz +05:30, 2024-03-15 10:22:31 +0100, v10.0.19045.3693"
    assert Redactor().redact_text(text) == text


def test_percent_encoded_values_are_removed_and_the_url_kept():
    r = Redactor()
    out = r.redact_text("GET /api/users?email=maria.garcia%40gmail.com&page=2&q=hello%20world HTTP/1.1")
    assert out == "GET /api/users?email=<EMAIL_1>&page=2&q=hello%20world HTTP/1.1"
    pw = "Sunset%40123%21Ab"  # Sunset@123!Ab
    out = r.redact_text(f"git clone https://dev:{pw}@git.acme.io/app.git")
    assert pw not in out and "@git.acme.io/app.git" in out
    token = GH
    nested = "next=" + "https%3A%2F%2Fci.acme.net%2Fhook%3Ftoken%3D" + token
    assert token not in r.redact_text(nested)
    double = "e=maria.garcia%2540gmail.com"
    assert r.redact_text(double) == "e=<EMAIL_2>"


def test_base64_wrapped_secrets_are_removed_and_harmless_base64_kept():
    import base64

    def b64(s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    dockerconfig = b64(json.dumps({"auths": {"ghcr.io": {"username": "bot", "password": "Falcon88!xyz9"}}}))
    url = b64("postgres://app:Qw3rty!9x@db.prod.svc:5432/app")
    hf = b64("hf_" + "ujzPdeIgxLdGncfBAepfJBdKhoOOLdKLzd")
    cert = b64("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n")
    config = b64("logLevel: info\nworkers: 4\n")
    text = (f"kind: Secret\ndata:\n  .dockerconfigjson: {dockerconfig}\n  DATABASE_URL: {url}\n  hub: {hf}\n"
            f"  ca.crt: {cert}\n  settings.yaml: {config}\n")
    out = Redactor().redact_text(text)
    for secret in (dockerconfig, url, hf):
        assert not leaked(secret, out)
    assert cert in out and config in out
    basic = b64("deploy:Falcon88!xyz9")
    assert basic not in Redactor().redact_text(f"Authorization: Basic {basic}")
    assert Redactor().report()["total"] == 0


@pytest.mark.parametrize(
    "text, token",
    [
        ("HF_TOKEN=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", "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"),
        ("-H 'Authorization: Bearer hf_DLDxtpYlSXpfKtHFvUCsMehGAk'", "hf_DLDxtpYlSXpfKtHFvUCsMehGAk"),
        ("https://user:hf_WvjFAcQeWJKYuvSwMFLZ@huggingface.co/spaces/x", "hf_WvjFAcQeWJKYuvSwMFLZ"),
        ("GET /api/models/x?token=hf_k3Xz9Lm2Np4Qr6St8Vw0", "hf_k3Xz9Lm2Np4Qr6St8Vw0"),
        ("login('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')", "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"),
        ("$ cat ~/.cache/huggingface/token\\n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\\n", "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"),
    ],
    ids=["env", "header", "url-password", "query", "org-token", "escaped-token-file"],
)
def test_hugging_face_token_is_removed(text, token):
    assert token not in Redactor().redact_text(text)


def test_hugging_face_lookalikes_are_kept():
    text = ("from huggingface_hub import hf_hub_download\nimport hf_transfer\nm = load(token=hf_token)\n"
            "name = hf_AutoModelForCausalLM\nHF_HOME=/data/hf-cache\n")
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize("name", ["corpus", "heldout", "recall_dev", "recall_test", "recall_test2", "recall_test3"])
def test_redacted_text_scans_clean(name):
    # `dataset push` re-scans what the build wrote: a second pass over redacted text must find nothing
    docs = [json.loads(line) for line in (CORPUS_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    first = Redactor()
    outs = [first.redact_text(d["text"]) for d in docs]
    second = Redactor()
    assert [second.redact_text(o) for o in outs] == outs
    assert second.report()["total"] == 0


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _generated_passwords(n: int, seed: int) -> list[str]:
    import random
    import string

    r = random.Random(seed)
    words = ["Falcon", "river", "Quartz", "maple", "Tango", "ember", "Cobalt", "willow"]
    return [r.choice(words) + "".join(r.choices(string.digits, k=r.randint(2, 4))) + r.choice("!#%&*_.@$")
            + "".join(r.choices(string.ascii_letters + string.digits, k=r.randint(3, 8))) for _ in range(n)]


@pytest.mark.parametrize("escaped", [False, True], ids=["plain", "json-escaped-line"])
def test_base64_printed_alone_is_removed_when_it_decodes_to_a_secret(escaped):
    # no key says what these are: the decoded text alone does (a user:password pair, a password, a token)
    nl = "\\n" if escaped else "\n"
    passwords = _generated_passwords(12, seed=7)
    values = [_b64(f"ci-bot{i}:{pw}") for i, pw in enumerate(passwords[:6])] + [_b64(pw) for pw in passwords[6:]]
    values.append(_b64(GH))
    text = nl.join(f"$ kubectl get secret s{i} -o jsonpath='{{.data.value}}'{nl}{v}" for i, v in enumerate(values))
    r = Redactor()
    out = r.redact_text(text)
    assert [v for v in values if leaked(v, out)] == []
    assert set(r.report()["counts"]) == {"base64_basic_auth", "base64_password", "base64_github_token"}


def test_base64_of_text_that_is_no_secret_is_kept_when_printed_alone():
    kept = [_b64("Repository:" + str(n)) for n in (123456, 98765432)] + [
        _b64(v) for v in ("eu-west-1", "production", "logLevel: info", '{"Name":"web","replicas":3}', "node:20.11",
                          "localhost:8080", "https://acme.io/a:b")]
    text = "\n".join(f"value: {v}" for v in kept) + "\n"
    assert Redactor().redact_text(text) == text


def test_signed_decimal_that_a_phone_parser_accepts_is_kept():
    import random

    r = random.Random(3)
    stamps = [f"+{r.randint(10**7, 10**11)}.{r.randint(1, 99999)}" for _ in range(40)]
    text = "".join(f"offset {s}s; build 1.2.0{s}; delta {s} EUR\n" for s in stamps)
    assert Redactor().redact_text(text) == text
    assert Redactor().redact_text("call +44 20 7946 0958.") == "call <PHONE_1>."


def test_a_long_string_met_again_is_replaced_counted_and_located_each_time() -> None:
    """Detection is remembered for longer strings (the same file read or log in many turns); each occurrence
    is still replaced, counted and located, as a redactor meeting it for the first time does."""
    log = "deploy log\n" + "step ok\n" * 20 + "token ghp_" + "Ab1cD2eF3g" * 4 + " sent to dana.fischer@northwind-labs.com\n"
    obj = {"turns": [{"output": log}, {"output": log, "note": "again"}]}
    warm = Redactor()
    warm.redact_text(log, "earlier")
    once = Redactor().redact_obj(obj)
    again = warm.redact_obj(obj)
    assert again == once and "ghp_" not in json.dumps(again) and "dana.fischer" not in json.dumps(again)
    where = [f["location"] for f in warm.report()["locations"]]
    assert where.count("earlier:22") == 2 and where.count("$.turns[1].output:22") == 2
    assert warm.report()["total"] == 6


def test_an_object_with_a_remembered_string_is_gated_on_its_new_strings() -> None:
    """The object's gate is worked out over the strings not remembered (the others' spans are reused): a new
    string's secrets are found whether or not a remembered one holds triggers, as a redactor scanning each
    string with every check finds them."""
    log = "deploy log\n" + "step ok\n" * 20 + "token ghp_" + "Ab1cD2eF3g" * 4 + " sent to dana.fischer@northwind-labs.com\n"
    fresh_text = f"export AWS_ACCESS_KEY_ID={AWS_ID}; then DB_PASSWORD=correct-horse-42 ./migrate " * 2
    plain_text = "nothing to see in this longer line of plain words " * 2
    objs = [{"a": log, "b": fresh_text}, {"a": log, "b": plain_text}, {"a": plain_text, "b": log}]
    gated, reference = Redactor(), Redactor()
    for r in (gated, reference):
        r.redact_text(log, "earlier")
    for n, obj in enumerate(objs):
        expected = {reference.redact_text(k, f"ex{n}.<key>"): reference.redact_text(v, f"ex{n}.{k}")
                    for k, v in obj.items()}
        assert gated.redact_obj(obj, f"ex{n}") == expected
    assert gated.report() == reference.report()
    counts = gated.report()["counts"]
    assert counts["github_token"] == counts["email"] == 4 and sum(counts.values()) > 8  # the new string's too


def test_remembered_strings_are_forgotten_when_the_project_lists_change() -> None:
    """A string clean under one project's lists may hold another project's denied word."""
    text = "the quarterly numbers for the Bluebird launch are in the shared folder, see notes " * 2
    r = Redactor(projects={"/work/secret": ((), ("Bluebird",))})
    r.use_project("/work/open")
    assert r.redact_text(text) == text
    r.use_project("/work/secret")
    assert "Bluebird" not in r.redact_text(text)
    r.use_project("/work/open")
    assert r.redact_text(text) == text

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

"""Task families with generated instances: one procedure, many workspaces (names, contents, counts vary).

A family is a function of a random generator that returns one `Instance`: its instruction, the files of its
workspace, the reference command, a plausible wrong command (the mistake a hurried agent makes) and a test
that checks this instance's own answer (a count, a name, a sum), so no memorised answer passes another
instance. `write_suite` lays instances out as ordinary bashgym task directories (task.yaml, files/,
solution.sh, tests/test.sh), so the gym, `bashgym gym check` and `bashgym eval` run them like any task.

Instances of one family share a procedure, never a workspace: seeds of the practice suite and of the
held-out suite are disjoint, and `generate` refuses an instance whose instruction or names repeat one already
drawn. The instance's own values (file names, words, counts) are spread through its instruction, so the
factory's n-gram decontamination against a held-out suite drops a copy of that instance and keeps other
instances of the same family (`heldout_overlap` measures it).

    >>> practice = generate(per_family=4, seed=0)           # doctest: +SKIP
    >>> heldout = generate(per_family=5, seed=1, avoid=practice)
    >>> write_suite(heldout, Path("heldout"))
"""

from __future__ import annotations

import random
import shlex
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bashgym.errors import ConfigError, did_you_mean

WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper", "kestrel",
         "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven", "sierra", "tundra", "umber", "vista",
         "willow", "yarrow", "zephyr", "aspen", "basalt", "coral", "dune", "falcon", "glacier", "heron", "ivory",
         "jasper", "lotus", "meadow", "nectar", "orchid", "pebble", "ridge", "saffron", "thistle", "violet")
SERVICES = ("billing", "search", "auth", "mailer", "gateway", "ingest", "render", "scheduler", "payments",
            "catalog", "inventory", "notify")
THINGS = ("orders", "parcels", "tickets", "invoices", "crates", "bottles", "licenses", "seats")
LEVELS = ("ERROR", "WARN")
EXTENSIONS = ("tmp", "bak", "swp")
FIELDS = ("name", "owner", "version")


@dataclass
class Instance:
    """One generated task. `names` are the instance's own values (for decontamination checks)."""

    family: str
    seed: int
    category: str
    instruction: str
    files: dict[str, str]
    solution: str
    mistake: str
    test: str
    names: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.family}-{self.seed:05d}"


def _pick(rng: random.Random, pool: Iterable[str], k: int) -> list[str]:
    return rng.sample(list(pool), k)


def _check_number(path: str, value: int | str) -> str:
    return f'test "$(tr -d "[:space:]" < {path})" = {shlex.quote(str(value))}\n'


# ------------------------------------------------------------------------------------------------ families


def count_level(rng: random.Random) -> dict:
    svc = rng.choice(SERVICES)
    level = rng.choice(LEVELS)
    hosts = _pick(rng, WORDS, rng.randint(2, 4))
    files, total = {}, 0
    for host in hosts:
        lines = []
        for i in range(rng.randint(4, 12)):
            lvl = rng.choice(("INFO", "INFO", "WARN", "ERROR", "DEBUG"))
            total += lvl == level
            lines.append(f"2026-11-{rng.randint(1, 28):02d} {lvl} {svc}[{i}] request {rng.randint(100, 999)} on {host}")
        files[f"logs/{svc}-{host}.log"] = "\n".join(lines) + "\n"
    return dict(
        category="text",
        instruction=(f"The {svc} service on {', '.join(hosts)} wrote its logs under logs/. Count the {level} lines "
                     f"in all {len(hosts)} files together ({svc} on {hosts[0]} included) and write the total to "
                     "count.txt."),
        files=files, solution=f"cat logs/*.log | grep -c {level} > count.txt",
        mistake=f"grep -c {level} logs/*.log > count.txt", test=_check_number("count.txt", total),
        names=[svc, *hosts])


def sum_column(rng: random.Random) -> dict:
    thing = rng.choice(THINGS)
    owner, place = _pick(rng, WORDS, 2)
    rows = [(f"{w}-{rng.randint(10, 99)}", rng.randint(1, 40)) for w in _pick(rng, WORDS, rng.randint(3, 7))]
    files = {"data.csv": "item,amount\n" + "".join(f"{a},{b}\n" for a, b in rows)}
    return dict(
        category="text",
        instruction=(f"{owner.title()} keeps {len(rows)} {thing} from {place} in data.csv (header item,amount). Write "
                     f"the sum of the amount column for {owner}'s {thing} to total.txt as a plain number."),
        files=files, solution="awk -F, 'NR>1 {s+=$2} END {print s}' data.csv > total.txt",
        mistake="cut -d, -f2 data.csv | paste -sd+ > total.txt", test=_check_number("total.txt", sum(b for _, b in rows)),
        names=[owner, place, *(a for a, _ in rows)])


def largest_file(rng: random.Random) -> dict:
    names = _pick(rng, WORDS, rng.randint(3, 6))
    sizes = rng.sample(range(20, 900), len(names))
    files = {f"files/{n}.dat": "x" * s for n, s in zip(names, sizes, strict=True)}
    largest = names[sizes.index(max(sizes))]
    return dict(
        category="files",
        instruction=(f"Among {', '.join(n + '.dat' for n in names)} in files/, find the largest file and write "
                     f"its name (like {names[-1]}.dat) to largest.txt."),
        files=files, solution="ls -S files | head -n 1 > largest.txt",
        mistake="ls -S files | tail -n 1 > largest.txt",
        test=f'test "$(tr -d "[:space:]" < largest.txt)" = {largest}.dat\n', names=names)


def unique_words(rng: random.Random) -> dict:
    pool = _pick(rng, WORDS, rng.randint(3, 8))
    words = [rng.choice(pool) for _ in range(rng.randint(10, 20))]
    files = {"words.txt": "\n".join(words) + "\n"}
    return dict(
        category="text",
        instruction=(f"words.txt has {len(words)} words, one per line, starting with {words[0]} and {words[1]}. Write "
                     f"how many distinct words it holds ({words[-1]} counts once) to unique.txt."),
        files=files, solution="sort -u words.txt | wc -l > unique.txt", mistake="uniq words.txt | wc -l > unique.txt",
        test=_check_number("unique.txt", len(set(words))), names=list(pool))


def delete_ext(rng: random.Random) -> dict:
    ext = rng.choice(EXTENSIONS)
    keep = _pick(rng, WORDS, rng.randint(2, 4))
    drop = _pick(rng, [w for w in WORDS if w not in keep], rng.randint(2, 4))
    sub = rng.choice(WORDS)
    files = {f"work/{n}.txt": n + "\n" for n in keep}
    files.update({(f"work/{sub}/{n}.{ext}" if i % 2 else f"work/{n}.{ext}"): "junk\n" for i, n in enumerate(drop)})
    test = "".join(f"test -f work/{n}.txt\n" for n in keep)
    test += f"test -z \"$(find work -name '*.{ext}')\"\n"
    return dict(
        category="files",
        instruction=(f"Delete every .{ext} file under work/, also in work/{sub}/, such as {drop[0]}.{ext}; keep the "
                     f"other files ({', '.join(keep)})."),
        files=files, solution=f"find work -name '*.{ext}' -delete", mistake=f"rm -f work/*.{ext}", test=test,
        names=[sub, *keep, *drop])


def make_executable(rng: random.Random) -> dict:
    names = _pick(rng, WORDS, rng.randint(2, 4))
    files = {f"bin/{n}.sh": f"#!/bin/sh\necho {n}\n" for n in names}
    test = "".join(f"test -x bin/{n}.sh\n" for n in names)
    return dict(
        category="permissions",
        # fixed phrases kept short: a long shared template would make every instance look like every other to
        # the n-gram decontamination, and it would drop the whole family from training
        instruction=(f"Make the scripts {', '.join(n + '.sh' for n in names)} executable: each .sh file in bin/ must "
                     f"run, {names[0]}.sh included (bin/{names[0]}.sh)."),
        files=files, solution="chmod +x bin/*.sh", mistake="chmod +x bin", test=test, names=names)


def uppercase(rng: random.Random) -> dict:
    words = _pick(rng, WORDS, rng.randint(4, 8))
    lines = [" ".join(words[i:i + 2]) for i in range(0, len(words), 2)]
    text = "\n".join(lines) + "\n"
    files = {"notes.txt": text}
    test = f"printf %s {shlex.quote(text.upper())} | cmp -s - upper.txt\n"
    return dict(
        category="text",
        instruction=(f"notes.txt holds {len(lines)} lines, the first is \"{lines[0]}\". Write the whole file in upper "
                     f"case (\"{lines[0].upper()}\") to upper.txt."),
        files=files, solution="tr a-z A-Z < notes.txt > upper.txt", mistake="tr A-Z a-z < notes.txt > upper.txt",
        test=test, names=words)


def json_field(rng: random.Random) -> dict:
    key = rng.choice(FIELDS)
    name, owner = _pick(rng, WORDS, 2)
    values = {"name": name, "owner": owner, "version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"}
    import json

    files = {"config.json": json.dumps({**values, "port": rng.randint(1000, 9999)}, indent=2) + "\n"}
    return dict(
        category="text",
        instruction=(f"config.json describes the {name} project of {owner}. Write the value of its \"{key}\" field to "
                     f"value.txt, without quotes ({name} by {owner})."),
        files=files, solution=f"jq -r .{key} config.json > value.txt", mistake=f"jq .{key} config.json > value.txt",
        test=f'test "$(cat value.txt)" = {shlex.quote(values[key])}\n', names=[name, owner])


def make_dirs(rng: random.Random) -> dict:
    a, b = _pick(rng, WORDS, 2)
    return dict(
        category="files",
        instruction=f"Create the directory {a}/{b} (make {a} first if it is missing) so that {a}/{b} exists.",
        files={}, solution=f"mkdir -p {a}/{b}", mistake=f"mkdir {a}/{b}", test=f"test -d {a}/{b}\n", names=[a, b])


def first_line(rng: random.Random) -> dict:
    names = _pick(rng, WORDS, 3)
    target = names[0]
    files = {f"{n}.txt": "".join(f"{n} line {i} {rng.choice(WORDS)}\n" for i in range(1, rng.randint(3, 6)))
             for n in names}
    first = files[f"{target}.txt"].splitlines()[0]
    return dict(
        category="text",
        instruction=f"Write the first line of {target}.txt (not of {names[1]}.txt or {names[2]}.txt) to first.txt.",
        files=files, solution=f"head -n 1 {target}.txt > first.txt", mistake=f"tail -n 1 {target}.txt > first.txt",
        test=f'test "$(cat first.txt)" = {shlex.quote(first)}\n', names=names)


FAMILIES: dict[str, Callable[[random.Random], dict]] = {
    "count-level": count_level, "sum-column": sum_column, "largest-file": largest_file,
    "unique-words": unique_words, "delete-ext": delete_ext, "make-executable": make_executable,
    "uppercase": uppercase, "json-field": json_field, "make-dirs": make_dirs, "first-line": first_line,
}


def make_instance(family: str, seed: int) -> Instance:
    """The instance `seed` of `family` (the same seed always gives the same instance)."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown task family {family!r}{did_you_mean(family, FAMILIES)}; "
                          f"families: {', '.join(FAMILIES)}")
    rng = random.Random(f"{family}:{seed}")
    return Instance(family=family, seed=seed, **FAMILIES[family](rng))


def generate(per_family: int, *, seed: int = 0, families: Iterable[str] | None = None,
             avoid: Iterable[Instance] = ()) -> list[Instance]:
    """`per_family` instances of each family, drawn from seeds `seed * 10000 + i`; an instance whose
    instruction, or whose set of names, repeats one in `avoid` (or one already drawn) is skipped."""
    chosen = list(families or FAMILIES)
    seen_text = {i.instruction for i in avoid}
    seen_names = {(i.family, frozenset(i.names)) for i in avoid}
    out: list[Instance] = []
    for family in chosen:
        n, s = 0, seed * 10_000
        while n < per_family:
            inst = make_instance(family, s)
            s += 1
            key = (family, frozenset(inst.names))
            if inst.instruction in seen_text or key in seen_names:
                continue
            seen_text.add(inst.instruction)
            seen_names.add(key)
            out.append(inst)
            n += 1
            if s - seed * 10_000 > 1000 * per_family:
                raise ConfigError(f"family {family} cannot yield {per_family} distinct instances")
    return out


def write_suite(instances: Iterable[Instance], root: Path) -> Path:
    """Lay the instances out as bashgym task directories under `root` (replacing what was there)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for inst in instances:
        d = root / inst.id
        (d / "tests").mkdir(parents=True)
        meta = {"id": inst.id, "category": inst.category, "instruction": inst.instruction, "timeout_s": 60,
                "max_steps": 6, "test_timeout_s": 30, "tags": [f"family:{inst.family}", "generated"]}
        (d / "task.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=1000), encoding="utf-8")
        for rel, content in inst.files.items():
            path = d / "files" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        (d / "solution.sh").write_text(f"#!/bin/bash\nset -e\n{inst.solution}\n", encoding="utf-8")
        (d / "tests" / "test.sh").write_text(
            "#!/bin/bash\n# exit code 0 = pass; generated by bashgym.gym.instances\nset -e\n" + inst.test,
            encoding="utf-8")
    return root


def family_of(task_id: str) -> str:
    """The family of a generated task id (`count-level-00012` → `count-level`)."""
    return task_id.rsplit("-", 1)[0]

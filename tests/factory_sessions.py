"""Sessions for the factory tests, built with bashgym.schema and saved through the real store."""

from __future__ import annotations

from bashgym.schema import Session, Step, Turn
from bashgym.store import Store


def bash(cmd: str, output: str = "", exit_code: int = 0, call_id: str | None = None) -> Step:
    return Step(kind="tool_call", tool_name="Bash", input={"command": cmd}, output=output, exit_code=exit_code,
                is_error=exit_code != 0, call_id=call_id)


def say(text: str) -> Step:
    return Step(kind="message", role="assistant", text=text)


def session(sid: str, turns: list[tuple[str, list[Step]]], *, source: str = "claude_code",
            project: str = "/work/proj", started: str = "2026-11-01T10:00:00Z", models: list[str] | None = None,
            parent_id: str | None = None) -> Session:
    built = []
    for i, (prompt, steps) in enumerate(turns):
        for j, st in enumerate(steps):
            if st.kind == "tool_call" and st.call_id is None:
                st.call_id = f"{sid}-t{i}-c{j}"
        built.append(Turn(index=i, prompt=prompt, steps=steps, started_at=started))
    return Session(id=sid, source=source, turns=built, project=project, cwd=project, started_at=started,
                   models=models or ["claude-sonnet-4-5"], parent_id=parent_id)


def save(store: Store, *sessions: Session) -> None:
    with store.transaction():
        for s in sessions:
            store.save_session(s)


VOCAB = ("apple harbor cobalt meadow quartz violet lantern ember falcon glacier nectar orchid pepper "
         "raven saffron timber walnut yonder zephyr anchor bramble cinder drift fjord grove hollow iris "
         "juniper kestrel lichen marble nimbus onyx pylon quill russet sparrow thistle umber vessel willow").split()


def topic_turn(topic: str, n: int) -> tuple[str, list]:
    """A distinct, realistic turn about `topic`; `n` picks different words so dedup keeps them apart."""
    words = [topic] + [VOCAB[(n * 7 + k * 3) % len(VOCAB)] for k in range(8)]
    return (
        f"Please count the lines in {topic}_{n}.log and list {' '.join(words[:4])} files",
        [say(f"I will inspect {topic} first, looking at {' '.join(words)}."),
         bash(f"wc -l {topic}_{n}.log", f"{n * 11} {topic}_{n}.log"),
         say(f"The file {topic}_{n}.log has {n * 11} lines; {' '.join(reversed(words))}.")],
    )


def save_many(store: Store) -> Store:
    """Thirty sessions, so each of two workers gets many shards: a secret and personal data in each, and
    sessions 14 to 29 repeat 0 to 13 but for numbers (dedup drops them); two of them judged."""
    words = "nginx redis kafka mysql spark mongo etcd consul vault caddy envoy istio linkerd traefik".split()
    sessions = []
    for i in range(30):
        a, b = words[i % len(words)], words[(i * 5 + 3) % len(words)]
        token = "ghp_" + f"{i:02d}Zq8xW2" * 5
        out = "\n".join(f"/home/alice/src/{a}_{j}.py:{j}: {b} value {i * j}" for j in range(12))
        steps = [say(f"Looking at the {a} module."), bash(f"grep -rn {b} src/", out),
                 bash(f"GITHUB_TOKEN={token} make deploy-{a}", f"deployed {a} {b} as alice@example.org"),
                 Step(kind="tool_call", tool_name="Read", input={"file_path": f"/home/alice/src/{b}.py"},
                      output=f"def {a}_{b}(): return {i}")]
        prompt = f"Deploy the {a} service next to {b} and check the grep output"
        sessions.append(session(f"s{i:02d}", [(prompt, steps), (f"Now explain {b} in {a}", [say("It adds.")])],
                                started=f"2026-11-{1 + i % 28:02d}T10:00:00Z"))
    save(store, *sessions)
    store.put_score("s03", -1, "heuristic", 0.9, "gold", {})
    store.put_score("s04", -1, "heuristic", 0.1, "failed", {})
    return store

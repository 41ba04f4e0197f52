"""Fixtures for the Gemini CLI, OpenCode and trace-dataset importers, built from each source's own types.

No Gemini CLI or OpenCode client runs here (no network for their model APIs, and neither can be pointed at a
local scripted server as simply as Codex), so these files are written field by field from the types the
writers use (versions in docs/formats.md):
- Gemini: `ConversationRecord` / `MessageRecord` / `ToolCallRecord` / `TokensSummary`
  (packages/core/src/services/chatRecordingTypes.ts) and the JSONL update records (`$set`, `$rewindTo`)
  of chatRecordingService.ts; the shell tool's llmContent format from tools/shell.ts.
- OpenCode: `Session.Info`, `MessageV2.User` / `Assistant`, `TextPart`, `ReasoningPart`, `ToolPart` with
  `ToolStateCompleted` / `ToolStateError`, `StepFinishPart` (packages/opencode/src/session/message-v2.ts), in
  the storage layout json-migration.ts reads (session/<project>/<id>.json, message/<session>/<id>.json,
  part/<message>/<id>.json).
- Datasets: OpenAI chat messages, ShareGPT, Agent Data Protocol and ATIF v1.4 records as their specs show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------------------------ Gemini CLI

GEMINI_SESSION = "6f1c2a8e-0b7d-4d1e-9a53-1f2e3d4c5b6a"


# The command's own output prints an "Exit Code:" line; the CLI's line after it is the one that counts.
FAILING_TESTS_OUTPUT = "Output: replaying log\nExit Code: 7 (from the log)\n1 failed, 3 passed\nExit Code: 1"


def _shell_result(call_id: str, output: str) -> list[dict[str, Any]]:
    return [{"functionResponse": {"id": call_id, "name": "run_shell_command", "response": {"output": output}}}]


def gemini_messages() -> list[dict[str, Any]]:
    return [
        {"id": "m1", "timestamp": "2026-11-20T10:00:00.000Z", "type": "user",
         "content": [{"text": "Run the tests in this repo"}]},
        {"id": "m2", "timestamp": "2026-11-20T10:00:02.000Z", "type": "gemini", "content": "Running them now.",
         "model": "gemini-2.5-pro",
         "thoughts": [{"subject": "Plan", "description": "Use pytest.", "timestamp": "2026-11-20T10:00:01.000Z"}],
         "tokens": {"input": 1000, "output": 50, "cached": 400, "thoughts": 20, "tool": 0, "total": 1070},
         "toolCalls": [
             {"id": "run_shell_command-1", "name": "run_shell_command",
              "args": {"command": "pytest -q", "description": "run tests"},
              "result": _shell_result("run_shell_command-1", FAILING_TESTS_OUTPUT),
              "status": "success", "timestamp": "2026-11-20T10:00:03.000Z", "displayName": "Shell"},
             {"id": "run_shell_command-2", "name": "run_shell_command", "args": {"command": "ls"},
              "result": _shell_result("run_shell_command-2", "Output: README.md\nsrc"),
              "status": "success", "timestamp": "2026-11-20T10:00:04.000Z"},
             {"id": "replace-3", "name": "replace",
              "args": {"file_path": "/w/src/a.py", "old_string": "x", "new_string": "y"},
              "result": [{"functionResponse": {"id": "replace-3", "name": "replace",
                                               "response": {"error": "old_string not found"}}}],
              "status": "error", "timestamp": "2026-11-20T10:00:05.000Z"},
         ]},
        {"id": "m3", "timestamp": "2026-11-20T10:00:06.000Z", "type": "info", "content": "Request cancelled."},
        {"id": "m4", "timestamp": "2026-11-20T10:01:00.000Z", "type": "user", "content": "Now fix it"},
        {"id": "m5", "timestamp": "2026-11-20T10:01:05.000Z", "type": "gemini", "content": "Fixed.",
         "model": "gemini-2.5-pro", "tokens": {"input": 2000, "output": 10, "cached": 0, "total": 2010}},
    ]


def write_gemini(root: Path) -> dict[str, Path]:
    """~/.gemini/tmp/<hash>/chats/session-*.jsonl (+ a legacy .json chat, a subagent, and checkpoints)."""
    project = root / "0f3c9d1e2b7a4c5d"
    chats = project / "chats"
    chats.mkdir(parents=True)
    msgs = gemini_messages()
    first_version = dict(msgs[1], toolCalls=msgs[1]["toolCalls"][:1], tokens=None)  # recorded before the rest
    lines: list[Any] = [
        {"sessionId": GEMINI_SESSION, "projectHash": "0f3c9d1e2b7a4c5d", "startTime": "2026-11-20T10:00:00.000Z",
         "lastUpdated": "2026-11-20T10:00:00.000Z"},
        msgs[0], first_version, {"$set": {"lastUpdated": "2026-11-20T10:00:02.000Z"}},
        msgs[1],  # the same message again, complete: replaces the first version in place
        msgs[2], msgs[3], msgs[4],
        {"id": "m6", "timestamp": "2026-11-20T10:02:00.000Z", "type": "user", "content": "undo that"},
        {"$rewindTo": "m6"},  # the user rewound: m6 is gone
        {"$set": {"summary": "Run and fix the tests", "lastUpdated": "2026-11-20T10:01:05.000Z"}},
    ]
    chat = chats / "session-2026-11-20T10-00-6f1c2a8e.jsonl"
    chat.write_text("".join(json.dumps(x) + "\n" for x in lines))
    legacy = chats / "session-2026-11-19T09-00-aaaa1111.json"
    legacy.write_text(json.dumps({
        "sessionId": "aaaa1111-2222-3333-4444-555566667777", "projectHash": "0f3c9d1e2b7a4c5d",
        "startTime": "2026-11-19T09:00:00.000Z", "lastUpdated": "2026-11-19T09:00:09.000Z",
        "messages": [
            {"id": "a", "timestamp": "2026-11-19T09:00:00.000Z", "type": "user", "content": "What is in here?"},
            {"id": "b", "timestamp": "2026-11-19T09:00:09.000Z", "type": "gemini", "content": "A README.",
             "model": "gemini-2.5-flash",
             "toolCalls": [{"id": "ls-1", "name": "list_directory", "args": {"dir_path": "."},
                            "result": [{"functionResponse": {"id": "ls-1", "name": "list_directory",
                                                             "response": {"output": "README.md"}}}],
                            "status": "success", "timestamp": "2026-11-19T09:00:05.000Z"}]},
        ]}, indent=2))
    sub = chats / GEMINI_SESSION / "b7e2c0de-sub1.jsonl"
    sub.parent.mkdir()
    sub.write_text("".join(json.dumps(x) + "\n" for x in [
        {"sessionId": "b7e2c0de-sub1", "projectHash": "0f3c9d1e2b7a4c5d", "startTime": "2026-11-20T10:00:03.000Z",
         "lastUpdated": "2026-11-20T10:00:04.000Z", "kind": "subagent", "directories": ["/w"]},
        {"id": "s1", "timestamp": "2026-11-20T10:00:03.000Z", "type": "user", "content": "Find the test files"},
        {"id": "s2", "timestamp": "2026-11-20T10:00:04.000Z", "type": "gemini", "content": "tests/test_a.py",
         "model": "gemini-2.5-flash"},
    ]))
    saved = project / "checkpoint-before-fix.json"
    saved.write_text(json.dumps({"history": [
        {"role": "user", "parts": [{"text": "Run the tests in this repo"}]},
        {"role": "model", "parts": [{"text": "Running them now."},
                                    {"functionCall": {"id": "c1", "name": "run_shell_command",
                                                      "args": {"command": "pytest -q"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "run_shell_command",
                                                         "response": {"output": "Output: ok\nExit Code: 2"}}}]},
        {"role": "model", "parts": [{"text": "They fail."}]},
    ]}))
    restorable = project / "checkpoints" / "2026-11-20T10-00-05_000Z-a.py-replace.json"
    restorable.parent.mkdir()
    restorable.write_text(json.dumps({
        "history": [], "commitHash": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "messageId": "p-1",
        "toolCall": {"name": "replace", "args": {"file_path": "/w/src/a.py"}},
        "clientHistory": [{"role": "user", "parts": [{"text": "Now fix it"}]},
                          {"role": "model", "parts": [{"functionCall": {"name": "replace",
                                                                        "args": {"file_path": "/w/src/a.py"}}}]}]}))
    return {"chat": chat, "legacy": legacy, "subagent": sub, "saved": saved, "restorable": restorable}


# ------------------------------------------------------------------------------------------ OpenCode

OPENCODE_SESSION = "ses_7a1b2c3d4e5fABCDEF123456"
T0 = 1795600000000  # epoch ms


def _tool(pid: str, mid: str, call: str, tool: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"id": pid, "sessionID": OPENCODE_SESSION, "messageID": mid, "type": "tool", "callID": call,
            "tool": tool, "state": state}


def opencode_objects() -> dict[str, Any]:
    user1 = {"id": "msg_001", "sessionID": OPENCODE_SESSION, "role": "user", "time": {"created": T0},
             "agent": "build", "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"}}
    asst1 = {"id": "msg_002", "sessionID": OPENCODE_SESSION, "role": "assistant",
             "time": {"created": T0 + 1000, "completed": T0 + 9000}, "parentID": "msg_001",
             "modelID": "claude-sonnet-4-5", "providerID": "anthropic", "mode": "build", "agent": "build",
             "path": {"cwd": "/home/dev/app", "root": "/home/dev/app"}, "cost": 0.0123,
             "tokens": {"input": 1500, "output": 120, "reasoning": 30, "cache": {"read": 800, "write": 100}},
             "finish": "stop"}
    parts1 = [{"id": "prt_001", "sessionID": OPENCODE_SESSION, "messageID": "msg_001", "type": "text",
               "text": "Build the project and tell me if it passes"}]
    parts2 = [
        {"id": "prt_010", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "step-start"},
        {"id": "prt_011", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "reasoning",
         "text": "Try make first.", "time": {"start": T0 + 1100, "end": T0 + 1200}},
        {"id": "prt_012", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "text",
         "text": "Building.", "time": {"start": T0 + 1300}},
        _tool("prt_013", "msg_002", "toolu_01", "bash", {
            "status": "completed", "input": {"command": "make", "description": "Build"},
            "output": "cc -o app main.c\nmain.c:3: error: expected ';'", "title": "make",
            "metadata": {"output": "cc -o app main.c\nmain.c:3: error: expected ';'", "exit": 2,
                         "description": "Build"}, "time": {"start": T0 + 2000, "end": T0 + 4500}}),
        _tool("prt_014", "msg_002", "toolu_02", "edit", {
            "status": "error", "input": {"filePath": "/home/dev/app/main.c", "oldString": "x", "newString": "x;"},
            "error": "oldString not found in content", "time": {"start": T0 + 5000, "end": T0 + 5100}}),
        _tool("prt_015", "msg_002", "toolu_03", "bash", {
            "status": "completed", "input": {"command": "ls"}, "output": "main.c\nMakefile", "title": "ls",
            "metadata": {"exit": 0}, "time": {"start": T0 + 6000, "end": T0 + 6050}}),
        {"id": "prt_016", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "text",
         "text": "The build fails at main.c:3."},
        {"id": "prt_017", "sessionID": OPENCODE_SESSION, "messageID": "msg_002", "type": "step-finish",
         "reason": "stop", "cost": 0.0123,
         "tokens": {"input": 1500, "output": 120, "reasoning": 30, "cache": {"read": 800, "write": 100}}},
    ]
    session = {"id": OPENCODE_SESSION, "slug": "brave-fox", "projectID": "prj_abc123", "directory": "/home/dev/app",
               "title": "Build the project", "version": "1.0.150",
               "time": {"created": T0, "updated": T0 + 9000}}
    return {"session": session, "messages": [(user1, parts1), (asst1, parts2)]}


def write_opencode(storage: Path) -> Path:
    objs = opencode_objects()
    (storage / "project").mkdir(parents=True)
    (storage / "project" / "prj_abc123.json").write_text(json.dumps({"id": "prj_abc123", "worktree": "/home/dev/app"}))
    session_file = storage / "session" / "prj_abc123" / f"{OPENCODE_SESSION}.json"
    session_file.parent.mkdir(parents=True)
    session_file.write_text(json.dumps(objs["session"], indent=2))
    for msg, parts in objs["messages"]:
        write_opencode_message(storage, msg, parts)
    return session_file


def write_opencode_message(storage: Path, msg: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    mdir = storage / "message" / msg["sessionID"]
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / f"{msg['id']}.json").write_text(json.dumps(msg, indent=2))
    pdir = storage / "part" / msg["id"]
    pdir.mkdir(parents=True, exist_ok=True)
    for part in parts:
        (pdir / f"{part['id']}.json").write_text(json.dumps(part, indent=2))


# ------------------------------------------------------------------------------------------ datasets

OPENAI_RECORDS = [
    {"id": "oa-1", "messages": [
        {"role": "system", "content": "You are a shell agent."},
        {"role": "user", "content": "Count the files"},
        {"role": "assistant", "content": "Listing.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"ls | wc -l\"}"}}]},
        {"role": "tool", "tool_call_id": "call_a", "name": "bash", "content": "3"},
        {"role": "assistant", "content": "There are 3 files."},
        {"role": "user", "content": [{"type": "text", "text": "And hidden ones?"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_b", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"ls -A | wc -l\"}"}},
            {"id": "call_c", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \".env\"}"}}]},
        {"role": "tool", "tool_call_id": "call_c", "name": "read_file", "content": "X=1"},
        {"role": "tool", "tool_call_id": "call_b", "name": "bash", "content": "5"},
        {"role": "assistant", "content": "5 including hidden."},
    ], "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]},
    {"messages": [  # no id: the session id is a hash of the record
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
]

SHAREGPT_RECORDS = [
    {"id": "sg-1", "conversations": [
        {"from": "system", "value": "You can call tools."},
        {"from": "human", "value": "What's the disk usage?"},
        {"from": "gpt", "value": "Checking.\n<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"df -h\"}}\n</tool_call>"},
        {"from": "tool", "value": "<tool_response>\n/dev/sda1 40%\n</tool_response>"},
        {"from": "gpt", "value": "40% used."},
        {"from": "human", "value": "Thanks"},
        {"from": "function_call", "value": "{\"name\": \"bash\", \"arguments\": {\"command\": \"date\"}}"},
        {"from": "observation", "value": "Tue Nov 25"},
        {"from": "gpt", "value": "You're welcome (it is Tuesday)."},
    ]},
]

ADP_RECORDS = [
    {"id": "adp-1", "content": [
        {"class_": "text_observation", "content": "Fix the failing test", "source": "user", "name": None},
        {"class_": "code_action", "language": "bash", "content": "pytest -q", "description": "Run the tests first."},
        {"class_": "text_observation", "content": "1 failed", "source": "environment", "name": None},
        {"class_": "api_action", "function": "edit_file", "tool_call_id": "t2",
         "kwargs": {"path": "a.py", "new": "return 2"}, "description": None},
        {"class_": "text_observation", "tool_call_id": "t2", "content": "edited", "source": "environment"},
        {"class_": "message_action", "content": "Fixed the test.", "description": "Done."},
    ], "details": {"task": "demo"}},
]


def atif_trajectory() -> dict[str, Any]:
    return {
        "schema_version": "ATIF-v1.4", "session_id": "atif-main-1",
        "agent": {"name": "terminus-2", "version": "2.0.0", "model_name": "claude-sonnet-4-5"},
        "steps": [
            {"step_id": 1, "timestamp": "2026-11-01T10:00:00Z", "source": "system", "message": "You are terminus."},
            {"step_id": 2, "timestamp": "2026-11-01T10:00:01Z", "source": "user", "message": "Make hello.txt"},
            {"step_id": 3, "timestamp": "2026-11-01T10:00:03Z", "source": "agent", "message": "Creating it.",
             "reasoning_content": "echo into a file",
             "tool_calls": [{"tool_call_id": "call_1", "function_name": "bash_command",
                             "arguments": {"keystrokes": "echo hi > hello.txt\n"}}],
             "observation": {"results": [{"source_call_id": "call_1", "content": "$ "}]},
             "metrics": {"prompt_tokens": 900, "completion_tokens": 60, "cached_tokens": 500, "cost_usd": 0.002}},
            {"step_id": 4, "timestamp": "2026-11-01T10:00:05Z", "source": "agent", "message": "Summarizing context.",
             "tool_calls": [{"tool_call_id": "call_2", "function_name": "summarize", "arguments": {}}],
             "observation": {"results": [{"source_call_id": "call_2", "content": "summary done",
                                          "subagent_trajectory_ref": [{"session_id": "atif-sub-1",
                                                                       "trajectory_path": "trajectory.summarization-1.json"}]}]},
             "metrics": {"prompt_tokens": 1000, "completion_tokens": 20}},
            {"step_id": 5, "timestamp": "2026-11-01T10:00:06Z", "source": "agent", "message": "Done.",
             "metrics": {"prompt_tokens": 1100, "completion_tokens": 5, "cached_tokens": 1000}},
        ],
        "final_metrics": {"total_prompt_tokens": 3000, "total_completion_tokens": 85, "total_steps": 5},
    }


ATIF_SUB = {
    "schema_version": "ATIF-v1.4", "session_id": "atif-sub-1", "agent": {"name": "terminus-2", "version": "2.0.0"},
    "steps": [{"step_id": 1, "source": "user", "message": "Summarize the work so far"},
              {"step_id": 2, "source": "agent", "message": "Created hello.txt.",
               "metrics": {"prompt_tokens": 300, "completion_tokens": 12}}],
}


def write_datasets(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = {
        "openai": root / "openai.jsonl", "sharegpt": root / "sharegpt.json", "adp": root / "adp.jsonl",
        "atif": root / "atif" / "trajectory.json", "unknown": root / "unknown.jsonl",
    }
    out["openai"].write_text("".join(json.dumps(r) + "\n" for r in OPENAI_RECORDS))
    out["sharegpt"].write_text(json.dumps(SHAREGPT_RECORDS, indent=1))
    out["adp"].write_text("".join(json.dumps(r) + "\n" for r in ADP_RECORDS))
    out["atif"].parent.mkdir()
    out["atif"].write_text(json.dumps(atif_trajectory(), indent=2))
    (out["atif"].parent / "trajectory.summarization-1.json").write_text(json.dumps(ATIF_SUB))
    out["unknown"].write_text(json.dumps({"prompt": "x", "completion": "y", "label": True}) + "\n")
    return out

"""A tiny random-weight chat model built offline, so every path (SFT, DPO, GRPO, merge, eval) can be
smoke-tested without a download.

The tokenizer is a byte-level BPE trained in-process on text the package ships (`tiny_corpus.txt`); the
chat template is Qwen2.5-style (system/user/assistant/tool roles, a `tools` list, assistant `tool_calls`)
and wraps assistant output, end-of-turn token included, in `{% generation %}` tags so TRL's
`assistant_only_loss` masks everything else and the model learns to stop.
"""

from __future__ import annotations

from pathlib import Path

END_OF_TURN = "<|im_end|>"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", END_OF_TURN]
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
VOCAB_SIZE = 512
SEED = 0
HIDDEN = 64
# 4 layers, not 2: with 2, LoRA takes 8 conversations below loss 0.5 but greedy decoding still mixes up which
# command belongs to which prompt (14 of 16 replies right after 60 steps); with 4 all 16 are, with margin.
LAYERS = 4
# Why not transformers' default 0.02: the embedding is tied to the output layer and a LoRA trains neither
# it nor the final norm, so a logit can never exceed |final-norm output| x |embedding row|
# = sqrt(HIDDEN) x INIT_STD x sqrt(HIDDEN) = HIDDEN x INIT_STD. At 0.02 that is 1.3: no token can get more
# than a few percent of the probability and the loss cannot fall below ~4.8 whatever the adapter learns.
# At 0.2 the bound is ~13, so an adapter can make a reply near-certain (a test overfits 8 examples with it).
INIT_STD = 0.2

# Qwen2.5-style, with {% generation %} around assistant output. Tool-call arguments may be a JSON string
# (bashgym datasets) or a mapping (what the hub's Qwen template expects); both render the same.
CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are a helpful coding assistant.' }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- else %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful coding assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- generation %}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls or [] %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}"
    "{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>' }}"
    "{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
    "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


# How a reply of this template reads back into a message (transformers' `parse_response`): text, then any
# number of <tool_call>{json}</tool_call>, up to the end-of-turn token. TRL's GRPO needs it to run tool calls.
RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        "tool_calls": {"open": "<tool_call>", "close_pattern": r"</tool_call>\s*", "repeats": True,
                       "content": "json", "transform": {"type": "function", "function": "{content}"}},
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}


def corpus_text() -> str:
    """The text the tokenizer learns from (shipped with the package, so the build needs no network)."""
    return (Path(__file__).with_name("tiny_corpus.txt")).read_text(encoding="utf-8")


def build_tiny_tokenizer():  # -> PreTrainedTokenizerFast
    """Byte-level BPE (any byte sequence encodes) with the chat template and end-of-turn as eos."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = corpus_text()
    tok.train_from_iterator(text.splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token=END_OF_TURN,
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=[],
        model_max_length=2048,
        padding_side="right",
    )
    fast.add_tokens(TOOL_TOKENS)
    fast.chat_template = CHAT_TEMPLATE
    fast.response_template = RESPONSE_TEMPLATE
    return fast


def build_tiny_model(out_dir: str | Path) -> Path:
    """Build and save the tiny model + tokenizer into `out_dir`; returns the directory.

    Qwen2ForCausalLM, hidden 64, 4 layers, 4 heads, tied embeddings, random weights drawn with std
    `INIT_STD` (seeded, so builds are reproducible): small enough for seconds-long CPU tests, scaled so a
    LoRA on it can learn (see INIT_STD).

    >>> path = build_tiny_model("/tmp/tiny")  # doctest: +SKIP
    >>> AutoModelForCausalLM.from_pretrained(path)  # doctest: +SKIP
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    eos_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    pad_id = tokenizer.pad_token_id
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        initializer_range=INIT_STD,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    torch.manual_seed(SEED)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id, do_sample=False)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out

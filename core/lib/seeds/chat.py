"""Loaders of LMSYS-Chat-1M and of any file or hub set whose fields the recipe maps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jre.lib.seeds.common import (
    Converted,
    Seed,
    Source,
    assistant_with_trace,
    collect,
    first_user,
    row_field,
)
from jre.records import stable_id

LMSYS_ID = "lmsys/lmsys-chat-1m"


def lmsys(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
           report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    source = Source(spec, resolve, LMSYS_ID, spec.split, report=report)
    wanted = set(spec.languages)

    def convert(row: dict[str, Any]) -> Converted:
        if wanted and row.get("language") not in wanted:
            return "other_language"
        conversation = row_field(row, spec.fields.get("instruction", "conversation"), source.where,
                              "instruction")
        instruction = first_user(conversation) if isinstance(conversation, list) else conversation
        if not instruction or not instruction.strip():
            return "empty_instruction"
        rid = str(row_field(row, spec.fields.get("id", "conversation_id"), source.where, "id"))
        return Seed(id=rid, instruction=instruction, lang=lang, domain="chat",
                    source="lmsys-chat-1m", meta={"language": row.get("language"),
                                                  "model": row.get("model")})

    return collect(source.candidates(convert, count, report), count, spec, report, seen=set(),
                    exclude=exclude)


def mapped(spec: Any, resolve: Callable[[str], Path], lang: str, domain: str, count: int | None,
            report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    source = Source(spec, resolve, spec.path, spec.split, spec.config, report=report)
    fields = spec.fields

    def convert(row: dict[str, Any]) -> Converted:
        instruction = row_field(row, fields["instruction"], source.where, "instruction")
        if isinstance(instruction, list):
            instruction = first_user(instruction)
        if not instruction:
            return "empty_instruction"
        rid = (str(row_field(row, fields["id"], source.where, "id")) if "id" in fields
               else stable_id(source.label, instruction))
        response = row_field(row, fields["response"], source.where, "response") if "response" in fields else None
        if isinstance(response, list):
            response = assistant_with_trace(response)
        return Seed(id=rid, instruction=str(instruction), response=response,
                    lang=str(row_field(row, fields["lang"], source.where, "lang")) if "lang" in fields else lang,
                    domain=(str(row_field(row, fields["domain"], source.where, "domain"))
                            if "domain" in fields else domain),
                    source=Path(source.label).name if source.local else source.label)

    return collect(source.candidates(convert, count, report), count, spec, report, seen=set(),
                    exclude=exclude)

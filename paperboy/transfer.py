"""Subscribers in and out as CSV or JSON: every row validated before anything is written."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

from paperboy import subscribers as rules
from paperboy.errors import InputError, PaperboyError
from store.types import NewProfile, NewSubscriber, Profile, Subscriber


class FileFormat(StrEnum):
    """What `subscriber import` reads and `subscriber export` writes."""

    CSV = "csv"  # one row per profile
    JSON = "json"  # an array of subscribers, each with its profiles


CSV_COLUMNS = (
    "email",
    "status",
    "time_zone",
    "send_hour",
    "frequency",
    "weekday",
    "max_papers",
    "send_empty",
    "thumbnails",  # files from before it have no such column: thumbnails on
    "profile_name",
    "profile_query",
)
MAX_ERRORS_SHOWN = 10
# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
# Export puts a single quote in front (a quote that starts a cell is quoted too, so that import,
# which takes one quote off a cell that starts with a quote and then one of these, gets back
# exactly what was stored).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = (*FORMULA_STARTS, "'")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")  # ASCII digits only; "٣" and 5,000 nines are refused


def parse_import(text: str, fmt: FileFormat) -> list[NewSubscriber]:
    """All subscribers in ``text``, or InputError listing every bad row (nothing half-read)."""
    records = _csv_records(text) if fmt == FileFormat.CSV else _json_records(text)
    found: dict[str, NewSubscriber] = {}
    errors: list[str] = []
    for where, record in records:
        try:
            new = _subscriber(record)
        except (PaperboyError, ValueError, TypeError) as e:
            errors.append(f"{where}: {getattr(e, 'message', str(e))}")
            continue
        if new.email in found:  # CSV: one row per profile, the subscriber repeated
            earlier = found[new.email]
            if (
                fmt == FileFormat.JSON
                or earlier.settings != new.settings
                or earlier.status != new.status
            ):
                errors.append(f"{where}: {new.email} appears twice with different settings")
                continue
            names = {p.name for p in earlier.profiles}
            clash = [p.name for p in new.profiles if p.name in names]
            if clash:
                errors.append(f"{where}: profile {clash[0]!r} of {new.email} appears twice")
                continue
            new = NewSubscriber(
                new.email, new.status, new.settings, earlier.profiles + new.profiles
            )
        found[new.email] = new
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = (
            f" (and {len(errors) - MAX_ERRORS_SHOWN} more)"
            if len(errors) > MAX_ERRORS_SHOWN
            else ""
        )
        rows = f"{len(errors)} bad row{'s' if len(errors) > 1 else ''}"
        raise InputError(
            f"{rows}, nothing imported: {shown}{more}",
            hint="fix the file and import it again",
        )
    if not found:
        raise InputError(
            "the file holds no subscribers", hint=f"CSV columns: {', '.join(CSV_COLUMNS)}"
        )
    return list(found.values())


def _csv_records(text: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
        rows = [(line, {k: _unguard(v) for k, v in row.items()}) for line, row in _numbered(reader)]
    except csv.Error as e:  # the line being read is the one after the last whole one
        raise InputError(
            f"line {reader.line_num + 1}: {_csv_problem(e)}",
            hint="fix the file and import it again",
        ) from None
    if fieldnames is None or "email" not in fieldnames:
        raise InputError(
            "the CSV file has no 'email' column", hint=f"columns: {', '.join(CSV_COLUMNS)}"
        )
    unknown = set(fieldnames) - set(CSV_COLUMNS)
    if unknown:
        raise InputError(
            f"unknown CSV column(s): {', '.join(sorted(unknown))}",
            hint=f"columns: {', '.join(CSV_COLUMNS)}",
        )
    records = []
    for line, row in rows:
        profiles = []
        if (row.get("profile_name") or "").strip() or (row.get("profile_query") or "").strip():
            profiles.append(
                {"name": row.get("profile_name") or "", "query": row.get("profile_query") or ""}
            )
        records.append((f"line {line}", {**row, "profiles": profiles}))
    return records


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str | Any, Any]]]:
    for row in reader:
        yield reader.line_num, row


def _csv_problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit()} characters"
    return f"not readable as CSV ({error})"


def _unguard(value: Any) -> Any:
    """A cell as stored: the quote export put in front of a formula-like cell comes off."""
    if isinstance(value, str) and value.startswith("'") and value[1:2] and value[1] in _GUARDED:
        return value[1:]
    return value


def _guard(value: object) -> object:
    """A cell a spreadsheet shows as text: OWASP's quote before = + - @ tab CR (and a quote)."""
    if isinstance(value, str) and value[:1] in _GUARDED and value:
        return "'" + value
    return value


def _json_records(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except RecursionError:
        raise InputError("not usable JSON: lists or objects nested too deeply") from None
    except ValueError as e:  # e.g. a number past Python's 4300-digit limit
        raise InputError(f"not JSON Paperboy can read: {str(e).split(';')[0]}") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError("expected a JSON list of subscriber objects")
    return [(f"item {i}", d) for i, d in enumerate(data)]


def _subscriber(record: dict[str, Any]) -> NewSubscriber:
    email = rules.normalise_email(str(record.get("email") or ""))
    named = str(record.get("status") or rules.Status.ACTIVE).strip().lower()
    try:
        status = rules.Status(named)
    except ValueError:
        raise InputError(f"{named!r} is not a status") from None
    settings = rules.settings(
        zone=str(record.get("time_zone") or "UTC"),
        hour=str(record.get("send_hour") or "8"),
        every=str(record.get("frequency") or rules.Frequency.DAILY),
        day=_weekday(record.get("weekday")),
        limit=_int(record.get("max_papers"), 20, "max_papers"),
        send_empty=_bool(record.get("send_empty"), "send_empty"),
    )
    settings = replace(settings, thumbnails=_bool(record.get("thumbnails"), "thumbnails", True))
    raw_profiles = record.get("profiles") or []
    if not isinstance(raw_profiles, list):
        raise InputError("profiles must be a list of {name, query}")
    profiles = tuple(_profile(p) for p in raw_profiles)
    return NewSubscriber(email=email, status=status, settings=settings, profiles=profiles)


def _profile(raw: object) -> NewProfile:
    if not isinstance(raw, dict):
        raise InputError("a profile must be an object with name and query")
    return rules.profile(str(raw.get("name") or ""), str(raw.get("query") or ""))


def _int(value: object, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number")
    if isinstance(value, int):
        return value
    if not _WHOLE_NUMBER.fullmatch(str(value).strip()):
        raise InputError(f"{name} {rules.shown(value)} is not a whole number")
    return int(str(value).strip())


def _weekday(value: object) -> str:
    if value is None or value == "":
        return "mon"
    if isinstance(value, int) and 0 <= value <= 6:
        return rules.WEEKDAYS[value]
    return str(value)


def _bool(value: object, name: str, default: bool = False) -> bool:
    """A yes/no cell; empty or missing (an older file without the column) is ``default``."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text == "":
        return default
    if text in ("0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InputError(f"{name} {value!r} is not true or false")


def export(pairs: Iterable[tuple[Subscriber, Sequence[Profile]]], fmt: FileFormat) -> str:
    """Every subscriber and profile, in the same format import reads."""
    if fmt == FileFormat.JSON:
        return json.dumps([_as_dict(s, p) for s, p in pairs], indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for subscriber, profiles in pairs:
        base = {k: v for k, v in _as_dict(subscriber, []).items() if k != "profiles"}
        named = [(p.name, p.query) for p in profiles] or [("", "")]
        for name, query in named:
            row = {**base, "profile_name": name, "profile_query": query}
            writer.writerow({k: _guard(v) for k, v in row.items()})
    return out.getvalue()


def _as_dict(s: Subscriber, profiles: Sequence[Profile]) -> dict[str, Any]:
    return {
        "email": s.email,
        "status": s.status,
        "time_zone": s.time_zone,
        "send_hour": f"{s.send_hour:02d}:{s.send_minute:02d}" if s.send_minute else s.send_hour,
        "frequency": s.frequency,
        "weekday": rules.WEEKDAYS[s.weekday],
        "max_papers": s.max_papers,
        "send_empty": s.send_empty,
        "thumbnails": s.thumbnails,
        "profiles": [{"name": p.name, "query": p.query} for p in profiles],
    }

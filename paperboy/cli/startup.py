"""Typer, started lean (issue 17): what the CLI uses of it, without what it would load for nothing.

Typer 0.29 loads two costly things that a command rarely needs:

* Its Rich help formatter (``typer.rich_utils``) imports rich.markdown (markdown-it) and
  rich.traceback (Pygments, attrs) at its top, ~120 ms of `--help`'s ~300, though it uses
  Markdown only with ``rich_markup_mode="markdown"`` (ours is "rich") and Traceback only for
  pretty exceptions (off: ``paperboy.cli.main`` reports errors itself). It is imported here with
  stand-ins for those two names that load the real class if ever used; the help is the same.
* It coerces each parameter's value through a Pydantic TypeAdapter, built on first use, even an
  absent value (None), which it hands back untouched: `--help`'s own flag and the completion
  options import Pydantic (~100 ms) for every command. Here the adapter is built when a value
  is present.

Both lean on Typer's internals: if a release moves them, ``lighten`` changes nothing (the CLI
works as before, only slower), and tests/test_cli_startup.py fails to say so.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typer._click import Context
    from typer.core import _TyperParameter


def lighten() -> None:
    """Prepare Typer before the application is used; call once, before ``app()``."""
    _help_without_markdown()
    _coercion_when_needed()


class _Markdown:
    """rich.markdown.Markdown, for typer.rich_utils: the real one, loaded when first built."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.markdown import Markdown

        return Markdown(*args, **kwargs)


class _Traceback:
    """rich.traceback.Traceback, for typer.rich_utils: the real one, loaded when first built."""

    @classmethod
    def from_exception(cls, *args: Any, **kwargs: Any) -> Any:
        from rich.traceback import Traceback

        return Traceback.from_exception(*args, **kwargs)


def _help_without_markdown() -> None:
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins: dict[str, ModuleType] = {}
    for name, attribute, stand_in in (
        ("rich.markdown", "Markdown", _Markdown),
        ("rich.traceback", "Traceback", _Traceback),
    ):
        if name not in sys.modules:
            module = ModuleType(name, "a stand-in while typer.rich_utils loads")
            setattr(module, attribute, stand_in)
            stand_ins[name] = module
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:  # whoever imports them later gets the real modules
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _coercion_when_needed() -> None:
    try:
        from typer import core
        from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    except ImportError:
        return
    if getattr(core, "build_runtime_param", None) is not build_runtime_param:
        return  # another Typer, or already done

    @dataclass(frozen=True)
    class OnDemand(RuntimeParam):
        """Typer's coercion for one parameter, built when a value is present (``coerce``
        answers an absent one itself)."""

        descriptor: TypeDescriptor | None = None
        built: list[RuntimeParam] = field(default_factory=list, compare=False)

        def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
            if not self.built:
                assert self.descriptor is not None
                self.built.append(build_runtime_param(self.descriptor))
            return self.built[0]._coerce_value(value, param=param, ctx=ctx)

    def on_demand(descriptor: TypeDescriptor) -> RuntimeParam:
        return OnDemand(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )

    setattr(core, "build_runtime_param", on_demand)  # noqa: B010  (not exported by Typer)

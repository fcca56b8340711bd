"""A Griffe extension: Sphinx cross-reference roles in docstrings become Markdown code spans.

actline's docstrings say ``:class:`~actline.data.dataset.ClipDataset``` the Sphinx way; mkdocstrings
renders Markdown, where that would show as ``:class:~actline...``. mkdocstrings has no option for
this and no maintained extension does it, hence these few lines (loaded by path from ``mkdocs.yml``:
``extensions: [docs/gen_rst_roles.py]``). ``~`` keeps the last name, as in Sphinx. The module map
(``gen_module_map.py``) uses :func:`plain_roles` too.
"""

from __future__ import annotations

import re

from griffe import Extension

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    return ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)


class PlainRoles(Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)

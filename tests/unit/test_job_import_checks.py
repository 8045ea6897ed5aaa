"""engine/job_import.py against a real catalog file: what the CLI and the import dialogs both
refuse before anything is written."""

from __future__ import annotations

from labdeck.core.models import Node, Transport
from labdeck.engine.job_import import check_conversions
from labdeck.importers.rundeck import parse_rundeck
from labdeck.store.catalog import Catalog

EXPORT = """- name: cleanup
  nodefilters: {filter: 'tags: lab'}
  sequence:
    commands:
    - exec: del /q C:\\\\Temp\\\\*
      errorhandler: {exec: echo cleanup failed}
- name: report
  nodefilters: {filter: 'tags: lab'}
  sequence:
    commands:
    - exec: hostname
"""


def test_a_folded_posix_handler_is_refused_on_windows_targets_and_kept_on_linux(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.add_node(Node("win1", transport=Transport.WINRM, host="10.0.0.5", tags=["lab"]))
    path = tmp_path / "jobs.yaml"
    path.write_text(EXPORT)
    conversions = parse_rundeck(path)
    check_conversions(catalog, conversions)
    cleanup, report = conversions
    assert cleanup.job is None and "POSIX shell" in cleanup.not_converted[-1] and "win1" in cleanup.not_converted[-1]
    assert report.job is not None            # a plain command runs in cmd as it is

    catalog.remove_node("win1")
    catalog.add_node(Node("box1", transport=Transport.SSH, host="10.0.0.6", tags=["lab"]))
    conversions = parse_rundeck(path)
    check_conversions(catalog, conversions)
    assert all(c.job is not None for c in conversions)

"""kflow's internal storage: Kestra's ``kestra://`` files, kept on the local disk.

Files live under one directory, ``$KFLOW_STORAGE_DIR`` or ``./.kflow/storage``;
``kestra:///a/b/c.ion`` is ``<dir>/a/b/c.ion``, and no URI may leave that
directory (``..`` is refused). Tasks put their files where Kestra would::

    kestra:///<namespace as dirs>/<flow>/executions/<execution>/tasks/<task>/<taskrun>/<name>.ion

Record files hold one value per line: Ion text (``.ion``, as Kestra's
``FileSerde`` writes them) or JSON (``.jsonl``); readers take either on any line.

Modules: ``uris`` (root, layout, URI to path), ``record_lines`` (line codecs, the
writer that makes a file appear whole), ``local`` (the storage itself),
``reading`` (the Pebble ``read()`` function), ``context`` (a task run's prefix).
"""

from kflow.storage.context import task_run_prefix
from kflow.storage.local import LocalStorage, default_storage
from kflow.storage.record_lines import LineFormat, RecordWriter, decode_line, encode_line
from kflow.storage.uris import (
    DEFAULT_DIR,
    SCHEME,
    STORAGE_DIR_ENV,
    execution_prefix,
    is_storage_uri,
    kestra_slug,
    relative_path,
    storage_root,
    task_prefix,
    trigger_prefix,
)

__all__ = [
    "DEFAULT_DIR",
    "SCHEME",
    "STORAGE_DIR_ENV",
    "LineFormat",
    "LocalStorage",
    "RecordWriter",
    "decode_line",
    "default_storage",
    "encode_line",
    "execution_prefix",
    "is_storage_uri",
    "kestra_slug",
    "relative_path",
    "storage_root",
    "task_prefix",
    "task_run_prefix",
    "trigger_prefix",
]
